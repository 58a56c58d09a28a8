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
	// ErrInvalidArgument reports a bad argument to the picture helper or to
	// the width and sizes calculations.
	ErrInvalidArgument = errors.New("pictures: invalid argument")
	// ErrNotRegistered reports a Picture whose field was never registered.
	ErrNotRegistered = errors.New("pictures: field not registered")
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
