package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Limits bound what one connection, one account and all of them together
// may cost the app (the README's "Threat model" says against what). The
// zero value of each field means its default. They hold per process: with
// several web processes, each applies them.
type Limits struct {
	// MaxConns bounds the connections open at once; more wait to be
	// accepted. Defaults to 1024.
	MaxConns int
	// BodyTimeout is how long a request other than an upload may take to
	// send its body, at most FormBytes. Default 10 s and 64 KB.
	BodyTimeout time.Duration
	FormBytes   int64
	// An upload's body may take UploadGrace, and then must keep arriving
	// at UploadRate bytes a second on average, or it is cut. Defaults to
	// 30 s and 64 KB/s (512 kbit/s; a 32 MB upload may take 9 minutes).
	UploadGrace time.Duration
	UploadRate  int64
	// Uploads bounds the uploads being received at once (their files are
	// spooled to disk), AccountUploads those of one account; more wait.
	// Defaults to 32 and 2.
	Uploads, AccountUploads int
	// UploadsPerHour bounds the photos and avatars an account uploads in
	// any hour (each costs seconds of CPU to process). Defaults to 30.
	UploadsPerHour int
	// UploadMemory bounds the bytes of uploaded files held in memory at
	// once, across the process, while they are checked and stored; more
	// wait. Defaults to 64 MiB (two uploads of the largest size).
	UploadMemory int64
	// Bcrypt bounds the password hashes computed at once (each is tens of
	// milliseconds of a CPU), so that logins, failed or not, never take
	// all the CPUs. Defaults to half of GOMAXPROCS, at least 1.
	Bcrypt int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&l.MaxConns, 1024)
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = 10 * time.Second
	}
	def(&l.FormBytes, 64<<10)
	if l.UploadGrace <= 0 {
		l.UploadGrace = 30 * time.Second
	}
	def(&l.UploadRate, 64<<10)
	defInt(&l.Uploads, 32)
	defInt(&l.AccountUploads, 2)
	defInt(&l.UploadsPerHour, 30)
	def(&l.UploadMemory, 64<<20)
	defInt(&l.Bcrypt, max(1, runtime.GOMAXPROCS(0)/2))
	return l
}

// uploadGate holds the upload limits of a server.
type uploadGate struct {
	receiving *semaphore.Weighted // uploads being received
	memory    *semaphore.Weighted // bytes of uploads in memory
	perHour   *throttle           // uploads per account, in the last hour

	mu      sync.Mutex
	account map[int64]int // uploads being received, per account
	max     int
}

func newUploadGate(l Limits) *uploadGate {
	return &uploadGate{
		receiving: semaphore.NewWeighted(int64(l.Uploads)),
		memory:    semaphore.NewWeighted(l.UploadMemory),
		perHour:   newThrottle(l.UploadsPerHour, time.Hour),
		account:   map[int64]int{},
		max:       l.AccountUploads,
	}
}

// errBusy refuses a request that waited too long for its turn.
var errBusy = errors.New("the server is busy")

// maxWait is the longest a request waits for its turn (an upload slot, the
// upload memory, a password hash).
const maxWait = time.Minute

// begin starts receiving an upload of the user: it waits for a slot, and
// returns false if the account is receiving as many uploads as it may.
// end must follow a true.
func (g *uploadGate) begin(ctx context.Context, userID int64) (ok bool, err error) {
	g.mu.Lock()
	if g.account[userID] >= g.max {
		g.mu.Unlock()
		return false, nil
	}
	g.account[userID]++
	g.mu.Unlock()
	ctx, cancel := context.WithTimeoutCause(ctx, maxWait, errBusy)
	defer cancel()
	if err := g.receiving.Acquire(ctx, 1); err != nil {
		g.leave(userID)
		return false, context.Cause(ctx)
	}
	return true, nil
}

func (g *uploadGate) end(userID int64) {
	g.receiving.Release(1)
	g.leave(userID)
}

func (g *uploadGate) leave(userID int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.account[userID]--; g.account[userID] <= 0 {
		delete(g.account, userID)
	}
}

// hold reserves n bytes of the upload memory, waiting for them; the
// returned function gives them back. n is at least 1 and at most the
// whole budget.
func (g *uploadGate) hold(ctx context.Context, n, budget int64) (release func(), err error) {
	n = min(max(n, 1), budget)
	ctx, cancel := context.WithTimeoutCause(ctx, maxWait, errBusy)
	defer cancel()
	if err := g.memory.Acquire(ctx, n); err != nil {
		return nil, context.Cause(ctx)
	}
	return func() { g.memory.Release(n) }, nil
}

