package pipeline

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ICC profiles (ISO 15076-1, ICC.1:2010 and ICC.1:2001-04): enough of them
// to turn pixels of any common profile into sRGB. Matrix/TRC profiles
// (Display P3, Adobe RGB, ProPhoto, sRGB and its variants, in versions 2
// and 4, with curv and para curves), grayscale TRC profiles, and LUT-based
// ones (lut8, lut16, lutAtoB: most CMYK profiles, some RGB ones), whose PCS
// is XYZ or Lab. Pixels go source → PCS (D50) → linear sRGB → sRGB, at
// relative colorimetric intent (clipped to the sRGB gamut) for matrix
// profiles, and through the perceptual table (A2B0) of LUT profiles, as
// littleCMS does by default.

// maxProfile bounds an embedded ICC profile (real ones are a few kilobytes
// to a few hundred).
const maxProfile = 4 << 20

// A curve maps [0, 1] to [0, 1] (an ICC curv or para element).
type curve interface {
	eval(x float64) float64
}

type gammaCurve float64

func (g gammaCurve) eval(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return math.Pow(x, float64(g))
}

type identityCurve struct{}

func (identityCurve) eval(x float64) float64 { return x }

// tableCurve interpolates a curv table of evenly spaced samples.
type tableCurve []float64

func (t tableCurve) eval(x float64) float64 {
	n := len(t) - 1
	if x <= 0 {
		return t[0]
	}
	if x >= 1 {
		return t[n]
	}
	p := x * float64(n)
	i := int(p)
	f := p - float64(i)
	return t[i] + (t[i+1]-t[i])*f
}

// paraCurve is a parametric curve of types 0 to 4.
type paraCurve struct {
	typ                 int
	g, a, b, c, d, e, f float64
}

func (p paraCurve) eval(x float64) float64 {
	pow := func(v float64) float64 {
		if v <= 0 {
			return 0
		}
		return math.Pow(v, p.g)
	}
	switch p.typ {
	case 0:
		return pow(x)
	case 1:
		if x >= -p.b/p.a {
			return pow(p.a*x + p.b)
		}
		return 0
	case 2:
		if x >= -p.b/p.a {
			return pow(p.a*x+p.b) + p.c
		}
		return p.c
	case 3:
		if x >= p.d {
			return pow(p.a*x + p.b)
		}
		return p.c * x
	default:
		if x >= p.d {
			return pow(p.a*x+p.b) + p.e
		}
		return p.c*x + p.f
	}
}

// A lut is an ICC LUT element chain: input curves, a colour lookup table,
// output curves (lut8 and lut16), or A curves, CLUT, M curves, matrix and B
// curves (lutAtoB), producing PCS values in [0, 1] per channel.
type lut struct {
	in        []curve   // per input channel
	grid      []int     // CLUT grid points per input channel
	clut      []float64 // grid[0] x grid[1] x ... x out values, the first input varying slowest
	clutOut   int       // channels out of the CLUT
	mCurves   []curve   // lutAtoB: after the CLUT
	matrix    *[12]float64
	out       []curve // B curves (lutAtoB) or output tables
	xyzMatrix *[9]float64
}

func (l *lut) eval(src []float64, dst []float64) {
	var buf [16]float64
	v := buf[:len(src)]
	for i, x := range src {
		v[i] = clamp01(x)
		if l.in != nil {
			v[i] = clamp01(l.in[i].eval(v[i]))
		}
	}
	var mid [16]float64
	o := mid[:l.clutOut]
	if l.clut != nil {
		l.interpolate(v, o)
	} else {
		copy(o, v)
	}
	if l.mCurves != nil {
		for i := range o {
			o[i] = clamp01(l.mCurves[i].eval(clamp01(o[i])))
		}
	}
	if m := l.matrix; m != nil && len(o) == 3 {
		x, y, z := o[0], o[1], o[2]
		o[0] = clamp01(m[0]*x + m[1]*y + m[2]*z + m[9])
		o[1] = clamp01(m[3]*x + m[4]*y + m[5]*z + m[10])
		o[2] = clamp01(m[6]*x + m[7]*y + m[8]*z + m[11])
	}
	for i := range dst {
		dst[i] = clamp01(o[i])
		if l.out != nil {
			dst[i] = clamp01(l.out[i].eval(dst[i]))
		}
	}
}

