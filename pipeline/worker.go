package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/gen2brain/avif"
)

// AVIF worker processes.
//
// AVIF encoding runs in worker processes: the program's own binary, started
// again with PICTURES_AVIF_WORKER set, which this package's init turns into
// an encoder serving requests on its standard input and output. Any program
// that imports this package can therefore be its own worker, with no code
// of its own. Decoding and resizing stay in the calling process.
//
// Measured on 2 CPUs, a trivial HTTP handler served while two 12-megapixel
// uploads were processed (BenchmarkIsolation) answered with a p99 of:
//   - 2100 ms with the WebAssembly backend in-process: wazero runs machine
//     code the Go scheduler cannot preempt, so every stop-the-world phase
//     of the garbage collector, and with it every request handler, waits
//     for the encode in progress, for seconds; 7 ms with worker processes;
//   - 113 ms with a system libavif in-process (each encode runs NumCPU
//     threads that crowd out the server's); 34 ms with one worker;
//   - 121 ms with -tags wasm2go in-process.
// Workers run at nice 5 (PICTURES_AVIF_WORKER_NICE), so the server gets the
// CPU first; at nice 10 latency drops further but processing slows down
// several-fold under load.
//
// A worker that dies is started again and its request retried once; a
// request whose context ends kills its worker (an encode cannot be
// interrupted); at most AVIFWorkers encodes run at once and the others wait
// for a worker (back-pressure); idle workers exit after two minutes.

const (
	workerEnv     = "PICTURES_AVIF_WORKER"
	workersEnv    = "PICTURES_AVIF_WORKERS"
	workerMagic   = "PAV1"
	workerIdle    = 2 * time.Minute
	maxWorkerSide = 1 << 14
)

func init() {
	if os.Getenv(workerEnv) != "" {
		os.Exit(serveWorker(os.Stdin, os.Stdout))
	}
}

// serveWorker answers encode requests until its input ends.
func serveWorker(in io.Reader, out io.Writer) int {
	lowerPriority()
	// The process holds one encode at a time: keep its heap close to that
	// (the encoder's memory is garbage after each request). A soft limit
	// of 150 MB took the peak of a 1400x1750 encode from 299 to 212 MB.
	debug.SetMemoryLimit(150 << 20)
	r, w := bufio.NewReaderSize(in, 1<<20), bufio.NewWriterSize(out, 1<<16)
	var pix []byte
	for served := 0; ; served++ {
		var hdr [16]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(os.Stderr, "pictures avif worker:", err)
			return 1
		}
		if string(hdr[:4]) != workerMagic {
			fmt.Fprintln(os.Stderr, "pictures avif worker: bad request")
			return 1
		}
		width, height := int(binary.LittleEndian.Uint32(hdr[4:])), int(binary.LittleEndian.Uint32(hdr[8:]))
		quality, speed := int(hdr[12]), int(hdr[13])
		if width < 1 || height < 1 || width > maxWorkerSide || height > maxWorkerSide {
			fmt.Fprintln(os.Stderr, "pictures avif worker: bad size")
			return 1
		}
		if n := width * height * 4; cap(pix) < n {
			pix = make([]byte, n)
		} else {
			pix = pix[:n]
		}
		if _, err := io.ReadFull(r, pix); err != nil {
			fmt.Fprintln(os.Stderr, "pictures avif worker:", err)
			return 1
		}
		img := &image.RGBA{Pix: pix, Stride: width * 4, Rect: image.Rect(0, 0, width, height)}
		var buf bytes.Buffer
		status, body := byte(0), []byte(nil)
		if err := encodeAVIF(&buf, img, quality, speed); err != nil {
			status, body = 1, []byte(err.Error())
		} else {
			body = buf.Bytes()
		}
		var resp [5]byte
		resp[0] = status
		binary.LittleEndian.PutUint32(resp[1:], uint32(len(body)))
		w.Write(resp[:])
		w.Write(body)
		if err := w.Flush(); err != nil {
			return 1
		}
		// Give memory back to the system after the first request (the
		// encoder's compilation leaves garbage) and after large images,
		// so an idle worker holds little.
		if served == 0 || width*height > 1<<19 {
			pix = nil
			debug.FreeOSMemory()
		}
	}
}

