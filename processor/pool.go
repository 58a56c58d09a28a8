// Package processor runs variant generation: Pool, the default, is an
// in-process worker pool with bounded concurrency, a bounded queue
// (back-pressure), retries with exponential backoff, context cancellation
// and a graceful drain on shutdown. Durable queues live in their own modules
// (processor/riverprocessor). Package pipeline holds the image pipeline the
// jobs run.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// ErrClosed is returned by Enqueue once Shutdown has begun.
var ErrClosed = errors.New("processor: pool is shut down")

// permanentError marks an error retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that pools do not retry the job: the input is
// unusable (a damaged original, an unknown field), not the moment.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, came from
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Config configures a Pool. The zero value of each field means its default.
// The fields it shares with riverprocessor.Config, the durable queue's
// (Workers, MaxAttempts, Backoff, MaxBackoff, JobTimeout, Logger), mean the
// same there, with other defaults for some (Workers); BacklogWorkers does
// not (there, backlog jobs run in addition to Workers).
type Config struct {
	// Workers is the number of jobs run at once. Defaults to
	// runtime.GOMAXPROCS(0).
	Workers int
	// BacklogWorkers is how many of the Workers may run jobs of a lower
	// priority than Fresh (see Priority) at once; the others wait for Fresh
	// jobs, so that a new upload starts at once instead of after a backlog
	// job (a picture's job keeps a few CPUs busy by itself: its encodes run
	// in parallel). Defaults to Workers-1, at least 1: a pool of one worker
	// finishes the backlog job it runs before it starts a Fresh one. Set it
	// to Workers to keep no worker for Fresh jobs.
	BacklogWorkers int
	// QueueSize is the number of jobs waiting beyond the running ones;
	// Enqueue blocks while it is full (until its context ends), which
	// pushes back on uploads instead of piling up memory. Defaults to 256.
	QueueSize int
	// MaxAttempts is the number of times a failing job is tried, retries
	// included, before it is given up (and logged). Defaults to 5.
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles after every
	// attempt, with jitter, up to MaxBackoff. Default 1s, and 1 minute.
	Backoff, MaxBackoff time.Duration
	// JobTimeout bounds each attempt; the job's context is then canceled
	// and the attempt fails. Defaults to 15 minutes.
	JobTimeout time.Duration
	// Logger receives failures and retries. Defaults to slog.Default().
	// Jobs that implement slog.LogValuer (pictures.Job does) are logged
	// with their fields, so every line names the picture.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.BacklogWorkers <= 0 {
		c.BacklogWorkers = max(c.Workers-1, 1)
	}
	c.BacklogWorkers = min(c.BacklogWorkers, c.Workers)
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 15 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// A Priority orders the jobs waiting in a queue: a job of a lower
// Priority starts before every waiting job of a higher one, and jobs of one
// Priority start in the order they were enqueued. The zero value, Fresh,
// is for work someone is waiting for (a new upload); Backlog is for work
// that may wait (a demo's seed, reconciling stored pictures after a
// configuration change, re-processing). Values above Backlog, up to
// LowestPriority, wait longer still; values outside 0..LowestPriority are
// taken as the nearest bound. A steady stream of Fresh jobs starves the
// others: priorities are strict.
type Priority int

const (
	// Fresh, the zero value, is the priority of new uploads.
	Fresh Priority = 0
	// Backlog is the priority of work that may wait behind new uploads.
	Backlog Priority = 1
	// LowestPriority is the lowest priority a Pool tells apart (River,
	// for riverprocessor, has four levels too).
	LowestPriority Priority = 3
)

func (p Priority) clamp() Priority { return min(max(p, Fresh), LowestPriority) }

// A Prioritized job tells a Pool its Priority (pictures.Job does, from its
// Priority field). A Pool runs jobs that do not implement it as Fresh.
type Prioritized interface {
	JobPriority() Priority
}

func priorityOf[T any](job T) Priority {
	if p, ok := any(job).(Prioritized); ok {
		return p.JobPriority().clamp()
	}
	return Fresh
}

