package encoder

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// A process is one encoder process, started on first use. Its fields
// other than cmd and the pipes belong to the pool, under its lock.
type process struct {
	gen   int         // the pool's generation when it was made
	seq   int         // changes whenever it becomes idle or busy
	timer *time.Timer // stops it when idle too long

	cmd   *exec.Cmd // nil when not running
	stdin io.WriteCloser
	in    *bufio.Writer
	out   *bufio.Reader
	done  chan struct{} // closed when the process has exited
}

// start starts the process: this binary again, with processEnv set.
func (pr *process) start(s settings) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(environ(), processEnv+"="+s.String())
	cmd.Stderr = os.Stderr
	setParentDeathSignal(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	pr.cmd, pr.stdin, pr.in = cmd, stdin, bufio.NewWriterSize(stdin, 1<<20)
	pr.out, pr.done = bufio.NewReaderSize(stdout, 1<<16), make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		close(done)
	}(pr.done)
	return nil
}

// environ is this process's environment without processEnv.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, processEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// running reports whether the process is started and not known dead.
func (pr *process) running() bool { return pr.cmd != nil }

// stop ends the process: it exits at the end of its input, or is killed
// if it has not within 5 seconds.
func (pr *process) stop() {
	if pr.cmd == nil {
		return
	}
	pr.stdin.Close()
	select {
	case <-pr.done:
	case <-time.After(5 * time.Second):
		pr.cmd.Process.Kill()
		<-pr.done
	}
	pr.cmd = nil
}

// kill ends the process at once.
func (pr *process) kill() {
	if pr.cmd == nil {
		return
	}
	pr.cmd.Process.Kill()
	<-pr.done
	pr.cmd = nil
}

// roundTrip sends one request and reads its answer.
func (pr *process) roundTrip(j job) ([]byte, error) {
	if err := writeRequest(pr.in, j); err != nil {
		return nil, err
	}
	return readResponse(pr.out)
}