// encodeAVIF encodes in this process. Speed and chroma subsampling are
// always explicit: the zero avif.Options means speed 0 and 4:4:4, seconds
// per small image.
func encodeAVIF(w io.Writer, img *image.RGBA, quality, speed int) error {
	var buf bytes.Buffer
	err := avif.Encode(&buf, img, avif.Options{
		Quality:           quality,
		QualityAlpha:      quality,
		Speed:             speed,
		ChromaSubsampling: image.YCbCrSubsampleRatio420,
	})
	if err != nil {
		return err
	}
	tagSRGB(buf.Bytes())
	_, err = w.Write(buf.Bytes())
	return err
}

// AVIFWorkers returns the number of worker processes AVIF encoding uses;
// 0 means it runs in this process. It is PICTURES_AVIF_WORKERS if set, or
// else 1 with a system libavif (whose encoder uses every CPU itself) and
// GOMAXPROCS with the single-threaded WebAssembly builds. SetAVIFWorkers
// changes it.
func AVIFWorkers() int {
	workers.init()
	workers.mu.Lock()
	defer workers.mu.Unlock()
	return workers.n
}

// SetAVIFWorkers sets the number of AVIF worker processes; 0 encodes in
// this process. Idle workers beyond n exit now, busy ones when done.
func SetAVIFWorkers(n int) {
	workers.init()
	workers.mu.Lock()
	defer workers.mu.Unlock()
	workers.n = max(0, n)
	for len(workers.idle) > 0 && workers.busy+len(workers.idle) > workers.n {
		workers.idle[0].stop()
		workers.idle = workers.idle[1:]
	}
	workers.cond.Broadcast()
}

// StartAVIFWorkers starts every AVIF worker process and has each compile
// its encoder, so that the first uploads do not wait for it (a few seconds
// of CPU per worker with the WebAssembly backend). It does nothing when
// encoding runs in-process. Programs call it in the background at start-up.
func StartAVIFWorkers(ctx context.Context) error {
	n := AVIFWorkers()
	tiny := image.NewRGBA(image.Rect(0, 0, 16, 16))
	errs := make(chan error, n)
	for range n {
		go func() { errs <- encodeAVIFIsolated(ctx, io.Discard, tiny, 50, 10) }()
	}
	var err error
	for range n {
		err = errors.Join(err, <-errs)
	}
	return err
}

// workerPool holds the worker processes.
type workerPool struct {
	once  sync.Once
	mu    sync.Mutex
	cond  *sync.Cond
	n     int       // wanted number of workers
	local int       // encodes running in this process
	busy  int       // requests being served
	idle  []*worker // started workers waiting for a request
}

var workers workerPool

func (p *workerPool) init() {
	p.once.Do(func() {
		p.cond = sync.NewCond(&p.mu)
		p.n = runtime.GOMAXPROCS(0)
		if AVIFBackendName() == "libavif" {
			p.n = 1
		}
		if v, err := strconv.Atoi(os.Getenv(workersEnv)); err == nil && v >= 0 {
			p.n = v
		}
		go p.reap()
	})
}

// acquire waits for a free worker slot. It returns nil, nil when encoding
// should happen in this process; then at most GOMAXPROCS encodes run at
// once, whatever the number of jobs, and the caller must call
// releaseLocal.
func (p *workerPool) acquire(ctx context.Context) (*worker, error) {
	p.init()
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
		if p.n == 0 {
			if p.local < runtime.GOMAXPROCS(0) {
				p.local++
				return nil, nil
			}
			p.cond.Wait()
			continue
		}
		if p.busy < p.n {
			p.busy++
			if k := len(p.idle); k > 0 {
				w := p.idle[k-1]
				p.idle = p.idle[:k-1]
				return w, nil
			}
			return &worker{}, nil // started on first use
		}
		p.cond.Wait()
	}
}

// releaseLocal ends an in-process encode.
func (p *workerPool) releaseLocal() {
	p.mu.Lock()
	p.local--
	p.cond.Broadcast()
	p.mu.Unlock()
}

