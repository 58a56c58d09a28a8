package encoder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/internal/imagetest"
)

// TestMain lets this test binary be its own encoder process.
func TestMain(m *testing.M) {
	Init()
	code := m.Run()
	Stop()
	os.Exit(code)
}

// photo renders a smooth, detailed test scene.
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			u, v := float64(x)/float64(w), float64(y)/float64(h)
			d := math.Hypot(u-0.6, v-0.4)
			img.SetRGBA(x, y, color.RGBA{
				uint8(255 * (0.5 + 0.5*math.Sin(12*u+3*v))),
				uint8(255 * (0.5 + 0.5*math.Cos(9*v-5*u*u))),
				uint8(255 * (0.5 + 0.5*math.Sin(60*d)*math.Exp(-4*d))),
				255,
			})
		}
	}
	return img
}

// children lists the child processes of this test process.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}

// withConfig configures the encoder for the test. Processes of the same
// settings stay from one test to the next (each takes seconds to start
// with the WebAssembly backend).
func withConfig(t *testing.T, c Config) {
	t.Helper()
	require.NoError(t, Configure(c))
}

func encodeAVIF(ctx context.Context, img *image.RGBA, speed int) ([]byte, error) {
	var buf bytes.Buffer
	err := AVIF(ctx, &buf, img, 60, speed)
	return buf.Bytes(), err
}

func TestProcessEncodesAsInProcess(t *testing.T) {
	img := photo(200, 150)
	withConfig(t, Config{InProcess: true})
	local, err := encodeAVIF(context.Background(), img, 9)
	require.NoError(t, err)
	assert.Empty(t, children(t))
	withConfig(t, Config{Processes: 1})
	remote, err := encodeAVIF(context.Background(), img, 9)
	require.NoError(t, err)
	assert.Equal(t, local, remote, "an encoder process encodes exactly as this process does")
	assert.NotEmpty(t, children(t), "the encode ran in an encoder process")
	cfg, err := avif.DecodeConfig(bytes.NewReader(remote))
	require.NoError(t, err)
	assert.Equal(t, [2]int{200, 150}, [2]int{cfg.Width, cfg.Height})
}

func TestDeathIsRetried(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	img := photo(64, 48)
	_, err := encodeAVIF(context.Background(), img, 9)
	require.NoError(t, err)
	pids := children(t)
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	time.Sleep(50 * time.Millisecond)
	out, err := encodeAVIF(context.Background(), img, 9)
	require.NoError(t, err, "a new process takes over")
	cfg, err := avif.DecodeConfig(bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, 64, cfg.Width)
}

// TestCanceledRequestReturnsAtOnce: an encode of many seconds whose
// request ends returns at once; its process, still encoding, is killed
// after cancelGrace, and the pool serves the next encode.
func TestCanceledRequestReturnsAtOnce(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	grace := cancelGrace
	cancelGrace = 500 * time.Millisecond
	t.Cleanup(func() { cancelGrace = grace })
	img := photo(1600, 1600)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := encodeAVIF(ctx, img, 0)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Less(t, time.Since(start), 3*time.Second, "an encode that takes many seconds is abandoned at once")
	_, err = encodeAVIF(context.Background(), photo(32, 32), 9)
	require.NoError(t, err, "the pool recovers")
}

// TestCanceledEncodeKeepsItsProcess: an encode whose request ends is
// left to finish in its process, which then serves the next encode:
// killing it would make that encode start a new process (a WebAssembly
// compilation, seconds on a loaded machine, where timeouts happen).
func TestCanceledEncodeKeepsItsProcess(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	_, err := encodeAVIF(context.Background(), photo(32, 32), 9)
	require.NoError(t, err)
	before := children(t)
	require.Len(t, before, 1)
	img := photo(1000, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = encodeAVIF(ctx, img, 6)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second, "the request returns at once")
	start = time.Now()
	out, err := encodeAVIF(context.Background(), photo(64, 48), 9)
	require.NoError(t, err)
	t.Logf("the next encode, after the canceled one finished in the same process: %v", time.Since(start).Round(time.Millisecond))
	cfg, err := avif.DecodeConfig(bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, 64, cfg.Width)
	assert.Equal(t, before, children(t), "the same process")
}

