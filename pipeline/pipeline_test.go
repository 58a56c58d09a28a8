package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"

	"github.com/gopictures/pictures/internal/imagetest"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		head string
		want Format
		ok   bool
	}{
		{"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG, true},
		{"\x89PNG\r\n\x1a\n\x00", PNG, true},
		{"GIF89a\x01\x00", GIF, true},
		{"GIF87a\x01\x00", GIF, true},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", WEBP, true},
		{"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", AVIF, true},
		{"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", AVIF, true},
		{"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "", false},
		{"RIFF\x00\x00\x00\x00WAVEfmt ", "", false},
		{"BM\x00\x00", "", false},
		{"II*\x00", "", false},
		{"<svg xmlns=", "", false},
		{"<!DOCTYPE html>", "", false},
		{"", "", false},
		{"\xff\xd8", "", false},
	}
	for _, tt := range tests {
		got, ok := sniff([]byte(tt.head))
		assert.Equal(t, tt.ok, ok, "%q", tt.head)
		assert.Equal(t, tt.want, got, "%q", tt.head)
	}
	_, err := Inspect([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))
	assert.ErrorIs(t, err, ErrHEIC)
	_, err = Inspect([]byte("hello, world"))
	assert.ErrorIs(t, err, ErrUnsupported)
}

func assertQuadrants(t *testing.T, img *Image, w, h int) {
	t.Helper()
	require.Equal(t, image.Rect(0, 0, w, h), img.Bounds())
	for _, q := range []struct {
		x, y int
		want color.RGBA
	}{
		{w / 4, h / 4, color.RGBA{255, 0, 0, 255}},
		{3 * w / 4, h / 4, color.RGBA{0, 255, 0, 255}},
		{w / 4, 3 * h / 4, color.RGBA{0, 0, 255, 255}},
		{3 * w / 4, 3 * h / 4, color.RGBA{255, 255, 255, 255}},
	} {
		got := img.at(q.x, q.y)
		for i, d := range []int{int(got.R) - int(q.want.R), int(got.G) - int(q.want.G), int(got.B) - int(q.want.B)} {
			if d > 40 || d < -40 {
				t.Fatalf("pixel (%d,%d) = %v, want about %v (channel %d)", q.x, q.y, got, q.want, i)
			}
		}
	}
}

func TestOrientationJPEGAndPNG(t *testing.T) {
	const w, h = 64, 40
	upright := imagetest.Quadrants(w, h)
	for o := 1; o <= 8; o++ {
		stored := imagetest.Stored(upright, o)
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			var j bytes.Buffer
			require.NoError(t, jpeg.Encode(&j, stored, &jpeg.Options{Quality: 95}))
			data := imagetest.WithJPEGEXIF(j.Bytes(), imagetest.TIFFOrientation(o, bo))
			info, err := Inspect(data)
			require.NoError(t, err)
			assert.Equal(t, o, info.Orientation)
			uw, uh := info.Upright()
			assert.Equal(t, [2]int{w, h}, [2]int{uw, uh}, "orientation %d", o)
			img, err := Decode(data, info)
			require.NoError(t, err)
			assertQuadrants(t, img, w, h)

			var p bytes.Buffer
			require.NoError(t, png.Encode(&p, stored))
			data = imagetest.WithPNGChunk(p.Bytes(), "eXIf", imagetest.TIFFOrientation(o, bo))
			info, err = Inspect(data)
			require.NoError(t, err)
			assert.Equal(t, o, info.Orientation, "PNG eXIf")
			img, err = Decode(data, info)
			require.NoError(t, err)
			assertQuadrants(t, img, w, h)
		}
	}
}

func TestEXIFOrientationMalformed(t *testing.T) {
	good := imagetest.TIFFOrientation(6, binary.BigEndian)
	for name, tiff := range map[string][]byte{
		"empty":         nil,
		"short":         good[:6],
		"bad magic":     append([]byte("XX"), good[2:]...),
		"offset beyond": append(append([]byte{}, good[:4]...), 0xFF, 0xFF, 0xFF, 0xF0),
		"truncated ifd": good[:14],
		"value 9":       imagetest.TIFFOrientation(9, binary.BigEndian),
		"value 0":       imagetest.TIFFOrientation(0, binary.BigEndian),
	} {
		assert.Equal(t, 1, exifOrientation(tiff), name)
	}
}

