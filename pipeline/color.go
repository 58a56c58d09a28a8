package pipeline

import (
	"math"
)

// d50 is the PCS white point.
var d50 = [3]float64{0.9642, 1.0, 0.8249}

// srgbD50 holds the sRGB colorants adapted to D50 (Bradford), as the ICC's
// sRGB profile has them: columns red, green, blue.
var srgbD50 = [9]float64{
	0.4360747, 0.3850649, 0.1430804,
	0.2225045, 0.7168786, 0.0606169,
	0.0139322, 0.0971045, 0.7141733,
}

// xyzToSRGB converts PCS XYZ (D50) to linear sRGB: the inverse of srgbD50.
var xyzToSRGB = invert3(srgbD50)

func invert3(m [9]float64) [9]float64 {
	a, b, c, d, e, f, g, h, i := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
	det := a*(e*i-f*h) - b*(d*i-f*g) + c*(d*h-e*g)
	return [9]float64{
		(e*i - f*h) / det, (c*h - b*i) / det, (b*f - c*e) / det,
		(f*g - d*i) / det, (a*i - c*g) / det, (c*d - a*f) / det,
		(d*h - e*g) / det, (b*g - a*h) / det, (a*e - b*d) / det,
	}
}

func mul3(m [9]float64, x, y, z float64) (float64, float64, float64) {
	return m[0]*x + m[1]*y + m[2]*z, m[3]*x + m[4]*y + m[5]*z, m[6]*x + m[7]*y + m[8]*z
}

