package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspectDecode runs the header parsers (EXIF in JPEG, PNG and WebP;
// ISOBMFF for AVIF) and the decoders on arbitrary bytes: no panic, and a
// decoded image always has the upright size Inspect announced.
func FuzzInspectDecode(f *testing.F) {
	files, _ := filepath.Glob("../testdata/hostile/*")
	colour, _ := filepath.Glob("../testdata/color/*[gfp]") // .jpeg, .png, .avif, .webp
	for _, name := range append(files, colour...) {
		if data, err := os.ReadFile(name); err == nil && len(data) < 1<<20 {
			f.Add(data)
		}
	}
	// The first AVIF decode compiles the WebAssembly decoder: seconds,
	// more than the fuzzer allows one input.
	if err := WarmDecoders(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		if err != nil {
			return
		}
		if info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("orientation %d", info.Orientation)
		}
		if info.Width*info.Height > 2_000_000 {
			return // the caller's pixel budget refuses it before decoding
		}
		img, err := Decode(data, info)
		if err != nil {
			return
		}
		w, h := info.Upright()
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Fatalf("decoded %v, Inspect said %dx%d upright", b, w, h)
		}
	})
}

// FuzzICC feeds profiles to the ICC reader and, when it accepts one, runs
// colours through its conversion: no panic, no NaN, and every result a
// valid 16-bit sRGB value.
func FuzzICC(f *testing.F) {
	profiles, _ := filepath.Glob("../testdata/color/*.icc")
	for _, name := range profiles {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseICC(data)
		if err != nil {
			return
		}
		tr, err := newTransform(p)
		if err != nil || tr == nil {
			return
		}
		in := make([]float64, tr.channels())
		for _, v := range []float64{0, 0.25, 0.5, 1} {
			for i := range in {
				in[i] = v
			}
			tr.rgb(in) // must not panic
		}
		if tr.channels() == 4 {
			return // the CMYK table is tested by TestCMYKTableFollowsTheProfile
		}
		c := newConverter(tr)
		pix := []uint16{0, 0, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x8000, 0x4000, 0x2000, 0xFFFF, 0x4000, 0x4000, 0x4000, 0x8000}
		c.convert(pix, false)
		for i := 0; i < len(pix); i += 4 {
			if pix[i] > pix[i+3] || pix[i+1] > pix[i+3] || pix[i+2] > pix[i+3] {
				t.Fatalf("pixel %d: %v exceeds its alpha", i/4, pix[i:i+4])
			}
		}
	})
}
