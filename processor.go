package pictures

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gopictures/pictures/processor"
)

// A Job asks for the variants of one stored picture to be generated, or
// brought up to date with its field's configuration.
type Job struct {
	Picture Picture
}

// MarshalJSON encodes the job for durable queues, with the picture in its
// stored form.
func (j Job) MarshalJSON() ([]byte, error) {
	v, err := j.Picture.Value()
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	if s == "" {
		s = "null"
	}
	return []byte(`{"picture":` + s + `}`), nil
}

// UnmarshalJSON decodes a job written by MarshalJSON.
func (j *Job) UnmarshalJSON(b []byte) error {
	var raw struct {
		Picture json.RawMessage `json:"picture"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw.Picture) == 0 || string(raw.Picture) == "null" {
		j.Picture = Picture{}
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
	_, err = c.process(ctx, job.Picture)
	return err
}

// Schedule hands p to the field's Processor, to generate what p lacks.
// Save schedules new uploads itself; Schedule serves re-processing (a new
// focal point, say) and applications that enqueue in their own transaction
// after Upload.
func (f *PictureField) Schedule(ctx context.Context, p Picture) error {
	c, err := f.config()
	if err != nil {
		return err
	}
	return c.schedule(ctx, p)
}

func (c *compiled) schedule(ctx context.Context, p Picture) error {
	if p.Field != c.field.Name {
		return fmt.Errorf("%w: picture of field %q scheduled on field %q", ErrInvalidArgument, p.Field, c.field.Name)
	}
	if c.field.Name == "" {
		return &ConfigError{Option: "Name", Value: "", Msg: "a field that processes pictures needs a name, and must be registered"}
	}
	if _, err := lookup(c.field.Name); err != nil {
		return err
	}
	return c.processor().Enqueue(ctx, Job{Picture: p})
}

func (c *compiled) processor() Processor {
	if c.field.Processor != nil {
		return c.field.Processor
	}
	return DefaultProcessor()
}
