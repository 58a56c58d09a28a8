package encoder

import (
	"context"
	"errors"
	"image"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gen2brain/avif"
)

// A pool holds the encoder processes and their lanes, and counts the
// encodes in progress.
type pool struct {
	mu    sync.Mutex
	cond  *sync.Cond // broadcast when a slot frees or the settings change
	cfg   Config     // as given to Configure
	gen   int        // changed by Configure and Stop: older processes stop
	local int        // encodes running in this process
	busy  int        // encodes holding a lane
	idle  []*lane    // lanes of running processes waiting for a request
	// procs holds every lane from its first use until it is stopped.
	procs map[*lane]struct{}
	// hosts holds the encoder processes that have lanes attached.
	hosts []*host
	// startErr is why the last process that failed to start did, until
	// one starts.
	startErr error
}

var encoders = newPool()

func newPool() *pool {
	p := &pool{procs: map[*lane]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// wanted returns the number of encoder processes; 0 means encoding in
// this process. The caller holds p.mu.
func (p *pool) wanted() int {
	switch {
	case !initialized.Load() || p.cfg.InProcess:
		return 0
	case p.cfg.Processes > 0:
		return p.cfg.Processes
	case avif.Dynamic() == nil, wasmFrame != nil:
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// perProcess returns the number of encodes each encoder process runs at
// once. The caller holds p.mu.
func (p *pool) perProcess() int {
	switch {
	case p.cfg.EncodesPerProcess > 0:
		return p.cfg.EncodesPerProcess
	case p.cfg.Processes == 0 && ownWASM():
		return runtime.GOMAXPROCS(0)
	}
	return 1
}

// slots returns the number of encodes that may hold a lane at once. The
// caller holds p.mu.
func (p *pool) slots() int { return p.wanted() * p.perProcess() }

// attach attaches l to a running process of its generation with a lane
// free, or to a new one.
func (p *pool) attach(l *lane) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.hosts {
		if h.gen == l.gen && h.lanes < p.perProcess() && h.alive() {
			h.lanes++
			l.h = h
			return nil
		}
	}
	h, err := startHost(settings{nice: p.cfg.withDefaults().Nice, lanes: p.perProcess()})
	if err != nil {
		return err
	}
	h.gen, h.lanes = l.gen, 1
	p.hosts = append(p.hosts, h)
	l.h = h
	return nil
}

// detach detaches l from its process, killing the process first if kill
// is set. The last lane to leave a process stops it.
func (p *pool) detach(l *lane, kill bool) {
	h := l.h
	if h == nil {
		return
	}
	l.h = nil
	if kill {
		h.kill()
	}
	p.mu.Lock()
	h.lanes--
	last := h.lanes == 0
	if last {
		p.hosts = slices.DeleteFunc(p.hosts, func(x *host) bool { return x == h })
	}
	p.mu.Unlock()
	if last {
		h.stop()
	}
}

// acquire waits for an encode slot. It returns a lane (attached to a
// process on first use) for the caller to give back with release, or nil when
// encoding happens in this process: the caller then calls releaseLocal.
func (p *pool) acquire(ctx context.Context) (*lane, error) {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := p.slots()
		if n == 0 && p.local < runtime.GOMAXPROCS(0) {
			p.local++
			return nil, nil
		}
		if n > 0 && p.busy < n {
			p.busy++
			if k := len(p.idle); k > 0 {
				pr := p.idle[k-1]
				p.idle = p.idle[:k-1]
				pr.seq++
				pr.timer.Stop()
				return pr, nil
			}
			pr := &lane{gen: p.gen}
			p.procs[pr] = struct{}{}
			return pr, nil
		}
		p.cond.Wait()
	}
}

// releaseLocal ends an in-process encode.
func (p *pool) releaseLocal() {
	p.mu.Lock()
	p.local--
	p.cond.Broadcast()
	p.mu.Unlock()
}

// release gives a lane back: it waits for the next request, or is
// stopped if its process is dead, it has older settings or is one too
// many.
func (p *pool) release(pr *lane) {
	p.mu.Lock()
	p.busy--
	keep := pr.running() && pr.gen == p.gen && p.busy+len(p.idle) < p.slots()
	if keep {
		p.idle = append(p.idle, pr)
		pr.seq++
		seq := pr.seq
		pr.timer = time.AfterFunc(p.cfg.withDefaults().IdleTimeout, func() { p.expire(pr, seq) })
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	if !keep {
		p.retire(pr)
	}
}

// expire stops a lane idle since it was released as seq.
func (p *pool) expire(pr *lane, seq int) {
	p.mu.Lock()
	if pr.seq != seq {
		p.mu.Unlock()
		return // taken again, or stopped
	}
	for i, q := range p.idle {
		if q == pr {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	p.retire(pr)
}

// retire stops a lane that is neither busy nor idle any more.
func (p *pool) retire(pr *lane) {
	p.detach(pr, false)
	p.mu.Lock()
	delete(p.procs, pr)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// takeIdle starts a new generation of processes and returns the idle
// ones, which the caller retires. The caller holds p.mu.
func (p *pool) takeIdle() []*lane {
	p.gen++
	idle := p.idle
	p.idle = nil
	for _, pr := range idle {
		pr.seq++
		pr.timer.Stop()
	}
	p.cond.Broadcast()
	return idle
}

func (p *pool) configure(c Config) {
	p.mu.Lock()
	if c == p.cfg {
		p.mu.Unlock()
		return
	}
	p.cfg = c
	idle := p.takeIdle()
	p.mu.Unlock()
	for _, pr := range idle {
		p.retire(pr)
	}
}

// stop stops every process, busy ones once their encode ends, and
// returns when they have exited.
func (p *pool) stop() {
	p.mu.Lock()
	idle := p.takeIdle()
	gen := p.gen
	p.mu.Unlock()
	for _, pr := range idle {
		p.retire(pr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.older(gen) {
		p.cond.Wait()
	}
}

// older reports whether a process of a generation before gen remains.
// The caller holds p.mu.
func (p *pool) older(gen int) bool {
	for pr := range p.procs {
		if pr.gen < gen {
			return true
		}
	}
	return false
}

// Start starts every encoder process and has each compile its encoder
// (a few seconds of CPU each with the WebAssembly backend), so that the
// first uploads do not wait for it. It does nothing when encoding runs in
// this process. Programs call it in the background at start-up; ctx ends
// the wait.
func Start(ctx context.Context) error {
	encoders.mu.Lock()
	n := encoders.slots()
	encoders.mu.Unlock()
	tiny := image.NewRGBA(image.Rect(0, 0, 16, 16))
	errs := make(chan error, n)
	for range n {
		go func() { errs <- encode(ctx, io.Discard, job{formatAVIF, tiny, 50, 10}, false) }()
	}
	var err error
	for range n {
		err = errors.Join(err, <-errs)
	}
	return err
}

// Stop stops every encoder process, and every goroutine and timer of this
// package: idle processes at once, busy ones when their encode ends (end
// their contexts to hurry them), and returns when all have exited.
// Encodes after Stop start processes again.
func Stop() { encoders.stop() }
