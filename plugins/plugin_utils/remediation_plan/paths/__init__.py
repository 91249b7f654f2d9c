"""One module per way out: its verdict per node and, for the cluster, whether it fits, what it
costs and how risky it is."""
