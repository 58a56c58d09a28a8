package pipeline

import (
	"bytes"
	"context"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// junk is what follows an image in a hostile upload: random bytes that
// hold, here and there, what an end-of-image scanner could take for its
// marker.
func junk(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for _, m := range []string{"\xFF\xD9", "IEND", "\x3B", "\x00\x00\x00\x10mdat"} {
		copy(b[rng.IntN(n-16):], m)
	}
	return b
}

// encoded returns an image freshly encoded in every format the pipeline
// reads, keyed by format (WebP from testdata: Go has no WebP encoder).
func encoded(t *testing.T) map[Format][]byte {
	t.Helper()
	img := photo(96, 64)
	out := map[Format][]byte{}
	for _, f := range []Format{AVIF, JPEG, PNG} {
		var buf bytes.Buffer
		require.NoError(t, Encode(context.Background(), &buf, string(f), img, Encoding{}))
		out[f] = buf.Bytes()
	}
	pal := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(pal, pal.Rect, img, image.Point{}, draw.Src)
	var g bytes.Buffer
	require.NoError(t, gif.EncodeAll(&g, &gif.GIF{Image: []*image.Paletted{pal, pal}, Delay: []int{10, 10}}))
	out[GIF] = g.Bytes()
	webp, err := os.ReadFile("../testdata/hostile/lossy.webp")
	require.NoError(t, err)
	out[WEBP] = webp
	return out
}

func TestTrimRemovesTrailingData(t *testing.T) {
	tail := junk(1 << 20)
	for f, data := range encoded(t) {
		t.Run(string(f), func(t *testing.T) {
			assert.Equal(t, len(data), len(Trim(data, f)), "an image alone is kept whole")
			withJunk := append(append([]byte{}, data...), tail...)
			trimmed := Trim(withJunk, f)
			assert.Equal(t, data, trimmed, "the junk after the image is cut, the image kept")
			info, err := Inspect(trimmed)
			require.NoError(t, err)
			img, err := Decode(trimmed, info)
			require.NoError(t, err)
			img.Release()
		})
	}
}

// TestTrimKeepsWhatDecodes trims every test file that decodes, with and
// without junk after it: the result still decodes, to the same pixels.
func TestTrimKeepsWhatDecodes(t *testing.T) {
	files, _ := filepath.Glob("../testdata/hostile/*")
	colour, _ := filepath.Glob("../testdata/color/*[gfp]")
	photos, _ := filepath.Glob("../testdata/photos/*.jpg")
	tail := junk(64 << 10)
	checked := 0
	for _, name := range append(append(files, colour...), photos...) {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		info, err := Inspect(data)
		if err != nil || info.Width*info.Height > 4_000_000 {
			continue
		}
		want, err := Decode(data, info)
		if err != nil {
			continue
		}
		for _, in := range [][]byte{data, append(append([]byte{}, data...), tail...)} {
			trimmed := Trim(in, info.Format)
			require.True(t, bytes.HasPrefix(in, trimmed), name)
			assert.LessOrEqual(t, len(trimmed), len(data), "%s: the junk is cut", name)
			got, err := Decode(trimmed, info)
			if !assert.NoError(t, err, name) {
				continue
			}
			assert.Equal(t, want.RGBA().Pix, got.RGBA().Pix, "%s: same pixels", name)
			got.Release()
		}
		want.Release()
		checked++
	}
	assert.Greater(t, checked, 40)
}

func TestTrimLeavesWhatItCannotParse(t *testing.T) {
	truncated := []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF")
	for _, tc := range []struct {
		f    Format
		data []byte
	}{
		{JPEG, truncated},
		{JPEG, []byte("\xFF\xD8\xFF\xDA\x00\x02\x12\x34\xFF")},
		{PNG, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")},
		{GIF, []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00\x2C")},
		{WEBP, []byte("RIFF\xFF\xFF\x00\x00WEBPVP8 ")},
		{AVIF, []byte("\x00\x00\x00\x00ftypavif")},   // a box that runs to the end
		{AVIF, []byte("\x00\x00\xFF\xFFftypavif")},   // a box larger than the file
		{Format("TIFF"), []byte("II*\x00 whatever")}, // no format of the pipeline's
	} {
		assert.Equal(t, tc.data, Trim(tc.data, tc.f), "%s %q", tc.f, tc.data)
	}
}

// FuzzTrim: Trim never panics and returns a prefix; an image that decodes
// still decodes once trimmed, to the same size.
func FuzzTrim(f *testing.F) {
	files, _ := filepath.Glob("../testdata/hostile/*")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 1<<20 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		if err != nil {
			for _, format := range []Format{JPEG, PNG, GIF, WEBP, AVIF} {
				if !bytes.HasPrefix(data, Trim(data, format)) {
					t.Fatal("not a prefix")
				}
			}
			return
		}
		trimmed := Trim(data, info.Format)
		if !bytes.HasPrefix(data, trimmed) {
			t.Fatal("not a prefix")
		}
		if info.Width*info.Height > 1_000_000 {
			return
		}
		img, err := Decode(data, info)
		if err != nil {
			return
		}
		got, err := Decode(trimmed, info)
		if err != nil {
			t.Fatalf("decodes whole (%d bytes), not trimmed (%d bytes): %v", len(data), len(trimmed), err)
		}
		if got.Bounds() != img.Bounds() {
			t.Fatalf("trimmed decodes to %v, whole to %v", got.Bounds(), img.Bounds())
		}
	})
}
