//go:build wasm2go

package encoder

// wasmBackend names the WebAssembly flavour of gen2brain/avif in this
// build: translated to Go ahead of time (-tags wasm2go), ordinary
// preemptible Go code.
const wasmBackend = "wasm2go"
