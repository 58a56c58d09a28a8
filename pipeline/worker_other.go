//go:build !linux

package pipeline

import "os/exec"

// setParentDeathSignal does nothing here: a worker whose parent dies sees
// its input end and exits.
func setParentDeathSignal(cmd *exec.Cmd) {}

// lowerPriority does nothing here.
func lowerPriority() {}
