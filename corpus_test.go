package pictures_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/imagetest"
	"github.com/gopictures/pictures/storage"
)

// corpus lists what each file of testdata/hostile must give: a refusal,
// or an upright size.
var corpus = map[string]struct {
	err  error
	w, h int
}{
	"empty.jpg":                    {err: pictures.ErrNotImage},
	"text-named.jpg":               {err: pictures.ErrNotImage},
	"page.html":                    {err: pictures.ErrNotImage},
	"image.svg":                    {err: pictures.ErrNotImage},
	"fake-heic.heic":               {err: pictures.ErrNotImage},
	"image.bmp":                    {err: pictures.ErrNotImage},
	"image.tiff":                   {err: pictures.ErrNotImage},
	"animated.webp":                {err: pictures.ErrNotImage},
	"arithmetic.jpg":               {err: pictures.ErrNotImage},
	"truncated.jpg":                {err: pictures.ErrDamaged},
	"truncated.png":                {err: pictures.ErrDamaged},
	"jpeg-no-frame.jpg":            {err: pictures.ErrDamaged},
	"bad-crc.png":                  {err: pictures.ErrDamaged},
	"header-0x0.png":               {err: pictures.ErrDamaged},
	"gif-frame-outside-screen.gif": {err: pictures.ErrDamaged},
	"header-50000x50000.png":       {err: pictures.ErrTooManyPixels},
	"header-50000x50000.jpg":       {err: pictures.ErrTooManyPixels},
	"photo.jpg":                    {w: 640, h: 480},
	"polyglot.jpg":                 {w: 640, h: 480},
	"huge-exif.jpg":                {w: 640, h: 480},
	"bad-exif.jpg":                 {w: 640, h: 480},
	"progressive.jpg":              {w: 640, h: 480},
	"cmyk.jpg":                     {w: 640, h: 480},
	"gray.jpg":                     {w: 640, h: 480},
	"gray16.png":                   {w: 640, h: 480},
	"rgba16.png":                   {w: 640, h: 480},
	"paletted-alpha.png":           {w: 640, h: 480},
	"gray-alpha.png":               {w: 640, h: 480},
	"lossy.webp":                   {w: 640, h: 480},
	"lossless-alpha.webp":          {w: 640, h: 480},
	"photo.avif":                   {w: 640, h: 480},
	"animated.gif":                 {w: 80, h: 60},
	"tiny-1x1.png":                 {w: 1, h: 1},
	"tiny-1x1.jpg":                 {w: 1, h: 1},
	"tiny-1x1.gif":                 {w: 1, h: 1},
	"orientation-1.jpg":            {w: 60, h: 40},
	"orientation-2.jpg":            {w: 60, h: 40},
	"orientation-3.jpg":            {w: 60, h: 40},
	"orientation-4.jpg":            {w: 60, h: 40},
	"orientation-5.jpg":            {w: 60, h: 40},
	"orientation-6.jpg":            {w: 60, h: 40},
	"orientation-7.jpg":            {w: 60, h: 40},
	"orientation-8.jpg":            {w: 60, h: 40},
	"orientation-6.png":            {w: 60, h: 40},
	"orientation-6.webp":           {w: 60, h: 40},
	"irot-90.avif":                 {w: 60, h: 40},
	"imir-0.avif":                  {w: 60, h: 40},
}

// TestHostileCorpus saves every file of testdata/hostile: each gives its
// expected refusal with nothing stored, or is stored upright and processed
// into decodable variants of the right size; the quadrant images come out
// the right way round.
func TestHostileCorpus(t *testing.T) {
	files, err := os.ReadDir("testdata/hostile")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 30)
	for _, f := range files {
		if _, ok := corpus[f.Name()]; !ok {
			t.Errorf("testdata/hostile/%s has no expectation in corpus", f.Name())
		}
	}
	store := &storage.Memory{}
	field := &pictures.PictureField{
		Name: "test.hostile", AspectRatios: []string{"", "1/1"},
		ContainerWidth: 320, GridColumns: 2, PixelDensities: []int{1},
		FileTypes: []string{"AVIF", "PNG"}, MaxPixels: 10_000_000,
		Storage: store, Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	require.NoError(t, pictures.Register(field))
	defer pictures.Unregister(field)

	for name, want := range corpus {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/hostile", name))
			require.NoError(t, err)
			before := store.Len()
			p, err := field.Save(context.Background(), bytes.NewReader(data), name, noRow)
			if want.err != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, want.err)
				var ue *pictures.UploadError
				require.True(t, errors.As(err, &ue))
				assert.True(t, strings.HasPrefix(ue.Message, `"`+name+`" `), ue.Message)
				assert.Equal(t, before, store.Len(), "a refusal stores nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, [2]int{want.w, want.h}, [2]int{p.Width, p.Height}, "upright size")
			done, err := field.Process(context.Background(), p)
			require.NoError(t, err)
			require.NotEmpty(t, done.Keys())
			for _, vs := range done.Variants {
				r, _ := pictures.ParseRatio(vs.Ratio)
				for _, w := range vs.Widths {
					key := pictures.VariantKey(p.Key, r, w, map[string]string{"AVIF": "avif", "PNG": "png", "JPEG": "jpeg"}[vs.Type])
					img := decodeVariant(t, key, get(t, store, key))
					assert.Equal(t, image.Rect(0, 0, w, r.Height(w, p.Width, p.Height)), img.Bounds(), key)
					if strings.HasPrefix(name, "orientation-") || strings.HasSuffix(name, ".avif") && name != "photo.avif" {
						assert.NoError(t, imagetest.Upright(img), key)
					}
				}
			}
			require.NoError(t, field.Delete(context.Background(), done))
			assert.Equal(t, before, store.Len(), "Delete removes everything")
		})
	}
}
