package encoder

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setParentDeathSignal makes the kernel kill an encoder process whose
// parent dies.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// lowerPriority gives every thread of this process the nice value nice,
// so that the program the encoder process serves (its web requests) gets
// the CPU first. Linux keeps a nice value per thread, and new threads
// inherit their creator's, so the encoder's threads, created later, are
// niced too.
func lowerPriority(nice int) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
		}
	}
}
