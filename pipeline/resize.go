package pipeline

import (
	"image"
	"math"
)

// A Resizer resamples one source image (typically a crop of the decoded
// upload) to many sizes. It keeps successive 2x box-filtered halvings of the
// source, a pyramid computed on demand and shared by every size, and
// resamples each size from the smallest level that is still at least
// twice as large (four times for outputs under 256 pixels), with a
// separable Catmull-Rom filter whose support widens with the scale (so
// downscaling does not alias). Work is spread over all CPUs.
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

// Resize returns a new w x h image resampled from the whole source, in
// sRGB. Sources of 16 bits a channel, and sources whose colours need
// converting to sRGB, are resampled and converted at 16 bits a channel and
// rounded to 8 bits at the end, so no precision is lost on the way. Rows
// are converted and rounded as they are made: no 16-bit image of the
// output is kept.
func (r *Resizer) Resize(w, h int) *image.RGBA {
	out := newRGBA(w, h)
	if !r.src.deep() {
		resizeInto(r, w, h, func(y int) []uint8 { return out.Pix[y*w*4:][:w*4] }, nil)
		return out
	}
	opaque, conv := r.src.Opaque(), r.src.conv
	resizeInto(r, w, h, nil, func(y int, row []uint16) {
		if conv != nil {
			conv.convert(row, opaque)
		}
		d := out.Pix[y*w*4:][:w*4]
		for i, v := range row {
			d[i] = uint8((uint32(v)*255 + 32767) / 65535)
		}
	})
	return out
}

// Recycle gives back an image that Resize returned, once it is encoded,
// so that its pixels serve a later Resize (a job makes dozens of images
// of megabytes each: reusing them keeps the garbage collector's work
// small). img must not be used after. Recycle may be called from any
// goroutine, after the Resizer's Release too; an image never given back
// is simply garbage collected.
func Recycle(img *image.RGBA) { recycle(img) }

// resizeInto resamples the source at w x h, of 8 or 16 bits, each row y
// into dst(y) or, when dst is nil, into a scratch row handed to done.
// Sources of 8 bits (and their pyramid levels) are read as 8 bits even
// into 16-bit outputs: the filters' fractions are kept, at half the
// memory traffic.
func resizeInto[T sample](r *Resizer, w, h int, dst func(y int) []T, done func(y int, row []T)) {
	src := r.level(w, h)
	if b := src.Bounds(); b.Dx() == w && b.Dy() == h {
		parallelRows(h, func(y0, y1 int) {
			var scratch []T
			for y := y0; y < y1; y++ {
				if dst != nil {
					readRow(src, dst(y), 0, y)
					continue
				}
				if scratch == nil {
					scratch = make([]T, w*4)
				}
				readRow(src, scratch, 0, y)
				done(y, scratch)
			}
		})
		return
	}
	if src.rgba16 != nil {
		resample[uint16](src, w, h, dst, done)
	} else {
		resample[uint8](src, w, h, dst, done)
	}
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
			var l *Image
			if r.src.rgba16 != nil {
				h := halve[uint16](cur)
				l = &Image{rgba16: &h}
			} else {
				l = &Image{rgba: rgbaOf(halve[uint8](cur))}
			}
			l.r = image.Rect(0, 0, b.Dx()/2, b.Dy()/2)
			l.conv = r.src.conv
			if cur.Opaque() {
				l.opaque = 2 // averages of opaque pixels are opaque
			}
			r.levels = append(r.levels, l)
		}
		cur = r.levels[i]
	}
}

// Release gives the pyramid levels back for reuse. The Resizer stays
// usable.
func (r *Resizer) Release() {
	for _, l := range r.levels {
		l.Release()
	}
	r.levels = nil
}

// A sample is a channel value: 8 or 16 bits.
type sample interface{ ~uint8 | ~uint16 }

// halvedImage is a pyramid level being built.
type halvedImage[T sample] struct {
	pix  []T
	w, h int
}

// halve returns src scaled to half its size (rounded down) by averaging
// each 2x2 block.
func halve[T sample](src *Image) halvedImage[T] {
	b := src.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	dst := halvedImage[T]{pix: makeSamples[T](w * h * 4), w: w, h: h}
	parallelRows(h, func(y0, y1 int) {
		r0, r1 := make([]T, w*8), make([]T, w*8)
		for y := y0; y < y1; y++ {
			readRow(src, r0, 0, 2*y)
			readRow(src, r1, 0, 2*y+1)
			d := dst.pix[y*w*4 : (y+1)*w*4]
			for x := 0; x < w; x++ {
				s := x * 8
				for c := 0; c < 4; c++ {
					d[x*4+c] = T((uint32(r0[s+c]) + uint32(r0[s+4+c]) + uint32(r1[s+c]) + uint32(r1[s+4+c]) + 2) >> 2)
				}
			}
		}
	})
	return dst
}

// makeSamples allocates n samples, from the pixel pool for 8-bit ones.
func makeSamples[T sample](n int) []T {
	var zero T
	if _, ok := any(zero).(uint8); ok {
		return any(newRGBA(n/4, 1).Pix).([]T)
	}
	return make([]T, n)
}

