package riverprocessor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/processor"
	"github.com/gopictures/pictures/processor/riverprocessor"
	"github.com/gopictures/pictures/processor/riverprocessor/pgtest"
	"github.com/gopictures/pictures/storage"
)

// TestPriorities: with the backlog worker busy and many backlog jobs
// waiting, a fresh job starts at once, in the fresh queue's worker; the
// backlog keeps its order, by priority.
func TestPriorities(t *testing.T) {
	srv := pgtest.Start(t)
	pool := newPool(t, srv.Database(t))
	ctx := context.Background()

	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var order []string
	q, err := riverprocessor.New(pool, riverprocessor.Config{
		Workers: 1, PollInterval: 50 * time.Millisecond,
		Run: func(ctx context.Context, job pictures.Job) error {
			if job.Picture.Key == "running" {
				close(started)
				<-release
			}
			mu.Lock()
			order = append(order, job.Picture.Key)
			mu.Unlock()
			return nil
		},
	})
	require.NoError(t, err)
	backlog := func(key string) pictures.Job {
		j := picture(key)
		j.Priority = processor.Backlog
		return j
	}
	require.NoError(t, q.Enqueue(ctx, backlog("running")))
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() { q.Stop(context.Background()) })
	<-started

	const n = 100
	var want []string
	for i := range n {
		key := fmt.Sprintf("backlog-%03d", i)
		want = append(want, key)
		require.NoError(t, q.Enqueue(ctx, backlog(key)))
	}
	require.NoError(t, q.Enqueue(ctx, picture("upload"))) // Fresh, the zero value
	low := picture("lowest")
	low.Priority = processor.LowestPriority
	require.NoError(t, q.Enqueue(ctx, low))
	var priorities []int
	var queues []string
	rows, err := pool.Query(ctx, `SELECT priority, queue FROM river_job WHERE args->>'key' IN ('upload', 'backlog-000', 'lowest') ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var p int
		var queue string
		require.NoError(t, rows.Scan(&p, &queue))
		priorities, queues = append(priorities, p), append(queues, queue)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []int{2, 1, 4}, priorities, "River's priorities: backlog 2, fresh 1, lowest 4")
	assert.Equal(t, []string{"pictures_backlog", "pictures", "pictures_backlog"}, queues)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(order, "upload")
	}, time.Minute, 20*time.Millisecond, "the upload is done while the backlog job still runs")
	close(release)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == n+3
	}, time.Minute, 20*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"upload", "running"}, order[:2])
	assert.Equal(t, want, order[2:n+2], "the backlog keeps its order")
	assert.Equal(t, "lowest", order[n+2])
}

// TestHandBack runs, in one process, a job enqueued for a configuration
// this process does not have and cannot order against its own: it is
// handed back (snoozed, logged, not an attempt), and once HandBackFor has
// passed done with this process's configuration, with a warning.
func TestHandBack(t *testing.T) {
	srv := pgtest.Start(t)
	pool := newPool(t, srv.Database(t))
	ctx := context.Background()
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	var recorded []pictures.Picture
	var mu sync.Mutex
	field := versionsField(t.TempDir(), true, 0)
	field.OnProcessed = func(_ context.Context, p pictures.Picture) error {
		mu.Lock()
		recorded = append(recorded, p)
		mu.Unlock()
		return nil
	}
	require.NoError(t, pictures.Register(field))
	t.Cleanup(func() { pictures.Unregister(field) })
	p, err := field.Upload(ctx, bytes.NewReader(testJPEG(t, 320, 240)), "a.jpg")
	require.NoError(t, err)

	q, err := riverprocessor.New(pool, riverprocessor.Config{
		Workers: 1, PollInterval: 50 * time.Millisecond, Logger: logger,
		HandBackFor: 1500 * time.Millisecond, HandBackDelay: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	// Enqueued by a process whose configuration (of the same revision)
	// plans other variants.
	require.NoError(t, q.Enqueue(ctx, pictures.Job{Picture: p, Config: "0123456789ab"}))
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() { q.Stop(context.Background()) })

	var state string
	var attempt int
	require.Eventually(t, func() bool {
		require.NoError(t, pool.QueryRow(ctx, `SELECT state, attempt FROM river_job`).Scan(&state, &attempt))
		return state == "completed"
	}, time.Minute, 50*time.Millisecond, "state %s", state)
	assert.Equal(t, 1, attempt, "hand-backs use no attempt")
	handBacks := strings.Count(logs.String(), "job handed back")
	assert.GreaterOrEqual(t, handBacks, 3, "handed back every HandBackDelay during HandBackFor:\n%s", logs.String())
	assert.Contains(t, logs.String(), "enqueued for configuration 0123456789ab, another one of the same revision 0, and neither is known to be newer")
	assert.Contains(t, logs.String(), "level=WARN msg=\"pictures: no process with the configuration a job was enqueued for took it within HandBackFor")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, recorded)
	assert.True(t, field.Current(recorded[len(recorded)-1]), "done with this process's configuration")
}

// The field of TestMixedVersions: the original ratio; the newer
// configuration adds 16/9. JPEG only, for speed.
func versionsField(media string, newer bool, revision int) *pictures.PictureField {
	f := &pictures.PictureField{
		Name: "versions", ContainerWidth: 400, GridColumns: 1, PixelDensities: []int{1},
		FileTypes: []string{"JPEG"}, Storage: &storage.Dir{Root: media}, Revision: revision,
	}
	if newer {
		f.AspectRatios = []string{"", "16/9"}
	}
	return f
}

func testJPEG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

// reconcileUploads schedules, as backlog, every recorded picture that is
// not current for field: what a process does at start.
func reconcileUploads(ctx context.Context, pool *pgxpool.Pool, field *pictures.PictureField) (int, error) {
	rows, err := pool.Query(ctx, `SELECT picture FROM uploads ORDER BY key`)
	if err != nil {
		return 0, err
	}
	ps, err := pgx.CollectRows(rows, pgx.RowTo[pictures.Picture])
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		if !field.Current(p) {
			if err := field.ScheduleBacklog(ctx, p); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// versionsWorker is a worker process of TestMixedVersions, with the old
// or the new configuration (PICTURES_RIVER_VERSIONS=id:old or id:new): it
// reconciles at start, then works jobs, printing what it did with each:
// "DONE key job=<job's Config> own=<its own>" or "HANDBACK key".
func versionsWorker() int {
	ctx := context.Background()
	id, which, _ := strings.Cut(os.Getenv("PICTURES_RIVER_VERSIONS"), ":")
	pool, err := pgxpool.New(ctx, os.Getenv("PICTURES_RIVER_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	field := versionsField(os.Getenv("PICTURES_RIVER_MEDIA"), which == "new", map[string]int{"old": 1, "new": 2}[which])
	field.OnProcessed = func(ctx context.Context, p pictures.Picture) error {
		_, err := pool.Exec(ctx, `UPDATE uploads SET picture = $1, worker = $2 WHERE key = $3`, p, id, p.Key)
		return err
	}
	var out sync.Mutex
	q, err := riverprocessor.New(pool, riverprocessor.Config{
		ID: id, Workers: 1, Backoff: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		HandBackFor: time.Hour, HandBackDelay: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stdout, nil)),
		Run: func(ctx context.Context, job pictures.Job) error {
			err := pictures.Run(ctx, job)
			out.Lock()
			defer out.Unlock()
			switch own := (pictures.Job{Picture: job.Picture}).Stamped().Config; {
			case errors.Is(err, pictures.ErrOtherConfig):
				fmt.Printf("HANDBACK %s\n", job.Picture.Key)
			case err == nil:
				fmt.Printf("DONE %s job=%s/%d own=%s/%d\n", job.Picture.Key, job.Config, job.Revision, own, field.Revision)
			default:
				fmt.Printf("FAILED %s %v\n", job.Picture.Key, err)
			}
			return err
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	field.Processor = q
	pictures.MustRegister(field)
	n, err := reconcileUploads(ctx, pool, field)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := q.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("READY reconciled=%d\n", n)
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

func startVersionsWorker(t *testing.T, id, which, db, media string) *child {
	t.Helper()
	c := &child{id: id, out: &syncbuf.Buffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), "PICTURES_RIVER_VERSIONS="+id+":"+which, "PICTURES_RIVER_DB="+db, "PICTURES_RIVER_MEDIA="+media)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("worker %s (%s configuration):\n%s", id, which, c.out.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(c.out.String(), "READY") }, time.Minute, 20*time.Millisecond, "worker %s did not start:\n%s", id, c.out)
	return c
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, c.cmd.Wait())
}

var doneLine = regexp.MustCompile(`(?m)^DONE (\S+) job=(\w*)/(\d+) own=(\w+)/(\d+)$`)

// checkDone asserts that a worker reported done only jobs of its own
// configuration, jobs of an older revision (doing its newer work) and
// unstamped ones: never, as a no-op, a job of a newer configuration.
func checkDone(t *testing.T, c *child) (done int) {
	t.Helper()
	for _, m := range doneLine.FindAllStringSubmatch(c.out.String(), -1) {
		jobConfig, own := m[2], m[4]
		jobRev, _ := strconv.Atoi(m[3])
		ownRev, _ := strconv.Atoi(m[5])
		assert.True(t, jobConfig == own || jobConfig == "" || jobRev < ownRev, "worker %s reported %s done, a job of configuration %s/%s, its own being %s/%s", c.id, m[1], jobConfig, jobRev, own, ownRev)
		done++
	}
	return done
}

// mixedDeployment is a web process (this test) and worker processes on
// one database and media directory.
type mixedDeployment struct {
	t         *testing.T
	pool      *pgxpool.Pool
	db, media string
	q         *riverprocessor.Queue
	web       *pictures.PictureField
}

func newMixedDeployment(t *testing.T) *mixedDeployment {
	srv := pgtest.Start(t)
	d := &mixedDeployment{t: t, db: srv.Database(t), media: t.TempDir()}
	d.pool = newPool(t, d.db)
	_, err := d.pool.Exec(context.Background(), `CREATE TABLE uploads (key text PRIMARY KEY, picture text NOT NULL, worker text)`)
	require.NoError(t, err)
	d.q, err = riverprocessor.New(d.pool, riverprocessor.Config{})
	require.NoError(t, err)
	return d
}

// deployWeb (re)starts the web process on a configuration: it registers
// it and reconciles, as the example app's web process does at start.
func (d *mixedDeployment) deployWeb(which string) {
	d.t.Helper()
	if d.web != nil {
		pictures.Unregister(d.web)
	}
	d.web = versionsField(d.media, which == "new", map[string]int{"old": 1, "new": 2}[which])
	d.web.Processor = d.q
	require.NoError(d.t, pictures.Register(d.web))
	d.t.Cleanup(func() { pictures.Unregister(d.web) })
	_, err := reconcileUploads(context.Background(), d.pool, d.web)
	require.NoError(d.t, err)
}

// upload stores n new photos, each row with its job (Fresh).
func (d *mixedDeployment) upload(n int) {
	d.t.Helper()
	ctx := context.Background()
	for i := range n {
		p, err := d.web.Upload(ctx, bytes.NewReader(testJPEG(d.t, 320+16*i, 240)), "photo.jpg")
		require.NoError(d.t, err)
		require.NoError(d.t, pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO uploads (key, picture) VALUES ($1, $2)`, p.Key, p); err != nil {
				return err
			}
			return d.q.EnqueueTx(ctx, tx, pictures.Job{Picture: p})
		}))
	}
}

