package encoder

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/draw"
)

// photoFrame is a w x h frame of the test photo (a centred crop of its
// shape, scaled), the kind of image a job encodes.
func photoFrame(tb testing.TB, w, h int) *image.RGBA {
	tb.Helper()
	f, err := os.Open("../testdata/photos/dandelion.jpg")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	src, err := jpeg.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	b := src.Bounds()
	cw, ch := b.Dx(), b.Dx()*h/w
	if ch > b.Dy() {
		cw, ch = b.Dy()*w/h, b.Dy()
	}
	crop := image.Rect(0, 0, cw, ch).Add(image.Pt(b.Min.X+(b.Dx()-cw)/2, b.Min.Y+(b.Dy()-ch)/2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(img, img.Bounds(), src, crop, draw.Src, nil)
	return img
}

// BenchmarkAVIFInProcess encodes one frame in this process and reports,
// with -benchmem, the Go allocations of one encode. With the WebAssembly
// backend nearly all of them are the encoder's linear memory: each encode
// instantiates the module afresh, and its memory grows by copying, so an
// encode allocates several times its final size (measured 115 MB at
// 700x875, 323 MB at 1400x1750 and 664 MB at 2805x2104), and an encoder
// process peaks at about twice the memory the encode needs.
//
//	go test -run '^$' -bench AVIFInProcess -benchmem ./encoder
func BenchmarkAVIFInProcess(b *testing.B) {
	avifHere(&bytes.Buffer{}, photo(16, 16), 60, 9) // compiles the module
	for _, sz := range [][2]int{{700, 875}, {1400, 1750}, {2805, 2104}} {
		img := photoFrame(b, sz[0], sz[1])
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := avifHere(&bytes.Buffer{}, img, 60, 9); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSharedProcessChild runs for BenchmarkEncodesInOneProcess: it
// encodes 3 frames on each of PICTURES_BENCH_LANES goroutines, in this
// process.
func TestSharedProcessChild(t *testing.T) {
	lanes, _ := strconv.Atoi(os.Getenv("PICTURES_BENCH_LANES"))
	if lanes == 0 {
		t.Skip("run by BenchmarkEncodesInOneProcess")
	}
	avifHere(&bytes.Buffer{}, photo(16, 16), 60, 9)
	img := photoFrame(t, 1400, 1750)
	var wg sync.WaitGroup
	for range lanes {
		wg.Go(func() {
			for range 3 {
				if err := avifHere(&bytes.Buffer{}, img, 60, 9); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkEncodesInOneProcess compares two ways of running two encodes
// at once, interleaved: in one process (two goroutines sharing one
// compiled module) and in two processes (one each, as the package does).
// Each side encodes six 1400x1750 frames of a photo, three per goroutine
// or process, compilation included. In the shared process the garbage
// collector's stop-the-world phases, frequent while the linear memories
// grow, wait for the other encode's machine code, which cannot be
// preempted (GODEBUG=gctrace=1 on the child shows pauses near a second):
// see BENCHMARKS.md for what that costs.
//
//	go test -run '^$' -bench EncodesInOneProcess -benchtime 3x ./encoder
func BenchmarkEncodesInOneProcess(b *testing.B) {
	run := func(lanes, procs int) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for range procs {
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestSharedProcessChild$")
				cmd.Env = append(environ(), "PICTURES_BENCH_LANES="+strconv.Itoa(lanes))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Errorf("%v\n%s", err, out)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var shared, separate time.Duration
	for b.Loop() {
		s, p := run(2, 1), run(1, 2)
		shared, separate = shared+s, separate+p
		b.Logf("one process: %.2f s, two processes: %.2f s", s.Seconds(), p.Seconds())
	}
	b.ReportMetric(shared.Seconds()/float64(b.N), "shared_s")
	b.ReportMetric(separate.Seconds()/float64(b.N), "separate_s")
}
