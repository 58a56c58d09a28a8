package pipeline

import "testing"

func TestBufferClasses(t *testing.T) {
	for _, n := range []int{1, 1 << 16, 1<<16 + 1, 80 << 10, 100 << 10, 4000 * 3000 * 4, 1400 * 1750 * 4, 1<<30 + 5} {
		c, capacity := classUp(n)
		if capacity < n {
			t.Errorf("class %d of %d bytes holds only %d", c, n, capacity)
		}
		if n > 1<<16 && float64(capacity) > 1.25*float64(n)+1 {
			t.Errorf("class of %d bytes wastes %d", n, capacity-n)
		}
		if d := classDown(capacity); d != c {
			t.Errorf("a buffer of capacity %d goes back to class %d, came from %d", capacity, d, c)
		}
	}
	if _, capacity := classUp(4000 * 3000 * 4); capacity > 4000*3000*4*105/100 {
		t.Errorf("a 4000x3000 image gets a buffer of %d bytes", capacity)
	}
	// A recycled buffer serves any request of its class.
	img := newRGBA(1000, 700)
	recycle(img)
	if got := newRGBA(990, 700); len(got.Pix) != 990*700*4 {
		t.Fatal("wrong length")
	}
}
