package encoder

import (
	"fmt"
	"time"
)

// Config sets up the encoder processes. Its zero value means the defaults.
type Config struct {
	// Processes is the number of encoder processes. Defaults to 1 with a
	// system libavif (whose encoder uses every CPU itself) and with this
	// module's WebAssembly build, and to GOMAXPROCS with -tags wasm2go. It
	// must not be negative.
	Processes int
	// EncodesPerProcess is the number of encodes each encoder process runs
	// at once, on as many goroutines: at most Processes *
	// EncodesPerProcess encodes run at once. Defaults to GOMAXPROCS with
	// this module's WebAssembly build when Processes is 0 too (one
	// process, whose runtime and compiled encoder its encodes share:
	// about 50 MB and 2 s of CPU less than a process each; their memory
	// is off the Go heap, so its collector seldom runs), and to 1
	// otherwise. More than one suits only that build: gen2brain/avif's
	// and gen2brain/webp's keep the encoder's memory on the Go heap, whose
	// collector, to stop the world, would wait for every encode in
	// progress. It must not be negative.
	EncodesPerProcess int
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
	case c.EncodesPerProcess < 0:
		return fmt.Errorf("encoder: Config.EncodesPerProcess must not be negative, got %d", c.EncodesPerProcess)
	case c.InProcess && c.EncodesPerProcess != 0:
		return fmt.Errorf("encoder: Config.EncodesPerProcess must be 0 with InProcess, got %d", c.EncodesPerProcess)
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
