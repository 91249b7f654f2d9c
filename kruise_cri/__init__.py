"""The kruise-cri command and its lab.

The lab and the benchmarks use the collection's own module_utils (the Kubernetes client, the
planner), so this package makes the checkout's collection importable as
``ansible_collections.kruise_cri.remediation``, as Ansible itself does for its plugins.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def _collections_path() -> Path:
    """The folder holding ansible_collections/kruise_cri/remediation: the tree the checkout sits
    in, when it is one, else the checkout's .collections link (scripts/setup makes it)."""
    if CHECKOUT.parent.parent.name == "ansible_collections":
        return CHECKOUT.parents[2]
    return CHECKOUT / ".collections"


COLLECTIONS_PATH = _collections_path()

if COLLECTIONS_PATH.is_dir() and str(COLLECTIONS_PATH) not in sys.path:
    sys.path.append(str(COLLECTIONS_PATH))
