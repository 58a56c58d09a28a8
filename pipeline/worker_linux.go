package pipeline

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setParentDeathSignal makes the kernel kill a worker whose parent dies.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// lowerPriority gives every thread of this process nice 5 (or
// PICTURES_AVIF_WORKER_NICE), so that the program the worker serves (its web
// requests) gets the CPU first. Linux keeps a nice value per thread, and new
// threads inherit their creator's, so the encoder's threads, created later,
// are niced too.
func lowerPriority() {
	nice := 5
	if v, err := strconv.Atoi(os.Getenv("PICTURES_AVIF_WORKER_NICE")); err == nil {
		nice = v
	}
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