// limitBodies bounds every request body: it must arrive within
// BodyTimeout and hold at most FormBytes, unless the handler makes it an
// upload (upload.go). URL-encoded forms are parsed here, so that a body
// cut short is refused before any handler runs.
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &limitedBody{orig: r.Body, rc: http.NewResponseController(w)}
		w = &drainBound{ResponseWriter: w, body: b}
		b.ReadCloser = http.MaxBytesReader(w, r.Body, s.limits.FormBytes)
		b.deadline(time.Now().Add(s.limits.BodyTimeout))
		r.Body = b
		if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && (ct == "" || ct == "application/x-www-form-urlencoded") {
			if err := r.ParseForm(); err != nil {
				var tooLarge *http.MaxBytesError
				switch {
				case errors.As(err, &tooLarge):
					http.Error(w, "The form is too large.", http.StatusRequestEntityTooLarge)
				case errors.Is(err, errBodyTimeout):
					http.Error(w, "The form took too long to arrive.", http.StatusRequestTimeout)
				default:
					http.Error(w, "The form did not arrive whole.", http.StatusBadRequest)
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// drainBound bounds the wait for the rest of a body after a response
// given before the body was read to its end (a refused upload, say).
// net/http then reads up to 256 KB of what is left, so that the
// connection can serve another request, and closes the connection after a
// short linger when more is left, so that the client reads the response
// before the reset that unread data causes. Neither must wait without
// bound: a body trickled byte by byte, whose deadline the handler lifted
// while it waited for its turn, would hold the connection and its
// goroutine for as long as its sender likes. So the connection's read
// deadline becomes drainWait from the response; a body still arriving
// then is cut, and the connection closed.
//
// (Answering "Connection: close" instead skips net/http's linger: the
// client, still sending, is reset before it reads the refusal.)
type drainBound struct {
	http.ResponseWriter
	body        *limitedBody
	wroteHeader bool
}

// drainWait is how long the rest of a refused body may take to arrive.
const drainWait = 2 * time.Second

func (c *drainBound) WriteHeader(code int) {
	if !c.wroteHeader && code >= 200 {
		c.wroteHeader = true
		if end := time.Now().Add(drainWait); !c.body.done && (c.body.until.IsZero() || c.body.until.After(end)) {
			c.body.deadline(end) // a deadline already sooner (or passed) stays
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *drainBound) Write(p []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the connection's writer.
func (c *drainBound) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// errBodyTimeout reports a body that did not arrive in time.
var errBodyTimeout = errors.New("request body too slow")

// limitedBody is a request body read under a read deadline of the
// connection, which it lifts once the body is read: a connection's
// deadline also ends the request's context, and a handler may take longer
// than its body did.
type limitedBody struct {
	io.ReadCloser // orig under a MaxBytesReader
	orig          io.ReadCloser
	rc            *http.ResponseController
	done          bool
	until         time.Time // the read deadline; zero: none

	// Uploads: the deadline moves with what arrived.
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
	next  int64 // n at which to move the deadline
}

func (b *limitedBody) deadline(t time.Time) {
	b.until = t
	b.rc.SetReadDeadline(t)
}

// upload makes the body an upload of at most limit bytes: it may take
// grace, then must arrive at rate bytes a second.
func (b *limitedBody) upload(w http.ResponseWriter, limit int64, grace time.Duration, rate int64) {
	b.ReadCloser = http.MaxBytesReader(w, b.orig, limit)
	b.start, b.grace, b.rate, b.n, b.next = time.Now(), grace, rate, 0, 0
	b.move()
}

// move sets the deadline an upload has reached: grace, plus the time its
// bytes so far may take at rate.
func (b *limitedBody) move() {
	b.deadline(b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second))))
	b.next = b.n + b.rate/4
}

// wait lifts the deadline while the handler waits for its turn, before
// reading.
func (b *limitedBody) wait() { b.deadline(time.Time{}) }

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.rate > 0 && b.n >= b.next && err == nil {
		b.move()
	}
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		b.deadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = errBodyTimeout
	}
	return n, err
}

// limitListener accepts at most n connections at once; Accept waits for
// one to close.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// bcryptGate bounds the password hashes computed at once.
type bcryptGate struct {
	slots chan struct{}
	mu    sync.Mutex
	now   int
	peak  int // the most at once, for tests
}

func newBcryptGate(n int) *bcryptGate { return &bcryptGate{slots: make(chan struct{}, n)} }

// do runs fn when a slot is free, or returns errBusy (or ctx's error) if
// none frees up in time.
func (g *bcryptGate) do(ctx context.Context, fn func()) error {
	t := time.NewTimer(maxWait / 4)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	g.now++
	g.peak = max(g.peak, g.now)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
		<-g.slots
	}()
	fn()
	return nil
}
