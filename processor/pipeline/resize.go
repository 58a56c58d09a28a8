package pipeline

import (
	"image"
	"math"
)

// A Resizer resamples one source image (typically a crop of the decoded
// upload) to many sizes. It keeps successive 2x box-filtered halvings of the
// source, a pyramid computed on demand and shared by every size, and
// resamples each size from the smallest level that is still at least
// pyramidFactor times larger, with a separable Catmull-Rom filter whose
// support widens with the scale (so downscaling does not alias). Work is
// spread over all CPUs.
//
// A Resizer is not safe for concurrent use.
type Resizer struct {
	src    *Image
	levels []*Image // src halved once, twice...
}

// pyramidFactor returns how much larger than a w x h output the level it
// is resampled from must stay. At 2, outputs of 256 pixels and more are
// within 1 dB of a direct Catmull-Rom resize of the full source, or better,
// but the smallest lose more; at 4 every output is at least as good (see
// TestResizeQuality). Fewer large outputs read the full-resolution source
// with 2, which matters when its rows are converted on the fly.
func pyramidFactor(w, h int) int {
	if min(w, h) >= 256 {
		return 2
	}
	return 4
}

// fixed-point precision of filter weights
const (
	weightBits = 14
	weightOne  = 1 << weightBits
)

// NewResizer returns a Resizer of src (a decoded image, or a crop).
func NewResizer(src *Image) *Resizer {
	return &Resizer{src: src}
}

// Resize returns a new w x h image resampled from the whole source.
func (r *Resizer) Resize(w, h int) *image.RGBA {
	src := r.level(w, h)
	if b := src.Bounds(); b.Dx() == w && b.Dy() == h {
		dst := NewRGBA(w, h)
		parallelRows(h, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				src.row(dst.Pix[y*dst.Stride:][:w*4], 0, y)
			}
		})
		return dst
	}
	return resample(src, w, h)
}

// level returns the smallest pyramid level at least pyramidFactor times
// the size w x h, computing levels as needed.
func (r *Resizer) level(w, h int) *Image {
	cur := r.src
	for i := 0; ; i++ {
		b := cur.Bounds()
		if f := pyramidFactor(w, h); b.Dx()/2 < f*w || b.Dy()/2 < f*h {
			return cur
		}
		if i == len(r.levels) {
			l := FromRGBA(halve(cur))
			if cur.Opaque() {
				l.opaque = 2 // averages of opaque pixels are opaque
			}
			r.levels = append(r.levels, l)
		}
		cur = r.levels[i]
	}
}

// Release recycles the pyramid levels (see Recycle). The Resizer stays
// usable.
func (r *Resizer) Release() {
	for _, l := range r.levels {
		l.Release()
	}
	r.levels = nil
}

// halve returns src scaled to half its size (rounded down) by averaging
// each 2x2 block.
func halve(src *Image) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	dst := NewRGBA(w, h)
	parallelRows(h, func(y0, y1 int) {
		var r0, r1 []uint8
		if src.rgba == nil {
			r0, r1 = make([]uint8, w*8), make([]uint8, w*8)
		}
		for y := y0; y < y1; y++ {
			if src.rgba != nil {
				r0 = src.rgba.Pix[src.rgba.PixOffset(src.r.Min.X, src.r.Min.Y+2*y):][:w*8]
				r1 = src.rgba.Pix[src.rgba.PixOffset(src.r.Min.X, src.r.Min.Y+2*y+1):][:w*8]
			} else {
				src.row(r0, 0, 2*y)
				src.row(r1, 0, 2*y+1)
			}
			d := dst.Pix[y*dst.Stride : y*dst.Stride+w*4]
			for x := 0; x < w; x++ {
				s := x * 8
				for c := 0; c < 4; c++ {
					d[x*4+c] = uint8((uint32(r0[s+c]) + uint32(r0[s+4+c]) + uint32(r1[s+c]) + uint32(r1[s+4+c]) + 2) >> 2)
				}
			}
		}
	})
	return dst
}

func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// filter holds, for each output coordinate, the first input coordinate and
// the fixed-point weights of its taps (taps per output, zero-padded).
type filter struct {
	start   []int
	taps    int
	weights []int32
}

