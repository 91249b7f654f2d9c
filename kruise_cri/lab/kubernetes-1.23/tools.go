//go:build tools

// The kubelet of the real lab nodes, built from this module besides main.go's dockershim; the
// import keeps go.mod and go.sum complete for it.
package main

import _ "k8s.io/kubernetes/cmd/kubelet"