// TestEncodesPerProcess runs two encodes at once in one process: a small
// one sent while a large one runs comes back first, every answer goes to
// its own request, and killing the process retries both.
func TestEncodesPerProcess(t *testing.T) {
	withConfig(t, Config{Processes: 1, EncodesPerProcess: 2})
	big, small := photo(1000, 750), photo(48, 32)
	want, err := encodeAVIF(context.Background(), small, 9)
	require.NoError(t, err)
	require.Len(t, children(t), 1)

	bigDone := make(chan []byte, 1)
	go func() {
		out, err := encodeAVIF(context.Background(), big, 4)
		assert.NoError(t, err)
		bigDone <- out
	}()
	time.Sleep(100 * time.Millisecond)
	got, err := encodeAVIF(context.Background(), small, 9)
	require.NoError(t, err)
	select {
	case <-bigDone:
		t.Fatal("the large encode ended before the small one sent after it: the process ran one at a time")
	default:
	}
	assert.Equal(t, want, got, "the small encode's own answer")
	out := <-bigDone
	cfg, err := avif.DecodeConfig(bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, [2]int{1000, 750}, [2]int{cfg.Width, cfg.Height}, "the large encode's own answer")
	assert.Len(t, children(t), 1, "one process served both")

	// Kill the process while two encodes run in it: both are retried in
	// a new one.
	pids := children(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			out, err := encodeAVIF(context.Background(), photo(800, 600), 4)
			if assert.NoError(t, err, "retried in a new process") {
				cfg, err := avif.DecodeConfig(bytes.NewReader(out))
				assert.NoError(t, err)
				assert.Equal(t, 800, cfg.Width)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	wg.Wait()
	assert.Len(t, children(t), 1)
	assert.NotEqual(t, pids, children(t), "a new process")
}

func TestBackPressure(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	var wg sync.WaitGroup
	var peak int
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				n := len(children(t))
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
		}
	}()
	for range 4 {
		wg.Go(func() {
			_, err := encodeAVIF(context.Background(), photo(400, 300), 9)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	close(done)
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, peak, 1, "four encodes at once run one after the other in the one process")
}

func TestStart(t *testing.T) {
	withConfig(t, Config{Processes: 2})
	require.NoError(t, Start(context.Background()))
	assert.Len(t, children(t), 2)
	require.NoError(t, Configure(Config{InProcess: true}))
	require.NoError(t, Start(context.Background()), "nothing to start in-process")
	assert.Empty(t, children(t), "going in-process stops the idle processes")
}

func TestIdleProcessesExit(t *testing.T) {
	withConfig(t, Config{Processes: 1, IdleTimeout: 100 * time.Millisecond})
	require.NoError(t, Start(context.Background()))
	require.Len(t, children(t), 1)
	assert.Eventually(t, func() bool { return len(children(t)) == 0 }, 5*time.Second, 20*time.Millisecond)
	_, err := encodeAVIF(context.Background(), photo(32, 32), 9)
	require.NoError(t, err, "a new process starts")
}

// TestStopLeavesNothing checks that Stop ends every process and every
// goroutine the package started.
func TestStopLeavesNothing(t *testing.T) {
	withConfig(t, Config{Processes: 2})
	Stop()
	before := runtime.NumGoroutine()
	require.NoError(t, Start(context.Background()))
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := encodeAVIF(context.Background(), photo(64, 64), 9)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.Len(t, children(t), 2)
	assert.Greater(t, runtime.NumGoroutine(), before, "a goroutine waits for each process")
	Stop()
	assert.Empty(t, children(t))
	// A goroutine may still be returning: give it a moment.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(5 * time.Millisecond)
	}
	assert.LessOrEqual(t, after, before, "goroutines: %d before Start, %d after Stop", before, after)
	_, err := encodeAVIF(context.Background(), photo(32, 32), 9)
	require.NoError(t, err, "encoding works after Stop")
	assert.Len(t, children(t), 1)
}

// TestStopWaitsForBusyProcesses stops while an encode runs: Stop returns
// once it is done, and the encode succeeds.
func TestStopWaitsForBusyProcesses(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	require.NoError(t, Start(context.Background()))
	errc := make(chan error, 1)
	img := photo(800, 600)
	go func() {
		_, err := encodeAVIF(context.Background(), img, 6)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	Stop()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(time.Second):
		t.Fatal("Stop returned before the encode in progress ended")
	}
	assert.Empty(t, children(t))
}

func TestConfigureChecks(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{Processes: -1}, "encoder: Config.Processes must not be negative, got -1"},
		{Config{InProcess: true, Processes: 2}, "encoder: Config.Processes must be 0 with InProcess, got 2"},
		{Config{EncodesPerProcess: -2}, "encoder: Config.EncodesPerProcess must not be negative, got -2"},
		{Config{InProcess: true, EncodesPerProcess: 2}, "encoder: Config.EncodesPerProcess must be 0 with InProcess, got 2"},
		{Config{Nice: 20}, "encoder: Config.Nice must be between -1 and 19, got 20"},
		{Config{Nice: -5}, "encoder: Config.Nice must be between -1 and 19, got -5"},
		{Config{IdleTimeout: -time.Second}, "encoder: Config.IdleTimeout must not be negative, got -1s"},
	} {
		assert.EqualError(t, Configure(tt.c), tt.want, "%+v", tt.c)
	}
	assert.NoError(t, Configure(Config{}))
}