// release gives a worker back; a broken one is dropped.
func (p *workerPool) release(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	switch {
	case w.cmd == nil:
	case w.broken || p.busy+len(p.idle) >= p.n:
		w.stop()
	default:
		w.used = time.Now()
		p.idle = append(p.idle, w)
	}
	p.cond.Broadcast()
}

// reap stops workers idle for a while.
func (p *workerPool) reap() {
	for range time.Tick(workerIdle / 4) {
		p.mu.Lock()
		kept := p.idle[:0]
		for _, w := range p.idle {
			if time.Since(w.used) > workerIdle {
				w.stop()
			} else {
				kept = append(kept, w)
			}
		}
		p.idle = kept
		p.mu.Unlock()
	}
}

// A worker is one worker process.
type worker struct {
	cmd    *exec.Cmd
	pipe   io.WriteCloser
	in     *bufio.Writer
	out    *bufio.Reader
	used   time.Time
	broken bool
	done   chan struct{} // closed when the process has exited
}

func (w *worker) start() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	cmd.Stderr = os.Stderr
	setParentDeathSignal(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.cmd, w.pipe, w.in = cmd, in, bufio.NewWriterSize(in, 1<<20)
	w.out, w.broken, w.done = bufio.NewReaderSize(out, 1<<16), false, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(w.done)
	return nil
}

func (w *worker) stop() {
	if w.cmd == nil {
		return
	}
	w.pipe.Close() // the worker exits at the end of its input
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
	}
	w.cmd = nil
}

func (w *worker) kill() {
	if w.cmd != nil {
		w.cmd.Process.Kill()
		<-w.done
		w.cmd = nil
	}
	w.broken = true
}

// roundTrip sends one request and reads its answer.
func (w *worker) roundTrip(img *image.RGBA, quality, speed int) ([]byte, error) {
	b := img.Bounds()
	var hdr [16]byte
	copy(hdr[:], workerMagic)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(b.Dx()))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(b.Dy()))
	hdr[12], hdr[13] = byte(quality), byte(speed)
	if _, err := w.in.Write(hdr[:]); err != nil {
		return nil, err
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):][:b.Dx()*4]
		if _, err := w.in.Write(row); err != nil {
			return nil, err
		}
	}
	if err := w.in.Flush(); err != nil {
		return nil, err
	}
	var resp [5]byte
	if _, err := io.ReadFull(w.out, resp[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.LittleEndian.Uint32(resp[1:]))
	if _, err := io.ReadFull(w.out, body); err != nil {
		return nil, err
	}
	if resp[0] != 0 {
		return nil, encodeError(string(body))
	}
	return body, nil
}

// encodeError is an error the encoder reported: not the worker's fault.
type encodeError string

func (e encodeError) Error() string { return string(e) }

var startFailure sync.Once

// encodeAVIFIsolated encodes img in a worker process when workers are on,
// in this process otherwise (or if no worker can be started).
func encodeAVIFIsolated(ctx context.Context, dst io.Writer, img *image.RGBA, quality, speed int) error {
	w, err := workers.acquire(ctx)
	if err != nil {
		return err
	}
	if w == nil {
		defer workers.releaseLocal()
		return encodeAVIF(dst, img, quality, speed)
	}
	defer workers.release(w)
	for attempt := 1; ; attempt++ {
		if w.cmd == nil {
			if err := w.start(); err != nil {
				startFailure.Do(func() {
					slog.Warn("pictures: cannot start AVIF worker processes; encoding in this process", "err", err)
				})
				return encodeAVIF(dst, img, quality, speed)
			}
		}
		type result struct {
			data []byte
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			data, err := w.roundTrip(img, quality, speed)
			ch <- result{data, err}
		}()
		select {
		case res := <-ch:
			var encErr encodeError
			if res.err == nil || errors.As(res.err, &encErr) {
				if res.err != nil {
					return fmt.Errorf("pictures avif worker: %w", res.err)
				}
				_, err := dst.Write(res.data)
				return err
			}
			// The worker died (out of memory, killed): start a new one
			// and try once more.
			w.kill()
			w.broken = false
			if attempt == 2 {
				return fmt.Errorf("pictures avif worker failed twice: %w", res.err)
			}
		case <-ctx.Done():
			w.kill() // the encode cannot be interrupted otherwise
			<-ch
			return ctx.Err()
		}
	}
}
