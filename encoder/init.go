package encoder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gen2brain/avif"
)

// processEnv is the environment variable an encoder process is started
// with; its value holds the process's settings (see settings).
const processEnv = "PICTURES_ENCODER_PROCESS"

// initialized records that Init was called and returned: this binary can
// be its own encoder process.
var initialized atomic.Bool

// Init makes this process an encoder process if it was started as one: it
// then serves encode requests on its standard input and output and exits
// when its input ends, without returning. Otherwise it returns at once,
// and AVIF and WebP encodes may use encoder processes, copies of this
// binary. Call it first thing in main (or in TestMain), before anything
// else runs: an encoder process runs main up to here.
func Init() {
	if v := os.Getenv(processEnv); v != "" {
		os.Exit(serve(parseSettings(v), os.Stdin, os.Stdout))
	}
	initialized.Store(true)
}

// settings are what an encoder process is told in its environment.
type settings struct {
	nice  int // -1: unchanged
	lanes int // encodes it runs at once
}

func (s settings) String() string {
	return "nice=" + strconv.Itoa(s.nice) + ",lanes=" + strconv.Itoa(s.lanes)
}

// parseSettings reads settings written by String; what it does not
// understand keeps its default.
func parseSettings(v string) settings {
	s := settings{nice: defaultNice, lanes: 1}
	for _, kv := range strings.Split(v, ",") {
		if n, ok := strings.CutPrefix(kv, "nice="); ok {
			if nice, err := strconv.Atoi(n); err == nil {
				s.nice = nice
			}
		}
		if n, ok := strings.CutPrefix(kv, "lanes="); ok {
			if lanes, err := strconv.Atoi(n); err == nil && lanes >= 1 && lanes <= 1024 {
				s.lanes = lanes
			}
		}
	}
	return s
}

// A frame is an AVIF encode whose pixels are written straight into the
// encoder's memory (this module's WebAssembly build: avifwasm.Frame).
type frame interface {
	Pix() []byte
	Encode(quality, speed int) ([]byte, error)
	Close()
}

// serve answers encode requests until its input ends, running up to
// s.lanes at once, and returns the process's exit code.
func serve(s settings, in io.Reader, out io.Writer) int {
	if s.nice >= 0 {
		lowerPriority(s.nice)
	}
	// Keep the heap close to what the encodes in progress hold (the
	// pixels read on the Go heap are garbage after each request). A soft
	// limit of 150 MB took the peak of a 1400x1750 encode with
	// gen2brain/avif's build from 299 to 212 MB.
	debug.SetMemoryLimit(150 << 20)
	r, w := bufio.NewReaderSize(in, 1<<20), bufio.NewWriterSize(out, 1<<16)
	var (
		wmu      sync.Mutex // held while a response is written
		wg       sync.WaitGroup
		lanes    = make(chan struct{}, s.lanes)
		inFlight atomic.Int32
		first    atomic.Bool
	)
	first.Store(true)
	respond := func(id uint32, data []byte, err error) {
		wmu.Lock()
		defer wmu.Unlock()
		if err := writeResponse(w, id, data, err); err != nil {
			os.Exit(1) // the parent is gone
		}
	}
	code := 0
	for {
		lanes <- struct{}{}
		req, err := readRequest(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pictures encoder process:", err)
			code = 1
			break
		}
		n := req.width * req.height * 4
		var run func() ([]byte, error)
		heap := true
		if req.format == formatAVIF && wasmFrame != nil && avif.Dynamic() != nil {
			// Straight into the encoder's memory, off the Go heap.
			f, ferr := wasmFrame(req.width, req.height)
			if ferr == nil {
				if _, err := io.ReadFull(r, f.Pix()); err != nil {
					fmt.Fprintln(os.Stderr, "pictures encoder process:", err)
					code = 1
					f.Close()
					break
				}
				run = func() ([]byte, error) {
					defer f.Close()
					data, err := f.Encode(req.quality, req.speed)
					if err == nil {
						tagSRGB(data)
					}
					return data, err
				}
			} else {
				if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
					code = 1
					break
				}
				run = func() ([]byte, error) { return nil, ferr }
			}
			heap = false
		} else {
			pix := make([]byte, n)
			if _, err := io.ReadFull(r, pix); err != nil {
				fmt.Fprintln(os.Stderr, "pictures encoder process:", err)
				code = 1
				break
			}
			img := &image.RGBA{Pix: pix, Stride: req.width * 4, Rect: image.Rect(0, 0, req.width, req.height)}
			run = func() ([]byte, error) {
				var buf bytes.Buffer
				err := encodeHere(&buf, job{req.format, img, req.quality, req.speed})
				return buf.Bytes(), err
			}
		}
		inFlight.Add(1)
		wg.Go(func() {
			data, err := run()
			respond(req.id, data, err)
			// Give memory back to the system after the first request (the
			// encoder's compilation leaves garbage) and after large images
			// read on the heap, so an idle process holds little; not while
			// another encode runs, whose WebAssembly code the collector's
			// stop-the-world phase would have to wait for.
			last := inFlight.Add(-1) == 0
			if last && (first.Swap(false) || heap && n > 1<<21) {
				debug.FreeOSMemory()
			}
			<-lanes
		})
	}
	wg.Wait()
	return code
}