func TestAVIFChecks(t *testing.T) {
	img := photo(16, 16)
	assert.EqualError(t, AVIF(context.Background(), &bytes.Buffer{}, img, 0, 6), "encoder: AVIF quality must be between 1 and 100, got 0")
	assert.EqualError(t, AVIF(context.Background(), &bytes.Buffer{}, img, 60, 11), "encoder: AVIF speed must be between 0 and 10, got 11")
}

func TestDescribe(t *testing.T) {
	withConfig(t, Config{Processes: 3})
	b := Describe()
	assert.Equal(t, 3, b.Processes)
	assert.Contains(t, b.Reason, "Config.Processes 3")
	assert.Contains(t, []string{"libavif", "wasm", "wasm2go"}, b.Library)
	assert.Contains(t, b.String(), "in 3 encoder processes")

	require.NoError(t, Configure(Config{InProcess: true}))
	assert.Equal(t, 0, Describe().Processes)
	assert.Contains(t, Describe().String(), "in-process (")

	require.NoError(t, Configure(Config{}))
	b = Describe()
	switch b.Library {
	case "libavif":
		assert.Equal(t, 1, b.Processes)
		assert.Equal(t, 1, b.EncodesPerProcess)
	case "wasm":
		assert.Equal(t, 1, b.Processes)
		assert.Equal(t, runtime.GOMAXPROCS(0), b.EncodesPerProcess)
	default:
		assert.Equal(t, runtime.GOMAXPROCS(0), b.Processes)
		assert.Equal(t, 1, b.EncodesPerProcess)
	}
	assert.Contains(t, b.Reason, "default")

	require.NoError(t, Configure(Config{Processes: 2, EncodesPerProcess: 3}))
	b = Describe()
	assert.Equal(t, 3, b.EncodesPerProcess)
	assert.Contains(t, b.Reason, "Config.Processes 2, Config.EncodesPerProcess 3")
	assert.Contains(t, b.String(), "in 2 encoder processes, 3 encodes at once in each")
}

// TestWithoutInit checks that a program that did not call Init never
// starts an encoder process (it would run the program's main again).
func TestWithoutInit(t *testing.T) {
	withConfig(t, Config{Processes: 2})
	initialized.Store(false)
	t.Cleanup(func() { initialized.Store(true) })
	b := Describe()
	assert.Equal(t, 0, b.Processes)
	assert.Contains(t, b.Reason, "encoder.Init not called")
	require.NoError(t, Start(context.Background()))
	_, err := encodeAVIF(context.Background(), photo(32, 32), 9)
	require.NoError(t, err)
	assert.Empty(t, children(t))
}

