package pipeline

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopictures/pictures/internal/imagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestColourManagement decodes the charts of testdata/color, each carrying
// an ICC profile (or CICP codes) in a format, converts them to sRGB as
// variants are, and compares every patch with what littleCMS gives for the
// same colours (expected.json, from internal/cmd/mkcolor/expected.py).
func TestColourManagement(t *testing.T) {
	dir := "../testdata/color"
	var expected map[string][][3]int
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &expected))

	type chart struct {
		file, profile string
		tolerance     int
	}
	var charts []chart
	for _, p := range []string{"display-p3-v4", "adobe-rgb-v2", "prophoto-v4", "srgb-table-v2", "p3-lut-v4"} {
		charts = append(charts,
			chart{p + ".png", p, 1}, chart{p + "-16bit.png", p, 1}, chart{p + ".webp", p, 1},
			chart{p + ".jpeg", p, 3}, chart{p + ".avif", p, 3})
	}
	charts = append(charts,
		chart{"cicp-p3.avif", "display-p3-v4", 3},
		chart{"gray-22-v2.png", "gray-22-v2", 1}, chart{"gray-22-v2.jpeg", "gray-22-v2", 2},
		chart{"cmyk-lut16-v2.jpeg", "cmyk-lut16-v2", 3}, chart{"cmyk-mab-v4.jpeg", "cmyk-mab-v4", 3},
		chart{"cmyk-lut16-v2-ycck.jpeg", "cmyk-lut16-v2", 3},
	)
	for _, c := range charts {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			require.NoError(t, err)
			info, err := Inspect(data)
			require.NoError(t, err)
			img, err := Decode(data, info)
			require.NoError(t, err)
			require.NoError(t, img.Warning())
			out := NewResizer(img).Resize(128, 128)
			var bad []string
			for i, want := range expected[c.profile] {
				got := out.RGBAAt(i%4*32+16, i/4*32+16)
				for ch, g := range []uint8{got.R, got.G, got.B} {
					if d := int(g) - want[ch]; d > c.tolerance || d < -c.tolerance {
						bad = append(bad, fmt.Sprintf("patch %d: got %d,%d,%d, littleCMS %v", i, got.R, got.G, got.B, want))
						break
					}
				}
			}
			assert.Empty(t, bad, "%s (tolerance %d)", c.file, c.tolerance)
		})
	}
}

func TestUnsupportedProfileIsReported(t *testing.T) {
	data, err := os.ReadFile("../testdata/color/unsupported-profile.jpeg")
	require.NoError(t, err)
	info, err := Inspect(data)
	require.NoError(t, err)
	require.NotNil(t, info.ICC)
	img, err := Decode(data, info)
	require.NoError(t, err, "an unsupported profile never fails the decode")
	assert.True(t, errors.Is(img.Warning(), errUnsupportedProfile))
	assert.Contains(t, img.Warning().Error(), "Named colours")
	out := NewResizer(img).Resize(128, 128)
	got := out.RGBAAt(3*32+16, 16) // patch 3, pure red, taken as sRGB
	assert.InDelta(t, 255, int(got.R), 3)
	assert.InDelta(t, 0, int(got.G), 3)
	assert.InDelta(t, 0, int(got.B), 3)
}