func (d *mixedDeployment) pending() int {
	var n int
	require.NoError(d.t, d.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state <> 'completed'`).Scan(&n))
	return n
}

func (d *mixedDeployment) waitDone() {
	d.t.Helper()
	require.Eventually(d.t, func() bool { return d.pending() == 0 }, 2*time.Minute, 50*time.Millisecond, "%d jobs unfinished", d.pending())
}

// current counts the recorded pictures current for f, and all.
func (d *mixedDeployment) current(f *pictures.PictureField) (current, all int) {
	d.t.Helper()
	rows, err := d.pool.Query(context.Background(), `SELECT picture FROM uploads`)
	require.NoError(d.t, err)
	ps, err := pgx.CollectRows(rows, pgx.RowTo[pictures.Picture])
	require.NoError(d.t, err)
	for _, p := range ps {
		if f.Current(p) {
			current++
		}
	}
	return current, len(ps)
}

// checkStorage asserts that storage holds exactly the originals and the
// variants the rows record.
func (d *mixedDeployment) checkStorage() {
	d.t.Helper()
	ctx := context.Background()
	rows, err := d.pool.Query(ctx, `SELECT picture FROM uploads`)
	require.NoError(d.t, err)
	ps, err := pgx.CollectRows(rows, pgx.RowTo[pictures.Picture])
	require.NoError(d.t, err)
	var want []string
	for _, p := range ps {
		want = append(want, p.Key)
		want = append(want, p.Keys()...)
	}
	got, err := d.web.Storage.List(ctx, "")
	require.NoError(d.t, err)
	assert.ElementsMatch(d.t, want, got, "storage holds what the rows record, and nothing else")
}

// TestMixedVersions deploys a configuration change (a new 16/9 ratio,
// Revision 1 to 2) in both orders, with the old and the new configuration
// running at once in separate processes: every picture ends current, and
// no process reports a job done that its configuration would do otherwise.
func TestMixedVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	t.Run("web first", func(t *testing.T) {
		d := newMixedDeployment(t)
		d.deployWeb("old")
		oldWorker := startVersionsWorker(t, "old-1", "old", d.db, d.media)
		d.upload(4)
		d.waitDone()
		cur, all := d.current(d.web)
		require.Equal(t, 4, all)
		require.Equal(t, 4, cur, "everything is current before the change")

		// The new web process: its start-up reconcile enqueues the new
		// ratio for every picture, and a new upload comes in. The old
		// worker hands them all back; nothing is done, nothing recorded.
		d.deployWeb("new")
		d.upload(2)
		require.Eventually(t, func() bool { return strings.Count(oldWorker.out.String(), "HANDBACK") >= 12 }, time.Minute, 20*time.Millisecond,
			"the old worker hands back the new configuration's jobs")
		assert.Equal(t, 6, d.pending(), "no job of the new configuration is done by the old worker")
		cur, all = d.current(d.web)
		assert.Equal(t, 0, cur, "none is reported current that is not")
		assert.Equal(t, 6, all)
		assert.Contains(t, oldWorker.out.String(), "a newer one (revision 2; this process has 1)")

		// The new worker starts, and does them all, the old one still
		// running.
		newWorker := startVersionsWorker(t, "new-1", "new", d.db, d.media)
		d.waitDone()
		cur, all = d.current(d.web)
		assert.Equal(t, 6, all)
		assert.Equal(t, 6, cur, "every picture ends current")
		oldWorker.stop(t)
		newWorker.stop(t)
		assert.Equal(t, 4, checkDone(t, oldWorker), "the old worker did only the jobs of the old configuration")
		assert.Equal(t, 6, checkDone(t, newWorker))
		d.checkStorage()
	})

	t.Run("workers first", func(t *testing.T) {
		d := newMixedDeployment(t)
		d.deployWeb("old")
		oldWorker := startVersionsWorker(t, "old-1", "old", d.db, d.media)
		d.upload(4)
		d.waitDone()

		// A new worker starts (its start-up reconcile enqueues the new
		// ratio for every picture), the old one still running, and the old
		// web process takes uploads: both workers work them, each by the
		// rules, and every job is done.
		newWorker := startVersionsWorker(t, "new-1", "new", d.db, d.media)
		assert.Contains(t, newWorker.out.String(), "READY reconciled=4")
		d.upload(4)
		d.waitDone()
		newCur, all := d.current(versionsField(d.media, true, 2))
		oldCur, _ := d.current(d.web)
		assert.Equal(t, 8, all)
		assert.Equal(t, 8, newCur+oldCur, "each picture is current for the configuration that did it last")
		assert.Positive(t, newCur, "the new worker did the reconciled pictures")

		// The web process is upgraded last, and reconciles what the old
		// worker did meanwhile; the old worker is still running.
		d.deployWeb("new")
		d.waitDone()
		cur, all := d.current(d.web)
		assert.Equal(t, 8, all)
		assert.Equal(t, 8, cur, "every picture ends current")
		oldWorker.stop(t)
		newWorker.stop(t)
		oldDone, newDone := checkDone(t, oldWorker), checkDone(t, newWorker)
		assert.GreaterOrEqual(t, oldDone, 4)
		assert.GreaterOrEqual(t, newDone, 4+(8-newCur))
		t.Logf("jobs done: old worker %d, new worker %d; after the workers' deploy %d of 8 pictures were current for the new configuration", oldDone, newDone, newCur)
		d.checkStorage()
	})
}
