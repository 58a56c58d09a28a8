package pictures

import (
	"bytes"
	"fmt"
	"image"
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