func mulMat3(a, b [9]float64) [9]float64 {
	var r [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			r[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return r
}

// labToXYZ converts CIELAB (D50) to XYZ.
func labToXYZ(l, a, b float64) (float64, float64, float64) {
	fy := (l + 16) / 116
	fx := fy + a/500
	fz := fy - b/200
	finv := func(t float64) float64 {
		if t > 6.0/29 {
			return t * t * t
		}
		return 3 * (6.0 / 29) * (6.0 / 29) * (t - 4.0/29)
	}
	return d50[0] * finv(fx), d50[1] * finv(fy), d50[2] * finv(fz)
}

// srgbEncode applies the sRGB transfer function to a linear value.
func srgbEncode(v float64) float64 {
	switch {
	case v <= 0:
		return 0
	case v >= 1:
		return 1
	case v <= 0.0031308:
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

// A colorTransform turns pixels of a source's colour space into sRGB.
type colorTransform interface {
	// rgb converts one colour, each channel in [0, 1].
	rgb(c []float64) (r, g, b float64)
	// channels is the number of source channels (1, 3 or 4).
	channels() int
}

// newTransform builds the conversion of a profile's colours to sRGB, or
// returns nil when the profile is sRGB already.
func newTransform(p *profile) (colorTransform, error) {
	// Like littleCMS and skcms, prefer the A2B table when there is one:
	// a profile's maker put it there because the matrix is not enough.
	if p.a2b != nil {
		return newLUTTransform(p)
	}
	switch {
	case p.space == "RGB " && p.trc != nil:
		if isSRGB(p) {
			return nil, nil
		}
		return &matrixTransform{trc: p.trc, m: mulMat3(xyzToSRGB, p.matrix)}, nil
	case p.space == "GRAY" && p.trc != nil:
		return &grayTransform{trc: p.trc[0]}, nil
	}
	return nil, errUnsupportedProfile
}

// isSRGB reports whether a matrix/TRC profile is sRGB (its colorants and
// curves within a hair of sRGB's), so that converting would change nothing.
func isSRGB(p *profile) bool {
	for i := range srgbD50 {
		if math.Abs(p.matrix[i]-srgbD50[i]) > 0.002 {
			return false
		}
	}
	for _, c := range p.trc {
		for x := 0.0; x <= 1; x += 1.0 / 64 {
			if math.Abs(srgbEncode(c.eval(x))-x) > 0.001 {
				return false
			}
		}
	}
	return true
}

// matrixTransform converts matrix/TRC profiles: linearize each channel,
// multiply by (PCS → linear sRGB) x (colorants).
type matrixTransform struct {
	trc []curve
	m   [9]float64
}

func (t *matrixTransform) channels() int { return 3 }

func (t *matrixTransform) rgb(c []float64) (float64, float64, float64) {
	return mul3(t.m, t.trc[0].eval(c[0]), t.trc[1].eval(c[1]), t.trc[2].eval(c[2]))
}

// grayTransform converts grayscale TRC profiles: the gray's luminance, in
// sRGB's D50 white, as a neutral sRGB colour.
type grayTransform struct{ trc curve }

func (t *grayTransform) channels() int { return 1 }

func (t *grayTransform) rgb(c []float64) (float64, float64, float64) {
	y := t.trc.eval(c[0])
	return y, y, y
}

// lutTransform converts LUT-based profiles through their A2B table to the
// PCS, then to sRGB.
type lutTransform struct {
	l      *lut
	in     int
	decode func(v [3]float64) (x, y, z float64)
	// black is the PCS black of the table, mapped to sRGB's black (zero)
	// by black point compensation; zero when there is none.
	black [3]float64
}

// perceptualBlack is the black of the ICC v4 perceptual reference medium:
// the PCS black of every v4 perceptual (and saturation) table. sRGB's is
// zero, so converting from it scales the PCS as littleCMS does (black
// point compensation, always on for v4 perceptual intents); otherwise
// shadows come out lifted and washed out.
var perceptualBlack = [3]float64{0.00336, 0.0034731, 0.00287}

func (t *lutTransform) channels() int { return t.in }

func (t *lutTransform) rgb(c []float64) (float64, float64, float64) {
	var out [3]float64
	t.l.eval(c, out[:])
	x, y, z := t.decode(out)
	if t.black != [3]float64{} {
		// Map black to zero, keeping the D50 white.
		x = d50[0] * (x - t.black[0]) / (d50[0] - t.black[0])
		y = d50[1] * (y - t.black[1]) / (d50[1] - t.black[1])
		z = d50[2] * (z - t.black[2]) / (d50[2] - t.black[2])
	}
	return mul3(xyzToSRGB, x, y, z)
}

func newLUTTransform(p *profile) (colorTransform, error) {
	in := map[string]int{"RGB ": 3, "CMYK": 4, "GRAY": 1}[p.space]
	if in == 0 || len(p.a2b.grid) != in && p.a2b.clut != nil || p.a2b.clutOut != 3 && p.a2b.clut != nil {
		return nil, errUnsupportedProfile
	}
	t := &lutTransform{l: p.a2b, in: in}
	if p.version >= 4 {
		t.black = perceptualBlack
	}
	switch {
	case p.pcs == "Lab " && p.a2bType == "mft2":
		// ICC v2 16-bit Lab: L 0xFF00 = 100, a and b 0x8000 = 0.
		t.decode = func(v [3]float64) (float64, float64, float64) {
			return labToXYZ(v[0]*65535/65280*100, v[1]*65535/256-128, v[2]*65535/256-128)
		}
	case p.pcs == "Lab " && p.a2bType == "mft1":
		t.decode = func(v [3]float64) (float64, float64, float64) {
			return labToXYZ(v[0]*100, v[1]*255-128, v[2]*255-128)
		}
	case p.pcs == "Lab ":
		// ICC v4 Lab: L 0xFFFF = 100, a and b 0x8080 = 0.
		t.decode = func(v [3]float64) (float64, float64, float64) {
			return labToXYZ(v[0]*100, v[1]*255-128, v[2]*255-128)
		}
	case p.pcs == "XYZ ":
		// u1Fixed15: 0x8000 = 1.0.
		t.decode = func(v [3]float64) (float64, float64, float64) {
			return v[0] * 65535 / 32768, v[1] * 65535 / 32768, v[2] * 65535 / 32768
		}
	default:
		return nil, errUnsupportedProfile
	}
	return t, nil
}

// converter applies a colorTransform to 16-bit premultiplied RGBA pixels,
// fast: matrix/TRC and gray transforms go through tables; LUT transforms
// through a 33x33x33 table of the transform, interpolated (4 channel
// sources are converted at decode, see convertCMYK).
type converter struct {
	matrix *matrixTransform
	gray   *grayTransform
	// linear[c][v] is channel c of 16-bit value v, linearized.
	linear [][]float32
	// cube samples an RGB transform on a grid (LUT profiles).
	cube  []float32
	cubeN int
}

// encodeTable maps a linear value, quantized to 1/65535, to 16-bit sRGB.
var encodeTable = func() []uint16 {
	t := make([]uint16, 65536)
	for i := range t {
		t[i] = uint16(math.Round(srgbEncode(float64(i)/65535) * 65535))
	}
	return t
}()

func newConverter(t colorTransform) *converter {
	c := &converter{}
	switch t := t.(type) {
	case *matrixTransform:
		c.matrix = t
		for _, cv := range t.trc {
			c.linear = append(c.linear, curveTable(cv))
		}
	case *grayTransform:
		c.gray = t
		c.linear = [][]float32{curveTable(t.trc)}
	default:
		const n = 33
		c.cubeN = n
		c.cube = make([]float32, n*n*n*3)
		parallelRows(n, func(r0, r1 int) {
			var v [3]float64
			for r := r0; r < r1; r++ {
				for g := 0; g < n; g++ {
					for b := 0; b < n; b++ {
						v = [3]float64{float64(r) / (n - 1), float64(g) / (n - 1), float64(b) / (n - 1)}
						x, y, z := t.rgb(v[:])
						i := ((r*n+g)*n + b) * 3
						c.cube[i], c.cube[i+1], c.cube[i+2] = float32(x), float32(y), float32(z)
					}
				}
			}
		})
	}
	return c
}

func curveTable(cv curve) []float32 {
	t := make([]float32, 65536)
	for i := range t {
		t[i] = float32(cv.eval(float64(i) / 65535))
	}
	return t
}

func linearToU16(v float32) uint16 {
	switch {
	case !(v > 0): // and NaN, which a broken profile can make
		return 0
	case v >= 1:
		return 65535
	}
	return encodeTable[int(v*65535+0.5)]
}

// convert turns w premultiplied RGBA64 pixels (16 bits a channel) into
// sRGB, in place.
func (c *converter) convert(pix []uint16, opaque bool) {
	for i := 0; i+3 < len(pix); i += 4 {
		a := uint32(pix[i+3])
		if a == 0 {
			continue
		}
		r, g, b := uint32(pix[i]), uint32(pix[i+1]), uint32(pix[i+2])
		if !opaque && a != 65535 {
			r, g, b = min(r*65535/a, 65535), min(g*65535/a, 65535), min(b*65535/a, 65535)
		}
		var lr, lg, lb float32
		switch {
		case c.matrix != nil:
			x, y, z := c.linear[0][r], c.linear[1][g], c.linear[2][b]
			m := &c.matrix.m
			lr = float32(m[0])*x + float32(m[1])*y + float32(m[2])*z
			lg = float32(m[3])*x + float32(m[4])*y + float32(m[5])*z
			lb = float32(m[6])*x + float32(m[7])*y + float32(m[8])*z
		case c.gray != nil:
			lr = c.linear[0][r]
			lg, lb = lr, lr
		default:
			lr, lg, lb = c.cubeAt(float32(r)/65535, float32(g)/65535, float32(b)/65535)
		}
		or, og, ob := uint32(linearToU16(lr)), uint32(linearToU16(lg)), uint32(linearToU16(lb))
		if !opaque && a != 65535 {
			or, og, ob = or*a/65535, og*a/65535, ob*a/65535
		}
		pix[i], pix[i+1], pix[i+2] = uint16(or), uint16(og), uint16(ob)
	}
}

// cubeAt interpolates the sampled transform (trilinear).
func (c *converter) cubeAt(r, g, b float32) (float32, float32, float32) {
	n := c.cubeN
	pos := func(v float32) (int, float32) {
		p := v * float32(n-1)
		i := int(p)
		if i >= n-1 {
			i = n - 2
		}
		return i, p - float32(i)
	}
	ri, rf := pos(r)
	gi, gf := pos(g)
	bi, bf := pos(b)
	var out [3]float32
	for corner := 0; corner < 8; corner++ {
		w := float32(1)
		ri2, gi2, bi2 := ri, gi, bi
		if corner&1 != 0 {
			ri2++
			w *= rf
		} else {
			w *= 1 - rf
		}
		if corner&2 != 0 {
			gi2++
			w *= gf
		} else {
			w *= 1 - gf
		}
		if corner&4 != 0 {
			bi2++
			w *= bf
		} else {
			w *= 1 - bf
		}
		k := ((ri2*n+gi2)*n + bi2) * 3
		out[0] += w * c.cube[k]
		out[1] += w * c.cube[k+1]
		out[2] += w * c.cube[k+2]
	}
	return out[0], out[1], out[2]
}

// cmykTable is a CMYK transform sampled on a cmykGrid^4 grid, in 16-bit
// sRGB, and interpolated in simplices (5 of the 16 corners of a cell): a
// few tens of nanoseconds a pixel where evaluating the profile's tables
// takes a microsecond. As littleCMS does, the grid holds the output's
// encoded values, so that interpolating follows sRGB's curve.
type cmykTable struct {
	grid []uint16 // ((c*n+m)*n+y)*n+k, then r, g, b
	// cell[v] and frac[v] place an 8-bit ink value on the grid.
	cell [256]int32
	frac [256]int32 // in 1/65536
}

const cmykGrid = 17

func newCMYKTable(tr colorTransform) *cmykTable {
	const n = cmykGrid
	t := &cmykTable{grid: make([]uint16, n*n*n*n*3)}
	for v := range 256 {
		p := v * (n - 1) * 65536 / 255
		c := min(p>>16, n-2)
		t.cell[v] = int32(c)
		t.frac[v] = int32(p - c<<16)
	}
	parallelRows(n, func(c0, c1 int) {
		var in [4]float64
		for c := c0; c < c1; c++ {
			for i := c * n * n * n; i < (c+1)*n*n*n; i++ {
				in = [4]float64{float64(c) / (n - 1), float64(i/(n*n)%n) / (n - 1), float64(i/n%n) / (n - 1), float64(i%n) / (n - 1)}
				r, g, b := tr.rgb(in[:])
				t.grid[i*3] = linearToU16(float32(r))
				t.grid[i*3+1] = linearToU16(float32(g))
				t.grid[i*3+2] = linearToU16(float32(b))
			}
		}
	})
	return t
}

// at converts one CMYK pixel: from the cell's first corner, it walks to
// the opposite one along the axes in decreasing order of the pixel's
// position in the cell, weighting the 5 corners it meets.
func (t *cmykTable) at(c, m, y, k uint8) (uint16, uint16, uint16) {
	const n = cmykGrid
	strides := [4]int32{n * n * n * 3, n * n * 3, n * 3, 3}
	f := [4]int32{t.frac[c], t.frac[m], t.frac[y], t.frac[k]}
	base := t.cell[c]*strides[0] + t.cell[m]*strides[1] + t.cell[y]*strides[2] + t.cell[k]*strides[3]
	// Sort the four axes by decreasing fraction (a sorting network).
	order := [4]int32{0, 1, 2, 3}
	swap := func(i, j int) {
		if f[order[i]] < f[order[j]] {
			order[i], order[j] = order[j], order[i]
		}
	}
	swap(0, 1)
	swap(2, 3)
	swap(0, 2)
	swap(1, 3)
	swap(1, 2)
	var r, g, b int64
	idx, prev := base, int32(65536)
	for step := 0; step <= 4; step++ {
		next := int32(0)
		if step < 4 {
			next = f[order[step]]
		}
		if w := int64(prev - next); w != 0 {
			r += w * int64(t.grid[idx])
			g += w * int64(t.grid[idx+1])
			b += w * int64(t.grid[idx+2])
		}
		if step < 4 {
			idx += strides[order[step]]
		}
		prev = next
	}
	return uint16((r + 32768) >> 16), uint16((g + 32768) >> 16), uint16((b + 32768) >> 16)
}
