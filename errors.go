package pictures

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns for one of these
// conditions wraps the sentinel, so callers can test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every *ConfigError.
	ErrInvalidConfig = errors.New("pictures: invalid field configuration")
	// ErrUnknownRatio reports an aspect ratio the field does not declare.
	ErrUnknownRatio = errors.New("pictures: undeclared aspect ratio")
	// ErrUnknownBreakpoint reports a breakpoint name the field does not have.
	ErrUnknownBreakpoint = errors.New("pictures: unknown breakpoint")
	// ErrUnknownLayout reports a layout name the field does not declare.
	ErrUnknownLayout = errors.New("pictures: unknown layout")
	// ErrInvalidArgument reports a bad argument to the picture helper or to
	// the width and sizes calculations.
	ErrInvalidArgument = errors.New("pictures: invalid argument")
	// ErrNotRegistered reports a Picture whose field was never registered.
	ErrNotRegistered = errors.New("pictures: field not registered")
	// ErrNotScheduled reports a saved Picture whose processing could not be
	// scheduled: the application has recorded it, and Reconcile or Schedule
	// generates its variants later.
	ErrNotScheduled = errors.New("pictures: picture saved but not scheduled")
	// ErrJobTimeout reports processing that took longer than its job's
	// Timeout, and was canceled (the job is retried as any failure is).
	ErrJobTimeout = errors.New("pictures: processing took longer than the job's timeout")
)

// A ConfigError describes one invalid setting of a PictureField.
type ConfigError struct {
	Field  string // PictureField.Name, if set
	Option string // the struct field, such as "AspectRatios"
	Value  any    // the offending value
	Msg    string // what is wrong, naming the value
}

func (e *ConfigError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("pictures: field %q: %s: %s", e.Field, e.Option, e.Msg)
	}
	return fmt.Sprintf("pictures: PictureField.%s: %s", e.Option, e.Msg)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(f *PictureField, option string, value any, format string, args ...any) error {
	return &ConfigError{Field: f.Name, Option: option, Value: value, Msg: fmt.Sprintf(format, args...)}
}

// Reasons an upload is refused. Every refusal is an *UploadError wrapping
// one of them.
var (
	ErrTooLarge      = errors.New("pictures: upload too large")
	ErrNotImage      = errors.New("pictures: not a supported image")
	ErrDamaged       = errors.New("pictures: damaged image")
	ErrTooManyPixels = errors.New("pictures: too many pixels")
	ErrImageTooSmall = errors.New("pictures: image too small")
	ErrImageTooBig   = errors.New("pictures: image too big")
)

// An UploadError is a refused upload. Message is written for the person
// who uploaded the file and can be shown on the form as is.
type UploadError struct {
	Err      error  // ErrTooLarge, ErrNotImage, ...
	Filename string // the client's file name, cleaned (for messages only)
	Message  string // for instance `"cat.png" is 200×150 pixels; it must be at least 320×320.`
	// Width and Height are the upright pixel size, when it was read.
	Width, Height int
}

func (e *UploadError) Error() string { return "pictures: upload refused: " + e.Message }

// Unwrap returns the reason, for errors.Is.
func (e *UploadError) Unwrap() error { return e.Err }

// ErrOtherConfig is wrapped by every *ConfigMismatchError.
var ErrOtherConfig = errors.New("pictures: job enqueued for another configuration of its field")

// A ConfigMismatchError is Run's answer to a job enqueued for a
// configuration of its field that this process does not have, and must not
// do with its own (see Job): the Processor hands the job back, for a
// process that has its configuration. Retrying it here fails the same way,
// without I/O.
type ConfigMismatchError struct {
	Field, Key  string
	JobConfig   string // the job's Config
	JobRevision int    // the job's Revision
	Config      string // this process's Config for the picture
	Revision    int    // this process's Revision of the field
}

func (e *ConfigMismatchError) Error() string {
	why := fmt.Sprintf("a newer one (revision %d; this process has %d)", e.JobRevision, e.Revision)
	if e.JobRevision == e.Revision {
		why = fmt.Sprintf("another one of the same revision %d, and neither is known to be newer", e.Revision)
	}
	return fmt.Sprintf("pictures: job of %s (field %q) enqueued for configuration %s, %s than this process's %s: handed back for a process that has it",
		e.Key, e.Field, e.JobConfig, why, e.Config)
}

// Unwrap returns ErrOtherConfig.
func (e *ConfigMismatchError) Unwrap() error { return ErrOtherConfig }
