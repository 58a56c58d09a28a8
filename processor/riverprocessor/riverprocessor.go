// Package riverprocessor runs the variant generation of package pictures
// through River (github.com/riverqueue/river), a durable job queue on
// PostgreSQL: jobs survive restarts and crashes, run on any number of
// worker processes on any machines, are retried with backoff, and can be
// enqueued in the same transaction that saves the application's row, so a
// saved post never lacks its job. It lives in its own module, so that
// applications on the in-process pool do not build a database driver.
//
// A web process enqueues; worker processes (the application's own binary,
// with the same fields registered) work:
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	_ = riverprocessor.Migrate(ctx, pool)         // River's tables, once per deploy
//	q, _ := riverprocessor.New(pool, riverprocessor.Config{})
//	field.Processor = q                           // Save and Schedule enqueue
//	...
//	q.Start(ctx)                                  // in worker processes only
//	defer q.Stop(context.Background())
//
// To enqueue with the row, Upload the file, then insert the row and the
// job in one transaction:
//
//	p, _ := field.Upload(ctx, file, name)
//	tx, _ := pool.Begin(ctx)
//	tx.Exec(ctx, `INSERT INTO posts (image) VALUES ($1)`, p)
//	q.EnqueueTx(ctx, tx, pictures.Job{Picture: p})
//	tx.Commit(ctx)
//
// Each picture has at most one job waiting or running (unique by field,
// key and focal point): scheduling it again meanwhile is a no-op, and a new
// focal point makes a new job.
//
// Jobs have River priorities from their pictures.Job Priority, and the
// backlog (processor.Backlog and lower: reconciling, a demo's seed) has a
// queue of its own, worked beside the fresh one: a new upload
// (processor.Fresh) starts at once, before every waiting job of the
// backlog whatever their number, and even while backlog jobs run.
//
// A job says which configuration of its field it was enqueued for
// (pictures.Job's Config and Revision). During a deploy, a worker whose
// configuration differs does not report it done: if the job's Revision is
// lower it does the work of its own, newer configuration; otherwise it
// hands the job back (River's snooze, which does not use up an attempt,
// with a log line saying why) for a worker that has the job's
// configuration, for up to Config.HandBackFor. Workers should reconcile
// at start, as web processes do, so that pictures done under an older
// configuration meanwhile are scheduled again.
//
// Config's fields that processor.Config also has (Workers, MaxAttempts,
// Backoff, MaxBackoff, JobTimeout, Logger) mean the same in both, so moving
// from the in-process pool to River keeps a configuration's meaning; only
// some defaults differ, as documented on each field.
//
// # Versions
//
// This module requires a released version of
// github.com/gopictures/pictures, so it is tagged
// (processor/riverprocessor/vX.Y.Z) after the core module: a release tags
// the core first, then raises this module's requirement to that version and
// tags it, and updates the example app last (see "Modules and releases" in
// the repository's README). Inside the repository, go.work joins the
// modules, so that changes to several are built together without replace
// directives.
package riverprocessor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor"
)

