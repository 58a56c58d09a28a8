//go:build !linux

package encoder

import "os/exec"

// setParentDeathSignal does nothing here: an encoder process whose parent
// dies sees its input end and exits.
func setParentDeathSignal(cmd *exec.Cmd) {}

// lowerPriority does nothing here.
func lowerPriority(nice int) {}
