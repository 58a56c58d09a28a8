package encoder

import (
	"fmt"
	"runtime"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"
)

// A Backend says how AVIF (or WebP) images are encoded, and why.
type Backend struct {
	// Library is the encoder. For AVIF: "libavif" (a system libavif 1.1 or
	// later, loaded at start-up), "wasm" (this module's WebAssembly build
	// of libavif and libaom, encoder/internal/avifwasm, compiled by wazero
	// at first use: slower than libavif, and its machine code cannot be
	// preempted by the Go scheduler) or "wasm2go" (gen2brain/avif's
	// WebAssembly build translated to Go, with -tags wasm2go). For WebP: "libwebp" (a
	// system libwebp, loaded at start-up) or "wasm" (the WebAssembly build
	// embedded in github.com/gen2brain/webp, compiled by wazero, with or
	// without -tags wasm2go).
	Library string
	// Processes is the number of encoder processes; 0 means encoding in
	// this process.
	Processes int
	// EncodesPerProcess is the number of encodes each encoder process
	// runs at once (0 in-process).
	EncodesPerProcess int
	// Reason says why this library, and why this number of processes.
	Reason string
}

// ownWASM reports whether AVIF is encoded by this module's WebAssembly
// build: without a system libavif, and without -tags wasm2go.
func ownWASM() bool { return wasmFrame != nil && avif.Dynamic() != nil }

// Describe returns the backend AVIF encodes use now.
func Describe() Backend {
	b := Backend{Library: "libavif", Reason: "system libavif"}
	if err := avif.Dynamic(); err != nil {
		b.Library, b.Reason = wasmBackend, wasmBuild+"; no system libavif 1.1 or later: "+err.Error()
	}
	return b.withProcesses()
}

// DescribeWebP returns the backend WebP encodes use now. They run in the
// same encoder processes as AVIF encodes, as many as Describe says: their
// number follows the AVIF backend (one process with a system libavif).
func DescribeWebP() Backend {
	b := Backend{Library: "libwebp", Reason: "system libwebp"}
	if err := webp.Dynamic(); err != nil {
		b.Library, b.Reason = "wasm", "no system libwebp: "+err.Error()
	}
	return b.withProcesses()
}

// withProcesses completes b with the number of processes and why.
func (b Backend) withProcesses() Backend {
	p := encoders
	p.mu.Lock()
	defer p.mu.Unlock()
	b.Processes = p.wanted()
	if b.Processes > 0 {
		b.EncodesPerProcess = p.perProcess()
	}
	var why string
	switch {
	case !initialized.Load():
		why = "encoder.Init not called"
	case p.cfg.InProcess:
		why = "Config.InProcess"
	case p.cfg.Processes > 0 && p.cfg.EncodesPerProcess > 0:
		why = fmt.Sprintf("Config.Processes %d, Config.EncodesPerProcess %d", p.cfg.Processes, p.cfg.EncodesPerProcess)
	case p.cfg.Processes > 0:
		why = fmt.Sprintf("Config.Processes %d", p.cfg.Processes)
	case p.cfg.EncodesPerProcess > 0:
		why = fmt.Sprintf("Config.EncodesPerProcess %d", p.cfg.EncodesPerProcess)
	case b.Library == "libavif":
		why = "default with libavif, which uses every CPU itself"
	case ownWASM():
		why = fmt.Sprintf("default with this module's WebAssembly build: one process, GOMAXPROCS (%d) encodes at once", runtime.GOMAXPROCS(0))
	default:
		why = fmt.Sprintf("default with WebAssembly: GOMAXPROCS %d", runtime.GOMAXPROCS(0))
	}
	b.Reason += "; " + why
	if p.startErr != nil && b.Processes > 0 {
		b.Reason += "; encoding in this process: cannot start an encoder process: " + p.startErr.Error()
	}
	return b
}

// String describes the backend in one line, for a start-up log.
func (b Backend) String() string {
	where := "in-process"
	switch {
	case b.Processes == 1:
		where = "in 1 encoder process"
	case b.Processes > 1:
		where = fmt.Sprintf("in %d encoder processes", b.Processes)
	}
	switch {
	case b.EncodesPerProcess > 1 && b.Processes == 1:
		where += fmt.Sprintf(", %d encodes at once", b.EncodesPerProcess)
	case b.EncodesPerProcess > 1:
		where += fmt.Sprintf(", %d encodes at once in each", b.EncodesPerProcess)
	}
	return fmt.Sprintf("%s %s (%s)", b.Library, where, b.Reason)
}
