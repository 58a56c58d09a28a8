package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkFreshUploadScaledOut is BenchmarkFreshUploadBehindBacklog on a
// scaled-out deployment: PostgreSQL, versitygw, a web process and one
// worker process (River, default jobs at once: one fresh and one backlog
// on 2 CPUs), 100 posts not processed, which the worker schedules as
// backlog when it starts; then a user uploads a photo. It reports the
// seconds from the upload's response to the first successful GET of the
// JPEG fallback the post page links (a presigned S3 URL), and how many
// backlog posts were still processing then:
//
//	go test -run '^$' -bench FreshUploadScaledOut -benchtime 1x ./examples/instagram
func BenchmarkFreshUploadScaledOut(b *testing.B) {
	const backlog = 100
	ctx := context.Background()
	for b.Loop() {
		d := startDeployment(b)
		a := startApp(b, d.web)
		uid, err := a.db.CreateUser(ctx, "backlog", "Backlog", []byte("x"))
		require.NoError(b, err)
		rng := rand.New(rand.NewPCG(14, 1))
		var photos [][]byte
		for _, sz := range demoSizes[:6] {
			data, err := encodeJPEG(landscape(rng, sz.w, sz.h), sz.orientation)
			require.NoError(b, err)
			photos = append(photos, data)
		}
		for i := range backlog {
			p, err := a.post.Upload(ctx, bytes.NewReader(photos[i%len(photos)]), "IMG.JPG")
			require.NoError(b, err)
			_, err = a.db.CreatePost(ctx, uid, fmt.Sprintf("backlog %d", i), p, time.Now())
			require.NoError(b, err)
		}
		// As after a crash or a configuration change: posts whose pictures
		// are not current and have no job; the worker's start schedules them.
		_, err = a.db.pg.Exec(ctx, `DELETE FROM river_job`)
		require.NoError(b, err)
		w := d.startWorker(b, "worker-1", "-workers", "0")
		require.Contains(b, w.out.String(), fmt.Sprintf("scheduled=%d", backlog))
		require.Eventually(b, func() bool { return jobStates(b, a)["running"] > 0 }, time.Minute, 20*time.Millisecond)

		c := a.client()
		c.signup("fresh")
		sz := demoSizes[0]
		upload, err := encodeJPEG(landscape(rng, sz.w, sz.h), sz.orientation)
		require.NoError(b, err)
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
		b.Logf("scaled out: fallback served %.2f s after the upload's response; %d of %d backlog posts still processing; load average %s",
			served.Seconds(), waiting, backlog, strings.TrimSpace(string(load)))
		require.Greater(b, waiting, backlog*9/10, "the upload did not wait for the backlog")
	}
}
