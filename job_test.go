package pictures

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopictures/pictures/encoder"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/storage"
)

// TestMain lets this test binary be its own AVIF encoder process, as a
// program's main does (encoder.Init first). For the benchmarks' comparisons,
// PICTURES_TEST_ENCODERS sets the number of encoder processes (0: encode
// in this process) and PICTURES_TEST_ENCODER_NICE their nice value (0:
// this process's): the library itself reads no such variable.
func TestMain(m *testing.M) {
	encoder.Init()
	var c encoder.Config
	if v, ok := os.LookupEnv("PICTURES_TEST_ENCODERS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "PICTURES_TEST_ENCODERS:", err)
			os.Exit(2)
		}
		c.Processes, c.InProcess = n, n == 0
	}
	if v, ok := os.LookupEnv("PICTURES_TEST_ENCODER_NICE"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "PICTURES_TEST_ENCODER_NICE:", err)
			os.Exit(2)
		}
		if c.Nice = n; n == 0 {
			c.Nice = -1
		}
	}
	if err := encoder.Configure(c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	encoder.Stop()
	os.Exit(code)
}

// The job of the speed issue: one 12-megapixel JPEG, ratios 1/1, 4/5 and
// the original, widths 104 to 1400, AVIF at quality 60, 4:2:0.
var (
	jobRatios = []string{"1/1", "4/5", ""}
	jobWidths = []int{1400, 1125, 935, 624, 312, 104}
)

