package pipeline

import (
	"image"
	"math/bits"
	"sync"
)

// Pixel buffers are recycled: a job makes dozens of images of a few
// megabytes each (pyramid levels, variants), and reusing them keeps the
// heap, and the garbage collector's work, small. Buffers are pooled by
// size class: four classes per power of two from 64 KiB (64, 80, 96 and
// 112 KiB, then 128 KiB...), so that a buffer wastes at most a quarter of
// itself (a 4000x3000 image, 48 MB, gets 50.3 MB).

const minShift = 16 // 64 KiB

var classes [4 * 40]sync.Pool

// classUp returns the smallest class holding n bytes, and its capacity.
func classUp(n int) (int, int) {
	if n <= 1<<minShift {
		return 0, 1 << minShift
	}
	e := bits.Len(uint(n)) - 1 // 2^e <= n < 2^(e+1)
	step := 1 << (e - 2)
	q := (n - 1<<e + step - 1) / step
	if q == 4 {
		e, q = e+1, 0
	}
	return (e-minShift)*4 + q, 1<<e + q*(1<<(e-2))
}

// classDown returns the largest class a buffer of capacity c can serve.
func classDown(c int) int {
	e := bits.Len(uint(c)) - 1
	q := (c - 1<<e) / (1 << (e - 2))
	return (e-minShift)*4 + q
}

// newRGBA returns a w x h image at the origin, from the pool when it can.
// Its pixels are not cleared: callers overwrite every one.
func newRGBA(w, h int) *image.RGBA {
	n := w * h * 4
	var pix []byte
	c, capacity := classUp(n)
	if c < len(classes) {
		if p, ok := classes[c].Get().(*[]byte); ok {
			pix = (*p)[:n]
		}
	}
	if pix == nil {
		pix = make([]byte, n, max(n, capacity))
	}
	return &image.RGBA{Pix: pix, Stride: w * 4, Rect: image.Rect(0, 0, w, h)}
}

// recycle gives img's pixels back to the pool. img must not be used after.
func recycle(img *image.RGBA) {
	if img == nil || cap(img.Pix) < 1<<minShift {
		return
	}
	if c := classDown(cap(img.Pix)); c < len(classes) {
		pix := img.Pix[:0]
		classes[c].Put(&pix)
	}
	img.Pix = nil
}
