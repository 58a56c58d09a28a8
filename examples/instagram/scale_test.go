package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/processor/riverprocessor/pgtest"
	"github.com/gopictures/pictures/storage/s3storage/s3test"
)

// TestMain lets the scaled-out tests start this binary as the app's own
// processes: with INSTAGRAM_TEST_MAIN set, it runs main with those
// arguments (such as "worker") instead of the tests.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("INSTAGRAM_TEST_MAIN"); ok {
		os.Args = append([]string{"instagram"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// deployment is the app scaled out: PostgreSQL, an S3-compatible server
// with a bucket, and the configuration that points the app at them.
type deployment struct {
	pg     *pgtest.Server
	s3     *s3test.Server
	db     string
	bucket string
}

func startDeployment(t testing.TB) *deployment {
	t.Helper()
	d := &deployment{pg: pgtest.Start(t), s3: s3test.Start(t)}
	d.db = d.pg.Database(t)
	d.bucket = d.s3.Bucket(t)
	// The app's processes find the credentials where AWS tools do.
	t.Setenv("AWS_ACCESS_KEY_ID", d.s3.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", d.s3.Secret)
	return d
}

// web configures an in-process web app on the deployment.
func (d *deployment) web(c *Config) {
	c.DatabaseURL = d.db
	c.S3 = S3Config{Bucket: d.bucket, Endpoint: d.s3.Endpoint, Prefix: "media/"}
	c.Demo = false
}

// worker is a worker process: this test binary running `instagram worker`.
type worker struct {
	id  string
	cmd *exec.Cmd
	out *syncbuf.Buffer
}

// startWorker starts a worker process and waits until it is ready. Its
// River timings are short, so that tests see rescues and retries.
func (d *deployment) startWorker(t testing.TB, id string, flags ...string) *worker {
	return d.startWorkerOn(t, id, -1, flags...)
}

// startWorkerOn starts a worker process confined to one CPU (cpu >= 0),
// as if it had a machine of one CPU to itself, or free (cpu < 0).
func (d *deployment) startWorkerOn(t testing.TB, id string, cpu int, flags ...string) *worker {
	t.Helper()
	args := append([]string{"worker", "-workers", "1", "-job-timeout", "60s", "-rescue-after", "65s", "-retry-backoff", "2s"}, flags...)
	w := &worker{id: id, out: &syncbuf.Buffer{}}
	w.cmd = exec.Command(os.Args[0], "-test.run=^$")
	var pin []string
	if cpu >= 0 {
		w.cmd = exec.Command("taskset", "-c", strconv.Itoa(cpu), os.Args[0], "-test.run=^$")
		pin = []string{"GOMAXPROCS=1"}
	}
	w.cmd.Env = append(append(os.Environ(), pin...), "INSTAGRAM_TEST_MAIN="+strings.Join(args, " "),
		"INSTAGRAM_DATABASE="+d.db, "INSTAGRAM_S3_BUCKET="+d.bucket, "INSTAGRAM_S3_ENDPOINT="+d.s3.Endpoint,
		"INSTAGRAM_S3_PREFIX=media/", "INSTAGRAM_WORKER_ID="+id)
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	require.NoError(t, w.cmd.Start())
	t.Cleanup(func() {
		w.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			w.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("worker %s:\n%s", id, w.out.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(w.out.String(), "worker ready") }, 2*time.Minute, 20*time.Millisecond,
		"worker %s did not start:\n%s", id, w.out)
	for _, step := range []string{"database and storage open", "encoders ready", "working jobs"} {
		assert.Contains(t, w.out.String(), "worker starting: "+step, "the start's steps are logged, with their times")
	}
	return w
}

// jobStates counts River's picture jobs by state. It tries again for a
// while when the database does not answer (restarting, connections cut).
func jobStates(t testing.TB, a *testApp) map[string]int {
	t.Helper()
	var err error
	for range 50 {
		out := map[string]int{}
		var rows pgx.Rows
		if rows, err = a.db.pg.Query(context.Background(), `SELECT state, count(*) FROM river_job GROUP BY state`); err == nil {
			for rows.Next() {
				var state string
				var n int
				if err = rows.Scan(&state, &n); err != nil {
					break
				}
				out[state] = n
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err == nil {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("counting jobs: %v", err)
	return nil
}

// waitAllDone waits until every job is completed and every picture of the
// app is current, and returns how long it took.
func waitAllDone(t testing.TB, a *testApp, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		states := jobStates(t, a)
		all, err := a.db.AllPictures(context.Background())
		if err != nil { // the database restarting: ask again
			time.Sleep(200 * time.Millisecond)
			continue
		}
		current := 0
		for _, p := range all {
			if a.fieldOf(p).Current(p) {
				current++
			}
		}
		if len(states) == 1 && states["completed"] > 0 && current == len(all) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("not done after %v: jobs %v, %d of %d pictures current", timeout, states, current, len(all))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lastJob returns the id of the latest job (0 for none).
func lastJob(t testing.TB, a *testApp) (id int64) {
	t.Helper()
	require.NoError(t, a.db.pg.QueryRow(context.Background(), `SELECT coalesce(max(id), 0) FROM river_job`).Scan(&id))
	return id
}

// attempts counts the jobs after job since, and sums their attempts.
func attempts(t testing.TB, a *testApp, since int64) (jobs, tries int) {
	t.Helper()
	require.NoError(t, a.db.pg.QueryRow(context.Background(),
		`SELECT count(*), coalesce(sum(attempt), 0) FROM river_job WHERE id > $1`, since).Scan(&jobs, &tries))
	return jobs, tries
}

var imgURL = regexp.MustCompile(`(?:src|srcset)="([^" ]+)`)

// TestScaledOut runs the app as a deployment does: a web process on
// PostgreSQL and S3, two worker processes. Uploads through the web app are
// processed by the workers (both take jobs); pages link to presigned S3
// URLs that the Content-Security-Policy allows and that serve the
// variants with their types and cache headers.
func TestScaledOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, versitygw and worker processes")
	}
	d := startDeployment(t)
	a := startApp(t, d.web)
	require.True(t, a.db.EnqueuesJobs())
	w1 := d.startWorker(t, "worker-1")
	w2 := d.startWorker(t, "worker-2")

	c := a.client()
	c.signup("ada")
	rng := rand.New(rand.NewPCG(7, 8))
	var ids []int64
	for i := range 8 {
		data, err := encodeJPEG(landscape(rng, 1080, 1350), 1)
		require.NoError(t, err)
		ids = append(ids, c.newPost(fmt.Sprintf("photo %d", i), data))
	}
	avatar, err := encodeJPEG(portrait(rng, 400, 400), 1)
	require.NoError(t, err)
	require.Equal(t, 303, c.upload("/settings", map[string]string{"name": "Ada"}, "avatar", "ada.jpg", avatar).status)
	took := waitAllDone(t, a, 6*time.Minute)
	t.Logf("9 pictures processed by 2 worker processes in %v", took)

	// Both workers took jobs, and nothing ran twice.
	rows, err := a.db.pg.Query(context.Background(), `SELECT attempted_by FROM river_job`)
	require.NoError(t, err)
	by := map[string]int{}
	var scanErr error
	var twice [][]string
	for rows.Next() {
		var attempted []string
		if scanErr = rows.Scan(&attempted); scanErr != nil {
			break
		}
		if len(attempted) != 1 {
			twice = append(twice, attempted)
			continue
		}
		by[attempted[0]]++
	}
	rows.Close() // before any require: an open result set would hang the cleanup
	require.NoError(t, scanErr)
	require.NoError(t, rows.Err())
	require.Empty(t, twice, "jobs attempted more than once")
	assert.Equal(t, 9, by["worker-1"]+by["worker-2"], "jobs by worker: %v", by)
	assert.Positive(t, by["worker-1"], "jobs by worker: %v", by)
	assert.Positive(t, by["worker-2"], "jobs by worker: %v", by)

	// The post page links to S3; the browser may load from there.
	res := c.get(fmt.Sprintf("/p/%d", ids[0]))
	require.Equal(t, 200, res.status)
	assert.Contains(t, res.header.Get("Content-Security-Policy"), "img-src 'self' data: "+d.s3.Endpoint+";")
	assert.NotContains(t, res.body, "Generating sizes")
	urls := imgURL.FindAllStringSubmatch(res.body, -1)
	require.NotEmpty(t, urls)
	fetched := 0
	for _, m := range urls {
		u := strings.ReplaceAll(m[1], "&amp;", "&")
		if !strings.HasPrefix(u, d.s3.Endpoint+"/"+d.bucket+"/media/") {
			continue
		}
		resp, err := http.Get(u)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, "%s: %s", u, body)
		want := "image/avif"
		if strings.Contains(u, ".jpeg?") {
			want = "image/jpeg" // the <img> fallback
		}
		assert.Equal(t, want, resp.Header.Get("Content-Type"), u)
		assert.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
		fetched++
	}
	assert.Positive(t, fetched, "the page links to S3")

	// Storage holds the originals and the variants the rows record.
	all, err := a.db.AllPictures(context.Background())
	require.NoError(t, err)
	var want []string
	for _, p := range all {
		want = append(want, cmp.Or(p.Original, p.Key))
		want = append(want, p.Keys()...)
	}
	slices.Sort(want)
	got, err := a.post.Storage.List(context.Background(), "")
	require.NoError(t, err)
	originals, err := a.post.Originals.List(context.Background(), "")
	require.NoError(t, err)
	got = append(got, originals...)
	slices.Sort(got)
	assert.Equal(t, want, got)
	_, _ = w1, w2
}

// TestScaledOutFailures takes the deployment through the three failures of
// a scaled-out app, each while jobs are being processed: an unreachable S3
// endpoint, a PostgreSQL restart and a worker killed mid-job. Each time the
// jobs are retried (or rescued) and every picture ends up processed.
func TestScaledOutFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, versitygw and worker processes")
	}
	d := startDeployment(t)
	a := startApp(t, d.web)
	c := a.client()
	c.signup("ada")
	rng := rand.New(rand.NewPCG(9, 10))
	post := func(n int) {
		for i := range n {
			data, err := encodeJPEG(landscape(rng, 1080, 1350), 1)
			require.NoError(t, err)
			c.newPost(fmt.Sprintf("photo %d", i), data)
		}
	}

	// S3 unreachable: three uploads wait for a worker; S3 goes away; the
	// worker starts, fails to read the originals and retries; S3 comes
	// back after 10 s.
	since := lastJob(t, a)
	post(3)
	d.s3.Stop()
	w1 := d.startWorker(t, "worker-1")
	start := time.Now()
	require.Eventually(t, func() bool { return jobStates(t, a)["retryable"] > 0 }, time.Minute, 50*time.Millisecond, "jobs fail while S3 is down")
	time.Sleep(10*time.Second - time.Since(start))
	require.NoError(t, d.s3.Restart())
	took := waitAllDone(t, a, 6*time.Minute)
	jobs, tries := attempts(t, a, since)
	t.Logf("S3 down for 10 s: %d jobs, %d attempts, all done %v after it came back", jobs, tries, took.Round(100*time.Millisecond))
	assert.Greater(t, tries, jobs, "jobs were retried")
	assert.Contains(t, w1.out.String(), "job attempt failed")

	// PostgreSQL restarts while a worker processes a batch.
	since = lastJob(t, a)
	post(4)
	require.Eventually(t, func() bool { return jobStates(t, a)["running"] > 0 }, time.Minute, 20*time.Millisecond)
	require.NoError(t, d.pg.Stop())
	time.Sleep(3 * time.Second)
	require.NoError(t, d.pg.Restart())
	took = waitAllDone(t, a, 6*time.Minute)
	jobs, tries = attempts(t, a, since)
	t.Logf("PostgreSQL down for 3 s: %d jobs, %d attempts, all done %v after it came back", jobs, tries, took.Round(100*time.Millisecond))

	// A worker dies (SIGKILL) in the middle of a job; the other finishes
	// the batch, and the abandoned job once River rescues it.
	w2 := d.startWorker(t, "worker-2")
	since = lastJob(t, a)
	post(4)
	var running string
	require.Eventually(t, func() bool {
		return a.db.pg.QueryRow(context.Background(),
			`SELECT args->>'key' FROM river_job WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = 'worker-1'`).Scan(&running) == nil
	}, time.Minute, 10*time.Millisecond, "worker 1 takes a job")
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, w1.cmd.Process.Signal(syscall.SIGKILL))
	took = waitAllDone(t, a, 6*time.Minute)
	var attempted []string
	require.NoError(t, a.db.pg.QueryRow(context.Background(), `SELECT attempted_by FROM river_job WHERE args->>'key' = $1 ORDER BY id DESC LIMIT 1`, running).Scan(&attempted))
	assert.Equal(t, []string{"worker-1", "worker-2"}, attempted, "the abandoned job was finished by the other worker")
	jobs, tries = attempts(t, a, since)
	var posts int
	require.NoError(t, a.db.pg.QueryRow(context.Background(), `SELECT count(*) FROM posts`).Scan(&posts))
	assert.Equal(t, 3+4+4, posts, "every upload is a post, through every failure")
	t.Logf("worker killed mid-job: %d jobs, %d attempts, the batch done %v later (the abandoned job rescued after -rescue-after 65s, at River's check every 30 s)", jobs, tries, took.Round(100*time.Millisecond))
	_ = w2
}

// BenchmarkScaleOut measures throughput: jobs per minute with 1, 2 and 4
// worker processes (each running one job at a time, with the default AVIF
// encoder set-up), on a batch of 24 phone photos (1080x1350) enqueued at
// once through the web app's store; then with 1 and 2 workers each
// confined to a CPU of its own (taskset, GOMAXPROCS=1), as workers on
// separate one-CPU machines would be. Run it with
//
//	go test -run '^$' -bench ScaleOut -benchtime 1x ./examples/instagram
func BenchmarkScaleOut(b *testing.B) {
	type setup struct {
		name    string
		workers int
		pinned  bool
	}
	setups := []setup{{"workers=1", 1, false}, {"workers=2", 2, false}, {"workers=4", 4, false}}
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		setups = append(setups, setup{"workers=1,cpu=1each", 1, true}, setup{"workers=2,cpu=1each", 2, true})
	}
	for _, su := range setups {
		n := su.workers
		b.Run(su.name, func(b *testing.B) {
			for b.Loop() {
				d := startDeployment(b)
				a := startApp(b, d.web)
				for i := range n {
					cpu := -1
					if su.pinned {
						cpu = i % runtime.NumCPU()
					}
					d.startWorkerOn(b, fmt.Sprintf("worker-%d", i+1), cpu)
				}
				const jobs = 24
				rng := rand.New(rand.NewPCG(11, 12))
				photos := make([][]byte, jobs)
				for i := range photos {
					data, err := encodeJPEG(landscape(rng, 1080, 1350), 1)
					require.NoError(b, err)
					photos[i] = data
				}
				uid, err := a.db.CreateUser(context.Background(), "bench", "Bench", []byte("x"))
				require.NoError(b, err)
				ctx := context.Background()
				var pics []pictures.Picture
				for i, data := range photos {
					p, err := a.post.Upload(ctx, bytes.NewReader(data), fmt.Sprintf("p%d.jpg", i))
					require.NoError(b, err)
					pics = append(pics, p)
				}
				start := time.Now()
				for _, p := range pics {
					_, err := a.db.CreatePost(ctx, uid, "", p, time.Now())
					require.NoError(b, err)
				}
				waitAllDone(b, a, 10*time.Minute)
				elapsed := time.Since(start)
				perMin := float64(jobs) / elapsed.Minutes()
				b.ReportMetric(perMin, "jobs/min")
				b.ReportMetric(elapsed.Seconds(), "batch_s")
				fmt.Printf("scaleout %s jobs=%d seconds=%.1f jobs_per_min=%.1f\n", su.name, jobs, elapsed.Seconds(), perMin)
			}
		})
	}
}
