package pipeline

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"testing"

	"github.com/gen2brain/webp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/internal/imagetest"
	"golang.org/x/image/draw"
)

// patches is a 64x64 image of four flat colours.
func patches(colours [4]color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetRGBA(x, y, colours[y/32*2+x/32])
		}
	}
	return img
}

// TestEncodeWebP checks that WebP outputs are lossy VP8 without any other
// chunk (no EXIF, XMP or ICCP: untagged is sRGB), at their size, and that
// libwebp itself (as browsers) and Decode both read their colours back.
func TestEncodeWebP(t *testing.T) {
	colours := [4]color.RGBA{{220, 30, 40, 255}, {30, 200, 60, 255}, {40, 60, 220, 255}, {240, 200, 30, 255}}
	var buf bytes.Buffer
	require.NoError(t, Encode(context.Background(), &buf, "WEBP", patches(colours), Encoding{WebPQuality: 90}))
	data := buf.Bytes()
	assert.Equal(t, []string{"VP8 "}, imagetest.WebPChunks(t, data))

	ref, err := webp.DecodeAll(bytes.NewReader(data)) // libwebp's own RGB
	require.NoError(t, err)
	info, err := Inspect(data)
	require.NoError(t, err)
	assert.Equal(t, [2]int{64, 64}, [2]int{info.Width, info.Height})
	assert.Nil(t, info.ICC)
	dec, err := Decode(data, info)
	require.NoError(t, err)
	ours := dec.RGBA()
	for i, want := range colours {
		x, y := i%2*32+16, i/2*32+16
		lib := color.RGBAModel.Convert(ref.Image[0].At(x, y)).(color.RGBA)
		got := ours.RGBAAt(x, y)
		for ch := range 3 {
			w := []uint8{want.R, want.G, want.B}[ch]
			assert.InDelta(t, w, []uint8{lib.R, lib.G, lib.B}[ch], 3, "libwebp: patch %d channel %d", i, ch)
			assert.InDelta(t, w, []uint8{got.R, got.G, got.B}[ch], 3, "Decode: patch %d channel %d", i, ch)
		}
	}
}

// TestLossyWebPInputColours decodes lossy WebP uploads, opaque (YCbCr)
// and with alpha (NYCbCrA), whose planes are in studio range, and checks
// their colours against libwebp's decoding.
func TestLossyWebPInputColours(t *testing.T) {
	for _, alpha := range []uint8{255, 200} {
		src := image.NewNRGBA(image.Rect(0, 0, 64, 64))
		colours := [4]color.NRGBA{{200, 100, 50, alpha}, {16, 16, 16, alpha}, {245, 245, 245, alpha}, {60, 140, 230, alpha}}
		for y := range 64 {
			for x := range 64 {
				src.SetNRGBA(x, y, colours[y/32*2+x/32])
			}
		}
		var buf bytes.Buffer
		require.NoError(t, webp.Encode(&buf, src, webp.Options{Quality: 90}))
		data := buf.Bytes()
		info, err := Inspect(data)
		require.NoError(t, err)
		dec, err := Decode(data, info)
		require.NoError(t, err)
		ref, err := webp.DecodeAll(bytes.NewReader(data))
		require.NoError(t, err)
		ours := dec.RGBA()
		for i, want := range colours {
			x, y := i%2*32+16, i/2*32+16
			got := color.NRGBAModel.Convert(ours.At(x, y)).(color.NRGBA)
			lib := color.NRGBAModel.Convert(ref.Image[0].At(x, y)).(color.NRGBA)
			assert.Equal(t, want.A, got.A, "alpha %d: patch %d", alpha, i)
			for ch := range 3 {
				assert.InDelta(t, []uint8{lib.R, lib.G, lib.B}[ch], []uint8{got.R, got.G, got.B}[ch], 2,
					"alpha %d: patch %d channel %d: got %v, libwebp %v, source %v", alpha, i, ch, got, lib, want)
			}
		}
	}
}

func TestFullRangeTables(t *testing.T) {
	for _, tt := range []struct {
		table   *[256]byte
		in, out byte
	}{
		{&studioLuma, 0, 0}, {&studioLuma, 16, 0}, {&studioLuma, 126, 128}, {&studioLuma, 235, 255}, {&studioLuma, 255, 255},
		{&studioChroma, 16, 1}, {&studioChroma, 128, 128}, {&studioChroma, 240, 255}, {&studioChroma, 0, 0},
	} {
		assert.Equal(t, tt.out, tt.table[tt.in], "%d", tt.in)
	}
	for v := 1; v < 256; v++ {
		assert.GreaterOrEqual(t, studioLuma[v], studioLuma[v-1], "monotonic")
		assert.GreaterOrEqual(t, studioChroma[v], studioChroma[v-1], "monotonic")
	}
}

// TestWebPKeepsAlpha encodes a premultiplied picture whose alpha ramps
// from transparent to opaque, in colour, and checks that alpha and colour
// come back (not darkened by the premultiplication).
func TestWebPKeepsAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			src.SetNRGBA(x, y, color.NRGBA{200, 100, 50, uint8(x * 255 / 63)})
		}
	}
	img := image.NewRGBA(src.Rect)
	draw.Draw(img, img.Rect, src, image.Point{}, draw.Src) // premultiplied
	var buf bytes.Buffer
	require.NoError(t, Encode(context.Background(), &buf, "WEBP", img, Encoding{WebPQuality: 90}))
	assert.Equal(t, []string{"VP8X", "ALPH", "VP8 "}, imagetest.WebPChunks(t, buf.Bytes()))
	info, err := Inspect(buf.Bytes())
	require.NoError(t, err)
	dec, err := Decode(buf.Bytes(), info)
	require.NoError(t, err)
	assert.False(t, dec.Opaque())
	out := dec.RGBA()
	for _, x := range []int{2, 16, 32, 48, 62} {
		c := color.NRGBAModel.Convert(out.At(x, 32)).(color.NRGBA)
		assert.InDelta(t, x*255/63, int(c.A), 2, "alpha at x=%d", x)
		if c.A >= 64 {
			assert.InDelta(t, 200, int(c.R), 8, "red at x=%d", x)
			assert.InDelta(t, 100, int(c.G), 8, "green at x=%d", x)
			assert.InDelta(t, 50, int(c.B), 8, "blue at x=%d", x)
		}
	}
}

func TestEncodingWebP(t *testing.T) {
	d := Encoding{}.WithDefaults()
	assert.Equal(t, [2]int{75, 4}, [2]int{d.WebPQuality, d.WebPMethod})
	e := Encoding{WebPQuality: 80, WebPMethod: 6}.WithDefaults()
	assert.Equal(t, [2]int{80, 6}, [2]int{e.WebPQuality, e.WebPMethod})
	for _, tt := range []struct {
		e    Encoding
		want string
	}{
		{Encoding{WebPQuality: 101}, "WebPQuality must be between 1 and 100, got 101"},
		{Encoding{WebPQuality: -1}, "WebPQuality must be between 1 and 100, got -1"},
		{Encoding{WebPMethod: 7}, "WebPMethod must be between 1 and 6, got 7"},
	} {
		assert.EqualError(t, tt.e.Check(), tt.want)
	}
	assert.NoError(t, Encoding{WebPQuality: 100, WebPMethod: 6}.Check())
}