// A Pool runs jobs of type T on a fixed number of goroutines, in the order
// of their Priority (see Prioritized), first in first out within one. Its
// Enqueue method makes a *Pool[pictures.Job] a pictures.Processor.
type Pool[T any] struct {
	cfg  Config
	work func(context.Context, T) error

	slots   chan struct{} // QueueSize tokens; a waiting new job holds one
	closing chan struct{} // closed when Shutdown begins
	ctx     context.Context
	cancel  context.CancelFunc // cancels running jobs: shutdown deadline
	workers sync.WaitGroup

	qmu     sync.Mutex
	ready   *sync.Cond                    // signaled when a job waits or a backlog job ends, broadcast when ctx ends
	waiting [LowestPriority + 1][]task[T] // per priority, oldest first
	backlog int                           // backlog jobs running (see Config.BacklogWorkers)

	mu       sync.Mutex
	inflight int           // queued, running or waiting to retry
	idle     chan struct{} // closed while inflight == 0
	retries  map[*time.Timer]task[T]
	shutOnce sync.Once
}

type task[T any] struct {
	job     T
	attempt int
	slot    bool // holds one of slots
	backlog bool // counted in Pool.backlog while it runs
}

// New starts a pool that runs work on each enqueued job.
func New[T any](cfg Config, work func(ctx context.Context, job T) error) *Pool[T] {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool[T]{
		cfg: cfg, work: work,
		slots:   make(chan struct{}, cfg.QueueSize),
		closing: make(chan struct{}),
		ctx:     ctx, cancel: cancel,
		idle:    make(chan struct{}),
		retries: make(map[*time.Timer]task[T]),
	}
	p.ready = sync.NewCond(&p.qmu)
	context.AfterFunc(ctx, func() {
		p.qmu.Lock()
		p.ready.Broadcast()
		p.qmu.Unlock()
	})
	close(p.idle)
	for range cfg.Workers {
		p.workers.Go(p.loop)
	}
	return p
}

func (p *Pool[T]) add(n int) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight == 0 && n > 0 {
		p.idle = make(chan struct{})
	}
	p.inflight += n
	if p.inflight == 0 {
		close(p.idle)
	}
}

// push adds t behind the waiting jobs of its priority, or drops it if the
// pool's context has ended (the workers have drained the queue, or are
// draining it).
func (p *Pool[T]) push(t task[T]) {
	pr := priorityOf(t.job)
	p.qmu.Lock()
	if p.ctx.Err() == nil {
		p.waiting[pr] = append(p.waiting[pr], t)
		p.ready.Signal()
		p.qmu.Unlock()
		return
	}
	p.qmu.Unlock()
	if t.slot {
		<-p.slots
	}
	p.dropped(t)
	p.add(-1)
}

// next waits for the first job of the highest priority waiting (a job
// below Fresh only while fewer than BacklogWorkers of them run), and
// returns false once the pool's context has ended.
func (p *Pool[T]) next() (task[T], bool) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	for p.ctx.Err() == nil {
		for pr := range p.waiting {
			q := p.waiting[pr]
			if len(q) == 0 {
				continue
			}
			if Priority(pr) != Fresh && p.backlog >= p.cfg.BacklogWorkers {
				break
			}
			t := q[0]
			q[0] = task[T]{} // let the job be collected once run
			if p.waiting[pr] = q[1:]; len(q) == 1 {
				p.waiting[pr] = q[:0]
			}
			if t.backlog = Priority(pr) != Fresh; t.backlog {
				p.backlog++
			}
			return t, true
		}
		p.ready.Wait()
	}
	return task[T]{}, false
}

// ran ends a job that next counted as backlog.
func (p *Pool[T]) ran(t task[T]) {
	if t.backlog {
		p.qmu.Lock()
		p.backlog--
		p.ready.Broadcast()
		p.qmu.Unlock()
	}
}