// jobPhoto returns the job's input, made once and kept in the system's
// temporary directory: the dandelion photograph (testdata/photos, CC0)
// cropped to 4:3 and scaled to 4000x3000, as a quality 92 JPEG. It is the
// same file on every run.
func jobPhoto(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), "pictures-job-12mp-v1.jpeg")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	data, info := inspectedPhoto(tb, "testdata/photos/dandelion.jpg")
	img, err := pipeline.Decode(data, info)
	if err != nil {
		tb.Fatal(err)
	}
	b := img.Bounds()
	big := pipeline.NewResizer(img.Crop(pipeline.CropRect(b.Dx(), b.Dy(), b.Dy()*4/3, b.Dy(), 0.5, 0.5))).Resize(4000, 3000)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 92}); err != nil {
		tb.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jobPhotoP3 returns the job's photo tagged as Display P3 (the profile of
// testdata/color, in an APP2 segment), so that every variant is converted
// to sRGB: BenchmarkJob with PICTURES_JOB_PROFILE=p3 and the P3 cases of
// BenchmarkJobResize measure what colour management costs.
func jobPhotoP3(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), "pictures-job-12mp-p3-v1.jpeg")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	data, err := os.ReadFile(jobPhoto(tb))
	if err != nil {
		tb.Fatal(err)
	}
	icc, err := os.ReadFile("testdata/color/display-p3-v4.icc")
	if err != nil {
		tb.Fatal(err)
	}
	seg := append([]byte("ICC_PROFILE\x00\x01\x01"), icc...)
	app2 := append([]byte{0xFF, 0xE2, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	tagged := append(append(append([]byte{}, data[:2]...), app2...), data[2:]...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, tagged, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jobPhotos are the job's photo as sRGB and as Display P3, for the
// benchmarks of the steps.
var jobPhotos = []struct {
	name  string
	photo func(testing.TB) string
}{{"sRGB", jobPhoto}, {"DisplayP3", jobPhotoP3}}

// inspectedPhoto reads a photo and its headers.
func inspectedPhoto(tb testing.TB, path string) ([]byte, pipeline.Info) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := pipeline.Inspect(data)
	if err != nil {
		tb.Fatal(err)
	}
	return data, info
}

// jobInput is the job's photo: sRGB, or Display P3 when
// PICTURES_JOB_PROFILE is p3.
func jobInput(tb testing.TB) string {
	if os.Getenv("PICTURES_JOB_PROFILE") == "p3" {
		return jobPhotoP3(tb)
	}
	return jobPhoto(tb)
}

// jobResult is what the child process reports.
type jobResult struct {
	Seconds   float64 `json:"seconds"`
	Bytes     int64   `json:"bytes"`      // of the AVIF files
	JPEGBytes int64   `json:"jpeg_bytes"` // of the JPEG fallbacks
	Backend   string  `json:"backend"`
	Processes int     `json:"processes"` // AVIF encoder processes
	// JobCPU is the user + system seconds of the job's process and its
	// encoder processes during the job (the warm-up left out).
	JobCPU float64 `json:"job_cpu_s"`
	// SelfCPU is the part of JobCPU spent in the job's process: decoding,
	// resizing, the JPEG fallbacks, and talking to the encoder processes.
	SelfCPU float64 `json:"self_cpu_s"`
	// StartSeconds is the time the warm-up took (the encoders' start and
	// compilation), before the job's timing.
	StartSeconds float64 `json:"start_s"`
	// JobPeakMB is the job process's own peak resident memory, and
	// EncoderPeakMB the largest of its encoder processes' (each read from
	// /proc as VmHWM at the job's end).
	JobPeakMB     float64 `json:"job_peak_mb"`
	EncoderPeakMB float64 `json:"encoder_peak_mb"`
	// With PICTURES_JOB_WEBP=1: the WebP files' bytes and their encoder.
	WebPBytes   int64  `json:"webp_bytes,omitempty"`
	WebPBackend string `json:"webp_backend,omitempty"`
}

// jobAVIFQuality is the Go side's AVIF quality: 60, as vips', unless
// PICTURES_JOB_AVIF_QUALITY says otherwise (to compare bytes at equal
// quality: vips stays at 60).
func jobAVIFQuality() int {
	if q, err := strconv.Atoi(os.Getenv("PICTURES_JOB_AVIF_QUALITY")); err == nil {
		return q
	}
	return 60
}

// jobWebP reports whether the job encodes WebP too (PICTURES_JOB_WEBP=1):
// each of its 18 outputs as AVIF and WebP, at the pipeline's default WebP
// settings, as a field with FileTypes AVIF and WEBP does.
func jobWebP() bool { return os.Getenv("PICTURES_JOB_WEBP") == "1" }

// TestJobChild runs the job when BenchmarkJob starts this test binary as
// a child process (so that its peak memory is the job's alone); otherwise
// it does nothing.
func TestJobChild(t *testing.T) {
	dir := os.Getenv("PICTURES_JOB_DIR")
	if dir == "" {
		t.Skip("run by BenchmarkJob")
	}
	speed, _ := strconv.Atoi(os.Getenv("PICTURES_JOB_SPEED"))
	small, _ := strconv.Atoi(os.Getenv("PICTURES_JOB_SMALL_SPEED"))
	store := &storage.Dir{Root: filepath.Join(dir, "go")}
	f := &PictureField{Name: "job", AspectRatios: jobRatios, Storage: store,
		Encoding: pipeline.Encoding{AVIFQuality: jobAVIFQuality(), AVIFSpeed: speed, AVIFSmallSpeed: small}}
	c, err := f.compile()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Getenv("PICTURES_JOB_INPUT"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Put(ctx, "photo.jpeg", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Warm up the encoders (the WebAssembly backend compiles its module
	// once per process: here and in each encoder process), as a running
	// server is.
	warm := time.Now()
	if err := pipeline.Encode(ctx, &bytes.Buffer{}, "AVIF", image.NewRGBA(image.Rect(0, 0, 16, 16)), f.Encoding); err != nil {
		t.Fatal(err)
	}
	if err := encoder.Start(ctx); err != nil {
		t.Fatal(err)
	}
	types := []string{"AVIF"}
	if jobWebP() {
		types = append(types, "WEBP")
		// One WebP encode at a time in each process compiles its WebP
		// module (Start warms AVIF only).
		var wg sync.WaitGroup
		errs := make(chan error, encoder.Describe().Processes+1)
		for range max(1, encoder.Describe().Processes) {
			wg.Go(func() {
				errs <- pipeline.Encode(ctx, &bytes.Buffer{}, "WEBP", image.NewRGBA(image.Rect(0, 0, 16, 16)), f.Encoding)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var plan []VariantSet
	var todo []variantID
	fallbacks := jobFallbacks(t)
	for _, r := range jobRatios {
		for _, typ := range types {
			plan = append(plan, VariantSet{Ratio: r, Type: typ, Widths: jobWidths})
			for _, w := range jobWidths {
				todo = append(todo, variantID{r, typ, w})
			}
		}
		// The JPEG fallback, as a field with FileTypes AVIF has.
		plan = append(plan, VariantSet{Ratio: r, Type: "JPEG", Widths: []int{fallbacks[r]}})
		todo = append(todo, variantID{r, "JPEG", fallbacks[r]})
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := Picture{Field: "job", Key: "photo.jpeg", Width: cfg.Width, Height: cfg.Height, Preview: "-"}
	// The peaks during the job alone: VmHWM reset (clear_refs 5) after
	// the warm-up, whose compilations peak higher than the steady state;
	// BenchmarkJob samples the whole tree from this line on.
	for _, pid := range append(childPIDs(os.Getpid()), os.Getpid()) {
		os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
	}
	fmt.Println(jobStarts)
	start, cpu, self := time.Now(), treeCPU(os.Getpid()), procCPU(os.Getpid(), false)
	warmed := start.Sub(warm).Seconds()
	if err := c.generate(ctx, &p, plan, todo, nil, map[variantID]bool{}); err != nil {
		t.Fatal(err)
	}
	backend := encoder.Describe()
	res := jobResult{Seconds: time.Since(start).Seconds(), Backend: backend.Library, Processes: backend.Processes,
		JobCPU: treeCPU(os.Getpid()) - cpu, SelfCPU: procCPU(os.Getpid(), false) - self, StartSeconds: warmed, JobPeakMB: peakRSS(os.Getpid())}
	for _, pid := range childPIDs(os.Getpid()) {
		res.EncoderPeakMB = max(res.EncoderPeakMB, peakRSS(pid))
	}
	if jobWebP() {
		res.WebPBackend = encoder.DescribeWebP().Library
	}
	keys, err := store.List(ctx, "photo/")
	if err != nil || len(keys) != len(todo) {
		t.Fatalf("%d variants written, want %d (%v)", len(keys), len(todo), err)
	}
	for _, k := range keys {
		st, err := os.Stat(filepath.Join(store.Root, k))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(k, ".webp"):
			res.WebPBytes += st.Size()
		case strings.HasSuffix(k, ".jpeg"):
			res.JPEGBytes += st.Size()
		default:
			res.Bytes += st.Size()
		}
	}
	out, _ := json.Marshal(res)
	fmt.Printf("JOBRESULT %s\n", out)
}

// treeRSS returns the resident memory of process pid and all its
// descendants (worker processes included), in bytes, from /proc.
func treeRSS(pid int) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ")".
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil {
				children[ppid] = append(children[ppid], n)
			}
		}
	}
	var total int64
	var walk func(int)
	walk = func(p int) {
		if statm, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/statm"); err == nil {
			if f := strings.Fields(string(statm)); len(f) > 1 {
				pages, _ := strconv.ParseInt(f[1], 10, 64)
				total += pages * int64(os.Getpagesize())
			}
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return total
}

// treeCPU returns the user + system CPU seconds of process pid and its
// live child processes, from /proc (in clock ticks of 1/100 s, Linux's
// USER_HZ).
func treeCPU(pid int) float64 { return procCPU(pid, true) }

// procCPU returns the user + system seconds of process pid, and of its
// children too if children is set, from /proc.
func procCPU(pid int, children bool) float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: fields[1] is ppid, [11] utime, [12] stime.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if n, _ := strconv.Atoi(e.Name()); len(f) > 12 && (n == pid || children && f[1] == strconv.Itoa(pid)) {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return float64(ticks) / 100
}

// peakRSS is the peak resident memory of a live process (VmHWM), in MB.
func peakRSS(pid int) float64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// childPIDs lists the live child processes of pid.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if n, err := strconv.Atoi(e.Name()); err == nil && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			pids = append(pids, n)
		}
	}
	return pids
}

// peakTreeRSS samples the memory of a process tree until done is closed
// and returns its peak, in MB, and its peak since from first returned
// true (if from is not nil).
func peakTreeRSS(pid int, done <-chan struct{}, from func() bool) <-chan [2]float64 {
	out := make(chan [2]float64, 1)
	go func() {
		var peak, since int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			rss := treeRSS(pid)
			peak = max(peak, rss)
			if from != nil && from() {
				since = max(since, rss)
			}
			select {
			case <-done:
				out <- [2]float64{float64(peak) / (1 << 20), float64(since) / (1 << 20)}
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// runJobChild runs TestJobChild on input in a child process, and returns
// its result and the peaks of the child and its encoder processes
// together, sampled: over the child's life and during the job.
func runJobChild(b *testing.B, dir, input string, opts pipeline.Encoding) (_ jobResult, goPeak, duringJob float64) {
	os.RemoveAll(filepath.Join(dir, "go"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestJobChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PICTURES_JOB_DIR="+dir, "PICTURES_JOB_INPUT="+input,
		"PICTURES_JOB_SPEED="+strconv.Itoa(opts.AVIFSpeed), "PICTURES_JOB_SMALL_SPEED="+strconv.Itoa(opts.AVIFSmallSpeed))
	output := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	started := func() bool { return strings.Contains(output.String(), jobStarts) }
	sampled := peakTreeRSS(cmd.Process.Pid, done, started)
	err := cmd.Wait()
	close(done)
	out := output.String()
	if err != nil {
		b.Fatalf("job child: %v\n%s", err, out)
	}
	var res jobResult
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "JOBRESULT "); ok {
			json.Unmarshal([]byte(rest), &res)
		}
	}
	// The job's process and its AVIF encoder processes together; rusage
	// alone would miss the encoder processes.
	peaks := <-sampled
	return res, max(peaks[0], maxRSS(cmd.ProcessState)), peaks[1]
}

// BenchmarkJobMemory runs the job of BenchmarkJob (18 AVIF variants and
// 3 JPEG fallbacks, in a child process) on 4:3 photos of 2, 12, 24 and
// 48 megapixels, without vips, and prints for each the peak of the job's
// process and its encoder processes during the job (after the warm-up),
// and their own peaks, then the growth per megapixel from the smallest
// to the largest:
//
//	go test -run '^$' -bench '^BenchmarkJobMemory$' -benchtime 1x .
func BenchmarkJobMemory(b *testing.B) {
	dir := b.TempDir()
	opts := pipeline.Encoding{}.WithDefaults()
	sizes := [][2]int{{1632, 1224}, {4000, 3000}, {5712, 4284}, {8064, 6048}}
	for b.Loop() {
		var first, last float64
		for i, sz := range sizes {
			input := jobPhoto(b)
			if sz != [2]int{4000, 3000} {
				input = sizedPhoto(b, sz[0], sz[1])
			}
			res, _, during := runJobChild(b, dir, input, opts)
			mp := float64(sz[0]*sz[1]) / 1e6
			b.Logf("jobmemory mp=%.1f size=%dx%d backend=%s during_job_mb=%.0f job_peak_mb=%.0f encoder_peak_mb=%.0f go_s=%.2f go_cpu_s=%.2f",
				mp, sz[0], sz[1], res.Backend, during, res.JobPeakMB, res.EncoderPeakMB, res.Seconds, res.JobCPU)
			switch i {
			case 0:
				first = during
			case len(sizes) - 1:
				last = during
				mp0 := float64(sizes[0][0]*sizes[0][1]) / 1e6
				growth := (last - first) / (mp - mp0)
				b.Logf("jobmemory growth_mb_per_mp=%.2f (from %.1f to %.1f MP)", growth, mp0, mp)
				b.ReportMetric(growth, "MB/MP")
			}
		}
	}
}

// jobStarts is the line TestJobChild prints when the job starts, after
// its warm-up.
const jobStarts = "JOBSTARTS"

// maxRSS is the peak resident memory of a finished child, in MB.
func maxRSS(ps *os.ProcessState) float64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return 0
}

// BenchmarkJob runs the 18-variant job through the real pipeline (decode,
// orient, crop, resize, encode, store) in a child process, then the same 18
// outputs with `vips thumbnail` at the same encoder effort (vips effort =
// 9 - aom speed), and prints
//
//	job backend=<name> go_s=<s> vips_s=<s> ratio=<go/vips> go_cpu_s=<s> job_cpu_s=<s> vips_cpu_s=<s> cpu_ratio=<go/vips> go_peak_mb=<MB> during_job_mb=<MB> job_peak_mb=<MB> encoder_peak_mb=<MB> vips_peak_mb=<MB> bytes=<go AVIF total> vips_bytes=<vips AVIF total> jpeg_bytes=<go JPEG fallbacks> vips_jpeg_bytes=<vips JPEG fallbacks>
//
// Both sides make the 18 AVIF files and the JPEG fallback of each ratio
// (3 files), as a field with FileTypes AVIF does. vips runs GOMAXPROCS
// commands at once, as the Go job runs GOMAXPROCS encodes at once; its
// CPU is the user + system time of its processes, the Go side's that of
// the job's process and its encoder processes during the job (their
// start and WebAssembly compilation, a running server's fixed cost, come
// before the timing and are logged apart); job_cpu_s is the part spent in
// the job's process (decode, resize, JPEG fallbacks, pipes). go_peak_mb is
// the peak of the job's process and its encoder processes together,
// sampled every 10 ms from the child's start, and during_job_mb the same
// from the end of the warm-up; job_peak_mb is the job process's own peak
// and encoder_peak_mb the largest encoder process's, both during the job
// (their sum can exceed during_job_mb: the peaks need not coincide).
// vips_peak_mb adds up the largest peaks of as many vips processes as ran
// at once.
//
// Run it with `go test -run '^$' -bench Job -benchtime 1x .` (and
// -tags wasm2go for that backend). PICTURES_JOB_SPEED sets the AVIF speed
// (default: the pipeline's) and PICTURES_JOB_SMALL_SPEED the speed of
// variants up to pipeline.SmallWidth wide; vips gets the matching effort
// per width. PICTURES_JOB_PROFILE=p3 runs it on the photo tagged Display
// P3 (and vips is asked to convert to sRGB as well, --export-profile srgb). vips comes from `apt-get install libvips-tools`.
// PICTURES_JOB_WEBP=1 adds a WebP of each output on both sides (vips at
// the same quality and effort) and appends to the line
//
//	webp_backend=<name> webp_bytes=<go WebP total> vips_webp_bytes=<vips WebP total>
//
// (bytes= and vips_bytes= stay the AVIF files'): the difference from a run
// without it is what the second format costs.
//
// PICTURES_JOB_AVIF_QUALITY sets the Go side's AVIF quality (default 60,
// vips' in every run), to compare the bytes of both at equal quality.
//
// PICTURES_JOB_QUALITY=1 measures, after each iteration and outside the
// timings, the quality of every AVIF output and JPEG fallback of both
// sides against a reference of the same size: the same centre crop of the
// decoded photo (in sRGB) resized with a Lanczos-3 filter in float
// (jobquality_test.go). It appends the means over the 18 AVIF files and
// over the 3 JPEG fallbacks
//
//	go_psnr=<dB> vips_psnr=<dB> go_ssim=<SSIM> vips_ssim=<SSIM> [go_butteraugli=<max norm> vips_butteraugli=<max norm> go_butteraugli_3n=<3-norm> vips_butteraugli_3n=<3-norm>] go_jpeg_psnr=… vips_jpeg_psnr=… go_jpeg_ssim=… vips_jpeg_ssim=… [go_jpeg_butteraugli=… …]
//
// and prints a table of each output after the line ("quality" lines:
// bytes and each measure, both sides).
// PSNR is over R, G and B; SSIM on luma (0.299 R + 0.587 G + 0.114 B,
// 11x11 Gaussian window of σ 1.5); butteraugli comes from libjxl's
// butteraugli_main when it is installed (apt-get install libjxl-devtools)
// and is left out otherwise. Speed must not be bought with bytes, nor
// bytes with quality: compare all three.
func BenchmarkJob(b *testing.B) {
	if _, err := exec.LookPath("vips"); err != nil {
		b.Skip("vips is not installed (apt-get install libvips-tools)")
	}
	dir := b.TempDir()
	input := jobInput(b)
	var opts pipeline.Encoding
	opts.AVIFSpeed, _ = strconv.Atoi(os.Getenv("PICTURES_JOB_SPEED"))
	opts.AVIFSmallSpeed, _ = strconv.Atoi(os.Getenv("PICTURES_JOB_SMALL_SPEED"))
	opts = opts.WithDefaults()
	speed := opts.AVIFSpeed
	for b.Loop() {
		// Go, in a child process.
		res, goPeak, duringJob := runJobChild(b, dir, input, opts)

		// vips, one thumbnail per output, as its documentation does it,
		// as many at once as the Go job encodes at once (GOMAXPROCS).
		vipsDir := filepath.Join(dir, "vips")
		os.RemoveAll(vipsDir)
		os.MkdirAll(vipsDir, 0o755)
		var runs []vipsRun
		for _, ratio := range jobRatios {
			r, _ := ParseRatio(ratio)
			thumb := func(outFile, opts string, w int) vipsRun {
				args := []string{"thumbnail", input, outFile + opts,
					strconv.Itoa(w), "--height", strconv.Itoa(r.Height(w, 4000, 3000)), "--crop", "centre"}
				if input != jobPhoto(b) {
					args = append(args, "--export-profile", "srgb") // convert, as we do
				}
				return vipsRun{out: outFile, args: args}
			}
			for _, w := range jobWidths {
				base := filepath.Join(vipsDir, fmt.Sprintf("%s-%d", r.Dir(), w))
				runs = append(runs, thumb(base+".avif", fmt.Sprintf("[Q=60,effort=%d,subsample-mode=on,strip]", max(0, 9-opts.SpeedFor(w))), w))
				if jobWebP() {
					runs = append(runs, thumb(base+".webp", fmt.Sprintf("[Q=%d,effort=%d,strip]", opts.WebPQuality, opts.WebPMethod), w))
				}
			}
			w := jobFallbacks(b)[ratio]
			runs = append(runs, thumb(filepath.Join(vipsDir, fmt.Sprintf("%s-%d.jpeg", r.Dir(), w)), fmt.Sprintf("[Q=%d,optimize-coding,strip]", opts.JPEGQuality), w))
		}
		start := time.Now()
		vips := runVips(b, runs, runtime.GOMAXPROCS(0))
		vipsSeconds := time.Since(start).Seconds()
		backend := res.Backend
		if res.Processes > 0 {
			backend += fmt.Sprintf("+%dprocesses", res.Processes)
		}
		line := fmt.Sprintf("job backend=%s go_s=%.2f vips_s=%.2f ratio=%.2f go_cpu_s=%.2f job_cpu_s=%.2f vips_cpu_s=%.2f cpu_ratio=%.2f go_peak_mb=%.0f during_job_mb=%.0f job_peak_mb=%.0f encoder_peak_mb=%.0f vips_peak_mb=%.0f bytes=%d vips_bytes=%d jpeg_bytes=%d vips_jpeg_bytes=%d",
			backend, res.Seconds, vipsSeconds, res.Seconds/vipsSeconds, res.JobCPU, res.SelfCPU, vips.cpu, res.JobCPU/vips.cpu,
			goPeak, duringJob, res.JobPeakMB, res.EncoderPeakMB, vips.peak, res.Bytes, vips.bytes[".avif"], res.JPEGBytes, vips.bytes[".jpeg"])
		if jobWebP() {
			line += fmt.Sprintf(" webp_backend=%s webp_bytes=%d vips_webp_bytes=%d", res.WebPBackend, res.WebPBytes, vips.bytes[".webp"])
		}
		var quality string
		if jobQuality() {
			// Outside the timings above, and of the benchmark's.
			b.StopTimer()
			q := measureJobQuality(b, input, dir)
			b.StartTimer()
			line += q.String()
			quality = q.table()
		}
		fmt.Println(line)
		// On stdout, as the job line: the benchmark's log keeps 10 lines.
		fmt.Print(quality)
		b.ReportMetric(res.Seconds, "go_s")
		b.ReportMetric(vipsSeconds, "vips_s")
		b.ReportMetric(res.JobCPU, "go_cpu_s")
		b.ReportMetric(vips.cpu, "vips_cpu_s")
		b.ReportMetric(goPeak, "go_peak_MB")
		b.Logf("%s (speed %d, small %d, %d CPUs, vips %d at once; the Go side's encoders started before its timing, %.2f s)", line, speed, opts.AVIFSmallSpeed, runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0), res.StartSeconds)
	}
}

// BenchmarkJobResize times the resize step of the job alone: the 18
// outputs from the decoded 12-megapixel photo (crop, shared pyramid,
// Catmull-Rom), with the decode outside the timing; for the photo as sRGB
// and as Display P3, whose variants are converted to sRGB (at 16 bits a
// channel) on the way: the difference is the cost of colour management.
func BenchmarkJobResize(b *testing.B) {
	for _, c := range jobPhotos {
		b.Run(c.name, func(b *testing.B) {
			data, info := inspectedPhoto(b, c.photo(b))
			img, err := pipeline.Decode(data, info)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, ratio := range jobRatios {
					r, _ := ParseRatio(ratio)
					cw, ch := r.CropSize(4000, 3000)
					rs := pipeline.NewResizer(img.Crop(pipeline.CropRect(4000, 3000, cw, ch, 0.5, 0.5)))
					for _, w := range jobWidths {
						rs.Resize(w, r.Height(w, 4000, 3000))
					}
				}
			}
		})
	}
}

// BenchmarkJobDecode times decoding the job's 12-megapixel JPEG (kept as
// YCbCr), as sRGB and tagged Display P3 (the conversion's tables are built
// at decode; the pixels are converted as variants are made).
func BenchmarkJobDecode(b *testing.B) {
	for _, c := range jobPhotos {
		b.Run(c.name, func(b *testing.B) {
			data, info := inspectedPhoto(b, c.photo(b))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pipeline.Decode(data, info); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIsolation serves a trivial handler while two 12-megapixel
// uploads are saved and processed with the default configuration (the
// default processor and AVIF encoder processes), and reports the
// handler's latency: a request every 2 ms, from a client in this process,
// until both pictures are done. With PICTURES_TEST_ENCODERS=0 the encoder
// runs in this process, for comparison (see TestMain).
//
//	go test -run '^$' -bench Isolation -benchtime 1x .
func BenchmarkIsolation(b *testing.B) {
	data, err := os.ReadFile(jobPhoto(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		done := make(chan Picture, 2)
		f := &PictureField{Name: "isolation", AspectRatios: jobRatios, Storage: &storage.Memory{},
			OnProcessed: func(_ context.Context, p Picture) error {
				if len(p.Variants) > 0 && p.Version != "" {
					done <- p
				}
				return nil
			}}
		if err := Register(f); err != nil {
			b.Fatal(err)
		}
		// Warm the encoders first, as a running server's are.
		if err := encoder.Start(ctx); err != nil {
			b.Fatal(err)
		}
		pipeline.Encode(ctx, io.Discard, "AVIF", image.NewRGBA(image.Rect(0, 0, 16, 16)), pipeline.Encoding{})

		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		client := srv.Client()
		var latencies []time.Duration
		stop := make(chan struct{})
		measured := make(chan struct{})
		go func() {
			defer close(measured)
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				start := time.Now()
				res, err := client.Get(srv.URL)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				latencies = append(latencies, time.Since(start))
			}
		}()
		start := time.Now()
		for i := range 2 {
			go func() {
				if _, err := f.Save(ctx, bytes.NewReader(data), fmt.Sprintf("upload-%d.jpg", i), func(context.Context, Picture) error { return nil }); err != nil {
					b.Error(err)
				}
			}()
		}
		<-done
		<-done
		elapsed := time.Since(start)
		close(stop)
		<-measured
		srv.Close()
		Unregister(f)
		slices.Sort(latencies)
		p99 := latencies[len(latencies)*99/100]
		worst := latencies[len(latencies)-1]
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
		b.ReportMetric(float64(worst.Microseconds())/1000, "max_ms")
		backend := encoder.Describe()
		fmt.Printf("isolation backend=%s processes=%d uploads=2 processing_s=%.2f requests=%d p99_ms=%.1f max_ms=%.1f\n",
			backend.Library, backend.Processes, elapsed.Seconds(), len(latencies),
			float64(p99.Microseconds())/1000, float64(worst.Microseconds())/1000)
	}
}

// loadField is a field of 15 variants per upload (three ratios at 350, 700,
// 1050 and 1400 px, and their JPEG fallbacks), for the load benchmark.
func loadField(store Storage, onProcessed func(context.Context, Picture) error) *PictureField {
	return &PictureField{Name: "load", AspectRatios: jobRatios, ContainerWidth: 1400, GridColumns: 4,
		PixelDensities: []int{1}, Storage: store, OnProcessed: onProcessed}
}

// TestLoadChild saves PICTURES_LOAD_UPLOADS uploads of the 12-megapixel
// photo at once and waits until every variant of each is written, when
// BenchmarkUploads starts this test binary as a child process.
func TestLoadChild(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PICTURES_LOAD_UPLOADS"))
	if n == 0 {
		t.Skip("run by BenchmarkUploads")
	}
	data, err := os.ReadFile(os.Getenv("PICTURES_JOB_INPUT"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan Picture, n)
	f := loadField(&storage.Dir{Root: t.TempDir()}, func(_ context.Context, p Picture) error {
		if p.Version != "" {
			done <- p
		}
		return nil
	})
	if err := Register(f); err != nil {
		t.Fatal(err)
	}
	if err := encoder.Start(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := f.Save(ctx, bytes.NewReader(data), fmt.Sprintf("upload-%d.jpg", i), func(context.Context, Picture) error { return nil })
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	saved := time.Since(start)
	for range n {
		<-done
	}
	fmt.Printf("LOADRESULT %.2f %.2f\n", saved.Seconds(), time.Since(start).Seconds())
}

// BenchmarkUploads saves 8 uploads of the 12-megapixel photo at once, in
// a child process, waits for all their variants, and reports the peak
// memory of the process and its AVIF encoder processes. The pixel budget
// (SetPixelBudget) bounds the decoded images; the processor's workers
// bound the jobs.
//
//	go test -run '^$' -bench Uploads -benchtime 1x .
func BenchmarkUploads(b *testing.B) {
	input := jobPhoto(b)
	const uploads = 8
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadChild$", "-test.v")
		cmd.Env = append(os.Environ(), "PICTURES_LOAD_UPLOADS="+strconv.Itoa(uploads), "PICTURES_JOB_INPUT="+input)
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		sampled := peakTreeRSS(cmd.Process.Pid, done, nil)
		err := cmd.Wait()
		close(done)
		if err != nil {
			b.Fatalf("load child: %v\n%s", err, output.Bytes())
		}
		peak := max((<-sampled)[0], maxRSS(cmd.ProcessState))
		var saved, total float64
		for _, line := range strings.Split(output.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "LOADRESULT "); ok {
				fmt.Sscanf(rest, "%f %f", &saved, &total)
			}
		}
		b.ReportMetric(peak, "peak_MB")
		fmt.Printf("uploads=%d backend=%s saved_s=%.2f processed_s=%.2f peak_mb=%.0f\n", uploads, encoder.Describe().Library, saved, total, peak)
	}
}

// jobFallbacks returns the width of each ratio's JPEG fallback in the job:
// the one a field with the job's ratios and widths renders in <img src>.
func jobFallbacks(tb testing.TB) map[string]int {
	tb.Helper()
	c, err := (&PictureField{Name: "job", AspectRatios: jobRatios, Storage: &storage.Memory{}}).compile()
	if err != nil {
		tb.Fatal(err)
	}
	ascending := slices.Sorted(slices.Values(jobWidths))
	out := map[string]int{}
	for _, ratio := range jobRatios {
		r, _ := ParseRatio(ratio)
		out[ratio] = c.fallbackWidth(r, ascending)
	}
	return out
}

// A vipsRun is one vips command and the file it writes.
type vipsRun struct {
	out  string
	args []string
}

// vipsResult is what runVips measured.
type vipsResult struct {
	cpu   float64          // user + system seconds of every vips process
	peak  float64          // MB: the sum of the largest peaks, as many as ran at once (an upper bound)
	bytes map[string]int64 // per extension of the files written
}

// runVips runs the commands, n at once.
func runVips(tb testing.TB, runs []vipsRun, n int) vipsResult {
	tb.Helper()
	res := vipsResult{bytes: map[string]int64{}}
	var mu sync.Mutex
	var peaks []float64
	todo := make(chan vipsRun, len(runs))
	for _, r := range runs {
		todo <- r
	}
	close(todo)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for r := range todo {
				cmd := exec.Command("vips", r.args...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					tb.Errorf("vips: %v\n%s", err, out)
					return
				}
				st, err := os.Stat(r.out)
				if err != nil {
					tb.Error(err)
					return
				}
				ps := cmd.ProcessState
				mu.Lock()
				res.cpu += (ps.UserTime() + ps.SystemTime()).Seconds()
				peaks = append(peaks, maxRSS(ps))
				res.bytes[filepath.Ext(r.out)] += st.Size()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Sort(sort.Reverse(sort.Float64Slice(peaks)))
	for _, p := range peaks[:min(n, len(peaks))] {
		res.peak += p
	}
	return res
}

// TestJobFallbacks: the job's JPEG fallbacks are those of a field with its
// ratios and widths.
func TestJobFallbacks(t *testing.T) {
	got := jobFallbacks(t)
	for _, ratio := range jobRatios {
		if !slices.Contains(jobWidths, got[ratio]) || got[ratio] < 600 {
			t.Errorf("fallback of %q: %d, want one of the job's widths, at least 600", ratio, got[ratio])
		}
	}
	t.Log(got)
}
