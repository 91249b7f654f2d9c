//go:build tools

// The real nodes' kubelet and kube-proxy, built from this module besides main.go's dockershim;
// the imports keep go.mod and go.sum complete for them.
package main

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
