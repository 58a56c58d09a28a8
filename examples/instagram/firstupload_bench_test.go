package main

import (
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

	"github.com/gopictures/pictures/internal/syncbuf"
)

// BenchmarkFirstUpload measures the first upload of a freshly started app,
// its encoders' start and WebAssembly compilation included: the app is
// started as its own process on an empty data directory (the default
// SQLite setup, in-process pool, AVIF encoder processes), and as soon as
// it listens a user uploads a phone photo (testdata's dandelion, 5312x2988,
// 15.9 megapixels, 1.5 MB). It reports the seconds from the process's
// start to listening, the upload's request (check and store), and from
// the upload's response (303) to the first successful GET of its JPEG
// fallback, and to every variant done. Run it with
//
//	go test -run '^$' -bench FirstUpload -benchtime 1x ./examples/instagram
//
// (add LD_LIBRARY_PATH for a system libavif that is not on the loader's
// path: the app's process inherits it).
func BenchmarkFirstUpload(b *testing.B) {
	photo, err := os.ReadFile("../../testdata/photos/dandelion.jpg")
	require.NoError(b, err)
	running := regexp.MustCompile(`running at (http://\S+)`)
	backend := regexp.MustCompile(`AVIF encoder" backend="(\S+ in [^"(]*)`)
	for b.Loop() {
		dir := b.TempDir()
		out := &syncbuf.Buffer{}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "INSTAGRAM_TEST_MAIN=-addr 127.0.0.1:0 -demo=false -data "+dir)
		cmd.Stdout, cmd.Stderr = out, out
		start := time.Now()
		require.NoError(b, cmd.Start())
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(40 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		require.Eventually(b, func() bool { return running.MatchString(out.String()) }, time.Minute, 5*time.Millisecond,
			"the app did not start:\n%s", out)
		listening := time.Since(start)
		base := running.FindStringSubmatch(out.String())[1]
		jar, _ := cookiejar.New(nil)
		c := &client{t: b, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
		c.signup("first")
		sent := time.Now()
		id := c.newPost("first", photo)
		responded := time.Now()
		var served, done time.Duration
		for done == 0 {
			require.Less(b, time.Since(responded), 10*time.Minute, "the upload was never processed:\n%s", out)
			if served == 0 && c.fallbackServed(id) {
				served = time.Since(responded)
			}
			if served != 0 && c.postJSON(id)["processing"] != true {
				done = time.Since(responded)
			}
			time.Sleep(10 * time.Millisecond)
		}
		load, _ := os.ReadFile("/proc/loadavg")
		stop()
		be := "?"
		if m := backend.FindStringSubmatch(out.String()); m != nil {
			be = strings.TrimSpace(m[1])
		}
		b.ReportMetric(served.Seconds(), "fallback_s")
		b.ReportMetric(done.Seconds(), "done_s")
		b.Logf("first upload (%s): listening %.2f s after start; upload request %.2f s; after its response: fallback served %.2f s, every variant %.2f s; %.2f s from the process's start to the fallback; load average %s",
			be, listening.Seconds(), responded.Sub(sent).Seconds(), served.Seconds(), done.Seconds(),
			(responded.Sub(start) + served).Seconds(), strings.TrimSpace(string(load)))
	}
}