// newFilter computes the Catmull-Rom weights that resample in pixels to
// out pixels, with edge taps folded into the nearest valid pixel.
func newFilter(in, out int) filter {
	scale := float64(in) / float64(out)
	stretch := max(scale, 1) // widen the kernel when shrinking
	support := 2 * stretch
	taps := int(math.Ceil(support))*2 + 1
	f := filter{start: make([]int, out), taps: taps, weights: make([]int32, out*taps)}
	ws := make([]float64, taps)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := int(math.Floor(center - support))
		lo = max(0, min(lo, in-taps))
		if in < taps {
			lo = 0
		}
		var sum float64
		for k := range ws {
			ws[k] = 0
			if i := lo + k; i < in {
				ws[k] = catmullRom((float64(i) + 0.5 - center) / stretch)
				sum += ws[k]
			}
		}
		f.start[o] = lo
		row := f.weights[o*taps : (o+1)*taps]
		var total int32
		best := 0
		for k, w := range ws {
			row[k] = int32(math.Round(w / sum * weightOne))
			total += row[k]
			if ws[k] > ws[best] {
				best = k
			}
		}
		row[best] += weightOne - total // exact normalisation
	}
	return f
}

// clamp8 turns a fixed-point accumulator into a byte.
func clamp8(acc int32) uint8 {
	v := (acc + weightOne/2) >> weightBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resample scales src to w x h, separably. Each band of output rows
// (one per CPU) streams through the input: it filters each input row
// horizontally once, into a ring of as many rows as the vertical filter has
// taps, and computes its output rows from the ring. No intermediate image
// of the whole height is made: a band needs taps x w pixels.
func resample(src *Image, w, h int) *image.RGBA {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	fx, fy := newFilter(sw, w), newFilter(sh, h)
	dst := NewRGBA(w, h)
	parallelRows(h, func(y0, y1 int) {
		ring := make([]uint8, fy.taps*w*4)
		filled := -1 // the last input row filtered into the ring
		acc := make([]int32, w*4)
		var in []uint8 // a converted source row, when src is not RGBA
		if src.rgba == nil {
			in = make([]uint8, sw*4)
		}
		opaque := src.Opaque()
		for y := y0; y < y1; y++ {
			start := fy.start[y]
			for r := max(filled+1, start); r < min(start+fy.taps, sh); r++ {
				row := in
				if src.rgba != nil {
					row = src.rgba.Pix[src.rgba.PixOffset(src.r.Min.X, src.r.Min.Y+r):][:sw*4]
				} else {
					src.row(row, 0, r)
				}
				horizontal(ring[(r%fy.taps)*w*4:][:w*4], row, &fx, sw == w, opaque)
				filled = r
			}
			clear(acc)
			for k, wt := range fy.weights[y*fy.taps : (y+1)*fy.taps] {
				if wt == 0 {
					continue
				}
				row := ring[((start+k)%fy.taps)*w*4:][:w*4]
				for i, v := range row {
					acc[i] += wt * int32(v)
				}
			}
			out := dst.Pix[y*dst.Stride : y*dst.Stride+w*4]
			for x := 0; x < w; x++ {
				a := acc[x*4 : x*4+4 : x*4+4]
				o := out[x*4 : x*4+4 : x*4+4]
				if opaque {
					o[0], o[1], o[2], o[3] = clamp8(a[0]), clamp8(a[1]), clamp8(a[2]), 0xFF
				} else {
					storePremul(o, a[0], a[1], a[2], a[3])
				}
			}
		}
	})
	return dst
}

// horizontal filters one input row into out (w pixels). An opaque row
// skips the alpha channel, a quarter of the work.
func horizontal(out, in []uint8, fx *filter, same, opaque bool) {
	if same {
		copy(out, in)
		return
	}
	w := len(out) / 4
	taps := fx.taps
	for x := 0; x < w; x++ {
		ws := fx.weights[x*taps : (x+1)*taps]
		px := in[fx.start[x]*4:]
		if n := len(ws) * 4; n <= len(px) {
			px = px[:n] // lets the compiler drop the bounds checks below
		}
		o := out[x*4 : x*4+4 : x*4+4]
		var r, g, b int32
		if opaque {
			for k, wt := range ws {
				if k*4+2 >= len(px) {
					break // taps past the right edge have no weight
				}
				r += wt * int32(px[k*4])
				g += wt * int32(px[k*4+1])
				b += wt * int32(px[k*4+2])
			}
			o[0], o[1], o[2], o[3] = clamp8(r), clamp8(g), clamp8(b), 0xFF
			continue
		}
		var a int32
		for k, wt := range ws {
			if wt == 0 {
				continue
			}
			p := px[k*4 : k*4+4 : k*4+4]
			r += wt * int32(p[0])
			g += wt * int32(p[1])
			b += wt * int32(p[2])
			a += wt * int32(p[3])
		}
		storePremul(o, r, g, b, a)
	}
}

// storePremul stores a filtered premultiplied pixel, keeping each colour
// channel at most the alpha (the kernel's negative lobes can overshoot).
func storePremul(p []uint8, r, g, b, a int32) {
	av := clamp8(a)
	p[0] = min(clamp8(r), av)
	p[1] = min(clamp8(g), av)
	p[2] = min(clamp8(b), av)
	p[3] = av
}
