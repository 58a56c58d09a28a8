package pictures

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gen2brain/avif"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlaceholderHandler(t *testing.T) {
	srv := httptest.NewServer(PlaceholderHandler())
	defer srv.Close()
	get := func(path string) (*http.Response, []byte) {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	for _, tc := range []struct {
		path       string
		mime       string
		w, h       int
		decodeWith func(io.Reader) (image.Image, error)
	}{
		{"/_pictures/Spiderman/3x2/800w.jpeg", "image/jpeg", 800, 533, jpeg.Decode},
		{"/_pictures/Event%202022%2F2023/16x9/320w.png", "image/png", 320, 180, png.Decode},
		{"/_pictures/x/1x1/100w.avif", "image/avif", 100, 100, func(r io.Reader) (image.Image, error) { return avif.Decode(r) }},
	} {
		res, body := get(tc.path)
		require.Equal(t, 200, res.StatusCode, tc.path)
		assert.Equal(t, tc.mime, res.Header.Get("Content-Type"))
		assert.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"))
		img, err := tc.decodeWith(bytes.NewReader(body))
		require.NoError(t, err, tc.path)
		assert.Equal(t, image.Rect(0, 0, tc.w, tc.h), img.Bounds(), tc.path)
	}
	for _, bad := range []string{
		"/_pictures/x/3x2/800w.gif", "/_pictures/x/3x2/800.jpeg", "/_pictures/x/0x2/800w.jpeg",
		"/_pictures/x/3x2/99999w.jpeg", "/_pictures/x/1x100/1000w.jpeg", "/_pictures/x/800w.jpeg", "/other/x/3x2/800w.jpeg",
	} {
		res, _ := get(bad)
		assert.Equal(t, 404, res.StatusCode, bad)
	}
}

// TestPlaceholderHandlerBounds: the handler draws GOMAXPROCS placeholders
// at once (the others wait), refuses long labels, and caches at most
// placeholderCacheMax bytes.
func TestPlaceholderHandlerBounds(t *testing.T) {
	h := PlaceholderHandler().(*placeholderHandler)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range cap(h.draws) {
		h.draws <- struct{}{} // every drawing slot taken
	}
	done := make(chan int, 1)
	go func() {
		res, err := http.Get(srv.URL + "/_pictures/x/1x1/64w.png")
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	select {
	case <-done:
		t.Fatal("drew a placeholder while every slot was taken")
	case <-time.After(300 * time.Millisecond):
	}
	<-h.draws
	select {
	case status := <-done:
		assert.Equal(t, 200, status)
	case <-time.After(10 * time.Second):
		t.Fatal("did not draw once a slot was free")
	}
	for len(h.draws) > 0 {
		<-h.draws
	}

	res, err := http.Get(srv.URL + "/_pictures/" + strings.Repeat("x", maxPlaceholderAlt+1) + "/1x1/64w.png")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 404, res.StatusCode, "a label that long is refused")

	body := make([]byte, 1<<20)
	for i := range 64 {
		h.remember(fmt.Sprintf("/_pictures/x/1x1/%dw.png", i), body)
	}
	assert.LessOrEqual(t, h.bytes, placeholderCacheMax)
	assert.Greater(t, h.bytes, placeholderCacheMax/2)
	assert.Len(t, h.cache, len(h.order))
}

func TestRenderPlaceholders(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"", "1/1"}, PixelDensities: []int{1}, GridColumns: 4, Placeholders: true})
	// Not processed at all: the placeholders stand in for every variant.
	p := Picture{Field: f.Name, Key: "a.jpeg", Width: 4000, Height: 3000}
	got, err := Render(p, "alt", "Event 2022/2023", "ratio", "")
	require.NoError(t, err)
	golden(t, filepath.Join("render", "placeholders.html"), []byte(string(got)+"\n"))
}

// previewOf encodes img as a preview data: URL, as pipeline.Preview does.
func previewOf(t testing.TB, img image.Image, format string) string {
	t.Helper()
	var buf bytes.Buffer
	if format == "png" {
		require.NoError(t, png.Encode(&buf, img))
	} else {
		require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50}))
	}
	return "data:image/" + format + ";base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// stripes is a w x 16 image whose first share of columns is a, the rest b.
