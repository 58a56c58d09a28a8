package pictures

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/gopictures/pictures/processor"
)

// A Job asks for the variants of one stored picture to be generated, or
// brought up to date with its field's configuration.
//
// # Configurations
//
// During a deploy, processes with two configurations of a field run at
// once (a new web process and old workers, say), so a job says which
// configuration it was enqueued for (Config and Revision), and Run never
// reports a job done that its process's configuration would do otherwise:
//
//   - A job without a Config (built by hand, or queued by an older version
//     of this package) is done with the configuration of the process that
//     runs it.
//   - A job whose Config is the process's own (for this picture) is done.
//   - A job enqueued at a lower Revision than the process's field is done
//     with the process's newer configuration, which is what the Picture
//     records (logged at level Info).
//   - A job enqueued at a higher Revision, or at the same Revision with
//     another Config (neither side can tell which is newer: raise Revision
//     with every configuration change), is handed back: Run returns a
//     *ConfigMismatchError, without any I/O, for the Processor to give the
//     job to a process that has its configuration. riverprocessor snoozes
//     it (for up to Config.HandBackFor, after which the process does it with
//     its own configuration, with a warning); processor.Pool retries it as
//     any failure, since in one process jobs are enqueued and run under the
//     same registration, so a mismatch only follows a field registered
//     again under its name.
//
// Jobs decode from JSON written before these fields existed.
type Job struct {
	Picture Picture
	// Priority orders the job among those waiting: processor.Fresh (the
	// zero value) for a new upload, processor.Backlog for work that may
	// wait (see PictureField.ScheduleBacklog).
	Priority processor.Priority
	// Config is the fingerprint of what the configuration the job was
	// enqueued for asks of its picture: the encoder settings (see
	// Fingerprint) and the variants planned at the picture's size. Two
	// configurations that plan the same variants for a picture do not tell
	// its job apart. "" means any configuration. See Stamped.
	Config string
	// Revision is the field's Revision when the job was enqueued.
	Revision int
}

// Stamped returns j with the Config and Revision of the field registered
// under j.Picture.Field, for j's picture. A job that has a Config already,
// or whose field is not registered in this process, is returned as it is.
// Schedule and Save enqueue stamped jobs; Processors that take jobs built
// by hand (riverprocessor's Enqueue and EnqueueTx) stamp them.
func (j Job) Stamped() Job {
	if j.Config != "" {
		return j
	}
	c, err := lookup(j.Picture.Field)
	if err != nil {
		return j
	}
	return c.stamp(j)
}

func (c *compiled) stamp(j Job) Job {
	j.Config, j.Revision = c.jobConfig(j.Picture), c.field.Revision
	return j
}

