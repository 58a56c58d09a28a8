package pictures

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gopictures/pictures/encoder"
)

// The registry maps field names to fields, so that a Picture read from a
// database row, a template helper call or a queued job finds its field
// configuration from the name stored in Picture.Field. Like database/sql
// drivers, fields are registered once at start-up.
var registry = struct {
	sync.RWMutex
	fields map[string]*compiled
}{fields: make(map[string]*compiled)}

// Register validates each field and makes it reachable by name from the
// Pictures it stores. Registering the same *PictureField again is a no-op;
// registering a different field under a taken name is an error, as is a
// field without a Name or with an invalid configuration. A field must not be
// modified once registered.
func Register(fields ...*PictureField) error {
	var errs []error
	for _, f := range fields {
		if err := register(f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func register(f *PictureField) error {
	if f.Name == "" {
		return &ConfigError{Option: "Name", Value: "", Msg: "a registered field needs a name"}
	}
	c, err := f.compile()
	if err != nil {
		return err
	}
	c.version() // before c is shared
	registry.Lock()
	defer registry.Unlock()
	if old, ok := registry.fields[f.Name]; ok {
		if old.field == f {
			return nil
		}
		return configErrorf(f, "Name", f.Name, "another field is already registered as %q", f.Name)
	}
	registry.fields[f.Name] = c
	for _, t := range c.types {
		if t.Name == "AVIF" {
			logBackendOnce.Do(func() {
				c.logger.Info("pictures: AVIF encoder", "backend", encoder.Describe())
			})
		}
		if t == webpType {
			logWebPBackendOnce.Do(func() {
				c.logger.Info("pictures: WebP encoder", "backend", encoder.DescribeWebP())
			})
		}
	}
	return nil
}

var logBackendOnce, logWebPBackendOnce sync.Once

// MustRegister is like Register but panics on error. It suits package-level
// field declarations and main functions.
func MustRegister(fields ...*PictureField) {
	if err := Register(fields...); err != nil {
		panic(err)
	}
}

// Unregister removes the given fields from the registry, if they are the
// ones registered under their names. Applications rarely need it; tests that
// build fields per test case do.
func Unregister(fields ...*PictureField) {
	registry.Lock()
	defer registry.Unlock()
	for _, f := range fields {
		if c, ok := registry.fields[f.Name]; ok && c.field == f {
			delete(registry.fields, f.Name)
		}
	}
}

// Lookup returns the registered field with the given name.
func Lookup(name string) (*PictureField, error) {
	c, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return c.field, nil
}

func lookup(name string) (*compiled, error) {
	registry.RLock()
	c, ok := registry.fields[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q (register the field with pictures.Register at start-up)", ErrNotRegistered, name)
	}
	return c, nil
}

// config returns the compiled form of f: the registered one when f is
// registered, else a fresh one.
func (f *PictureField) config() (*compiled, error) {
	registry.RLock()
	c, ok := registry.fields[f.Name]
	registry.RUnlock()
	if ok && c.field == f {
		return c, nil
	}
	return f.compile()
}
