package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// load runs conns clients against url for d, each sending its next request
// when the previous one is answered, and returns the throughput and the
// 99th percentile latency.
func load(b *testing.B, client *http.Client, target string, conns int, d time.Duration) (rps float64, p99 time.Duration) {
	b.Helper()
	var mu sync.Mutex
	var latencies []time.Duration
	var failures int
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				res, err := client.Get(target)
				if err != nil {
					mu.Lock()
					failures++
					mu.Unlock()
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					mu.Lock()
					failures++
					mu.Unlock()
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if failures > 0 {
		b.Fatalf("%d failed requests to %s", failures, target)
	}
	slices.Sort(latencies)
	return float64(len(latencies)) / d.Seconds(), latencies[len(latencies)*99/100]
}

// BenchmarkFeedLoad serves the feed page (12 posts with their authors,
// avatars, counts and latest comments, for a logged-in user, on the default
// SQLite setup) to 64 concurrent connections, and, in the same run, a
// static 20 KB file from the same server; it reports both throughputs,
// their ratio and the feed's p99 latency. Run it with
//
//	go test -run '^$' -bench FeedLoad -benchtime 1x ./examples/instagram
func BenchmarkFeedLoad(b *testing.B) {
	a := startApp(b)
	c := a.client()
	c.signup("reader")
	author := a.client()
	author.signup("author")
	c.post("/u/author/follow", nil)
	seedPosts(b, a, userID(b, a, "author"), 24)
	for i := int64(1); i <= 24; i++ {
		for j := range 3 {
			_, err := a.db.AddComment(context.Background(), i, userID(b, a, "reader"), fmt.Sprintf("Comment %d", j), time.Now())
			require.NoError(b, err)
		}
	}
	// A 20 KB file in the media directory, served like any variant.
	static := filepath.Join(a.dir, "media", "bench", "file", "623w.avif")
	require.NoError(b, os.MkdirAll(filepath.Dir(static), 0o755))
	require.NoError(b, os.WriteFile(static, []byte(rand.Text()+string(make([]byte, 20<<10-26))), 0o644))

	transport := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	client := &http.Client{Transport: transport, Jar: c.http.Jar}
	feed := a.URL + "/"
	res, err := client.Get(feed)
	require.NoError(b, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(b, 200, res.StatusCode)
	require.Contains(b, string(body), `<article class="card" id="post-`)
	u, _ := url.Parse(a.URL + "/media/bench/file/623w.avif")

	const conns, d = 64, 5 * time.Second
	cache := a.server.cache
	for b.Loop() {
		staticRPS, staticP99 := load(b, client, u.String(), conns, d)
		a.server.cache = cache
		feedRPS, feedP99 := load(b, client, feed, conns, d)
		a.server.cache = nil
		rawRPS, rawP99 := load(b, client, feed, conns, d)
		a.server.cache = cache
		b.ReportMetric(staticRPS, "static_req/s")
		b.ReportMetric(float64(staticP99.Microseconds())/1000, "static_p99_ms")
		b.ReportMetric(feedRPS, "feed_req/s")
		b.ReportMetric(float64(feedP99.Microseconds())/1000, "feed_p99_ms")
		b.ReportMetric(100*feedRPS/staticRPS, "feed_%_of_static")
		b.ReportMetric(rawRPS, "uncached_req/s")
		b.ReportMetric(float64(rawP99.Microseconds())/1000, "uncached_p99_ms")
		b.Logf("static 20 KB: %.0f req/s, p99 %v", staticRPS, staticP99)
		b.Logf("feed (page cache): %.0f req/s, p99 %v, %.0f%% of static", feedRPS, feedP99, 100*feedRPS/staticRPS)
		b.Logf("feed (no cache, 2 SQL queries + template): %.0f req/s, p99 %v, %.0f%% of static", rawRPS, rawP99, 100*rawRPS/staticRPS)
		b.Logf("%d connections, %v per measurement, client and server on the same %d CPUs", conns, d, runtime.GOMAXPROCS(0))
	}
}

// BenchmarkFeedRender executes the feed template for 12 posts, without
// HTTP or SQL.
func BenchmarkFeedRender(b *testing.B) {
	a := startApp(b)
	c := a.client()
	c.signup("reader")
	seedPosts(b, a, userID(b, a, "reader"), 12)
	for i := int64(1); i <= 12; i++ {
		for j := range 3 {
			a.db.AddComment(context.Background(), i, userID(b, a, "reader"), fmt.Sprintf("Comment %d", j), time.Now())
		}
	}
	posts, err := a.db.Feed(context.Background(), userID(b, a, "reader"), 0, PageSize)
	require.NoError(b, err)
	viewer, err := a.db.Profile(context.Background(), "reader", 0)
	require.NoError(b, err)
	p := page{Title: "Instagram", Posts: posts, Viewer: &viewer, Path: "/"}
	t := a.server.pages["feed"]
	b.ReportAllocs()
	for b.Loop() {
		if err := t.ExecuteTemplate(io.Discard, "feed", p); err != nil {
			b.Fatal(err)
		}
	}
}