// TestCMYKWithoutProfile checks the documented approximation for CMYK
// JPEGs without a profile (Adobe's inverted CMYK, as Photoshop writes):
// R = (1-C)(1-K), and so on, as browsers show them.
func TestCMYKWithoutProfile(t *testing.T) {
	var charts struct{ CMYK [][4]int }
	data, err := os.ReadFile("../testdata/color/charts.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &charts))
	data, err = os.ReadFile("../testdata/color/cmyk-no-profile.jpeg")
	require.NoError(t, err)
	info, err := Inspect(data)
	require.NoError(t, err)
	assert.Nil(t, info.ICC)
	img, err := Decode(data, info)
	require.NoError(t, err)
	require.NoError(t, img.Warning())
	out := NewResizer(img).Resize(128, 128)
	require.Len(t, charts.CMYK, 16)
	for i, p := range charts.CMYK {
		got := out.RGBAAt(i%4*32+16, i/4*32+16)
		want := [3]int{(255 - p[0]) * (255 - p[3]) / 255, (255 - p[1]) * (255 - p[3]) / 255, (255 - p[2]) * (255 - p[3]) / 255}
		for ch, g := range []uint8{got.R, got.G, got.B} {
			assert.InDelta(t, want[ch], int(g), 3, "patch %d channel %d", i, ch)
		}
	}
}

// TestPrimariesMatchTheProfiles checks the colorants computed from CICP
// primaries against those of the published profiles.
func TestPrimariesMatchTheProfiles(t *testing.T) {
	srgb := primariesD50([8]float64{0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290})
	for i := range srgb {
		assert.InDelta(t, srgbD50[i], srgb[i], 0.0005, "sRGB colorant %d", i)
	}
	// Apple's Display P3 profile: rXYZ, gXYZ, bXYZ.
	apple := [9]float64{0.515121, 0.291977, 0.157104, 0.241196, 0.692245, 0.066574, -0.001053, 0.041885, 0.784073}
	p3 := primariesD50(cicpPrimaries[12])
	for i := range apple {
		assert.InDelta(t, apple[i], p3[i], 0.0006, "Display P3 colorant %d", i)
	}
}

func TestJPEGICCChunksReassemble(t *testing.T) {
	data, err := os.ReadFile("../testdata/color/p3-lut-v4.jpeg")
	require.NoError(t, err)
	icc, err := os.ReadFile("../testdata/color/p3-lut-v4.icc")
	require.NoError(t, err)
	assert.Equal(t, icc, jpegICC(data), "30 chunks written out of order come back whole")
	assert.True(t, strings.HasPrefix(string(icc[36:40]), "acsp"))
}

// TestAVIFIsTaggedSRGB checks the colour description of AVIF outputs:
// sRGB primaries and transfer, the BT.601 matrix the encoder used, full
// range, and no ICC profile; and that a decoder reading those codes gets
// the colours back.
func TestAVIFIsTaggedSRGB(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	patches := []color.RGBA{{220, 30, 40, 255}, {30, 200, 60, 255}, {40, 60, 220, 255}, {240, 200, 30, 255}}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			img.SetRGBA(x, y, patches[y/32*2+x/32])
		}
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(context.Background(), &buf, "AVIF", img, Encoding{AVIFQuality: 95}))
	data := buf.Bytes()
	var nclx [][]byte
	ipco := findBox(findBox(findBox(data, "meta")[4:], "iprp"), "ipco")
	for rest := ipco; ; {
		typ, body, next, ok := nextBox(rest)
		if !ok {
			break
		}
		rest = next
		if typ == "colr" {
			require.Equal(t, "nclx", string(body[:4]), "no ICC profile")
			nclx = append(nclx, body[4:11])
		}
	}
	require.Len(t, nclx, 1)
	assert.Equal(t, []byte{0, 1, 0, 13, 0, 6, 0x80}, nclx[0], "primaries 1, transfer 13, matrix 6, full range")

	info, err := Inspect(data)
	require.NoError(t, err)
	out, err := Decode(data, info)
	require.NoError(t, err)
	require.NoError(t, out.Warning())
	rgba := out.RGBA()
	for i, want := range patches {
		got := rgba.RGBAAt(i%2*32+16, i/2*32+16)
		for ch, g := range []uint8{got.R, got.G, got.B} {
			assert.InDelta(t, []uint8{want.R, want.G, want.B}[ch], g, 4, "patch %d channel %d", i, ch)
		}
	}
}

// TestAVIFKeepsAlpha encodes a picture whose alpha ramps from transparent
// to opaque, in colour, and checks alpha and colour come back.
func TestAVIFKeepsAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			src.SetNRGBA(x, y, color.NRGBA{200, 100, 50, uint8(x * 255 / 63)})
		}
	}
	img := image.NewRGBA(src.Rect)
	draw.Draw(img, img.Rect, src, image.Point{}, draw.Src) // premultiplied
	var buf bytes.Buffer
	require.NoError(t, Encode(context.Background(), &buf, "AVIF", img, Encoding{AVIFQuality: 90}))
	info, err := Inspect(buf.Bytes())
	require.NoError(t, err)
	dec, err := Decode(buf.Bytes(), info)
	require.NoError(t, err)
	assert.False(t, dec.Opaque())
	out := dec.RGBA()
	for _, x := range []int{2, 16, 32, 48, 62} {
		c := color.NRGBAModel.Convert(out.At(x, 32)).(color.NRGBA)
		assert.InDelta(t, x*255/63, int(c.A), 4, "alpha at x=%d", x)
		if c.A >= 64 {
			assert.InDelta(t, 200, int(c.R), 8, "red at x=%d", x)
			assert.InDelta(t, 100, int(c.G), 8, "green at x=%d", x)
			assert.InDelta(t, 50, int(c.B), 8, "blue at x=%d", x)
		}
	}
}

