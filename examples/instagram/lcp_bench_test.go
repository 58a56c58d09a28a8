package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// withoutPriority strips what "priority" true adds to a page: the preload
// links of <head>, fetchpriority="high" and loading="eager".
var withoutPriority = regexp.MustCompile(`<link rel="preload" as="image"[^>]*>\n?| fetchpriority="high"| loading="eager"`)

// BenchmarkLCP measures the Largest Contentful Paint of the feed and of a
// post page in Chromium, on a phone (390x844@3) over a slow 4G connection
// (Lighthouse's: 150 ms round trips, 1.6 Mbit/s down, 750 kbit/s up),
// with the pages as the app serves them (the largest photo preloaded from
// <head>, fetchpriority high) and without (the same pages with the
// preload links and priority attributes removed by a proxy, which both
// go through). Runs are interleaved, each in a fresh browser context
// (empty cache), and the medians reported:
//
//	go test -run '^$' -bench LCP -benchtime 1x ./examples/instagram
func BenchmarkLCP(b *testing.B) {
	path := chromiumPath(b)
	a := startApp(b)
	bob := a.client()
	bob.signup("bob")
	rng := rand.New(rand.NewPCG(3, 4))
	avatar, err := encodeJPEG(portrait(rng, 400, 400), 1)
	require.NoError(b, err)
	require.Equal(b, http.StatusSeeOther, bob.upload("/settings", map[string]string{"name": "Bob"}, "avatar", "bob.jpg", avatar).status)
	var last int64
	for i := range 6 {
		data, err := encodeJPEG(landscape(rng, 1080, 1350), 1)
		require.NoError(b, err)
		last = bob.newPost(fmt.Sprintf("Bob's photo %d", i), data)
	}
	carol := a.client()
	carol.signup("carol")
	require.Equal(b, http.StatusSeeOther, carol.post("/u/bob/follow", nil).status)
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(b, a.pool.Wait(wctx))

	target, _ := url.Parse(a.URL)
	proxy := func(strip bool) *httptest.Server {
		rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			r.Out.Header.Del("Accept-Encoding")
		}}
		rp.ModifyResponse = func(res *http.Response) error {
			if !strip || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				return nil
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			body = withoutPriority.ReplaceAll(body, nil)
			res.Body = io.NopCloser(bytes.NewReader(body))
			res.ContentLength = int64(len(body))
			res.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		}
		s := httptest.NewServer(rp)
		b.Cleanup(s.Close)
		return s
	}
	servers := map[string]*httptest.Server{"with": proxy(false), "without": proxy(true)}
	u, _ := url.Parse(a.URL)
	var cookie *http.Cookie
	for _, c := range carol.http.Jar.Cookies(u) {
		if c.Name == sessionName {
			cookie = c
		}
	}
	require.NotNil(b, cookie)

	ctx := browser(b, path)
	d := device{390, 844, 3}
	pages := []struct{ name, path string }{{"feed", "/"}, {"post", fmt.Sprintf("/p/%d", last)}}
	results := map[string][]float64{}
	var urls []string
	const rounds = 5
	b.ResetTimer()
	for range b.N {
		for round := range rounds {
			for _, pg := range pages {
				modes := []string{"with", "without"}
				if round%2 == 1 {
					modes = []string{"without", "with"}
				}
				for _, mode := range modes {
					lcp, url := measureLCP(b, ctx, d, servers[mode].URL+pg.path, cookie)
					results[pg.name+"/"+mode] = append(results[pg.name+"/"+mode], lcp)
					if round == 0 {
						urls = append(urls, fmt.Sprintf("%s %s: LCP element %s", pg.name, mode, url))
					}
				}
			}
		}
	}
	b.StopTimer()
	for _, pg := range pages {
		for _, mode := range []string{"with", "without"} {
			r := results[pg.name+"/"+mode]
			slices.Sort(r)
			b.ReportMetric(r[len(r)/2], pg.name+"-"+mode+"-lcp-ms")
		}
	}
	b.Logf("LCP in ms, %d runs each: %v\n%s", rounds, results, strings.Join(urls, "\n"))
}

// measureLCP opens url on d in a fresh browser context over the throttled
// connection and returns the page's Largest Contentful Paint in ms, once
// the page has loaded and a second has passed, and the URL of the LCP
// element's image (or its tag).
func measureLCP(b *testing.B, ctx context.Context, d device, u string, cookie *http.Cookie) (float64, string) {
	b.Helper()
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	require.NoError(b, chromedp.Do(pctx))
	step(b, pctx, "open "+u,
		chromedp.EmulateViewport(d.w, d.h, chromedp.EmulateScale(d.dpr), chromedp.EmulateMobile, chromedp.EmulatePortrait),
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tgt, cdpnetwork.Enable, cdpnetwork.EnableParams{}); err != nil {
				return err
			}
			if _, err := cdp.Call(ctx, tgt, cdpnetwork.EmulateNetworkConditionsByRule, cdpnetwork.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*cdpnetwork.Conditions{{Latency: 150, DownloadThroughput: 1.6e6 / 8, UploadThroughput: 750e3 / 8}},
			}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tgt, cdpnetwork.SetCookie, cdpnetwork.SetCookieParams{Name: cookie.Name, Value: cookie.Value, URL: u, Path: "/"})
			return err
		}),
		chromedp.Navigate(u),
	)
	r := eval[map[string]any](b, pctx, `new Promise(resolve => {
	  let last = null;
	  new PerformanceObserver(list => { const es = list.getEntries(); last = es[es.length - 1]; })
	    .observe({type: "largest-contentful-paint", buffered: true});
	  const done = () => setTimeout(() => resolve({lcp: last ? last.startTime : -1,
	    url: last ? (last.url || last.element?.tagName || "") : ""}), 1000);
	  if (document.readyState === "complete") done(); else addEventListener("load", done);
	})`)
	lcp, _ := r["lcp"].(float64)
	require.Greater(b, lcp, 0.0, "no LCP entry on %s", u)
	src, _ := r["url"].(string)
	if i := strings.LastIndex(src, "/media/"); i >= 0 {
		src = src[i:]
	}
	return lcp, src
}
