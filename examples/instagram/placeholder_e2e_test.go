package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

// placeholderCSP is as strict as the app's: no inline style or script.
const placeholderCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'"

// placeholderObserver records, from the start of the page, its layout
// shifts and its Content-Security-Policy violations (a script file: the
// policy refuses inline ones).
const placeholderObserver = `window.shifts = [];
window.violations = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.shifts.push(e.value);
}).observe({type: "layout-shift", buffered: true});
document.addEventListener("securitypolicyviolation", e => window.violations.push(e.violatedDirective + " " + e.blockedURI));
`

// placeholderPageCSS is a site's own styles: the picture fills its
// column, and its <img> has a grey background while it loads (as the
// app's has), which PlaceholderCSS must clear for the placeholder to show.
const placeholderPageCSS = `body { margin: 0; background: #fff; }
main { width: 400px; }
picture { display: block; }
picture img { display: block; width: 100%; height: auto; background: #888; }
p { margin: 0; height: 40px; }
`

// heldMedia serves every /media/ file as a magenta JPEG, but only once
// the test releases it: until then the browser shows whatever stands in.
type heldMedia struct {
	body    []byte
	arrived chan string
	stop    chan struct{} // closed when the test ends

	mu      sync.Mutex
	gate    chan struct{}
	fetched []string // every path requested, but the favicon
}

func (h *heldMedia) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
	h.fetched = nil
	for len(h.arrived) > 0 {
		<-h.arrived
	}
}

func (h *heldMedia) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.gate)
}

func (h *heldMedia) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.fetched...)
}

func (h *heldMedia) log(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if path != "/favicon.ico" {
		h.fetched = append(h.fetched, path)
	}
}

func (h *heldMedia) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	h.arrived <- r.URL.Path
	select {
	case <-gate:
	case <-h.stop: // the test failed before releasing the file
		return
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(h.body)
}

func solidJPEG(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}))
	return buf.Bytes()
}

// boxes is where the page lays out the picture and what follows it.
type boxes struct {
	Img        rect    `json:"img"`
	Layer      *rect   `json:"layer"` // the placeholder's <img>, if any
	BelowTop   float64 `json:"belowTop"`
	Loaded     bool    `json:"loaded"`
	Shift      float64 `json:"shift"`
	Violations []string
}

type rect struct{ X, Y, W, H float64 }

const measureBoxes = `(() => {
  const r = el => { const b = el.getBoundingClientRect(); return {X: b.x, Y: b.y, W: b.width, H: b.height}; };
  const img = document.querySelector("main picture img"), layer = document.querySelector(".pictures-placeholder > img");
  return {img: r(img), layer: layer && r(layer), belowTop: document.getElementById("below").getBoundingClientRect().top,
    loaded: img.complete && img.naturalWidth > 0, shift: window.shifts.reduce((a, b) => a + b, 0), Violations: window.violations};
})()`

// afterPaint resolves once the page has painted twice more (and the
// picture, if it has loaded, is decoded).
const afterPaint = `(async () => {
  const img = document.querySelector("main picture img") || document.querySelector("main img");
  if (img.complete && img.naturalWidth > 0) await img.decode();
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
})()`

