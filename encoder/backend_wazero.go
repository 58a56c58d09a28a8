//go:build !wasm2go

package encoder

import "github.com/gopictures/pictures/encoder/internal/avifwasm"

// wasmBackend names the WebAssembly flavour of the AVIF encoder in this
// build: compiled at start-up by wazero (the default), whose machine code
// the Go scheduler cannot preempt.
const wasmBackend = "wasm"

// wasmEncode is the WebAssembly AVIF encoder used without a system
// libavif: this module's own build (encoder/internal/avifwasm).
var wasmEncode = avifwasm.Encode

// wasmBuild describes it, for Describe.
const wasmBuild = "this module's WebAssembly build of libavif " + avifwasm.LibavifVersion +
	" and libaom " + avifwasm.AomVersion + " (SIMD, memory off the Go heap)"

// wasmFrame makes an AVIF encode of this module's WebAssembly build,
// whose pixels an encoder process reads straight into its memory.
var wasmFrame = func(w, h int) (frame, error) { return avifwasm.NewFrame(w, h) }
