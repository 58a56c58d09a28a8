package pictures_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gen2brain/webp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/imagetest"
	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/storage"
)

// decodeWebP decodes a WebP variant with libwebp's own conversion to RGB,
// as browsers do, after checking that it is a lossy WebP with no chunk but
// its bitstream: no EXIF, XMP or ICCP (untagged is sRGB), no VP8X.
func decodeWebP(t *testing.T, key string, data []byte) image.Image {
	t.Helper()
	require.Equal(t, []string{"VP8 "}, imagetest.WebPChunks(t, data), "%s: the bitstream alone", key)
	all, err := webp.DecodeAll(bytes.NewReader(data))
	require.NoError(t, err, key)
	return all.Image[0]
}

// webpField is a field of one small ratio ladder with WebP, processed by
// the test itself (field.Process).
func webpField(t *testing.T, fileTypes []string, e pipeline.Encoding) (*pictures.PictureField, *storage.Memory) {
	t.Helper()
	store := &storage.Memory{}
	f := &pictures.PictureField{
		Name: t.Name(), AspectRatios: []string{"", "1/1"}, ContainerWidth: 320, GridColumns: 2, PixelDensities: []int{1},
		FileTypes: fileTypes, Encoding: e, Storage: store,
		Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	return f, store
}

// saveAndProcess saves data through f and generates its variants.
func saveAndProcess(t *testing.T, f *pictures.PictureField, data []byte, name string) pictures.Picture {
	t.Helper()
	p, err := f.Save(context.Background(), bytes.NewReader(data), name, noRow)
	require.NoError(t, err)
	done, err := f.Process(context.Background(), p)
	require.NoError(t, err)
	require.True(t, f.Current(done))
	return done
}

// TestWebPVariants saves a real photograph into a field with AVIF and
// WebP: every WebP variant exists, decodes at its size, carries no
// metadata and looks like the photo; the <picture> lists AVIF, then WebP,
// then the JPEG <img>; the JSON form has both.
func TestWebPVariants(t *testing.T) {
	f, store := webpField(t, []string{"AVIF", "WEBP"}, pipeline.Encoding{})
	data := readFile(t, "testdata/photos/dandelion-1600.jpg")
	done := saveAndProcess(t, f, data, "photo.jpg")
	src, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)

	count := map[string]int{}
	for _, vs := range done.Variants {
		r, err := pictures.ParseRatio(vs.Ratio)
		require.NoError(t, err)
		for _, w := range vs.Widths {
			count[vs.Type]++
			if vs.Type != "WEBP" {
				continue
			}
			key := pictures.VariantKey(done.Key, r, w, "webp")
			img := decodeWebP(t, key, get(t, store, key))
			wantH := r.Height(w, done.Width, done.Height)
			require.Equal(t, image.Rect(0, 0, w, wantH), img.Bounds(), key)
			cw, ch := r.CropSize(done.Width, done.Height)
			crop := image.Rect((done.Width-cw)/2, (done.Height-ch)/2, (done.Width-cw)/2+cw, (done.Height-ch)/2+ch)
			ref := image.NewRGBA(image.Rect(0, 0, w, wantH))
			draw.CatmullRom.Scale(ref, ref.Bounds(), src, crop, draw.Src, nil)
			assert.Greater(t, psnr(img, ref), 30.0, "%s looks like the photo", key)
		}
	}
	assert.Positive(t, count["WEBP"])
	assert.Equal(t, count["AVIF"], count["WEBP"], "WebP at every AVIF width")
	assert.Equal(t, 2, count["JPEG"], "one JPEG fallback per ratio")

	html, err := pictures.Render(done, "alt", "Dandelion", "ratio", "1/1")
	require.NoError(t, err)
	s := string(html)
	avif, webpAt, img := strings.Index(s, `type="image/avif"`), strings.Index(s, `type="image/webp"`), strings.Index(s, "<img ")
	assert.True(t, 0 < avif && avif < webpAt && webpAt < img, "AVIF, then WebP, then the fallback: %s", s)
	assert.Regexp(t, `type="image/webp" srcset="[^"]*/1_1/\d+w\.webp \d+w`, s)

	var api struct {
		Ratios map[string]struct {
			Sources map[string]map[string]string `json:"sources"`
		} `json:"ratios"`
	}
	b, err := json.Marshal(done)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &api))
	assert.Len(t, api.Ratios["1/1"].Sources["image/webp"], len(api.Ratios["1/1"].Sources["image/avif"]))

	u, err := pictures.URL(done, "1/1", "WEBP", 200)
	require.NoError(t, err)
	assert.Regexp(t, `/1_1/\d+w\.webp$`, u)
}