func TestSettingsRoundTrip(t *testing.T) {
	for _, s := range []settings{{-1, 1}, {5, 2}, {19, 16}} {
		assert.Equal(t, s, parseSettings(s.String()))
	}
	assert.Equal(t, settings{nice: defaultNice, lanes: 1}, parseSettings("1,lanes=0,lanes=x"), "unknown values keep the defaults")
}

func encodeWebP(ctx context.Context, img *image.RGBA, method int) ([]byte, error) {
	var buf bytes.Buffer
	err := WebP(ctx, &buf, img, 75, method)
	return buf.Bytes(), err
}

func TestWebPProcessEncodesAsInProcess(t *testing.T) {
	img := photo(200, 150)
	withConfig(t, Config{InProcess: true})
	local, err := encodeWebP(context.Background(), img, 4)
	require.NoError(t, err)
	assert.Empty(t, children(t))
	withConfig(t, Config{Processes: 1})
	remote, err := encodeWebP(context.Background(), img, 4)
	require.NoError(t, err)
	assert.Equal(t, local, remote, "an encoder process encodes exactly as this process does")
	assert.NotEmpty(t, children(t), "the encode ran in an encoder process")
	assert.Equal(t, []string{"VP8 "}, imagetest.WebPChunks(t, remote), "lossy, opaque, no metadata chunk")
	dec, err := decodeWebP(remote)
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 200, 150), dec.Bounds())
	assert.Greater(t, psnr(img, dec), 35.0)
}

// TestOneProtocolTwoFormats interleaves AVIF and WebP encodes in one
// encoder process.
func TestOneProtocolTwoFormats(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	img := photo(96, 64)
	for i := range 4 {
		if i%2 == 0 {
			out, err := encodeAVIF(context.Background(), img, 9)
			require.NoError(t, err)
			assert.Equal(t, "ftypavif", string(out[4:12]), "request %d", i)
		} else {
			out, err := encodeWebP(context.Background(), img, 4)
			require.NoError(t, err)
			assert.Equal(t, "WEBP", string(out[8:12]), "request %d", i)
		}
	}
	assert.Len(t, children(t), 1)
}

// TestWebPAlpha checks that transparency is kept, and that the colours of
// a premultiplied image come out as they are, not darkened.
func TestWebPAlpha(t *testing.T) {
	withConfig(t, Config{Processes: 1})
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			switch {
			case x < 32:
				img.SetRGBA(x, y, color.RGBA{200, 100, 50, 255})
			case y < 32:
				img.SetRGBA(x, y, color.RGBA{100, 50, 25, 128}) // (200, 100, 50) at half alpha
			}
		}
	}
	out, err := encodeWebP(context.Background(), img, 4)
	require.NoError(t, err)
	assert.Equal(t, []string{"VP8X", "ALPH", "VP8 "}, imagetest.WebPChunks(t, out))
	assert.Equal(t, byte(0x10), out[20], "VP8X flags: alpha only (no ICC, EXIF, XMP or animation)")
	dec, err := decodeWebP(out)
	require.NoError(t, err)
	for _, tt := range []struct {
		x, y int
		want color.NRGBA
	}{
		{16, 16, color.NRGBA{200, 100, 50, 255}},
		{48, 16, color.NRGBA{200, 100, 50, 128}},
		{48, 48, color.NRGBA{0, 0, 0, 0}},
	} {
		got := color.NRGBAModel.Convert(dec.At(tt.x, tt.y)).(color.NRGBA)
		assert.Equal(t, tt.want.A, got.A, "alpha at %d,%d", tt.x, tt.y)
		if tt.want.A != 0 {
			for i, c := range [][2]uint8{{got.R, tt.want.R}, {got.G, tt.want.G}, {got.B, tt.want.B}} {
				assert.InDelta(t, c[1], c[0], 6, "channel %d at %d,%d: %v", i, tt.x, tt.y, got)
			}
		}
	}
}