// rgbaOf wraps a level's 8-bit samples as an image.
func rgbaOf[T sample](l halvedImage[T]) *image.RGBA {
	return &image.RGBA{Pix: any(l.pix).([]uint8), Stride: l.w * 4, Rect: image.Rect(0, 0, l.w, l.h)}
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

// clampT turns a fixed-point accumulator into a sample.
func clampT[T sample](acc int64) T {
	return clampScaled[T](acc, 1)
}

// clampScaled turns a fixed-point accumulator of samples into a sample
// scale times larger (257 for 8 bits into 16, else 1).
func clampScaled[T sample](acc, scale int64) T {
	v := (acc*scale + weightOne/2) >> weightBits
	top := int64(^T(0))
	if v < 0 {
		return 0
	}
	if v > top {
		return T(top)
	}
	return T(v)
}

// resample scales src to w x h, separably, row y into dst(y) or a scratch
// row handed to done (see resizeInto). Each band of output
// rows (one per CPU) streams through the input: it filters each input row
// horizontally once, into a ring of as many rows as the vertical filter has
// taps, and computes its output rows from the ring. No intermediate image
// of the whole height is made: a band needs taps x w pixels.
//
// The input is read as S samples (those of the source, or 8 bits for
// converted ones), filtered horizontally into T samples.
func resample[S, T sample](src *Image, w, h int, dst func(y int) []T, done func(y int, row []T)) {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	fx, fy := newFilter(sw, w), newFilter(sh, h)
	opaque := src.Opaque()
	parallelRows(h, func(y0, y1 int) {
		ring := make([]T, fy.taps*w*4)
		filled := -1 // the last input row filtered into the ring
		acc := make([]int64, w*4)
		in := make([]S, sw*4)
		var scratch []T
		if dst == nil {
			scratch = make([]T, w*4)
		}
		for y := y0; y < y1; y++ {
			start := fy.start[y]
			for r := max(filled+1, start); r < min(start+fy.taps, sh); r++ {
				horizontal(ring[(r%fy.taps)*w*4:][:w*4], sourceRow(src, in, r), &fx, sw == w, opaque)
				filled = r
			}
			clear(acc)
			for k, wt := range fy.weights[y*fy.taps : (y+1)*fy.taps] {
				if wt == 0 {
					continue
				}
				row := ring[((start+k)%fy.taps)*w*4:][:w*4]
				w64 := int64(wt)
				for i, v := range row {
					acc[i] += w64 * int64(v)
				}
			}
			out := scratch
			if dst != nil {
				out = dst(y)
			}
			for x := 0; x < w; x++ {
				a := acc[x*4 : x*4+4 : x*4+4]
				o := out[x*4 : x*4+4 : x*4+4]
				if opaque {
					o[0], o[1], o[2], o[3] = clampT[T](a[0]), clampT[T](a[1]), clampT[T](a[2]), ^T(0)
				} else {
					storePremul(o, a[0], a[1], a[2], a[3])
				}
			}
			if done != nil {
				done(y, out)
			}
		}
	})
}

// sourceRow returns row r of src: its own pixels when it holds them in the
// sample type, else converted into buf.
func sourceRow[T sample](src *Image, buf []T, r int) []T {
	if src.rgba != nil {
		if row, ok := any(src.rgba.Pix[src.rgba.PixOffset(src.r.Min.X, src.r.Min.Y+r):][:len(buf)]).([]T); ok {
			return row
		}
	}
	readRow(src, buf, 0, r)
	return buf
}

// horizontal filters one input row into out (w pixels). An opaque row
// skips the alpha channel, a quarter of the work.
func horizontal[S, T sample](out []T, in []S, fx *filter, same, opaque bool) {
	scale := int64(^T(0)) / int64(^S(0)) // 1, or 257 from 8 bits to 16
	if scale == 0 {
		panic("pipeline: horizontal narrows samples")
	}
	if same {
		for i, v := range in[:len(out)] {
			out[i] = T(int64(v) * scale)
		}
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
		var r, g, b int64
		if opaque {
			for k, wt := range ws {
				if k*4+2 >= len(px) {
					break // taps past the right edge have no weight
				}
				w64 := int64(wt)
				r += w64 * int64(px[k*4])
				g += w64 * int64(px[k*4+1])
				b += w64 * int64(px[k*4+2])
			}
			o[0], o[1], o[2], o[3] = clampScaled[T](r, scale), clampScaled[T](g, scale), clampScaled[T](b, scale), ^T(0)
			continue
		}
		var a int64
		for k, wt := range ws {
			if wt == 0 {
				continue
			}
			p := px[k*4 : k*4+4 : k*4+4]
			w64 := int64(wt)
			r += w64 * int64(p[0])
			g += w64 * int64(p[1])
			b += w64 * int64(p[2])
			a += w64 * int64(p[3])
		}
		storePremul(o, r*scale, g*scale, b*scale, a*scale)
	}
}

// storePremul stores a filtered premultiplied pixel, keeping each colour
// channel at most the alpha (the kernel's negative lobes can overshoot).
func storePremul[T sample](p []T, r, g, b, a int64) {
	av := clampT[T](a)
	p[0] = min(clampT[T](r), av)
	p[1] = min(clampT[T](g), av)
	p[2] = min(clampT[T](b), av)
	p[3] = av
}
