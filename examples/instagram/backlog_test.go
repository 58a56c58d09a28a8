package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures/internal/syncbuf"
)

// fallbackSrc finds the src of a rendered picture's <img> once it is a
// JPEG variant (before, it is the inline preview), with the query of a
// presigned URL if it has one.
var fallbackSrc = regexp.MustCompile(`<img[^>]* src="([^"]+\.jpe?g(?:\?[^"]*)?)"`)

// fallbackServed reports whether post id's page links its JPEG fallback
// and the fallback is served, from the app or (a URL) from storage.
func (c *client) fallbackServed(id int64) bool {
	m := fallbackSrc.FindStringSubmatch(c.get(fmt.Sprintf("/p/%d", id)).body)
	if m == nil {
		return false
	}
	src := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.HasPrefix(src, "http") {
		src = c.base + src
	}
	req, _ := http.NewRequest("GET", src, nil)
	res := c.do(req)
	return res.status == http.StatusOK && res.header.Get("Content-Type") == "image/jpeg"
}

// processingPosts counts the posts 1 to n still processing.
func (c *client) processingPosts(n int) int {
	waiting := 0
	for i := int64(1); i <= int64(n); i++ {
		if c.postJSON(i)["processing"] == true {
			waiting++
		}
	}
	return waiting
}

// BenchmarkFreshUploadBehindBacklog measures how soon a new upload's JPEG
// fallback is served while 100 backlog jobs wait: the app is started (as
// its own process, with its AVIF encoder processes, on the default SQLite
// setup and in-process pool) on 100 posts whose pictures are not
// processed, which its start-up reconcile schedules as backlog; then a
// user uploads a photo. It reports the seconds from the upload's HTTP
// response (303) to the first successful GET of the fallback the post page
// links, and how many backlog posts were still processing then. Run it
// with
//
//	go test -run '^$' -bench FreshUploadBehindBacklog -benchtime 1x ./examples/instagram
func BenchmarkFreshUploadBehindBacklog(b *testing.B) {
	const backlog = 100
	ctx := context.Background()
	dir := b.TempDir()

	// 100 posts of demo photographs, stored as uploads are, never processed.
	m := NewMain(Config{Addr: "127.0.0.1:0", DataDir: dir, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(b, m.Run(ctx))
	require.NoError(b, m.pool.Shutdown(ctx)) // nothing is processed here
	a := &testApp{Main: m, t: b, dir: dir}
	a.client().signup("backlog")
	uid := userID(b, a, "backlog")
	rng := rand.New(rand.NewPCG(14, 1))
	var photos [][]byte
	for _, sz := range demoSizes[:6] {
		data, err := encodeJPEG(landscape(rng, sz.w, sz.h), sz.orientation)
		require.NoError(b, err)
		photos = append(photos, data)
	}
	for i := range backlog {
		p, err := m.post.Upload(ctx, bytes.NewReader(photos[i%len(photos)]), "IMG.JPG")
		require.NoError(b, err)
		_, err = m.db.CreatePost(ctx, uid, fmt.Sprintf("backlog %d", i), p, time.Now())
		require.NoError(b, err)
	}
	require.NoError(b, m.Close(ctx))

	// The app as `go run ./examples/instagram -data DIR` runs it.
	out := &syncbuf.Buffer{}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "INSTAGRAM_TEST_MAIN=-addr 127.0.0.1:0 -demo=false -data "+dir)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	running := regexp.MustCompile(`running at (http://\S+)`)
	require.Eventually(b, func() bool {
		return running.MatchString(out.String()) && strings.Contains(out.String(), fmt.Sprintf("processing %d pictures that are not up to date", backlog))
	}, time.Minute, 20*time.Millisecond, "the app did not start:\n%s", out)
	base := running.FindStringSubmatch(out.String())[1]

	jar, _ := cookiejar.New(nil)
	c := &client{t: b, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	c.signup("fresh")
	sz := demoSizes[0]
	upload, err := encodeJPEG(landscape(rng, sz.w, sz.h), sz.orientation)
	require.NoError(b, err)

	for b.Loop() {
		id := c.newPost("just now", upload) // the 303 has arrived
		start := time.Now()
		for !c.fallbackServed(id) {
			require.Less(b, time.Since(start), 5*time.Minute, "the fallback was never served")
			time.Sleep(20 * time.Millisecond)
		}
		served := time.Since(start)
		waiting := c.processingPosts(backlog)
		load, _ := os.ReadFile("/proc/loadavg")
		b.ReportMetric(served.Seconds(), "fallback_s")
		b.ReportMetric(float64(waiting), "backlog_waiting")
		b.Logf("fallback served %.2f s after the upload's response; %d of %d backlog posts still processing; load average %s",
			served.Seconds(), waiting, backlog, strings.TrimSpace(string(load)))
		require.Greater(b, waiting, backlog*9/10, "the upload did not wait for the backlog")
	}
}
