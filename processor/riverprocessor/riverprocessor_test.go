package riverprocessor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/processor"
	"github.com/gopictures/pictures/processor/riverprocessor"
	"github.com/gopictures/pictures/processor/riverprocessor/pgtest"
	"github.com/gopictures/pictures/storage"
)

// TestMain turns the test binary into a worker process when
// TestWorkerProcesses or TestMixedVersions starts it so.
func TestMain(m *testing.M) {
	if os.Getenv("PICTURES_RIVER_CHILD") != "" {
		os.Exit(workerProcess())
	}
	if os.Getenv("PICTURES_RIVER_VERSIONS") != "" {
		os.Exit(versionsWorker())
	}
	os.Exit(m.Run())
}

func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, riverprocessor.Migrate(context.Background(), pool))
	return pool
}

func picture(key string) pictures.Job {
	return pictures.Job{Picture: pictures.Picture{Field: "f", Key: key, Width: 100, Height: 100}}
}

// TestQueue covers the queue in one process: uniqueness per picture and
// focal point, retries of transient failures, no retry of permanent ones,
// and enqueueing in a transaction.
func TestQueue(t *testing.T) {
	srv := pgtest.Start(t)
	pool := newPool(t, srv.Database(t))
	ctx := context.Background()

	var mu sync.Mutex
	runs := map[string]int{}
	release := make(chan struct{})
	q, err := riverprocessor.New(pool, riverprocessor.Config{
		Workers: 2, Backoff: 50 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		Run: func(ctx context.Context, job pictures.Job) error {
			<-release
			mu.Lock()
			key := job.Picture.Key
			if job.Picture.Focus != nil {
				key += "+focus"
			}
			runs[key]++
			n := runs[key]
			mu.Unlock()
			switch {
			case job.Picture.Key == "flaky" && n == 1:
				return errors.New("storage unreachable")
			case job.Picture.Key == "missing":
				return processor.Permanent(errors.New("the original is gone"))
			}
			return nil
		},
	})
	require.NoError(t, err)

	// Enqueued before any worker runs: duplicates collapse.
	require.NoError(t, q.Enqueue(ctx, picture("a")))
	require.NoError(t, q.Enqueue(ctx, picture("a")))
	focused := picture("a")
	focused.Picture.Focus = &pictures.FocalPoint{X: 0.2, Y: 0.3}
	require.NoError(t, q.Enqueue(ctx, focused))
	require.NoError(t, q.Enqueue(ctx, picture("flaky")))
	require.NoError(t, q.Enqueue(ctx, picture("missing")))

	// In a transaction: rolled back, nothing; committed, a job.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, q.EnqueueTx(ctx, tx, picture("rolled-back")))
	require.NoError(t, tx.Rollback(ctx))
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, q.EnqueueTx(ctx, tx, picture("committed")))
	require.NoError(t, tx.Commit(ctx))

	require.NoError(t, q.Start(ctx))
	close(release)
	t.Cleanup(func() { q.Stop(context.Background()) })

	states := func() map[string]string {
		rows, err := pool.Query(ctx, `SELECT args->>'key', state, attempt FROM river_job ORDER BY id`)
		require.NoError(t, err)
		got := map[string]string{}
		for rows.Next() {
			var key, state string
			var attempt int
			require.NoError(t, rows.Scan(&key, &state, &attempt))
			got[key] += fmt.Sprintf("%s/%d ", state, attempt)
		}
		require.NoError(t, rows.Err())
		return got
	}
	require.Eventually(t, func() bool {
		s := states()
		return s["a"] == "completed/1 completed/1 " && s["flaky"] == "completed/2 " &&
			s["missing"] == "cancelled/1 " && s["committed"] == "completed/1 "
	}, 30*time.Second, 50*time.Millisecond, "jobs: %v", states())
	mu.Lock()
	assert.Equal(t, map[string]int{"a": 1, "a+focus": 1, "flaky": 2, "missing": 1, "committed": 1}, runs)
	mu.Unlock()
	assert.NotContains(t, states(), "rolled-back")

	// Finished, a picture can be processed again (a new configuration).
	require.NoError(t, q.Enqueue(ctx, picture("a")))
	require.Eventually(t, func() bool { return states()["a"] == "completed/1 completed/1 completed/1 " }, 30*time.Second, 50*time.Millisecond)
}

