// Command mkcolor writes the colour-management test material under
// testdata/color: ICC profiles of every kind the pipeline converts
// (matrix/TRC versions 2 and 4 with curv and para curves, gray, LUT-based
// RGB and CMYK with XYZ and Lab PCS), test charts carrying them in every
// accepted format (JPEG, PNG 8 and 16 bits, WebP, AVIF, and AVIF described
// by CICP codes), and charts.json, the list of patches. Expected sRGB values
// come from littleCMS, by expected.py (Debian's python3-pil). Debian's
// webp, libavif-bin, imagemagick and python3-pil must be installed. Its
// colour arithmetic is written apart from the pipeline's on purpose: the
// tests compare the two, and littleCMS, not the pipeline with itself. The
// material is committed; run this only to rebuild it:
//
//	go run ./internal/cmd/mkcolor testdata/color && python3 internal/cmd/mkcolor/expected.py testdata/color
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gopictures/pictures/internal/imagetest"
)

var dir string

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: mkcolor DIR")
	}
	dir = os.Args[1]
	must(os.MkdirAll(dir, 0o755))

	p3 := primaries(0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290)
	adobe := primaries(0.64, 0.33, 0.21, 0.71, 0.15, 0.06, 0.3127, 0.3290)
	prophoto := primaries(0.7347, 0.2653, 0.1596, 0.8404, 0.0366, 0.0001, 0.3457, 0.3585)
	srgb := primaries(0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
	srgbCurve := para(3, 2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045)
	var table []uint16
	for i := 0; i < 1024; i++ {
		table = append(table, uint16(math.Round(srgbLinear(float64(i)/1023)*65535)))
	}
	profiles := map[string][]byte{
		"display-p3-v4": matrixProfile(4, "Display P3 (test)", p3, srgbCurve),
		"adobe-rgb-v2":  matrixProfile(2, "Adobe RGB (1998) compatible (test)", adobe, curvGamma(563.0/256)),
		"prophoto-v4":   matrixProfile(4, "ProPhoto RGB (test)", prophoto, para(0, 1.8)),
		"srgb-table-v2": matrixProfile(2, "sRGB with a table curve (test)", srgb, curvTable(table)),
		"gray-22-v2":    grayProfile("Gray gamma 2.2 (test)", curvGamma(2.2)),
		"p3-lut-v4":     rgbLUTProfile("Display P3 as a LUT (test)", p3),
		"cmyk-lut16-v2": cmykProfile(2, "CMYK lut16 (test)"),
		"cmyk-mab-v4":   cmykProfile(4, "CMYK lutAtoB (test)"),
	}
	for name, data := range profiles {
		write(name+".icc", data)
	}

	// The chart: 4 x 4 flat patches of 32 x 32 pixels.
	rgbPatches := [][3]uint8{
		{0, 0, 0}, {255, 255, 255}, {128, 128, 128}, {255, 0, 0},
		{0, 255, 0}, {0, 0, 255}, {200, 120, 60}, {60, 150, 200},
		{230, 200, 40}, {120, 40, 160}, {40, 180, 120}, {250, 180, 190},
		{30, 60, 30}, {180, 220, 250}, {90, 60, 40}, {220, 60, 90},
	}
	cmykPatches := [][4]uint8{
		{0, 0, 0, 0}, {0, 0, 0, 255}, {0, 0, 0, 128}, {255, 0, 0, 0},
		{0, 255, 0, 0}, {0, 0, 255, 0}, {255, 255, 0, 0}, {0, 255, 255, 0},
		{255, 0, 255, 0}, {64, 128, 192, 32}, {200, 30, 90, 10}, {20, 20, 20, 200},
		{128, 64, 0, 0}, {0, 100, 200, 50}, {180, 160, 40, 20}, {10, 200, 120, 0},
	}
	rgbChart := image.NewRGBA(image.Rect(0, 0, 128, 128))
	rgb16Chart := image.NewRGBA64(image.Rect(0, 0, 128, 128))
	grayChart := image.NewGray(image.Rect(0, 0, 128, 128))
	for i, c := range rgbPatches {
		x0, y0 := i%4*32, i/4*32
		for y := y0; y < y0+32; y++ {
			for x := x0; x < x0+32; x++ {
				rgbChart.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 255})
				rgb16Chart.SetRGBA64(x, y, color.RGBA64{uint16(c[0]) * 257, uint16(c[1]) * 257, uint16(c[2]) * 257, 65535})
				grayChart.SetGray(x, y, color.Gray{c[0]})
			}
		}
	}
	charts := map[string]any{"rgb": rgbPatches, "cmyk": cmykPatches}
	data, _ := json.MarshalIndent(charts, "", " ")
	write("charts.json", data)

	tmp, err := os.MkdirTemp("", "mkcolor")
	must(err)
	defer os.RemoveAll(tmp)
	plain := filepath.Join(tmp, "plain.png")
	must(os.WriteFile(plain, encodePNG(rgbChart), 0o644))
	for _, name := range []string{"display-p3-v4", "adobe-rgb-v2", "prophoto-v4", "srgb-table-v2", "p3-lut-v4"} {
		icc := profiles[name]
		// JPEG at quality 100: flat patches keep their values.
		var j bytes.Buffer
		must(jpeg.Encode(&j, rgbChart, &jpeg.Options{Quality: 100}))
		write(name+".jpeg", withJPEGICC(j.Bytes(), icc))
		write(name+".png", withICCP(encodePNG(rgbChart), icc))
		write(name+"-16bit.png", withICCP(encodePNG(rgb16Chart), icc))
		src := filepath.Join(tmp, name+".png")
		must(os.WriteFile(src, withICCP(encodePNG(rgbChart), icc), 0o644))
		run("cwebp", "-quiet", "-lossless", "-metadata", "icc", src, "-o", filepath.Join(dir, name+".webp"))
		iccFile := filepath.Join(tmp, name+".icc")
		must(os.WriteFile(iccFile, icc, 0o644))
		run("avifenc", "--speed", "10", "--min", "0", "--max", "0", "-y", "444", "--icc", iccFile, plain, filepath.Join(dir, name+".avif"))
	}
	// AVIF described by CICP codes: Display P3 primaries, sRGB transfer.
	run("avifenc", "--speed", "10", "--min", "0", "--max", "0", "-y", "444", "--cicp", "12/13/1", plain, filepath.Join(dir, "cicp-p3.avif"))
	var g bytes.Buffer
	must(jpeg.Encode(&g, grayChart, &jpeg.Options{Quality: 100}))
	write("gray-22-v2.jpeg", withJPEGICC(g.Bytes(), profiles["gray-22-v2"]))
	write("gray-22-v2.png", withICCP(encodePNG(grayChart), profiles["gray-22-v2"]))
	// An unsupported profile (a named-colour class with neither matrix nor
	// A2B table) must not stop the upload.
	var u bytes.Buffer
	must(jpeg.Encode(&u, rgbChart, &jpeg.Options{Quality: 100}))
	write("unsupported-profile.jpeg", withJPEGICC(u.Bytes(), namedColorProfile()))
	// The CMYK JPEGs come from expected.py: PIL writes CMYK JPEGs, Go does not.
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		log.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func write(name string, data []byte) { must(os.WriteFile(filepath.Join(dir, name), data, 0o644)) }

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	must(png.Encode(&b, img))
	return b.Bytes()
}