// Enqueue schedules job behind the waiting jobs of its priority. It waits
// while QueueSize new jobs are waiting already, and fails if ctx ends first
// or the pool is shutting down.
func (p *Pool[T]) Enqueue(ctx context.Context, job T) error {
	select {
	case <-p.closing:
		return ErrClosed
	default:
	}
	p.add(1)
	select {
	case p.slots <- struct{}{}:
		p.push(task[T]{job: job, attempt: 1, slot: true})
		return nil
	case <-ctx.Done():
		p.add(-1)
		return ctx.Err()
	case <-p.closing:
		p.add(-1)
		return ErrClosed
	}
}

// Len returns the number of jobs queued, running or waiting to retry.
func (p *Pool[T]) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight
}

// Wait blocks until no job is queued, running or waiting to retry, or ctx
// ends.
func (p *Pool[T]) Wait(ctx context.Context) error {
	p.mu.Lock()
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops accepting jobs and waits for every queued, running and
// retrying job to finish. If ctx ends first, it cancels the running jobs'
// contexts, drops the waiting ones (logging each), waits for the workers
// to return and reports ctx.Err().
func (p *Pool[T]) Shutdown(ctx context.Context) error {
	p.shutOnce.Do(func() { close(p.closing) })
	err := p.Wait(ctx)
	if err != nil {
		p.cancel()
		// Running jobs see the cancellation; queued jobs are dropped by
		// the workers as they drain, and waiting retries here.
		p.mu.Lock()
		dropped := 0
		for timer, t := range p.retries {
			if timer.Stop() {
				delete(p.retries, timer)
				p.dropped(t)
				dropped++
			}
		}
		p.mu.Unlock()
		p.add(-dropped)
		p.Wait(context.Background())
	}
	p.cancel()
	p.workers.Wait()
	return err
}

func (p *Pool[T]) dropped(t task[T]) {
	p.cfg.Logger.Error("processor: job dropped at shutdown", "job", t.job, "attempt", t.attempt)
}

func (p *Pool[T]) loop() {
	for {
		t, ok := p.next()
		if !ok {
			break
		}
		if t.slot {
			<-p.slots
		}
		p.run(t)
		p.ran(t)
	}
	// Forced shutdown: drop what is left.
	p.qmu.Lock()
	var left []task[T]
	for pr := range p.waiting {
		left = append(left, p.waiting[pr]...)
		p.waiting[pr] = nil
	}
	p.qmu.Unlock()
	for _, t := range left {
		if t.slot {
			<-p.slots
		}
		p.dropped(t)
	}
	p.add(-len(left))
}

func (p *Pool[T]) run(t task[T]) {
	if p.ctx.Err() != nil {
		p.dropped(t)
		p.add(-1)
		return
	}
	err := p.attempt(t.job)
	switch {
	case err == nil:
		p.add(-1)
	case IsPermanent(err) || t.attempt >= p.cfg.MaxAttempts || p.ctx.Err() != nil:
		p.cfg.Logger.Error("processor: job failed", "job", t.job, "attempt", t.attempt, "err", err)
		p.add(-1)
	default:
		wait := p.backoff(t.attempt)
		p.cfg.Logger.Warn("processor: job failed, will retry", "job", t.job, "attempt", t.attempt, "retry_in", wait, "err", err)
		// A retry comes back behind the jobs of its priority, without
		// waiting for a slot: it is already counted in flight.
		t.attempt++
		t.slot, t.backlog = false, false
		p.mu.Lock()
		var timer *time.Timer
		timer = time.AfterFunc(wait, func() {
			p.mu.Lock()
			delete(p.retries, timer)
			p.mu.Unlock()
			p.push(t)
		})
		p.retries[timer] = t
		p.mu.Unlock()
	}
}

// attempt runs the job once, turning a panic into a permanent error.
func (p *Pool[T]) attempt(job T) (err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.JobTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("processor: job panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	return p.work(ctx, job)
}

// backoff returns the wait after the given attempt: Backoff x 2^(n-1),
// capped, with +-25% jitter so that retries of a shared outage spread.
func (p *Pool[T]) backoff(attempt int) time.Duration {
	d := p.cfg.Backoff
	for i := 1; i < attempt && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}
