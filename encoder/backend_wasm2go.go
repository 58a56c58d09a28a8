//go:build wasm2go

package encoder

import "image"

// wasmBackend names the WebAssembly flavour of the AVIF encoder in this
// build: gen2brain/avif's, translated to Go ahead of time (-tags
// wasm2go), ordinary preemptible Go code.
const wasmBackend = "wasm2go"

// wasmEncode is nil: encodes without a system libavif go through
// gen2brain/avif's wasm2go translation.
var wasmEncode func(img *image.RGBA, quality, speed int) ([]byte, error)

// wasmBuild describes it, for Describe.
const wasmBuild = "gen2brain/avif's WebAssembly build translated to Go"

// wasmFrame is nil: gen2brain/avif's encoder takes an image.
var wasmFrame func(w, h int) (frame, error)