// interpolate does multilinear interpolation in the CLUT.
func (l *lut) interpolate(v, out []float64) {
	n := len(v)
	var base, frac [16]float64
	var idx, stride [16]int
	s := l.clutOut
	for i := n - 1; i >= 0; i-- {
		stride[i] = s
		s *= l.grid[i]
	}
	for i := 0; i < n; i++ {
		p := v[i] * float64(l.grid[i]-1)
		k := int(p)
		if k >= l.grid[i]-1 {
			k = l.grid[i] - 2
			if k < 0 {
				k = 0
			}
		}
		idx[i] = k
		frac[i] = p - float64(k)
		base[i] = float64(k)
	}
	for c := range out {
		out[c] = 0
	}
	// Sum over the 2^n corners of the cell.
	for corner := 0; corner < 1<<n; corner++ {
		w := 1.0
		off := 0
		for i := 0; i < n; i++ {
			k := idx[i]
			if corner&(1<<i) != 0 {
				if l.grid[i] > 1 {
					k++
				}
				w *= frac[i]
			} else {
				w *= 1 - frac[i]
			}
			off += k * stride[i]
		}
		if w == 0 {
			continue
		}
		for c := range out {
			out[c] += w * l.clut[off+c]
		}
	}
}

func clamp01(x float64) float64 {
	switch {
	case x < 0:
		return 0
	case x > 1:
		return 1
	case x != x: // NaN
		return 0
	}
	return x
}

// A profile is the part of an ICC profile that converting to sRGB needs.
type profile struct {
	space   string // "RGB ", "CMYK", "GRAY"
	pcs     string // "XYZ " or "Lab "
	version int    // major version
	// Matrix/TRC (RGB) or TRC (gray).
	trc    []curve
	matrix [9]float64 // columns: red, green, blue colorants (XYZ D50)
	// LUT-based (A2B0 or A2B1 or A2B2).
	a2b     *lut
	a2bType string
	desc    string
}

func s15f16(b []byte) float64 { return float64(int32(binary.BigEndian.Uint32(b))) / 65536 }

// parseICC reads the parts of an ICC profile the converter uses.
func parseICC(data []byte) (*profile, error) {
	if len(data) < 132 || string(data[36:40]) != "acsp" {
		return nil, fmt.Errorf("%w: not an ICC profile", errUnsupportedProfile)
	}
	size := int(binary.BigEndian.Uint32(data))
	if size > len(data) || size < 132 {
		size = len(data)
	}
	data = data[:size]
	p := &profile{space: string(data[16:20]), pcs: string(data[20:24]), version: int(data[8])}
	count := int(binary.BigEndian.Uint32(data[128:]))
	if count > 1000 || 132+12*count > len(data) {
		return nil, fmt.Errorf("%w: broken tag table", errUnsupportedProfile)
	}
	tags := map[string][]byte{}
	for i := 0; i < count; i++ {
		e := data[132+12*i:]
		off, n := int(binary.BigEndian.Uint32(e[4:])), int(binary.BigEndian.Uint32(e[8:]))
		if off < 0 || n < 0 || off > len(data) || n > len(data)-off {
			continue
		}
		tags[string(e[:4])] = data[off : off+n]
	}
	if d, ok := tags["desc"]; ok {
		p.desc = description(d)
	}
	for _, sig := range []string{"A2B0", "A2B1", "A2B2"} {
		if t, ok := tags[sig]; ok {
			l, typ, err := parseLUT(t)
			if err == nil {
				p.a2b, p.a2bType = l, typ
				break
			}
		}
	}
	switch p.space {
	case "RGB ":
		rx, okR := tags["rXYZ"]
		gx, okG := tags["gXYZ"]
		bx, okB := tags["bXYZ"]
		if okR && okG && okB {
			var trc []curve
			for _, sig := range []string{"rTRC", "gTRC", "bTRC"} {
				c, err := parseCurve(tags[sig])
				if err != nil {
					trc = nil
					break
				}
				trc = append(trc, c)
			}
			cols := [][]byte{rx, gx, bx}
			valid := trc != nil
			for i, c := range cols {
				if len(c) < 20 || string(c[:4]) != "XYZ " {
					valid = false
					break
				}
				p.matrix[0+i] = s15f16(c[8:])
				p.matrix[3+i] = s15f16(c[12:])
				p.matrix[6+i] = s15f16(c[16:])
			}
			if valid {
				p.trc = trc
			}
		}
	case "GRAY":
		if c, err := parseCurve(tags["kTRC"]); err == nil {
			p.trc = []curve{c}
		}
	}
	if p.trc == nil && p.a2b == nil {
		return p, fmt.Errorf("%w: %q (%s) has neither a usable matrix/TRC nor an A2B table", errUnsupportedProfile, p.desc, p.space)
	}
	return p, nil
}