func TestConfigErrors(t *testing.T) {
	_, err := riverprocessor.New(nil, riverprocessor.Config{JobTimeout: time.Minute, RescueAfter: time.Second})
	assert.ErrorContains(t, err, "RescueAfter")
}

// The worker processes' field: the photo into 1/1 and original crops at
// three widths, AVIF and JPEG.
func testField(root string) *pictures.PictureField {
	return &pictures.PictureField{
		Name: "river-e2e", AspectRatios: []string{"", "1/1"}, ContainerWidth: 600, GridColumns: 2,
		PixelDensities: []int{1, 2}, Storage: &storage.Dir{Root: root},
	}
}

// workerProcess is a worker: the field registered as in the application,
// OnProcessed recording the picture in PostgreSQL, River working jobs
// until SIGTERM.
func workerProcess() int {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("PICTURES_RIVER_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	id := os.Getenv("PICTURES_RIVER_CHILD")
	field := testField(os.Getenv("PICTURES_RIVER_MEDIA"))
	field.OnProcessed = func(ctx context.Context, p pictures.Picture) error {
		_, err := pool.Exec(ctx, `UPDATE uploads SET picture = $1, worker = $2 WHERE key = $3`, p, id, p.Key)
		return err
	}
	pictures.MustRegister(field)
	q, err := riverprocessor.New(pool, riverprocessor.Config{
		ID: id, Workers: 1, Backoff: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		JobTimeout: 20 * time.Second, RescueAfter: 25 * time.Second,
		Run: func(ctx context.Context, job pictures.Job) error {
			fmt.Printf("START %s\n", job.Picture.Key)
			err := pictures.Run(ctx, job)
			fmt.Printf("END %s %v\n", job.Picture.Key, err)
			return err
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A warm encoder, as a long-running worker has.
	pipeline.Encode(ctx, &bytes.Buffer{}, "AVIF", image.NewRGBA(image.Rect(0, 0, 16, 16)), pipeline.Encoding{})
	if err := q.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("READY")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	stop, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := q.Stop(stop); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a running worker process.
type child struct {
	id  string
	cmd *exec.Cmd
	out *syncbuf.Buffer
}

func startWorker(t *testing.T, id, db, media string) *child {
	t.Helper()
	c := &child{id: id, out: &syncbuf.Buffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), "PICTURES_RIVER_CHILD="+id, "PICTURES_RIVER_DB="+db,
		"PICTURES_RIVER_MEDIA="+media) // no encoder.Init: AVIF encodes in-process
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("worker %s:\n%s", id, c.out.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(c.out.String(), "READY") }, time.Minute, 20*time.Millisecond, "worker %s did not start:\n%s", id, c.out)
	return c
}

// TestWorkerProcesses runs three worker processes on a batch of uploads,
// each enqueued in the transaction that records it. One worker is killed
// (SIGKILL) in the middle of a job: no partial file is ever visible, the
// others share the rest, the killed job is taken over and finished, and in
// the end every variant of every upload is in storage, once, and every
// row records them.
func TestWorkerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	srv := pgtest.Start(t)
	db := srv.Database(t)
	pool := newPool(t, db)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE uploads (key text PRIMARY KEY, picture text NOT NULL, worker text)`)
	require.NoError(t, err)

	media := t.TempDir()
	field := testField(media)
	field.Processor = pictures.ProcessorFunc(func(context.Context, pictures.Job) error {
		return errors.New("this process only enqueues in transactions")
	})
	require.NoError(t, pictures.Register(field))
	t.Cleanup(func() { pictures.Unregister(field) })
	q, err := riverprocessor.New(pool, riverprocessor.Config{})
	require.NoError(t, err)

	workers := []*child{}
	for i := range 3 {
		workers = append(workers, startWorker(t, fmt.Sprintf("worker-%d", i+1), db, media))
	}

	photo, err := os.ReadFile("../../testdata/photos/dandelion-1600.jpg")
	require.NoError(t, err)
	const uploads = 12
	var keys []string
	for i := range uploads {
		p, err := field.Upload(ctx, bytes.NewReader(photo), fmt.Sprintf("photo-%d.jpg", i))
		require.NoError(t, err)
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO uploads (key, picture) VALUES ($1, $2)`, p.Key, p); err != nil {
				return err
			}
			return q.EnqueueTx(ctx, tx, pictures.Job{Picture: p})
		}))
		keys = append(keys, p.Key)
	}

	// Kill worker 1 in the middle of a job.
	victim := workers[0]
	require.Eventually(t, func() bool { return strings.Contains(victim.out.String(), "START") }, time.Minute, 5*time.Millisecond)
	var killedKey string
	for _, line := range strings.Split(victim.out.String(), "\n") {
		if k, ok := strings.CutPrefix(line, "START "); ok {
			killedKey = k
		}
	}
	time.Sleep(300 * time.Millisecond) // into the job: some variants may be written
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	victim.cmd.Wait()
	require.NotContains(t, victim.out.String(), "END "+killedKey, "the job was still running when the worker died")
	assertNoPartialFiles(t, media)

	// Everything gets done; the killed job is rescued (after RescueAfter,
	// at River's next check) and finished by another worker.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var pending int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state <> 'completed'`).Scan(&pending))
		if pending == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d jobs unfinished", pending)
		time.Sleep(200 * time.Millisecond)
	}
	var attempt int
	var attemptedBy []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT attempt, attempted_by FROM river_job WHERE args->>'key' = $1`, killedKey).Scan(&attempt, &attemptedBy))
	assert.Equal(t, 2, attempt, "the killed job ran twice")
	assert.Equal(t, "worker-1", attemptedBy[0])
	assert.NotEqual(t, "worker-1", attemptedBy[len(attemptedBy)-1], "another worker finished it")

	// Every row records every variant; storage holds exactly the originals
	// and those variants, each complete.
	var want []string
	var done atomic.Int64
	rows, err := pool.Query(ctx, `SELECT picture, worker FROM uploads`)
	require.NoError(t, err)
	perWorker := map[string]int{}
	for rows.Next() {
		var p pictures.Picture
		var worker string
		require.NoError(t, rows.Scan(&p, &worker))
		require.True(t, field.Current(p), "%s is not fully processed: %+v", p.Key, p.Variants)
		want = append(want, p.Key)
		want = append(want, p.Keys()...)
		perWorker[worker]++
		done.Add(1)
	}
	require.NoError(t, rows.Err())
	assert.EqualValues(t, uploads, done.Load())
	// Worker 1 died in its first job; the two others shared the batch.
	assert.Positive(t, perWorker["worker-2"], "worker 2 finished jobs: %v", perWorker)
	assert.Positive(t, perWorker["worker-3"], "worker 3 finished jobs: %v", perWorker)
	slices.Sort(want)
	got, err := field.Storage.List(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, want, got, "storage holds each file once, and nothing else")
	assertNoPartialFiles(t, media)
	for _, k := range keys {
		assert.Contains(t, got, k)
	}
	t.Logf("jobs per worker: %v; killed job %s: attempts by %v", perWorker, killedKey, attemptedBy)
}

// assertNoPartialFiles walks the media directory as a web server would
// see it: every file not hidden (temporary files are) decodes whole.
func assertNoPartialFiles(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasPrefix(info.Name(), ".") {
			return nil
		}
		if !storage.IsVariantKey(strings.TrimPrefix(path, root+"/")) {
			return nil
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		info2, err := pipeline.Inspect(data)
		require.NoError(t, err, "%s is not a whole image", path)
		_, err = pipeline.Decode(data, info2)
		assert.NoError(t, err, "%s does not decode", path)
		return nil
	})
}
