package pictures

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"github.com/gopictures/pictures/encoder"
	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/storage"
)

// appPhotoField is the example app's photo field (examples/instagram,
// newPostImage), for the benchmarks of whole jobs at the app's settings:
// 41 AVIF and JPEG variants of a 4:3 photo.
func appPhotoField(name string, store Storage) *PictureField {
	return &PictureField{
		Name:           name,
		AspectRatios:   []string{"", "1/1", "4/5"},
		ContainerWidth: 935,
		GridColumns:    3,
		PixelDensities: []int{1, 2, 3},
		Layouts: map[string]Layout{
			"feed": {Columns: map[string]int{"xs": 3, "s": 2}, RatioChoices: []string{"", "4/5"}},
			"post": {Columns: map[string]int{"xs": 3, "s": 2}, Ratios: map[string]string{"xs": "4/5", "s": ""}},
			"tile": {Columns: map[string]int{"xs": 1}, Gutter: 5, Ratios: map[string]string{"xs": "1/1"}},
		},
		FileTypes: []string{"AVIF"},
		UploadTo:  "posts",
		MaxWidth:  8192, MaxHeight: 8192,
		Storage:   store,
		Processor: ProcessorFunc(func(context.Context, Job) error { return nil }),
	}
}

// sizedPhoto returns the dandelion photograph scaled (bilinear) to w x h,
// as a quality 90 JPEG, made once and kept in the system's temporary
// directory.
func sizedPhoto(tb testing.TB, w, h int) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("pictures-photo-%dx%d-v1.jpeg", w, h))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	data, info := inspectedPhoto(tb, "testdata/photos/dandelion.jpg")
	img, err := pipeline.Decode(data, info)
	if err != nil {
		tb.Fatal(err)
	}
	defer img.Release()
	src := img.RGBA()
	// Crop to w:h around the centre, then scale.
	b := src.Bounds()
	cw, ch := b.Dx(), b.Dx()*h/w
	if ch > b.Dy() {
		cw, ch = b.Dy()*w/h, b.Dy()
	}
	x0, y0 := (b.Dx()-cw)/2, (b.Dy()-ch)/2
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, image.Rect(x0, y0, x0+cw, y0+ch), draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jobSizes are phone photos of 2, 12, 24 and 48 megapixels, at 4:3.
var jobSizes = [][2]int{{1632, 1224}, {4032, 3024}, {5712, 4284}, {8064, 6048}}

// BenchmarkJobSizes processes one photo of each of jobSizes with the
// example app's photo field, as a worker does (its encoders started
// first), and prints its time and CPU (user + system, the encoder
// processes included) next to the estimate that Job.Timeout and a
// dry-run Reconcile give, and the timeout itself:
//
//	go test -run '^$' -bench '^BenchmarkJobSizes$' -benchtime 1x .
//
// With a system libavif, add LD_LIBRARY_PATH if it is not on the
// loader's path.
func BenchmarkJobSizes(b *testing.B) {
	ctx := context.Background()
	if err := encoder.Start(ctx); err != nil {
		b.Fatal(err)
	}
	backend := encoder.Describe()
	store := &storage.Dir{Root: b.TempDir()}
	f := appPhotoField("jobsizes", store)
	f.MaxPixels = DefaultMaxPixels
	if err := Register(f); err != nil {
		b.Fatal(err)
	}
	defer Unregister(f)
	paths := make([]string, len(jobSizes))
	for i, s := range jobSizes {
		paths[i] = sizedPhoto(b, s[0], s[1])
	}
	for b.Loop() {
		for _, path := range paths {
			p := uploadFile(b, f, path)
			var st ReconcileStats
			if err := f.Reconcile(ctx, []Picture{p}, ReconcileOptions{DryRun: true, Stats: func(s ReconcileStats) { st = s }}); err != nil {
				b.Fatal(err)
			}
			start, cpu := time.Now(), treeCPU(os.Getpid())
			done, err := f.Process(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			wall, cpu := time.Since(start), treeCPU(os.Getpid())-cpu
			b.Logf("jobsize mp=%.1f size=%dx%d backend=%s processes=%d wall_s=%.2f cpu_s=%.2f estimate_s=%.2f timeout=%v variants=%d",
				float64(p.Width*p.Height)/1e6, p.Width, p.Height, backend.Library, backend.Processes,
				wall.Seconds(), cpu, st.EncodeTime.Seconds(), Job{Picture: p}.Timeout(), st.Added)
			if err := f.Delete(ctx, done); err != nil {
				b.Fatal(err)
			}
		}
	}
	longest, err := f.MaxJobTimeout()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("jobsize max_job_timeout=%v (at %d megapixels, WebAssembly rates)", longest, f.MaxPixels/1e6)
}

// BenchmarkJobsAtOnce processes four 12-megapixel photos with the example
// app's photo field, one job at a time and two at once, and prints the
// jobs a minute and the mean time to a job's end from the start of the
// batch:
//
//	go test -run '^$' -bench '^BenchmarkJobsAtOnce$' -benchtime 1x .
func BenchmarkJobsAtOnce(b *testing.B) {
	ctx := context.Background()
	if err := encoder.Start(ctx); err != nil {
		b.Fatal(err)
	}
	backend := encoder.Describe()
	f := appPhotoField("jobsatonce", &storage.Dir{Root: b.TempDir()})
	if err := Register(f); err != nil {
		b.Fatal(err)
	}
	defer Unregister(f)
	path := sizedPhoto(b, 4032, 3024)
	const jobs = 4
	for b.Loop() {
		for _, atOnce := range []int{1, 2} {
			var ps []Picture
			for range jobs {
				ps = append(ps, uploadFile(b, f, path))
			}
			todo := make(chan Picture, jobs)
			for _, p := range ps {
				todo <- p
			}
			close(todo)
			var mu sync.Mutex
			var ends []float64
			start, cpu := time.Now(), treeCPU(os.Getpid())
			var wg sync.WaitGroup
			for range atOnce {
				wg.Go(func() {
					for p := range todo {
						done, err := f.Process(ctx, p)
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						ends = append(ends, time.Since(start).Seconds())
						mu.Unlock()
						if err := f.Delete(ctx, done); err != nil {
							b.Error(err)
						}
					}
				})
			}
			wg.Wait()
			wall, cpu := time.Since(start), treeCPU(os.Getpid())-cpu
			sort.Float64s(ends)
			var sum float64
			for _, e := range ends {
				sum += e
			}
			b.Logf("jobsatonce at_once=%d backend=%s jobs=%d wall_s=%.2f cpu_s=%.2f jobs_per_min=%.2f mean_end_s=%.2f first_end_s=%.2f",
				atOnce, backend.Library, jobs, wall.Seconds(), cpu, jobs/wall.Minutes(), sum/float64(len(ends)), ends[0])
		}
	}
}

// uploadFile stores the photo at path as an upload of f, unprocessed.
func uploadFile(tb testing.TB, f *PictureField, path string) Picture {
	tb.Helper()
	r, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	p, err := f.Upload(context.Background(), r, filepath.Base(path))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