// TestWebPOrientation saves the quadrant picture in every EXIF
// orientation (JPEG 1 to 8, PNG and WebP 6, AVIF irot and imir): every
// WebP variant comes out the right way round.
func TestWebPOrientation(t *testing.T) {
	f, store := webpField(t, []string{"WEBP"}, pipeline.Encoding{})
	files, err := filepath.Glob("testdata/hostile/orientation-*")
	require.NoError(t, err)
	files = append(files, "testdata/hostile/irot-90.avif", "testdata/hostile/imir-0.avif")
	require.Len(t, files, 12)
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			done := saveAndProcess(t, f, readFile(t, name), filepath.Base(name))
			n := 0
			for _, key := range done.Keys() {
				if !strings.HasSuffix(key, ".webp") {
					continue
				}
				img := decodeWebP(t, key, get(t, store, key))
				assert.NoError(t, imagetest.Upright(img), key)
				n++
			}
			want := 0
			for _, vs := range done.Variants {
				if vs.Type == "WEBP" {
					want += len(vs.Widths)
				}
			}
			assert.Positive(t, n)
			assert.Equal(t, want, n, "every WebP variant")
		})
	}
}

// TestWebPColour converts charts tagged with wide-gamut, LUT and CMYK
// profiles (in PNG, JPEG, WebP and AVIF sources) to sRGB WebP variants and
// compares every patch with what littleCMS gives.
func TestWebPColour(t *testing.T) {
	var expected map[string][][3]int
	require.NoError(t, json.Unmarshal(readFile(t, "testdata/color/expected.json"), &expected))
	f, store := webpField(t, []string{"WEBP"}, pipeline.Encoding{WebPQuality: 95})
	for _, name := range []string{"display-p3-v4.png", "display-p3-v4.jpeg", "adobe-rgb-v2.webp", "prophoto-v4.avif", "p3-lut-v4.png", "cmyk-lut16-v2.jpeg"} {
		t.Run(name, func(t *testing.T) {
			chart := strings.TrimSuffix(name, filepath.Ext(name))
			require.Contains(t, expected, chart)
			done := saveAndProcess(t, f, readFile(t, "testdata/color/"+name), name)
			n := 0
			for _, vs := range done.Variants {
				if vs.Type != "WEBP" || vs.Ratio != "" {
					continue
				}
				for _, w := range vs.Widths {
					key := pictures.VariantKey(done.Key, pictures.Ratio{}, w, "webp")
					img := decodeWebP(t, key, get(t, store, key))
					b := img.Bounds()
					for i, want := range expected[chart] {
						// The middle of patch i of the 4x4 chart.
						x, y := b.Min.X+(i%4*2+1)*b.Dx()/8, b.Min.Y+(i/4*2+1)*b.Dy()/8
						r, g, bl, _ := img.At(x, y).RGBA()
						for ch, v := range []uint32{r >> 8, g >> 8, bl >> 8} {
							assert.InDelta(t, want[ch], int(v), 6, "%s: patch %d channel %d", key, i, ch)
						}
					}
					n++
				}
			}
			assert.Positive(t, n)
		})
	}
}

// TestWebPFingerprint checks that the WebP settings mark variants stale
// only in fields that encode WebP.
func TestWebPFingerprint(t *testing.T) {
	fp := func(types []string, e pipeline.Encoding) string {
		return (&pictures.PictureField{FileTypes: types, Encoding: e}).Fingerprint()
	}
	avif := fp(nil, pipeline.Encoding{})
	assert.Equal(t, avif, fp(nil, pipeline.Encoding{WebPQuality: 90}), "a field without WebP keeps its fingerprint")
	both := fp([]string{"AVIF", "WEBP"}, pipeline.Encoding{})
	assert.NotEqual(t, avif, both)
	assert.Equal(t, both, fp([]string{"AVIF", "WEBP"}, pipeline.Encoding{WebPQuality: 75, WebPMethod: 4}), "the defaults, explicit")
	assert.NotEqual(t, both, fp([]string{"AVIF", "WEBP"}, pipeline.Encoding{WebPQuality: 90}))
	assert.NotEqual(t, both, fp([]string{"AVIF", "WEBP"}, pipeline.Encoding{WebPMethod: 6}))

	err := (&pictures.PictureField{FileTypes: []string{"WEBP"}, Encoding: pipeline.Encoding{WebPQuality: 120}}).Validate()
	assert.ErrorIs(t, err, pictures.ErrInvalidConfig)
	assert.ErrorContains(t, err, "WebPQuality must be between 1 and 100, got 120")
}