func TestOrientationOfAVIFProperties(t *testing.T) {
	// irot (anticlockwise quarter turns) then imir, as EXIF orientations.
	for _, tc := range []struct {
		quarterCW int
		flip      bool
		want      int
	}{{0, false, 1}, {1, false, 6}, {2, false, 3}, {3, false, 8}, {0, true, 2}, {1, true, 5}, {2, true, 4}, {3, true, 7}} {
		assert.Equal(t, tc.want, orientationOf(tc.quarterCW, tc.flip))
	}
}

// photo renders a deterministic smooth-and-detailed test scene at any
// size: each pixel is the average of 4x4 samples of the same continuous
// function, so renders at different sizes show the same picture.
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				var r, g, b float64
				for sy := range 4 {
					for sx := range 4 {
						u := (float64(x) + (float64(sx)+0.5)/4) / float64(w)
						v := (float64(y) + (float64(sy)+0.5)/4) / float64(h)
						r += 0.5 + 0.5*math.Sin(12*u+3*v)
						g += 0.5 + 0.5*math.Cos(9*v-5*u*u)
						d := math.Hypot(u-0.6, v-0.4)
						b += 0.5 + 0.5*math.Sin(60*d)*math.Exp(-4*d)
					}
				}
				img.SetRGBA(x, y, color.RGBA{uint8(r / 16 * 255), uint8(g / 16 * 255), uint8(b / 16 * 255), 255})
			}
		}
	})
	return img
}

func psnr(a, b *image.RGBA) float64 {
	var sum float64
	n := 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		sum += d * d
		n++
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// TestResizeQuality compares, against the scene rendered directly at the
// target size, our pyramid resize and a direct x/image/draw Catmull-Rom
// resize of the full source: ours must be within 1 dB of it (or better).
func TestResizeQuality(t *testing.T) {
	src := photo(3024, 3024)
	r := NewResizer(fromRGBA(src))
	for _, w := range []int{1400, 1125, 935, 624, 312, 104} {
		truth := photo(w, w)
		ours := r.Resize(w, w)
		ref := image.NewRGBA(image.Rect(0, 0, w, w))
		draw.CatmullRom.Scale(ref, ref.Bounds(), src, src.Bounds(), draw.Src, nil)
		po, pr := psnr(ours, truth), psnr(ref, truth)
		t.Logf("width %4d: ours %.2f dB, x/image/draw Catmull-Rom %.2f dB, ours vs it %.2f dB", w, po, pr, psnr(ours, ref))
		assert.GreaterOrEqual(t, po, pr-1, "width %d", w)
	}
}

func TestResizeAlphaStaysPremultiplied(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 200, 200))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(src.Pix); i += 4 {
		a := uint8(rng.IntN(256))
		src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = uint8(rng.IntN(int(a)+1)), uint8(rng.IntN(int(a)+1)), uint8(rng.IntN(int(a)+1)), a
	}
	out := NewResizer(fromRGBA(src)).Resize(37, 53)
	for i := 0; i < len(out.Pix); i += 4 {
		a := out.Pix[i+3]
		require.LessOrEqual(t, out.Pix[i], a)
		require.LessOrEqual(t, out.Pix[i+1], a)
		require.LessOrEqual(t, out.Pix[i+2], a)
	}
}

func TestResizeSizes(t *testing.T) {
	src := photo(301, 199)
	r := NewResizer(fromRGBA(src).Crop(image.Rect(10, 20, 250, 180)))
	for _, sz := range [][2]int{{240, 160}, {1, 1}, {120, 80}, {17, 160}, {240, 3}, {500, 333}} {
		out := r.Resize(sz[0], sz[1])
		assert.Equal(t, image.Rect(0, 0, sz[0], sz[1]), out.Bounds())
	}
}