func TestStraight(t *testing.T) {
	opaque := photo(8, 4)
	s := straight(opaque)
	assert.Same(t, &opaque.Pix[0], &s.Pix[0], "an opaque image is shared")
	assert.Equal(t, image.Rect(0, 0, 8, 4), s.Bounds())

	sub := opaque.SubImage(image.Rect(2, 1, 6, 3)).(*image.RGBA)
	s = straight(sub)
	require.Equal(t, image.Rect(0, 0, 4, 2), s.Bounds(), "moved to the origin")
	assert.Equal(t, 16, s.Stride, "rows end to end")
	for y := range 2 {
		for x := range 4 {
			r, g, b, a := sub.At(2+x, 1+y).RGBA()
			assert.Equal(t, color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}, s.NRGBAAt(x, y))
		}
	}

	alpha := image.NewRGBA(image.Rect(0, 0, 4, 1))
	copy(alpha.Pix, []byte{
		100, 50, 25, 128, // (199, 100, 50) at half alpha
		0, 0, 0, 0,
		255, 0, 0, 255,
		200, 0, 0, 100, // invalid: colour above alpha, clamped
	})
	assert.Equal(t, []byte{199, 100, 50, 128, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 100}, straight(alpha).Pix)
}

func TestWebPChecks(t *testing.T) {
	img := photo(16, 16)
	assert.EqualError(t, WebP(context.Background(), &bytes.Buffer{}, img, 0, 4), "encoder: WebP quality must be between 1 and 100, got 0")
	assert.EqualError(t, WebP(context.Background(), &bytes.Buffer{}, img, 75, 7), "encoder: WebP method must be between 0 and 6, got 7")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, WebP(ctx, &bytes.Buffer{}, img, 75, 4), context.Canceled)
}

func TestDescribeWebP(t *testing.T) {
	withConfig(t, Config{Processes: 2})
	b := DescribeWebP()
	assert.Equal(t, 2, b.Processes, "the processes AVIF uses")
	assert.Contains(t, []string{"libwebp", "wasm"}, b.Library)
	if b.Library == "wasm" {
		assert.Contains(t, b.Reason, "no system libwebp: ")
	} else {
		assert.Contains(t, b.Reason, "system libwebp; ")
	}
	assert.Contains(t, b.String(), "in 2 encoder processes")
}

func TestRequestFormat(t *testing.T) {
	img := photo(3, 2)
	for _, f := range []format{formatAVIF, formatWebP} {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		require.NoError(t, writeRequest(w, 7, job{f, img, 75, 4}))
		req, err := readRequest(&buf)
		require.NoError(t, err)
		assert.Equal(t, request{id: 7, width: 3, height: 2, quality: 75, speed: 4, format: f}, req)
		assert.Equal(t, img.Pix, buf.Bytes(), "the pixels follow")
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	require.NoError(t, writeRequest(w, 0, job{2, img, 75, 4}))
	_, err := readRequest(&buf)
	assert.ErrorIs(t, err, errBadRequest, "an unknown format")
}

func TestResponseFormat(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	require.NoError(t, writeResponse(w, 9, []byte("file"), nil))
	require.NoError(t, writeResponse(w, 3, nil, errors.New("too large")))
	id, data, err := readResponse(&buf)
	require.NoError(t, err)
	assert.Equal(t, uint32(9), id)
	assert.Equal(t, "file", string(data))
	id, _, err = readResponse(&buf)
	assert.Equal(t, uint32(3), id)
	assert.Equal(t, encodeError("too large"), err)
	_, _, err = readResponse(&buf)
	assert.ErrorIs(t, err, io.EOF, "the end of the stream")
	require.NoError(t, writeResponse(w, 1, []byte("file"), nil))
	buf.Truncate(buf.Len() - 1)
	_, _, err = readResponse(&buf)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a truncated response")
}

// decodeWebP decodes with libwebp's own conversion to RGB, as browsers do
// (image.YCbCr reads VP8's studio-range planes as full range).
func decodeWebP(data []byte) (image.Image, error) {
	all, err := webp.DecodeAll(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return all.Image[0], nil
}

func psnr(a, b image.Image) float64 {
	var sum float64
	bd := a.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += d * d
			}
		}
	}
	return 10 * math.Log10(255*255/max(sum/float64(bd.Dx()*bd.Dy()*3), 1e-9))
}
