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

// prepare reads req's pixels from r and returns the encode to run, and
// whether the pixels are on the Go heap: with this module's WebAssembly
// build, an AVIF's pixels are read straight into the encoder's memory.
// An error is r's: the stream is lost.
func prepare(r io.Reader, req request) (run func() ([]byte, error), heap bool, err error) {
	n := req.width * req.height * 4
	if req.format == formatAVIF && ownWASM() {
		f, err := wasmFrame(req.width, req.height)
		if err != nil { // the encode fails; the stream goes on
			_, rerr := io.CopyN(io.Discard, r, int64(n))
			return func() ([]byte, error) { return nil, err }, false, rerr
		}
		if _, err := io.ReadFull(r, f.Pix()); err != nil {
			f.Close()
			return nil, false, err
		}
		return func() ([]byte, error) {
			defer f.Close()
			data, err := f.Encode(req.quality, req.speed)
			if err == nil {
				tagSRGB(data)
			}
			return data, err
		}, false, nil
	}
	pix := make([]byte, n)
	if _, err := io.ReadFull(r, pix); err != nil {
		return nil, true, err
	}
	img := &image.RGBA{Pix: pix, Stride: req.width * 4, Rect: image.Rect(0, 0, req.width, req.height)}
	return func() ([]byte, error) {
		var buf bytes.Buffer
		err := encodeHere(&buf, job{req.format, img, req.quality, req.speed})
		return buf.Bytes(), err
	}, true, nil
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
		served   atomic.Bool
	)
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
		var run func() ([]byte, error)
		var heap bool
		if err == nil {
			run, heap, err = prepare(r, req)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pictures encoder process:", err)
			code = 1
			break
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
			if last && (!served.Swap(true) || heap && req.width*req.height*4 > 1<<21) {
				debug.FreeOSMemory()
			}
			<-lanes
		})
	}
	wg.Wait()
	return code
}
