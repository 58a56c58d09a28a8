package pictures

import (
	"context"
	"sync"
)

// DefaultPixelBudget is the initial process-wide budget of decoded pixels:
// two and a half 12-megapixel photos at once.
const DefaultPixelBudget = 32_000_000

// The pixel budgets bound the memory of decoded images across the
// process: every decode first reserves its width x height in pixels, and
// waits while its budget is spent. Uploads being checked (Save, Upload)
// and jobs' originals (Process, Run; a job keeps its reservation until its
// last variant is encoded) have a budget each, so that an upload never
// waits behind the jobs of earlier uploads, and the memory of both is
// bounded. A single image larger than a whole budget waits for the others
// of its kind to finish, then runs alone.
type pixelBudget struct {
	sync.Mutex
	budget, used int
	changed      chan struct{} // closed and replaced whenever used drops
}

var (
	uploadPixels = &pixelBudget{budget: DefaultPixelBudget, changed: make(chan struct{})}
	jobPixels    = &pixelBudget{budget: DefaultPixelBudget, changed: make(chan struct{})}
)

// SetPixelBudget sets the process-wide budgets of decoded pixels, n for
// the uploads being checked and n for the jobs. What a pixel costs was
// measured with BenchmarkPixelMemory (the peak of the Go heap while one
// photo is handled, JPEGs of 2 to 48 megapixels): an upload being checked
// (decoded, oriented, its preview made) holds 3.2 bytes a pixel at every
// size; a job (decoded, cropped, resized, its JPEG variants encoded) 6.3
// bytes a pixel at 48 MP and 7.2 at 24 MP, more on small photos, whose
// fixed costs weigh more (11.6 at 12 MP, 19.5 at 2 MP). The default,
// DefaultPixelBudget, thus holds the uploads being checked to about
// 100 MB at once, and the jobs to about 200 MB with photos of 24 MP or
// more, 370 MB with 12-MP photos (two and a half of them at once). AVIF
// encoders run in encoder processes with memory of their own (see the
// encoder package), outside these figures.
func SetPixelBudget(n int) {
	for _, p := range []*pixelBudget{uploadPixels, jobPixels} {
		p.Lock()
		p.budget = max(1, n)
		close(p.changed)
		p.changed = make(chan struct{})
		p.Unlock()
	}
}

// acquirePixels reserves n pixels of the upload budget; see acquire.
func acquirePixels(ctx context.Context, n int) (release func(), err error) {
	return uploadPixels.acquire(ctx, n)
}

// acquire reserves n pixels of the budget, waiting until they are free or
// ctx ends. The returned function gives them back.
func (p *pixelBudget) acquire(ctx context.Context, n int) (release func(), err error) {
	for {
		p.Lock()
		n := min(n, p.budget)
		if p.used == 0 || p.used+n <= p.budget {
			p.used += n
			p.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					p.Lock()
					p.used -= n
					close(p.changed)
					p.changed = make(chan struct{})
					p.Unlock()
				})
			}, nil
		}
		changed := p.changed
		p.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
