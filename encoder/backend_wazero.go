//go:build !wasm2go

package encoder

// wasmBackend names the WebAssembly flavour of gen2brain/avif in this
// build: compiled at start-up by wazero (the default), whose machine code
// the Go scheduler cannot preempt.
const wasmBackend = "wasm"