func TestCropRect(t *testing.T) {
	tests := []struct {
		w, h, cw, ch int
		fx, fy       float64
		want         image.Rectangle
	}{
		{4000, 3000, 3000, 3000, 0.5, 0.5, image.Rect(500, 0, 3500, 3000)},
		{4000, 3000, 3000, 3000, 0, 0.5, image.Rect(0, 0, 3000, 3000)},
		{4000, 3000, 3000, 3000, 1, 0.5, image.Rect(1000, 0, 4000, 3000)},
		{4000, 3000, 3000, 3000, 0.3, 0.9, image.Rect(0, 0, 3000, 3000)},
		{4000, 3000, 3000, 3000, 0.6, 0.5, image.Rect(900, 0, 3900, 3000)},
		{1000, 2000, 1000, 800, 0.5, 0.25, image.Rect(0, 100, 1000, 900)},
		{1000, 2000, 1000, 800, math.NaN(), -3, image.Rect(0, 600, 1000, 1400)},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, CropRect(tt.w, tt.h, tt.cw, tt.ch, tt.fx, tt.fy), "%+v", tt)
	}
}

func TestEncodeWritesNoMetadata(t *testing.T) {
	img := photo(64, 48)
	for _, f := range []string{"AVIF", "WEBP", "JPEG", "PNG"} {
		var buf bytes.Buffer
		require.NoError(t, Encode(context.Background(), &buf, f, img, Encoding{}))
		out := buf.Bytes()
		for _, marker := range []string{"Exif", "iCCP", "ICC_PROFILE", "colr", "http://ns.adobe.com/xap", "tEXt", "zTXt", "iTXt", "eXIf", "EXIF", "ICCP", "XMP "} {
			if f == "AVIF" && marker == "colr" {
				continue // AVIF's colour description (nclx) is not metadata
			}
			assert.NotContains(t, string(out), marker, "%s output holds %s", f, marker)
		}
		info, err := Inspect(out)
		require.NoError(t, err, f)
		assert.Equal(t, [2]int{64, 48}, [2]int{info.Width, info.Height}, f)
	}
}

func TestJPEGOfTransparentIsWhite(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16)) // fully transparent
	var buf bytes.Buffer
	require.NoError(t, Encode(context.Background(), &buf, "JPEG", img, Encoding{}))
	out, err := jpeg.Decode(&buf)
	require.NoError(t, err)
	r, g, b, _ := out.At(8, 8).RGBA()
	assert.Greater(t, r>>8, uint32(245))
	assert.Greater(t, g>>8, uint32(245))
	assert.Greater(t, b>>8, uint32(245))
}

func TestPreview(t *testing.T) {
	p, err := Preview(fromRGBA(photo(400, 300)))
	require.NoError(t, err)
	assert.Regexp(t, `^data:image/jpeg;base64,[A-Za-z0-9+/=]+$`, p)
	assert.Less(t, len(p), 1500)
}

// TestYCbCrRowsAreExact checks that an Image kept as YCbCr, oriented plane
// by plane, yields exactly the pixels of converting the whole image with
// image/draw and then orienting it, for every chroma subsampling and every
// orientation; and that crops read the right pixels.
func TestYCbCrRowsAreExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440} {
		// A padded image, as image/jpeg makes them.
		m := image.NewYCbCr(image.Rect(0, 0, 64, 48), ratio).SubImage(image.Rect(0, 0, 58, 42)).(*image.YCbCr)
		for _, p := range [][]byte{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(rng.IntN(256))
			}
		}
		for o := 1; o <= 8; o++ {
			ref := image.NewRGBA(m.Rect)
			draw.Draw(ref, ref.Rect, m, m.Rect.Min, draw.Src)
			want := orient(ref, o)
			img := &Image{ycbcr: orientYCbCr(m, o)}
			img.r = img.ycbcr.Rect
			got := img.RGBA()
			require.Equal(t, want.Rect, got.Rect, "ratio %v orientation %d", ratio, o)
			if o == 1 || o == 3 || o == 6 || o == 8 || ratio == image.YCbCrSubsampleRatio444 {
				// Turns keep chroma pairs aligned on even sizes; mirrors may
				// shift them by half a sample, checked below with a tolerance.
				require.Equal(t, want.Pix, got.Pix, "ratio %v orientation %d", ratio, o)
			}
			assert.Greater(t, psnr(want, got), 30.0, "ratio %v orientation %d", ratio, o)
			crop := img.Crop(image.Rect(5, 7, 20, 30))
			assert.Equal(t, got.RGBAAt(5+3, 7+4), crop.at(3, 4))
		}
	}
}
