package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeaderRendersWhole: a page whose HTML arrives in parts (a slow
// network, or a loaded machine where the parser yields) is not painted
// before its whole top bar is parsed, so the bar never grows, moving its
// icons and avatar, under the reader's eyes. Here the page stops for
// 600 ms after the first link of the top bar. (TestBrowser once caught
// such a shift: the bar painted with part of its links, then the rest.)
func TestHeaderRendersWhole(t *testing.T) {
	path := chromiumPath(t)
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	page := c.get("/explore").body
	cut := strings.Index(page, `title="Explore"`)
	require.Positive(t, cut, "the top bar's links")
	require.Contains(t, page, `<link rel="expect" href="#main" blocking="render">`)

	app, _ := url.Parse(a.URL)
	proxy := httputil.NewSingleHostReverseProxy(app)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			proxy.ServeHTTP(w, r) // the stylesheet, the script, the pictures
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page[:cut])
		w.(http.Flusher).Flush()
		time.Sleep(600 * time.Millisecond)
		io.WriteString(w, page[cut:])
	}))
	t.Cleanup(srv.Close)

	ctx := browser(t, path)
	const shifts = `new Promise(resolve => {
  const out = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) for (const s of e.sources || []) out.push((s.node && s.node.className) + " " + e.value.toFixed(4));
  }).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(out), 300);
})`
	step(t, ctx, "open the slow page", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(srv.URL+"/slow"), chromedp.WaitVisible(chromedp.CSS("main")))
	assert.Empty(t, eval[[]string](t, ctx, shifts), "layout shifts while the page arrived")
}