func stripes(w int, share float64, a, b color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, 16))
	for y := range 16 {
		for x := range w {
			c := b
			if float64(x) < share*float64(w) {
				c = a
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func rgbOf(t testing.TB, hex string) [3]int {
	t.Helper()
	rgb, ok := parseColor(hex)
	require.True(t, ok, "%q is #rrggbb", hex)
	return [3]int{int(rgb[0]), int(rgb[1]), int(rgb[2])}
}

func TestPreviewColor(t *testing.T) {
	red := color.NRGBA{200, 30, 40, 255}
	blue := color.NRGBA{20, 60, 210, 255}
	green := color.NRGBA{40, 170, 60, 255}
	clear := color.NRGBA{255, 0, 255, 0}
	for _, tt := range []struct {
		name    string
		preview string
		want    color.NRGBA
	}{
		{"plain JPEG", previewOf(t, stripes(24, 1, red, red), "jpeg"), red},
		// The dominant colour, not the mean (which would be purple).
		{"mostly red", previewOf(t, stripes(24, 0.7, red, blue), "jpeg"), red},
		{"mostly blue", previewOf(t, stripes(24, 0.3, red, blue), "jpeg"), blue},
		{"transparent pixels left out", previewOf(t, stripes(24, 0.3, green, clear), "png"), green},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PreviewColor(tt.preview)
			require.NoError(t, err)
			assert.Regexp(t, `^#[0-9a-f]{6}$`, got)
			rgb := rgbOf(t, got)
			for k, want := range []uint8{tt.want.R, tt.want.G, tt.want.B} {
				assert.InDelta(t, int(want), rgb[k], 12, "%s channel %d", got, k) // JPEG at quality 50
			}
		})
	}

	huge := previewOf(t, image.NewGray(image.Rect(0, 0, maxPreviewSide+1, 1)), "png")
	for _, tt := range []struct{ preview, msg string }{
		{"", `pictures: invalid argument: preview "" is not a base64 data:image/ URL`},
		{"https://example.com/a.jpeg", `is not a base64 data:image/ URL`},
		{"data:text/plain;base64,AAAA", `is not a base64 data:image/ URL`},
		{"data:image/jpeg,AAAA", `is not a base64 data:image/ URL`},
		{"data:image/jpeg;base64,@@@", `pictures: invalid argument: preview: illegal base64 data at input byte 0`},
		{"data:image/jpeg;base64,AAAA", `pictures: invalid argument: preview: invalid JPEG format`},
		{"data:image/webp;base64,AAAA", `pictures: invalid argument: preview is image/webp, not image/jpeg or image/png`},
		{huge, `pictures: invalid argument: preview is 257x1 pixels, more than 256 a side`},
		{previewOf(t, stripes(4, 1, clear, clear), "png"), `pictures: invalid argument: preview has no opaque pixel`},
	} {
		_, err := PreviewColor(tt.preview)
		assert.ErrorIs(t, err, ErrInvalidArgument, "%.60s", tt.preview)
		assert.ErrorContains(t, err, tt.msg)
	}
}

// TestProcessSetsColor: processing records the dominant colour of the
// upload's preview, and renders it with "placeholder" "color".
func TestProcessSetsColor(t *testing.T) {
	var rows []Picture
	f := registered(t, PictureField{
		AspectRatios: []string{""}, FileTypes: []string{"JPEG"}, PixelDensities: []int{1}, ContainerWidth: 200,
		Processor:   ProcessorFunc(Run),
		OnProcessed: func(_ context.Context, p Picture) error { rows = append(rows, p); return nil },
	})
	var src bytes.Buffer
	orange := color.NRGBA{230, 120, 20, 255}
	require.NoError(t, jpeg.Encode(&src, stripes(300, 0.8, orange, color.NRGBA{10, 10, 10, 255}), &jpeg.Options{Quality: 90}))
	_, err := f.Save(context.Background(), &src, "stripes.jpeg", func(context.Context, Picture) error { return nil })
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	done := rows[len(rows)-1]
	require.True(t, f.Current(done))
	rgb := rgbOf(t, done.Color)
	for k, want := range []uint8{orange.R, orange.G, orange.B} {
		assert.InDelta(t, int(want), rgb[k], 16, "%s channel %d", done.Color, k)
	}
	html, err := Render(done, "alt", "", "placeholder", "color")
	require.NoError(t, err)
	gif, ok := parseColor(done.Color)
	require.True(t, ok)
	assert.Contains(t, string(html), string(appendColorGIF(nil, gif)))
}

func TestColorGIF(t *testing.T) {
	for _, rgb := range [][3]byte{{0, 0, 0}, {255, 255, 255}, {0x5a, 0x71, 0x84}, {1, 2, 3}} {
		u := string(appendColorGIF(nil, rgb))
		data, ok := strings.CutPrefix(u, "data:image/gif;base64,")
		require.True(t, ok, u)
		raw, err := base64.StdEncoding.DecodeString(data)
		require.NoError(t, err)
		img, err := gif.Decode(bytes.NewReader(raw))
		require.NoError(t, err, "%x", raw)
		require.Equal(t, image.Rect(0, 0, 1, 1), img.Bounds())
		r, g, b, a := img.At(0, 0).RGBA()
		assert.Equal(t, []uint32{uint32(rgb[0]), uint32(rgb[1]), uint32(rgb[2]), 255}, []uint32{r >> 8, g >> 8, b >> 8, a >> 8})
		assert.True(t, safeURL(u), "appendURL would keep it")
	}
	for _, bad := range []string{"", "#12345", "#1234567", "123456#", "#12345g", "#+12345"} {
		_, ok := parseColor(bad)
		assert.False(t, ok, bad)
	}
}

func BenchmarkPreviewColor(b *testing.B) {
	// A preview as pipeline.Preview makes them: 24 pixels wide, JPEG.
	img := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	preview := previewOf(b, img, "jpeg")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PreviewColor(preview); err != nil {
			b.Fatal(err)
		}
	}
}