// TestSixteenBitsDoNotBand converts a 16-bit ProPhoto gray ramp through
// the shadows to sRGB. sRGB's curve is steeper there than ProPhoto's, so
// truncating to 8 bits before converting leaves gaps: 21 sRGB levels that
// no pixel takes (7, 9, 12, 14...), visible as bands. Kept at 16 bits
// until the final rounding, every level between the ends appears, in
// order, at full size and downscaled.
func TestSixteenBitsDoNotBand(t *testing.T) {
	const w = 2048
	src := image.NewRGBA64(image.Rect(0, 0, w, 4))
	for x := 0; x < w; x++ {
		v := uint16(x * 4 * 65535 / (10 * (w - 1)))
		for y := 0; y < 4; y++ {
			src.SetRGBA64(x, y, color.RGBA64{v, v, v, 0xFFFF})
		}
	}
	var p bytes.Buffer
	require.NoError(t, png.Encode(&p, src))
	icc, err := os.ReadFile("../testdata/color/prophoto-v4.icc")
	require.NoError(t, err)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(icc)
	require.NoError(t, zw.Close())
	data := imagetest.WithPNGChunk(p.Bytes(), "iCCP", append([]byte("ProPhoto\x00\x00"), z.Bytes()...))
	info, err := Inspect(data)
	require.NoError(t, err)
	img, err := Decode(data, info)
	require.NoError(t, err)
	require.NoError(t, img.Warning())
	for _, width := range []int{w, w / 4} {
		out := NewResizer(img).Resize(width, 2)
		seen := map[uint8]bool{}
		lo, hi, prev := uint8(255), uint8(0), uint8(0)
		for x := 0; x < width; x++ {
			r := out.RGBAAt(x, 1).R
			require.GreaterOrEqual(t, r, prev, "width %d: the ramp goes down at x=%d", width, x)
			prev = r
			seen[r] = true
			lo, hi = min(lo, r), max(hi, r)
		}
		var gaps []int
		for v := int(lo); v <= int(hi); v++ {
			if !seen[uint8(v)] {
				gaps = append(gaps, v)
			}
		}
		assert.Empty(t, gaps, "width %d: sRGB levels %d to %d, these missing", width, lo, hi)
		assert.InDelta(t, 121, int(hi), 1, "width %d: the ramp ends at ProPhoto 0.4, sRGB 121", width)
	}
}

// BenchmarkCMYKToSRGB converts a 12-megapixel CMYK image (a smooth
// synthetic scene) through the test press profile, as decoding a CMYK JPEG
// with that profile does.
func BenchmarkCMYKToSRGB(b *testing.B) {
	icc, err := os.ReadFile("../testdata/color/cmyk-lut16-v2.icc")
	require.NoError(b, err)
	p, err := parseICC(icc)
	require.NoError(b, err)
	tr, err := newTransform(p)
	require.NoError(b, err)
	src := photo(4000, 3000)
	m := image.NewCMYK(src.Rect)
	for i := 0; i < len(src.Pix); i += 4 {
		c := color.CMYKModel.Convert(color.RGBA{src.Pix[i], src.Pix[i+1], src.Pix[i+2], 255}).(color.CMYK)
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.C, c.M, c.Y, c.K
	}
	b.ReportAllocs()
	for b.Loop() {
		cmykToRGBA16(m, tr)
	}
}

// TestCMYKTableFollowsTheProfile compares the sampled table with the
// profile's own evaluation over CMYK values off the grid.
func TestCMYKTableFollowsTheProfile(t *testing.T) {
	for _, name := range []string{"cmyk-lut16-v2", "cmyk-mab-v4"} {
		icc, err := os.ReadFile("../testdata/color/" + name + ".icc")
		require.NoError(t, err)
		p, err := parseICC(icc)
		require.NoError(t, err)
		tr, err := newTransform(p)
		require.NoError(t, err)
		table := newCMYKTable(tr)
		worst, total, count := 0, 0, 0
		for c := 0; c < 256; c += 17 {
			for m := 3; m < 256; m += 23 {
				for y := 7; y < 256; y += 29 {
					for k := 11; k < 256; k += 31 {
						r, g, b := tr.rgb([]float64{float64(c) / 255, float64(m) / 255, float64(y) / 255, float64(k) / 255})
						tr16, tg16, tb16 := table.at(uint8(c), uint8(m), uint8(y), uint8(k))
						for _, pair := range [][2]int{{int(linearToU16(float32(r))), int(tr16)}, {int(linearToU16(float32(g))), int(tg16)}, {int(linearToU16(float32(b))), int(tb16)}} {
							d := abs(pair[0] - pair[1])
							worst = max(worst, d)
							total += d
							count++
						}
					}
				}
			}
		}
		// In 8-bit levels: at worst 3 (in deep shadows, where sRGB's curve
		// is steepest), and a small fraction on average.
		t.Logf("%s: worst %.2f, mean %.3f levels", name, float64(worst)/257, float64(total)/float64(count)/257)
		assert.LessOrEqual(t, float64(worst)/257, 3.5, name)
		assert.Less(t, float64(total)/float64(count)/257, 0.25, name)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