// description reads a desc (v2 textDescriptionType) or mluc (v4) tag.
func description(t []byte) string {
	switch {
	case len(t) > 12 && string(t[:4]) == "desc":
		n := int(binary.BigEndian.Uint32(t[8:]))
		if n > 0 && 12+n <= len(t) {
			s := t[12 : 12+n]
			for len(s) > 0 && s[len(s)-1] == 0 {
				s = s[:len(s)-1]
			}
			return string(s)
		}
	case len(t) > 28 && string(t[:4]) == "mluc":
		n := int(binary.BigEndian.Uint32(t[20:]))
		off := int(binary.BigEndian.Uint32(t[24:]))
		if off >= 0 && n >= 0 && off+n <= len(t) {
			s := t[off : off+n]
			r := make([]rune, 0, n/2)
			for i := 0; i+1 < len(s); i += 2 {
				r = append(r, rune(binary.BigEndian.Uint16(s[i:])))
			}
			return string(r)
		}
	}
	return ""
}

// parseCurve reads a curv or para element.
func parseCurve(t []byte) (curve, error) {
	c, _, err := parseCurveLen(t)
	return c, err
}

// parseCurveLen also returns the element's length, 4-byte aligned.
func parseCurveLen(t []byte) (curve, int, error) {
	if len(t) < 12 {
		return nil, 0, fmt.Errorf("%w: short curve", errUnsupportedProfile)
	}
	switch string(t[:4]) {
	case "curv":
		n := int(binary.BigEndian.Uint32(t[8:]))
		if n < 0 || 12+2*n > len(t) {
			return nil, 0, fmt.Errorf("%w: short curv", errUnsupportedProfile)
		}
		size := (12 + 2*n + 3) &^ 3
		switch n {
		case 0:
			return identityCurve{}, size, nil
		case 1:
			return gammaCurve(float64(binary.BigEndian.Uint16(t[12:])) / 256), size, nil
		}
		tab := make(tableCurve, n)
		for i := range tab {
			tab[i] = float64(binary.BigEndian.Uint16(t[12+2*i:])) / 65535
		}
		return tab, size, nil
	case "para":
		typ := int(binary.BigEndian.Uint16(t[8:]))
		counts := []int{1, 3, 4, 5, 7}
		if typ < 0 || typ >= len(counts) || len(t) < 12+4*counts[typ] {
			return nil, 0, fmt.Errorf("%w: para type %d", errUnsupportedProfile, typ)
		}
		var v [7]float64
		for i := 0; i < counts[typ]; i++ {
			v[i] = s15f16(t[12+4*i:])
		}
		p := paraCurve{typ: typ, g: v[0], a: v[1], b: v[2], c: v[3], d: v[4], e: v[5], f: v[6]}
		if typ == 1 || typ == 2 {
			p.c, p.d = v[3], 0
		}
		if typ >= 1 && p.a == 0 {
			return nil, 0, fmt.Errorf("%w: para with a = 0", errUnsupportedProfile)
		}
		return p, 12 + 4*counts[typ], nil
	}
	return nil, 0, fmt.Errorf("%w: curve type %q", errUnsupportedProfile, t[:4])
}

