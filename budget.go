package pictures

import (
	"context"
	"sync"
)

// DefaultPixelBudget is the initial process-wide budget of decoded pixels:
// two and a half 12-megapixel photos at once.
const DefaultPixelBudget = 32_000_000

// The pixel budget bounds the memory of the uploads being checked across
// the process: every decode in Save first reserves its width x height in
// pixels, and waits while the budget is spent. A single image larger than
// the whole budget waits for all others to finish, then runs alone. Jobs
// are not counted: their Processor bounds them (a processor.Pool runs
// GOMAXPROCS at once by default).
var pixels = struct {
	sync.Mutex
	budget, used int
	changed      chan struct{} // closed and replaced whenever used drops
}{budget: DefaultPixelBudget, changed: make(chan struct{})}

// SetPixelBudget sets the process-wide budget of decoded pixels. Each
// costs about 7 bytes while an image is decoded (the decoder's own buffer,
// the 4-byte RGBA image, the pyramid that resizing builds); the default,
// DefaultPixelBudget, is about 220 MB of decoding at once.
func SetPixelBudget(n int) {
	pixels.Lock()
	defer pixels.Unlock()
	pixels.budget = max(1, n)
	close(pixels.changed)
	pixels.changed = make(chan struct{})
}

// acquirePixels reserves n pixels of the budget, waiting until they are
// free or ctx ends. The returned function gives them back.
func acquirePixels(ctx context.Context, n int) (release func(), err error) {
	for {
		pixels.Lock()
		n := min(n, pixels.budget)
		if pixels.used == 0 || pixels.used+n <= pixels.budget {
			pixels.used += n
			pixels.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					pixels.Lock()
					pixels.used -= n
					close(pixels.changed)
					pixels.changed = make(chan struct{})
					pixels.Unlock()
				})
			}, nil
		}
		changed := pixels.changed
		pixels.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