// Config configures a Queue. Its zero value means the defaults.
type Config struct {
	// Queue is the River queue of fresh picture jobs (processor.Fresh:
	// new uploads). Default "pictures". Jobs of a lower priority
	// (processor.Backlog and below) go to Queue + "_backlog", which
	// working processes work beside it, so that an upload starts at once
	// even while backlog jobs run.
	Queue string
	// Workers is how many jobs a working process (see Start) runs at once.
	// Default GOMAXPROCS/2, at least 1: a picture's job keeps about two
	// CPUs busy by itself (its encodes run in parallel), so more jobs at
	// once mostly make each take longer. Measured on 2 CPUs with four
	// 12-megapixel photos (BenchmarkJobsAtOnce in package pictures): one
	// job at a time made 3.9 to 4.1 jobs a minute with the WebAssembly
	// encoder, two at once 4.0, and the jobs ended 37 to 39 s after the
	// batch started on average, against 44 to 45 s; with libavif 13.6 and
	// 14.3 jobs a minute, 11.1 s against 12.5 s.
	Workers int
	// BacklogWorkers is how many jobs of the backlog queue (see Queue) a
	// working process runs at once, in addition to its Workers of fresh
	// jobs (unlike processor.Config.BacklogWorkers, which counts among
	// the pool's Workers): a process runs up to Workers + BacklogWorkers
	// jobs at once, and a fresh upload arriving while BacklogWorkers
	// backlog jobs run starts at once, as with processor.Pool's worker
	// kept for fresh jobs. Its encodes then share the CPUs with the
	// backlog's, and its JPEG fallback comes first. Default Workers.
	//
	// Backlog jobs that a version without the backlog queue enqueued stay
	// in Queue, and are worked there, by priority, by the Workers of fresh
	// jobs. A version without the backlog queue never works it: before
	// rolling back to one, move its waiting jobs back:
	//
	//	UPDATE river_job SET queue = 'pictures' WHERE queue = 'pictures_backlog' AND state IN ('available', 'retryable', 'scheduled')
	BacklogWorkers int
	// MaxAttempts is how many times a job is tried before it is given up
	// (discarded, and logged). Default 5.
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles after every
	// attempt, with jitter, up to MaxBackoff. Default 5 seconds, and 1
	// hour.
	Backoff, MaxBackoff time.Duration
	// JobTimeout bounds each attempt as a whole; the job's context is
	// then canceled and the attempt fails. Default 15 minutes, as
	// processor.Pool's. Within it, pictures.Run bounds the processing
	// itself by the job's Timeout (pictures.Job.Timeout: ten times its
	// estimate on this process's encoder, which follows the picture's
	// pixels, at least 2 minutes), so the default need not be tight.
	// Twice the longest pictures.PictureField.MaxJobTimeout of the fields
	// is a tighter sound value (the example app sets it so).
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken as
	// abandoned by a worker that died, and retried. It must exceed
	// JobTimeout, in every process of the deployment: whichever process
	// leads River's maintenance rescues the jobs of all. Default
	// JobTimeout + 1 minute (River checks every 30 seconds).
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for jobs, besides being
	// woken by PostgreSQL notifications. Default 1 second.
	PollInterval time.Duration
	// ID names this process in River's tables (attempted_by). Default:
	// River's, from the host name and a timestamp.
	ID string
	// HandBackFor is how long a job enqueued for another configuration of
	// its field, which this process must not do with its own (see
	// pictures.Job), is handed back for a process that has that
	// configuration: snoozed, and logged each time, for up to HandBackFor
	// after it was enqueued. Past that, no process with the configuration
	// is taken to exist any more (a rolled-back deploy, say) and this
	// process does the job with its own, with a warning. Default 10 minutes.
	HandBackFor time.Duration
	// HandBackDelay is how long a handed-back job waits before a process
	// takes it again. Default 5 seconds.
	HandBackDelay time.Duration
	// Logger receives failures, with the picture's field and key. Default
	// slog.Default().
	Logger *slog.Logger
	// Run does the work of a job. Default pictures.Run; tests replace it.
	Run func(ctx context.Context, job pictures.Job) error
}

func (c Config) withDefaults() Config {
	c.Queue = cmp.Or(c.Queue, "pictures")
	if c.Workers <= 0 {
		c.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.BacklogWorkers <= 0 {
		c.BacklogWorkers = c.Workers
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 15 * time.Minute
	}
	c.RescueAfter = cmp.Or(c.RescueAfter, c.JobTimeout+time.Minute)
	c.PollInterval = cmp.Or(c.PollInterval, time.Second)
	if c.HandBackFor <= 0 {
		c.HandBackFor = 10 * time.Minute
	}
	if c.HandBackDelay <= 0 {
		c.HandBackDelay = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Run == nil {
		c.Run = pictures.Run
	}
	return c
}

// Args are the arguments of a picture job in River's table (kind
// "pictures"). Field, Key and Focus make the job unique.
type Args struct {
	Field string       `json:"field" river:"unique"`
	Key   string       `json:"key" river:"unique"`
	Focus string       `json:"focus,omitempty" river:"unique"`
	Job   pictures.Job `json:"job"`
}

// Kind is River's name for picture jobs.
func (Args) Kind() string { return "pictures" }

func argsOf(job pictures.Job) Args {
	a := Args{Field: job.Picture.Field, Key: job.Picture.Key, Job: job}
	if f := job.Picture.Focus; f != nil {
		a.Focus = strconv.FormatFloat(f.X, 'g', -1, 64) + "," + strconv.FormatFloat(f.Y, 'g', -1, 64)
	}
	return a
}

var _ pictures.Processor = (*Queue)(nil)

// A Queue is a pictures.Processor backed by River. It enqueues in any
// process, and works jobs in those that call Start.
type Queue struct {
	client *river.Client[pgx.Tx]
	cfg    Config
	opts   river.InsertOpts
}

// New returns a Queue on pool, whose database must hold River's tables
// (see Migrate).
func New(pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	cfg = cfg.withDefaults()
	if cfg.RescueAfter <= cfg.JobTimeout {
		return nil, fmt.Errorf("riverprocessor: RescueAfter (%v) must exceed JobTimeout (%v)", cfg.RescueAfter, cfg.JobTimeout)
	}
	q := &Queue{cfg: cfg}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{q: q})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID: cfg.ID,
		Queues: map[string]river.QueueConfig{
			cfg.Queue:              {MaxWorkers: cfg.Workers},
			cfg.Queue + backlogTag: {MaxWorkers: cfg.BacklogWorkers},
		},
		Workers:              workers,
		MaxAttempts:          cfg.MaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, river.FetchCooldownDefault),
		RetryPolicy:          backoff{cfg.Backoff, cfg.MaxBackoff},
		Logger:               cfg.Logger,
		ErrorHandler:         &errorHandler{cfg.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("riverprocessor: %w", err)
	}
	q.client = client
	q.opts = river.InsertOpts{
		Queue:       cfg.Queue,
		MaxAttempts: cfg.MaxAttempts,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			// Waiting or running, not finished: a picture can be processed
			// again later (a new configuration, Reconcile).
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
				rivertype.JobStateRunning, rivertype.JobStateScheduled,
			},
		},
	}
	return q, nil
}

