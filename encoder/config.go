package encoder

import (
	"fmt"
	"time"
)

// Config sets up the encoder processes. Its zero value means the defaults.
type Config struct {
	// Processes is the number of encoder processes, and so of AVIF
	// encodes that run at once. Defaults to 1 with a system libavif (whose
	// encoder uses every CPU itself) and to GOMAXPROCS with the
	// single-threaded WebAssembly builds. It must not be negative.
	Processes int
	// InProcess encodes in this process, at most GOMAXPROCS at once,
	// instead of in encoder processes. Processes must then be 0.
	InProcess bool
	// Nice is the nice value encoder processes run at (on Linux), 1 to 19:
	// the higher, the more the rest of the program gets the CPU first.
	// Defaults to 5; -1 keeps this process's own priority (usually nice 0).
	Nice int
	// IdleTimeout is how long an idle encoder process waits for a request
	// before it exits. Defaults to 2 minutes.
	IdleTimeout time.Duration
}

// Defaults of Config.
const (
	defaultNice        = 5
	defaultIdleTimeout = 2 * time.Minute
)

// validate reports the first field out of range.
func (c Config) validate() error {
	switch {
	case c.Processes < 0:
		return fmt.Errorf("encoder: Config.Processes must not be negative, got %d", c.Processes)
	case c.InProcess && c.Processes != 0:
		return fmt.Errorf("encoder: Config.Processes must be 0 with InProcess, got %d", c.Processes)
	case c.Nice < -1 || c.Nice > 19:
		return fmt.Errorf("encoder: Config.Nice must be between -1 and 19, got %d", c.Nice)
	case c.IdleTimeout < 0:
		return fmt.Errorf("encoder: Config.IdleTimeout must not be negative, got %v", c.IdleTimeout)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default
// (Processes excepted: its default depends on the backend).
func (c Config) withDefaults() Config {
	if c.Nice == 0 {
		c.Nice = defaultNice
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	return c
}

// Configure replaces the settings of the encoder processes, after checking
// them (an error names the field and its value, and changes nothing).
// Processes started with other settings stop: idle ones now, busy ones
// when their encode ends. It can be called at any time, before Init too.
func Configure(c Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	encoders.configure(c)
	return nil
}