// withJPEGICC inserts the profile as APP2 ICC_PROFILE segments, split in
// chunks of 1000 bytes so that reassembly is tested, written out of order.
func withJPEGICC(jpg, icc []byte) []byte {
	const chunk = 1000
	n := (len(icc) + chunk - 1) / chunk
	var segs [][]byte
	for i := 0; i < n; i++ {
		part := icc[i*chunk : min(len(icc), (i+1)*chunk)]
		seg := append([]byte("ICC_PROFILE\x00"), byte(i+1), byte(n))
		seg = append(seg, part...)
		segs = append(segs, append([]byte{0xFF, 0xE2, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...))
	}
	if len(segs) > 1 {
		segs[0], segs[1] = segs[1], segs[0]
	}
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// withICCP inserts an iCCP chunk after IHDR.
func withICCP(p, icc []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(icc)
	zw.Close()
	return imagetest.WithPNGChunk(p, "iCCP", append([]byte("test\x00\x00"), z.Bytes()...))
}

func srgbLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// ICC writing.

func s15(v float64) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(int32(math.Round(v*65536))))
	return b
}

func xyzTag(x, y, z float64) []byte {
	return append(append(append([]byte("XYZ \x00\x00\x00\x00"), s15(x)...), s15(y)...), s15(z)...)
}

