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
	files, _ := filepath.Glob("../../testdata/hostile/*")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 1<<20 {
			f.Add(data)
		}
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
