package pictures_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

// heapPeak samples the live heap every half millisecond from start until
// stop, and returns its peak above the heap at start, and the bytes
// allocated meanwhile.
func heapPeak(f func()) (peak, allocated uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	runtime.GC()
	metrics.Read(samples)
	base, allocBase := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	var top uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			top = max(top, s[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Microsecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	metrics.Read(samples)
	top = max(top, samples[0].Value.Uint64())
	return top - min(top, base), samples[1].Value.Uint64() - allocBase
}

// BenchmarkPixelMemory measures what the pixel budgets (SetPixelBudget)
// count: the heap that one decoded image costs, per pixel, when an upload
// is checked (Upload: decode, orient, preview) and when a job generates
// its JPEG variants (decode, crops, the resize pyramid, encodes), for
// photos of 2 to 48 megapixels. It reports the peak of the live heap above
// the heap before, and what was allocated, each per pixel:
//
//	go test -run '^$' -bench PixelMemory -benchtime 1x .
func BenchmarkPixelMemory(b *testing.B) {
	for _, mp := range []struct{ w, h int }{{1600, 1200}, {4000, 3000}, {6000, 4000}, {8000, 6000}} {
		src := image.NewRGBA(image.Rect(0, 0, mp.w, mp.h))
		for y := range mp.h {
			for x := range mp.w {
				i := src.PixOffset(x, y)
				src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = uint8(x), uint8(y), uint8(x^y), 255
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		src = nil
		data := buf.Bytes()
		pixels := float64(mp.w * mp.h)
		name := fmt.Sprintf("%dMP", (mp.w*mp.h+500_000)/1_000_000)
		f := &pictures.PictureField{Name: "budget-" + name, Storage: &storage.Memory{}, FileTypes: []string{"JPEG"},
			MaxPixels: 50_000_000, Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil })}
		if err := pictures.Register(f); err != nil {
			b.Fatal(err)
		}
		var p pictures.Picture
		b.Run("upload/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				peak, alloc := heapPeak(func() {
					var err error
					if p, err = f.Upload(context.Background(), bytes.NewReader(data), "photo.jpg"); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(peak)/pixels, "peak-B/px")
				b.ReportMetric(float64(alloc)/pixels, "alloc-B/px")
			}
		})
		b.Run("job/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				peak, alloc := heapPeak(func() {
					if _, err := f.Process(context.Background(), p); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(peak)/pixels, "peak-B/px")
				b.ReportMetric(float64(alloc)/pixels, "alloc-B/px")
			}
		})
		pictures.Unregister(f)
	}
}