// Migrate creates or updates River's tables in pool's database.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("riverprocessor: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverprocessor: migrating: %w", err)
	}
	return nil
}

// Enqueue adds the job, unless the picture already has one waiting or
// running. It makes Queue a pictures.Processor.
//
// The job's Priority becomes River's (processor.Fresh is River's 1, the
// first fetched; processor.Backlog 2, and so on to 4), so that workers
// start every waiting upload before the backlog; River keeps the order of
// insertion within a priority. A job without a Config is stamped with the
// configuration of its field as registered in this process (see
// pictures.Job.Stamped).
func (q *Queue) Enqueue(ctx context.Context, job pictures.Job) error {
	job = job.Stamped()
	if _, err := q.client.Insert(ctx, argsOf(job), q.insertOpts(job)); err != nil {
		return fmt.Errorf("riverprocessor: enqueueing %s: %w", job.Picture.Key, err)
	}
	return nil
}

// EnqueueTx adds the job in tx: it exists if and only if tx commits. It is
// Enqueue otherwise.
func (q *Queue) EnqueueTx(ctx context.Context, tx pgx.Tx, job pictures.Job) error {
	job = job.Stamped()
	if _, err := q.client.InsertTx(ctx, tx, argsOf(job), q.insertOpts(job)); err != nil {
		return fmt.Errorf("riverprocessor: enqueueing %s: %w", job.Picture.Key, err)
	}
	return nil
}

// riverPriority maps a job's priority to River's, 1 (first) to 4.
func riverPriority(p processor.Priority) int {
	return 1 + int(min(max(p, processor.Fresh), processor.LowestPriority))
}

// backlogTag ends the name of the backlog queue.
const backlogTag = "_backlog"

func (q *Queue) insertOpts(job pictures.Job) *river.InsertOpts {
	opts := q.opts
	opts.Priority = riverPriority(job.Priority)
	if job.Priority > processor.Fresh {
		opts.Queue += backlogTag
	}
	return &opts
}

// Start makes this process work jobs, Workers at a time, until Stop or
// ctx's end.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("riverprocessor: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish, or for
// ctx to end (then they are canceled, and retried later, here or
// elsewhere).
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return q.client.StopAndCancel(context.Background())
	}
	return err
}

// Config returns the queue's configuration, defaults filled in.
func (q *Queue) Config() Config { return q.cfg }

// Client returns the River client, for what this package does not cover
// (subscriptions, metrics, other job kinds).
func (q *Queue) Client() *river.Client[pgx.Tx] { return q.client }

// worker runs picture jobs.
type worker struct {
	river.WorkerDefaults[Args]
	q *Queue
}

func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	cfg := &w.q.cfg
	err := cfg.Run(ctx, job.Args.Job)
	if mismatch := (*pictures.ConfigMismatchError)(nil); errors.As(err, &mismatch) {
		attrs := []any{"field", job.Args.Field, "key", job.Args.Key, "job", job.ID,
			"job_config", mismatch.JobConfig, "job_revision", mismatch.JobRevision,
			"config", mismatch.Config, "revision", mismatch.Revision}
		if waited := time.Since(job.CreatedAt); waited < cfg.HandBackFor {
			cfg.Logger.Info("pictures: job handed back: it was enqueued for another configuration of its field, which this process must not do with its own (raise the field's Revision with each configuration change)",
				append(attrs, "why", mismatch.Error(), "waited", waited.Round(time.Second), "retry_in", cfg.HandBackDelay, "hand_back_for", cfg.HandBackFor)...)
			return river.JobSnooze(cfg.HandBackDelay)
		}
		cfg.Logger.Warn("pictures: no process with the configuration a job was enqueued for took it within HandBackFor: doing it with this process's configuration",
			append(attrs, "hand_back_for", cfg.HandBackFor)...)
		anyConfig := job.Args.Job
		anyConfig.Config = ""
		err = cfg.Run(ctx, anyConfig)
	}
	if err != nil && processor.IsPermanent(err) {
		// Retrying cannot help (a missing original, an unknown field).
		return river.JobCancel(err)
	}
	return err
}

// backoff doubles the wait from base with each attempt, up to max, with
// +-25% jitter (as processor.Pool does).
type backoff struct{ base, max time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	d += time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return time.Now().Add(d)
}

// errorHandler logs failed attempts with the picture's field and key.
type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Warn("pictures: job attempt failed", jobAttrs(job, err)...)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.Error("pictures: job panicked", append(jobAttrs(job, fmt.Errorf("panic: %v", panicVal)), "trace", trace)...)
	return nil
}

func jobAttrs(job *rivertype.JobRow, err error) []any {
	var a Args
	if json.Unmarshal(job.EncodedArgs, &a) != nil {
		return []any{"job", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err}
	}
	return []any{"field", a.Field, "key", a.Key, "job", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err}
}
