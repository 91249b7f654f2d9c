//go:build tools

// The commands this module exists to build; the import keeps them in go.mod and go.sum.
package tools

import (
	_ "github.com/openkruise/kruise"
	_ "github.com/openkruise/kruise/cmd/daemon"
)