// jobConfig is the Config of a job for p under c, or "" if c plans no
// variants for p's size (processing then fails, permanently).
func (c *compiled) jobConfig(p Picture) string {
	plan, err := c.variants(p.Width, p.Height)
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "version=%s", c.version())
	for _, v := range plan {
		fmt.Fprintf(h, " %s/%s=%v", v.Ratio, v.Type, v.Widths)
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// JobPriority returns j.Priority: processor.Pool runs jobs in that order.
func (j Job) JobPriority() processor.Priority { return j.Priority }

// MarshalJSON encodes the job for durable queues, with the picture in its
// stored form, and Priority, Config and Revision when they are set.
func (j Job) MarshalJSON() ([]byte, error) {
	v, err := j.Picture.Value()
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	if s == "" {
		s = "null"
	}
	b := []byte(`{"picture":` + s)
	if j.Priority != 0 {
		b = fmt.Appendf(b, `,"priority":%d`, j.Priority)
	}
	if j.Config != "" {
		b = append(b, `,"config":`...)
		b = strconv.AppendQuote(b, j.Config)
	}
	if j.Revision != 0 {
		b = fmt.Appendf(b, `,"revision":%d`, j.Revision)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON decodes a job written by MarshalJSON, including jobs
// written before Priority, Config and Revision existed.
func (j *Job) UnmarshalJSON(b []byte) error {
	var raw struct {
		Picture  json.RawMessage    `json:"picture"`
		Priority processor.Priority `json:"priority"`
		Config   string             `json:"config"`
		Revision int                `json:"revision"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*j = Job{Priority: raw.Priority, Config: raw.Config, Revision: raw.Revision}
	if len(raw.Picture) == 0 || string(raw.Picture) == "null" {
		return nil
	}
	return j.Picture.Scan([]byte(raw.Picture))
}

// LogValue names the picture in log lines.
func (j Job) LogValue() slog.Value {
	return slog.GroupValue(slog.String("field", j.Picture.Field), slog.String("key", j.Picture.Key))
}

// A Processor decides where and when variants are generated: it accepts a
// Job and arranges for Run to be called with it, now or later, here or on
// another machine. processor.Pool (the default, in-process) and the River
// adapter (a durable PostgreSQL queue) are Processors.
type Processor interface {
	Enqueue(ctx context.Context, job Job) error
}

// ProcessorFunc adapts a function to a Processor.
type ProcessorFunc func(ctx context.Context, job Job) error

// Enqueue calls f(ctx, job).
func (f ProcessorFunc) Enqueue(ctx context.Context, job Job) error { return f(ctx, job) }

// Synchronous is a Processor that runs each job at once, in the caller's
// goroutine: for tests, command-line tools and batch imports.
var Synchronous Processor = ProcessorFunc(Run)

var (
	defaultPoolOnce sync.Once
	defaultPool     *processor.Pool[Job]
)

// DefaultProcessor returns the Processor of fields that set none: an
// in-process processor.Pool running Run with the default configuration,
// started on first use. Call its Shutdown when the program stops, so queued
// jobs finish.
func DefaultProcessor() *processor.Pool[Job] {
	defaultPoolOnce.Do(func() {
		defaultPool = processor.New(processor.Config{}, Run)
	})
	return defaultPool
}

// Run generates what job's picture lacks, by way of its registered field's
// Process. It is the work function of every Processor. Errors that retrying
// cannot fix (an unknown field, a missing or damaged original) are marked
// with processor.Permanent.
func Run(ctx context.Context, job Job) error {
	c, err := lookup(job.Picture.Field)
	if err != nil {
		return processor.Permanent(err)
	}
	if err := c.accept(job); err != nil {
		return err
	}
	_, err = c.process(ctx, job.Picture)
	return err
}

// accept decides whether this process does job (nil), or hands it back (a
// *ConfigMismatchError), by the rules of Job's documentation.
func (c *compiled) accept(job Job) error {
	if job.Config == "" {
		return nil
	}
	own := c.jobConfig(job.Picture)
	if own == "" || own == job.Config {
		return nil // processing reports an unusable picture
	}
	rev := c.field.Revision
	if job.Revision < rev {
		c.logger.Info("pictures: job enqueued for an older configuration of its field; doing the work of this process's newer one",
			"field", job.Picture.Field, "key", job.Picture.Key, "job_config", job.Config, "job_revision", job.Revision, "config", own, "revision", rev)
		return nil
	}
	return &ConfigMismatchError{Field: job.Picture.Field, Key: job.Picture.Key, JobConfig: job.Config, JobRevision: job.Revision, Config: own, Revision: rev}
}

// Schedule hands p to the field's Processor, to generate what p lacks, as
// a Fresh job: one a person waits for, that starts before any Backlog job
// waiting (see ScheduleBacklog). Save schedules new uploads itself;
// Schedule serves applications that Upload and record the picture
// themselves, and a person's re-processing (a new focal point, say). The
// job is stamped with the field's configuration (see Job).
func (f *PictureField) Schedule(ctx context.Context, p Picture) error {
	c, err := f.config()
	if err != nil {
		return err
	}
	return c.schedule(ctx, p)
}

// ScheduleBacklog is Schedule for work nobody is waiting for, which must
// not hold up new uploads: bringing stored pictures up to date after a
// configuration change (what an application's start-up reconciling
// schedules), seeding a demo, re-processing in bulk. Its job has
// processor.Backlog priority: processor.Pool and riverprocessor start every
// waiting Fresh job first.
func (f *PictureField) ScheduleBacklog(ctx context.Context, p Picture) error {
	c, err := f.config()
	if err != nil {
		return err
	}
	return c.scheduleBacklog(ctx, p)
}

// scheduleBacklog enqueues p's job as Backlog (ScheduleBacklog,
// ReconcileAll).
func (c *compiled) scheduleBacklog(ctx context.Context, p Picture) error {
	return c.enqueue(ctx, p, processor.Backlog)
}

// schedule enqueues p's job as Fresh (Schedule, Save).
func (c *compiled) schedule(ctx context.Context, p Picture) error {
	return c.enqueue(ctx, p, processor.Fresh)
}

func (c *compiled) enqueue(ctx context.Context, p Picture, priority processor.Priority) error {
	if p.Field != c.field.Name {
		return fmt.Errorf("%w: picture of field %q scheduled on field %q", ErrInvalidArgument, p.Field, c.field.Name)
	}
	if c.field.Name == "" {
		return &ConfigError{Option: "Name", Value: "", Msg: "a field that processes pictures needs a name, and must be registered"}
	}
	if _, err := lookup(c.field.Name); err != nil {
		return err
	}
	return c.processor().Enqueue(ctx, c.stamp(Job{Picture: p, Priority: priority}))
}

func (c *compiled) processor() Processor {
	if c.field.Processor != nil {
		return c.field.Processor
	}
	return DefaultProcessor()
}