// TestBrowserPlaceholder checks "placeholder" "blur" and "color" in
// Chromium, under a strict Content-Security-Policy: while the file is held
// back by the server, the picture's box shows the placeholder (and, with
// none, the site's own grey); once the file has arrived and painted, it
// shows the file, everywhere in the box; nothing moved (no layout shift);
// nothing broke the policy; and the page fetched one file, the variant.
// A control page with an inline style and an unsized image checks that
// the test sees violations and shifts when there are some.
func TestBrowserPlaceholder(t *testing.T) {
	path := chromiumPath(t)
	f := &pictures.PictureField{
		Name: "e2e.placeholder", AspectRatios: []string{""}, FileTypes: []string{"JPEG"},
		PixelDensities: []int{1}, ContainerWidth: 400, Storage: &storage.Memory{},
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	variants, err := f.Variants(1600, 1200)
	require.NoError(t, err)
	green, blue, magenta := color.RGBA{0, 160, 0, 255}, color.RGBA{0x20, 0x40, 0xe0, 255}, color.RGBA{230, 0, 230, 255}
	p := pictures.Picture{Field: f.Name, Key: "p/a.jpeg", Width: 1600, Height: 1200, Variants: variants,
		// Not the file's colours, so that the screenshots tell them apart.
		Preview: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(solidJPEG(t, 24, 18, green)),
		Color:   "#2040e0"}

	media := &heldMedia{body: solidJPEG(t, 160, 120, magenta), arrived: make(chan string, 16), stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /media/", media.serve)
	mux.HandleFunc("GET /pictures.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		w.Write([]byte(pictures.PlaceholderCSS))
	})
	mux.HandleFunc("GET /page.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		w.Write([]byte(placeholderPageCSS))
	})
	mux.HandleFunc("GET /observe.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(placeholderObserver))
	})
	page := func(body string) string {
		return `<!doctype html><html><head><meta charset="utf-8"><title>placeholder</title>` +
			`<link rel="stylesheet" href="/pictures.css"><link rel="stylesheet" href="/page.css"><script src="/observe.js"></script>` +
			`</head><body><main>` + body + `</main><p id="below">Below the picture</p></body></html>`
	}
	mux.HandleFunc("GET /{mode}", func(w http.ResponseWriter, r *http.Request) {
		var body string
		if mode := r.PathValue("mode"); mode == "control" {
			body = `<p style="color: red">inline style</p><img src="/media/unsized.jpeg" alt="">`
		} else {
			html, err := pictures.Render(p, "alt", "A photo", "placeholder", mode)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = string(html)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page(body)))
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		media.log(r.URL.Path)
		w.Header().Set("Content-Security-Policy", placeholderCSP)
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(media.stop)

	ctx := browser(t, path)
	for _, tt := range []struct {
		mode   string
		before color.RGBA // what the picture's box shows before its file
	}{
		{"none", color.RGBA{0x88, 0x88, 0x88, 255}},
		{"blur", green},
		{"color", blue},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			tab := openHeld(t, ctx, media, srv.URL+"/"+tt.mode)
			defer tab.cancel()
			before := eval[boxes](t, tab.ctx, measureBoxes)
			require.False(t, before.Loaded, "the file is held back")
			shot := screenshot(t, tab.ctx)
			for _, at := range insidePoints(before.Img) {
				assert.True(t, near(shot.At(at.X, at.Y), tt.before), "before the file, at %v: %v, want %v", at, shot.At(at.X, at.Y), tt.before)
			}
			if tt.mode == "none" {
				assert.Nil(t, before.Layer)
			} else if assert.NotNil(t, before.Layer) {
				assert.Equal(t, before.Img, *before.Layer, "the placeholder covers the picture's box exactly")
			}

			media.release()
			eval[bool](t, tab.ctx, `new Promise(r => { const img = document.querySelector("main picture img");
			  if (img.complete) r(true); else img.addEventListener("load", () => r(true)); })`)
			eval[bool](t, tab.ctx, afterPaint)
			after := eval[boxes](t, tab.ctx, measureBoxes)
			require.True(t, after.Loaded)
			shot = screenshot(t, tab.ctx)
			for _, at := range insidePoints(after.Img) {
				assert.True(t, near(shot.At(at.X, at.Y), magenta), "after the file, at %v: %v, want the file's magenta", at, shot.At(at.X, at.Y))
			}
			assert.Equal(t, before.Img, after.Img, "the picture did not move or resize")
			assert.Equal(t, before.BelowTop, after.BelowTop, "what follows did not move")
			assert.Zero(t, after.Shift, "cumulative layout shift")
			assert.Empty(t, after.Violations, "Content-Security-Policy violations")
			assert.ElementsMatch(t, []string{"/" + tt.mode, "/pictures.css", "/page.css", "/observe.js"}, without(media.requests(), "/media/"),
				"the placeholder costs no request")
			assert.Len(t, only(media.requests(), "/media/"), 1, "one file: the variant")
		})
	}

	t.Run("control", func(t *testing.T) {
		tab := openHeld(t, ctx, media, srv.URL+"/control")
		defer tab.cancel()
		media.release()
		eval[bool](t, tab.ctx, `new Promise(r => { const img = document.querySelector("main img");
		  if (img.complete) r(true); else img.addEventListener("load", () => r(true)); })`)
		eval[bool](t, tab.ctx, afterPaint)
		got := eval[boxes](t, tab.ctx, `(() => ({shift: window.shifts.reduce((a, b) => a + b, 0), Violations: window.violations}))()`)
		assert.Greater(t, got.Shift, 0.0, "an unsized image shifts what follows")
		require.NotEmpty(t, got.Violations)
		assert.Contains(t, got.Violations[0], "style-src", "an inline style breaks the policy")
	})
}

// heldTab is a tab whose page waits for its held file.
type heldTab struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// openHeld opens url in a new tab, with its files held back, and returns
// once the page has asked for its file and painted what it has.
func openHeld(t *testing.T, ctx context.Context, media *heldMedia, url string) heldTab {
	t.Helper()
	media.hold()
	tctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	require.NoError(t, chromedp.Do(tctx))
	step(t, tctx, "open "+url,
		chromedp.EmulateViewport(800, 600),
		// Not chromedp.Navigate: it waits for the load event, which the
		// held file holds back.
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			res, err := cdp.Call(ctx, tgt, cdppage.Navigate, cdppage.NavigateParams{URL: url})
			if err == nil && res.ErrorText != "" {
				err = fmt.Errorf("navigating to %s: %s", url, res.ErrorText)
			}
			return err
		}),
	)
	select {
	case <-media.arrived:
	case <-time.After(time.Minute):
		cancel()
		t.Fatal("the page did not ask for its file")
	}
	// The tab may still be on its first document for a moment.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.querySelector("main img") !== null`))
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the page has no picture: %v", err)
		}
	}
	eval[bool](t, tctx, afterPaint)
	return heldTab{tctx, cancel}
}

func screenshot(t *testing.T, ctx context.Context) image.Image {
	t.Helper()
	data, err := chromedp.Run(ctx, chromedp.Action[[]byte](func(ctx context.Context, tgt *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tgt, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{Format: cdppage.CaptureScreenshotFormatPng})
		return res.Data, err
	}))
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	return img
}

// insidePoints are the centre of r and points 3 px inside its corners.
func insidePoints(r rect) []image.Point {
	x0, y0, x1, y1 := int(r.X)+3, int(r.Y)+3, int(r.X+r.W)-4, int(r.Y+r.H)-4
	return []image.Point{{int(r.X + r.W/2), int(r.Y + r.H/2)}, {x0, y0}, {x1, y0}, {x0, y1}, {x1, y1}}
}

// near reports whether c is want give or take JPEG's error.
func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(v uint32, w uint8) int { return abs(int(v>>8) - int(w)) }
	return d(r, want.R) <= 12 && d(g, want.G) <= 12 && d(b, want.B) <= 12
}

func without(paths []string, prefix string) []string {
	var out []string
	for _, p := range paths {
		if !strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

func only(paths []string, prefix string) []string {
	var out []string
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}