func curvGamma(g float64) []byte {
	b := []byte("curv\x00\x00\x00\x00\x00\x00\x00\x01")
	return append(b, byte(int(math.Round(g*256))>>8), byte(int(math.Round(g*256))))
}

func curvTable(t []uint16) []byte {
	b := []byte("curv\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
	for _, v := range t {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func para(typ int, params ...float64) []byte {
	b := []byte("para\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint16(b, uint16(typ))
	b = append(b, 0, 0)
	for _, p := range params {
		b = append(b, s15(p)...)
	}
	return b
}

func textTag(version int, s string) []byte {
	if version >= 4 {
		b := []byte("mluc\x00\x00\x00\x00")
		b = binary.BigEndian.AppendUint32(b, 1)
		b = binary.BigEndian.AppendUint32(b, 12)
		b = append(b, "enUS"...)
		b = binary.BigEndian.AppendUint32(b, uint32(2*len(s)))
		b = binary.BigEndian.AppendUint32(b, 28)
		for _, r := range s {
			b = binary.BigEndian.AppendUint16(b, uint16(r))
		}
		return b
	}
	b := []byte("desc\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)+1))
	b = append(b, s...)
	b = append(b, 0)
	b = append(b, make([]byte, 4+4+2+1+67)...) // no Unicode, no ScriptCode
	return b
}

type tag struct {
	sig  string
	data []byte
}

// profile assembles an ICC profile.
func profile(version int, class, space, pcs string, tags []tag) []byte {
	var body []byte
	offsets := make([]int, len(tags))
	start := 128 + 4 + 12*len(tags)
	for i, t := range tags {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		offsets[i] = start + len(body)
		body = append(body, t.data...)
	}
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	size := start + len(body)
	h := make([]byte, 128)
	binary.BigEndian.PutUint32(h, uint32(size))
	if version >= 4 {
		binary.BigEndian.PutUint32(h[8:], 0x04300000)
	} else {
		binary.BigEndian.PutUint32(h[8:], 0x02100000)
	}
	copy(h[12:], class)
	copy(h[16:], space)
	copy(h[20:], pcs)
	binary.BigEndian.PutUint16(h[24:], 2026) // date
	binary.BigEndian.PutUint16(h[26:], 11)
	binary.BigEndian.PutUint16(h[28:], 21)
	copy(h[36:], "acsp")
	copy(h[68:], s15(0.9642))
	copy(h[72:], s15(1.0))
	copy(h[76:], s15(0.8249))
	out := append(h, binary.BigEndian.AppendUint32(nil, uint32(len(tags)))...)
	for i, t := range tags {
		out = append(out, t.sig...)
		out = binary.BigEndian.AppendUint32(out, uint32(offsets[i]))
		out = binary.BigEndian.AppendUint32(out, uint32(len(t.data)))
	}
	return append(out, body...)
}

// primaries returns the D50-adapted (Bradford) colorants of an RGB space:
// columns red, green, blue of its RGB to XYZ matrix.
func primaries(xr, yr, xg, yg, xb, yb, xw, yw float64) [9]float64 {
	xyz := func(x, y float64) [3]float64 { return [3]float64{x / y, 1, (1 - x - y) / y} }
	r, g, b, w := xyz(xr, yr), xyz(xg, yg), xyz(xb, yb), xyz(xw, yw)
	m := [9]float64{r[0], g[0], b[0], r[1], g[1], b[1], r[2], g[2], b[2]}
	s := mulv(inv(m), w)
	rgb := [9]float64{m[0] * s[0], m[1] * s[1], m[2] * s[2], m[3] * s[0], m[4] * s[1], m[5] * s[2], m[6] * s[0], m[7] * s[1], m[8] * s[2]}
	brad := [9]float64{0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296}
	sw := mulv(brad, w)
	dw := mulv(brad, [3]float64{0.9642, 1, 0.8249})
	d := [9]float64{dw[0] / sw[0], 0, 0, 0, dw[1] / sw[1], 0, 0, 0, dw[2] / sw[2]}
	return mul(inv(brad), mul(d, mul(brad, rgb)))
}

func mulv(m [9]float64, v [3]float64) [3]float64 {
	return [3]float64{m[0]*v[0] + m[1]*v[1] + m[2]*v[2], m[3]*v[0] + m[4]*v[1] + m[5]*v[2], m[6]*v[0] + m[7]*v[1] + m[8]*v[2]}
}

func mul(a, b [9]float64) [9]float64 {
	var r [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			r[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return r
}

func inv(m [9]float64) [9]float64 {
	a, b, c, d, e, f, g, h, i := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
	det := a*(e*i-f*h) - b*(d*i-f*g) + c*(d*h-e*g)
	return [9]float64{(e*i - f*h) / det, (c*h - b*i) / det, (b*f - c*e) / det, (f*g - d*i) / det, (a*i - c*g) / det, (c*d - a*f) / det, (d*h - e*g) / det, (b*g - a*h) / det, (a*e - b*d) / det}
}

func matrixProfile(version int, desc string, m [9]float64, trc []byte) []byte {
	return profile(version, "mntr", "RGB ", "XYZ ", []tag{
		{"desc", textTag(version, desc)},
		{"cprt", textTag(version, "CC0")},
		{"wtpt", xyzTag(0.9642, 1, 0.8249)},
		{"rXYZ", xyzTag(m[0], m[3], m[6])},
		{"gXYZ", xyzTag(m[1], m[4], m[7])},
		{"bXYZ", xyzTag(m[2], m[5], m[8])},
		{"rTRC", trc}, {"gTRC", trc}, {"bTRC", trc},
	})
}

func grayProfile(desc string, trc []byte) []byte {
	return profile(2, "mntr", "GRAY", "XYZ ", []tag{
		{"desc", textTag(2, desc)},
		{"cprt", textTag(2, "CC0")},
		{"wtpt", xyzTag(0.9642, 1, 0.8249)},
		{"kTRC", trc},
	})
}

func namedColorProfile() []byte {
	return profile(2, "nmcl", "RGB ", "Lab ", []tag{{"desc", textTag(2, "Named colours (unsupported, test)")}})
}

// rgbLUTProfile samples an RGB space (sRGB-curved primaries m) into a
// lutAtoB table with an XYZ PCS: A curves, a 17-point CLUT, B curves.
func rgbLUTProfile(desc string, m [9]float64) []byte {
	const grid = 17
	identity := para(0, 1.0)
	var clut []byte
	for r := 0; r < grid; r++ {
		for g := 0; g < grid; g++ {
			for b := 0; b < grid; b++ {
				lr, lg, lb := srgbLinear(float64(r)/(grid-1)), srgbLinear(float64(g)/(grid-1)), srgbLinear(float64(b)/(grid-1))
				x := mulv(m, [3]float64{lr, lg, lb})
				for _, v := range x {
					clut = binary.BigEndian.AppendUint16(clut, uint16(math.Round(math.Max(0, math.Min(v*32768, 65535)))))
				}
			}
		}
	}
	return profile(4, "mntr", "RGB ", "XYZ ", []tag{
		{"desc", textTag(4, desc)},
		{"cprt", textTag(4, "CC0")},
		{"wtpt", xyzTag(0.9642, 1, 0.8249)},
		{"A2B0", mAB(3, 3, grid, clut, identity, identity)},
	})
}

// mAB builds a lutAtoB element: B curves, CLUT and A curves (no matrix,
// no M curves).
func mAB(in, out, grid int, clut16 []byte, aCurve, bCurve []byte) []byte {
	pad := func(b []byte) []byte {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	var bCurves, aCurves []byte
	for i := 0; i < out; i++ {
		bCurves = append(bCurves, pad(append([]byte{}, bCurve...))...)
	}
	for i := 0; i < in; i++ {
		aCurves = append(aCurves, pad(append([]byte{}, aCurve...))...)
	}
	cl := make([]byte, 20)
	for i := 0; i < in; i++ {
		cl[i] = byte(grid)
	}
	cl[16] = 2
	cl = pad(append(cl, clut16...))
	offB := 32
	offCLUT := offB + len(bCurves)
	offA := offCLUT + len(cl)
	h := []byte("mAB \x00\x00\x00\x00")
	h = append(h, byte(in), byte(out), 0, 0)
	h = binary.BigEndian.AppendUint32(h, uint32(offB))
	h = binary.BigEndian.AppendUint32(h, 0) // matrix
	h = binary.BigEndian.AppendUint32(h, 0) // M curves
	h = binary.BigEndian.AppendUint32(h, uint32(offCLUT))
	h = binary.BigEndian.AppendUint32(h, uint32(offA))
	return append(append(append(h, bCurves...), cl...), aCurves...)
}

// cmykToLab is the test press: a simple ink model (subtractive, with a
// little dot gain), then sRGB to Lab (D50).
func cmykToLab(c, m, y, k float64) (float64, float64, float64) {
	gain := func(v float64) float64 { return math.Pow(v, 0.9) }
	r := (1 - gain(c)) * (1 - gain(k))
	g := (1 - gain(m)) * (1 - 0.95*gain(k))
	b := (1 - gain(y)) * (1 - 0.9*gain(k))
	srgbD50 := primaries(0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
	xyz := mulv(srgbD50, [3]float64{srgbLinear(r), srgbLinear(g), srgbLinear(b)})
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	fx, fy, fz := f(xyz[0]/0.9642), f(xyz[1]), f(xyz[2]/0.8249)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// cmykProfile writes the test press as an output profile whose A2B0 is a
// lut16 (version 2: legacy 16-bit Lab) or a lutAtoB (version 4) with a
// Lab PCS. Its B2A0 is a crude inverse, present because output profiles
// need one; only A2B0 is used.
func cmykProfile(version int, desc string) []byte {
	const grid = 9
	var clut []byte
	for ci := 0; ci < grid; ci++ {
		for mi := 0; mi < grid; mi++ {
			for yi := 0; yi < grid; yi++ {
				for ki := 0; ki < grid; ki++ {
					l, a, b := cmykToLab(float64(ci)/(grid-1), float64(mi)/(grid-1), float64(yi)/(grid-1), float64(ki)/(grid-1))
					var enc [3]float64
					if version >= 4 {
						enc = [3]float64{l / 100 * 65535, (a + 128) * 257, (b + 128) * 257}
					} else {
						enc = [3]float64{l / 100 * 65280, (a + 128) * 256, (b + 128) * 256}
					}
					for _, v := range enc {
						clut = binary.BigEndian.AppendUint16(clut, uint16(math.Round(math.Max(0, math.Min(65535, v)))))
					}
				}
			}
		}
	}
	var a2b []byte
	if version >= 4 {
		a2b = mAB(4, 3, grid, clut, para(0, 1.0), para(0, 1.0))
	} else {
		a2b = []byte("mft2\x00\x00\x00\x00")
		a2b = append(a2b, 4, 3, grid, 0)
		for _, v := range []float64{1, 0, 0, 0, 1, 0, 0, 0, 1} {
			a2b = append(a2b, s15(v)...)
		}
		a2b = binary.BigEndian.AppendUint16(a2b, 2)
		a2b = binary.BigEndian.AppendUint16(a2b, 2)
		for i := 0; i < 4; i++ {
			a2b = binary.BigEndian.AppendUint16(a2b, 0)
			a2b = binary.BigEndian.AppendUint16(a2b, 65535)
		}
		a2b = append(a2b, clut...)
		for i := 0; i < 3; i++ {
			a2b = binary.BigEndian.AppendUint16(a2b, 0)
			a2b = binary.BigEndian.AppendUint16(a2b, 65535)
		}
	}
	// B2A0: Lab to CMYK, a 2-point grid mapping L to K only.
	b2a := []byte("mft2\x00\x00\x00\x00")
	b2a = append(b2a, 3, 4, 2, 0)
	for _, v := range []float64{1, 0, 0, 0, 1, 0, 0, 0, 1} {
		b2a = append(b2a, s15(v)...)
	}
	b2a = binary.BigEndian.AppendUint16(b2a, 2)
	b2a = binary.BigEndian.AppendUint16(b2a, 2)
	for i := 0; i < 3; i++ {
		b2a = binary.BigEndian.AppendUint16(b2a, 0)
		b2a = binary.BigEndian.AppendUint16(b2a, 65535)
	}
	for l := 0; l < 2; l++ {
		for range 4 {
			for _, v := range []uint16{0, 0, 0, uint16(65535 * (1 - l))} {
				b2a = binary.BigEndian.AppendUint16(b2a, v)
			}
		}
	}
	for i := 0; i < 4; i++ {
		b2a = binary.BigEndian.AppendUint16(b2a, 0)
		b2a = binary.BigEndian.AppendUint16(b2a, 65535)
	}
	return profile(version, "prtr", "CMYK", "Lab ", []tag{
		{"desc", textTag(version, desc)},
		{"cprt", textTag(version, "CC0")},
		{"wtpt", xyzTag(0.9642, 1, 0.8249)},
		{"A2B0", a2b},
		{"B2A0", b2a},
	})
}
