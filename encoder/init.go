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
	nice int // -1: unchanged
}

func (s settings) String() string { return "nice=" + strconv.Itoa(s.nice) }

// parseSettings reads settings written by String; what it does not
// understand keeps its default.
func parseSettings(v string) settings {
	s := settings{nice: defaultNice}
	for _, kv := range strings.Split(v, ",") {
		if n, ok := strings.CutPrefix(kv, "nice="); ok {
			if nice, err := strconv.Atoi(n); err == nil {
				s.nice = nice
			}
		}
	}
	return s
}

// serve answers encode requests until its input ends, and returns the
// process's exit code.
func serve(s settings, in io.Reader, out io.Writer) int {
	if s.nice >= 0 {
		lowerPriority(s.nice)
	}
	// The process holds one encode at a time: keep its heap close to that
	// (the encoder's memory is garbage after each request). A soft limit
	// of 150 MB took the peak of a 1400x1750 encode from 299 to 212 MB.
	debug.SetMemoryLimit(150 << 20)
	r, w := bufio.NewReaderSize(in, 1<<20), bufio.NewWriterSize(out, 1<<16)
	var pix []byte
	for served := 0; ; served++ {
		req, err := readRequest(r)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pictures encoder process:", err)
			return 1
		}
		if n := req.width * req.height * 4; cap(pix) < n {
			pix = make([]byte, n)
		} else {
			pix = pix[:n]
		}
		if _, err := io.ReadFull(r, pix); err != nil {
			fmt.Fprintln(os.Stderr, "pictures encoder process:", err)
			return 1
		}
		img := &image.RGBA{Pix: pix, Stride: req.width * 4, Rect: image.Rect(0, 0, req.width, req.height)}
		var buf bytes.Buffer
		err = encodeHere(&buf, job{req.format, img, req.quality, req.speed})
		if err := writeResponse(w, buf.Bytes(), err); err != nil {
			return 1
		}
		// Give memory back to the system after the first request (the
		// encoder's compilation leaves garbage) and after large images,
		// so an idle process holds little.
		if served == 0 || req.width*req.height > 1<<19 {
			pix = nil
			debug.FreeOSMemory()
		}
	}
}