// parseLUT reads a lut8 (mft1), lut16 (mft2) or lutAtoB (mAB) element.
func parseLUT(t []byte) (*lut, string, error) {
	if len(t) < 32 {
		return nil, "", fmt.Errorf("%w: short LUT", errUnsupportedProfile)
	}
	typ := string(t[:4])
	inCh, outCh := int(t[8]), int(t[9])
	if inCh < 1 || inCh > 8 || outCh < 1 || outCh > 15 {
		return nil, typ, fmt.Errorf("%w: LUT of %d to %d channels", errUnsupportedProfile, inCh, outCh)
	}
	switch typ {
	case "mft1", "mft2":
		grid := int(t[10])
		if grid < 2 {
			return nil, typ, fmt.Errorf("%w: LUT grid of %d", errUnsupportedProfile, grid)
		}
		l := &lut{clutOut: outCh}
		var m [9]float64
		for i := range m {
			m[i] = s15f16(t[12+4*i:])
		}
		l.xyzMatrix = &m
		pos := 48
		inEntries, outEntries, size := 256, 256, 1
		if typ == "mft2" {
			if len(t) < 52 {
				return nil, typ, fmt.Errorf("%w: short lut16", errUnsupportedProfile)
			}
			inEntries, outEntries = int(binary.BigEndian.Uint16(t[48:])), int(binary.BigEndian.Uint16(t[50:]))
			pos, size = 52, 2
		}
		if inEntries < 2 || outEntries < 2 || inEntries > 4096 || outEntries > 4096 {
			return nil, typ, fmt.Errorf("%w: LUT tables of %d and %d entries", errUnsupportedProfile, inEntries, outEntries)
		}
		cells := 1
		for i := 0; i < inCh; i++ {
			cells *= grid
			if cells > 1<<24 {
				return nil, typ, fmt.Errorf("%w: LUT too large", errUnsupportedProfile)
			}
		}
		need := pos + size*(inCh*inEntries+cells*outCh+outCh*outEntries)
		if need > len(t) {
			return nil, typ, fmt.Errorf("%w: short LUT data", errUnsupportedProfile)
		}
		read := func(n int) []float64 {
			out := make([]float64, n)
			for i := range out {
				if size == 1 {
					out[i] = float64(t[pos]) / 255
				} else {
					out[i] = float64(binary.BigEndian.Uint16(t[pos:])) / 65535
				}
				pos += size
			}
			return out
		}
		for i := 0; i < inCh; i++ {
			l.in = append(l.in, tableCurve(read(inEntries)))
		}
		l.grid = make([]int, inCh)
		for i := range l.grid {
			l.grid[i] = grid
		}
		l.clut = read(cells * outCh)
		for i := 0; i < outCh; i++ {
			l.out = append(l.out, tableCurve(read(outEntries)))
		}
		return l, typ, nil
	case "mAB ":
		offB := int(binary.BigEndian.Uint32(t[12:]))
		offMatrix := int(binary.BigEndian.Uint32(t[16:]))
		offM := int(binary.BigEndian.Uint32(t[20:]))
		offCLUT := int(binary.BigEndian.Uint32(t[24:]))
		offA := int(binary.BigEndian.Uint32(t[28:]))
		l := &lut{clutOut: inCh}
		curves := func(off, n int) ([]curve, error) {
			var cs []curve
			for i := 0; i < n; i++ {
				if off < 0 || off >= len(t) {
					return nil, fmt.Errorf("%w: LUT curve out of bounds", errUnsupportedProfile)
				}
				c, size, err := parseCurveLen(t[off:])
				if err != nil {
					return nil, err
				}
				cs = append(cs, c)
				off += size
			}
			return cs, nil
		}
		var err error
		if offA != 0 {
			if l.in, err = curves(offA, inCh); err != nil {
				return nil, typ, err
			}
		}
		if offCLUT != 0 {
			if offCLUT+20 > len(t) {
				return nil, typ, fmt.Errorf("%w: CLUT out of bounds", errUnsupportedProfile)
			}
			l.grid = make([]int, inCh)
			cells := 1
			for i := range l.grid {
				l.grid[i] = int(t[offCLUT+i])
				if l.grid[i] < 1 {
					return nil, typ, fmt.Errorf("%w: CLUT grid of 0", errUnsupportedProfile)
				}
				cells *= l.grid[i]
				if cells > 1<<24 {
					return nil, typ, fmt.Errorf("%w: LUT too large", errUnsupportedProfile)
				}
			}
			prec := int(t[offCLUT+16])
			if prec != 1 && prec != 2 {
				return nil, typ, fmt.Errorf("%w: CLUT precision %d", errUnsupportedProfile, prec)
			}
			pos := offCLUT + 20
			if pos+prec*cells*outCh > len(t) {
				return nil, typ, fmt.Errorf("%w: short CLUT", errUnsupportedProfile)
			}
			l.clut = make([]float64, cells*outCh)
			for i := range l.clut {
				if prec == 1 {
					l.clut[i] = float64(t[pos]) / 255
				} else {
					l.clut[i] = float64(binary.BigEndian.Uint16(t[pos:])) / 65535
				}
				pos += prec
			}
			l.clutOut = outCh
		} else if inCh != outCh {
			return nil, typ, fmt.Errorf("%w: lutAtoB without CLUT changes channels", errUnsupportedProfile)
		}
		if offM != 0 {
			if l.mCurves, err = curves(offM, outCh); err != nil {
				return nil, typ, err
			}
		}
		if offMatrix != 0 {
			if offMatrix+48 > len(t) {
				return nil, typ, fmt.Errorf("%w: matrix out of bounds", errUnsupportedProfile)
			}
			var m [12]float64
			for i := range m {
				m[i] = s15f16(t[offMatrix+4*i:])
			}
			l.matrix = &m
		}
		if offB != 0 {
			if l.out, err = curves(offB, outCh); err != nil {
				return nil, typ, err
			}
		}
		return l, typ, nil
	}
	return nil, typ, fmt.Errorf("%w: LUT type %q", errUnsupportedProfile, typ)
}
