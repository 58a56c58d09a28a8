package encoder

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// A lane is one encode slot: while the pool lends it out, it runs one
// encode at a time in the encoder process it is attached to, which serves
// up to Config.EncodesPerProcess lanes at once. Its fields belong to the
// pool, under its lock, except h, which belongs to whoever holds the lane
// (the encode it runs, or the pool when it is idle).
type lane struct {
	gen   int         // the pool's generation when it was made
	seq   int         // changes whenever it becomes idle or busy
	timer *time.Timer // stops it when idle too long

	h *host // nil until attached, and after it is stopped or killed
}

// running reports whether the lane is attached to a process not known
// dead.
func (l *lane) running() bool { return l.h != nil && l.h.alive() }

// roundTrip has the lane's process encode j.
func (l *lane) roundTrip(j job) ([]byte, error) { return l.h.roundTrip(j) }

// A host is one encoder process, started for its first lane. Its requests
// go out on its standard input, one at a time, each with an id, and its
// answers come back on its standard output, in the order its encodes end,
// read by one goroutine that hands each to the request waiting for it.
type host struct {
	gen   int // the generation of its lanes
	lanes int // lanes attached, under the pool's lock

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when its output has ended and it has exited

	wmu sync.Mutex // held while a request is written
	in  *bufio.Writer

	mu      sync.Mutex
	next    uint32
	pending map[uint32]chan response
	err     error // why its output ended: it stopped or died
}

// A response is an encoded file, or the error that ended its encode.
type response struct {
	data []byte
	err  error
}

// errExited is a host's error once its output has ended cleanly.
var errExited = errors.New("encoder process exited")

// startHost starts an encoder process: this binary again, with processEnv
// set.
func startHost(s settings) (*host, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(environ(), processEnv+"="+s.String())
	cmd.Stderr = os.Stderr
	setParentDeathSignal(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &host{cmd: cmd, stdin: stdin, in: bufio.NewWriterSize(stdin, 1<<20),
		done: make(chan struct{}), pending: map[uint32]chan response{}}
	go h.read(bufio.NewReaderSize(stdout, 1<<16))
	return h, nil
}

// read hands each answer to its request until the output ends, then
// fails the requests still waiting and waits for the process to exit.
func (h *host) read(out *bufio.Reader) {
	for {
		id, data, err := readResponse(out)
		var encErr encodeError
		if err != nil && !errors.As(err, &encErr) {
			if errors.Is(err, io.EOF) {
				err = errExited
			}
			h.mu.Lock()
			h.err = err
			for id, ch := range h.pending {
				ch <- response{nil, err}
				delete(h.pending, id)
			}
			h.mu.Unlock()
			break
		}
		h.mu.Lock()
		ch, ok := h.pending[id]
		delete(h.pending, id)
		h.mu.Unlock()
		if ok {
			ch <- response{data, err}
		}
	}
	h.cmd.Wait()
	close(h.done)
}

// alive reports whether the process's output has not ended.
func (h *host) alive() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err == nil
}

// roundTrip sends one request and waits for its answer.
func (h *host) roundTrip(j job) ([]byte, error) {
	ch := make(chan response, 1)
	h.mu.Lock()
	if h.err != nil {
		h.mu.Unlock()
		return nil, h.err
	}
	id := h.next
	h.next++
	h.pending[id] = ch
	h.mu.Unlock()

	h.wmu.Lock()
	err := writeRequest(h.in, id, j)
	h.wmu.Unlock()
	if err != nil {
		h.mu.Lock()
		delete(h.pending, id)
		h.mu.Unlock()
		return nil, err
	}
	r := <-ch
	return r.data, r.err
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

// stop ends the process: it exits at the end of its input, once its
// encodes are done, or is killed if it has not within 5 seconds.
func (h *host) stop() {
	h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
}

// kill ends the process at once, and with it the encodes of all its
// lanes, which see it die.
func (h *host) kill() {
	h.cmd.Process.Kill()
	<-h.done
}
