// Package encoder encodes AVIF and WebP images, in encoder processes when
// it can: copies of the program's own binary that do nothing but encode,
// so that a long encode never stalls the program's web requests.
//
// Package pipeline calls AVIF for every AVIF variant and WebP for every
// WebP variant; a program only needs to call Init first thing in main,
// and may call Configure, Start and Stop.
//
// # Why processes
//
// Measured on 2 CPUs, a trivial HTTP handler served while two 12-megapixel
// uploads were processed (BenchmarkIsolation in package pictures) answered
// with a p99 of:
//   - 2100 ms with the WebAssembly backend in-process: wazero runs machine
//     code the Go scheduler cannot preempt, so every stop-the-world phase
//     of the garbage collector, and with it every request handler, waits
//     for the encode in progress, for seconds; 7 ms with encoder processes;
//   - 113 ms with a system libavif in-process (each encode runs NumCPU
//     threads that crowd out the server's); 34 ms with one encoder process;
//   - 121 ms with -tags wasm2go in-process.
//
// Encoder processes run at nice 5 (Config.Nice), so the server gets the
// CPU first; at nice 10 latency drops further but processing slows down
// several-fold under load.
//
// # Init
//
// Like moby's reexec.Init, Init must be the first call in main:
//
//	func main() {
//		encoder.Init()
//		// ...
//	}
//
// In a process started as an encoder process, Init serves encode requests
// on its standard input and output and exits when its input ends: it never
// returns. In any other process it returns at once and records that the
// binary can be its own encoder process. Encoder processes are only ever
// started by a process that called Init (otherwise the copy would run the
// program's main again): without Init, encodes run in the calling
// process, and Describe says so. Test binaries that want encoder processes
// call Init in TestMain, before m.Run.
//
// An encoder process is recognised by the environment variable
// PICTURES_ENCODER_PROCESS, which the parent sets on the child (its value
// carries the child's settings, such as "nice=5,lanes=2"). It is the only variable
// the package reads; never set it yourself.
//
// # Processes
//
// Decoding and resizing stay in the calling process; only the encode of
// an RGBA image crosses to an encoder process (its pixels one way, the
// AVIF or WebP file the other; one protocol, whose requests name their
// format and carry an id, so that a process answers each as it ends).
// Processes start on first use, or at once with Start; each runs up to
// Config.EncodesPerProcess encodes at once, of either format, each on a
// goroutine of its own. By default, with this module's WebAssembly build,
// that is one process running GOMAXPROCS encodes, which share its runtime
// and its compiled encoder; with a system libavif, one process running
// one encode (libavif uses every CPU itself); with -tags wasm2go,
// GOMAXPROCS processes of one encode each. At most Config.Processes *
// Config.EncodesPerProcess encodes run at once and the others wait
// (back-pressure); in-process, at most GOMAXPROCS. A process that dies is
// started again and its requests retried once. A request whose context
// ends returns at once; its encode is left to finish for 10 s, then its
// process is killed (an encode cannot be interrupted otherwise), and the
// other encodes of that process are retried in a new one. A process whose
// lanes are all idle for Config.IdleTimeout exits. On Linux an encoder
// process dies with its parent. Stop ends them all.
//
// The package starts no goroutine and no process until the first encode
// or Start: one goroutine per running process reads its answers and waits
// for it to exit, one timer per idle lane stops it, and one goroutine per
// request in progress talks to its process. Stop ends every one of them.
//
// # Backends
//
// github.com/gen2brain/avif encodes with a system libavif (1.1 or later)
// when it finds one at start-up. Without one, AVIF is encoded by this
// module's own WebAssembly build of libavif 1.4.2 and libaom 3.14.1
// (encoder/internal/avifwasm: -O3 and SIMD, each encode's memory mapped
// outside the Go heap and returned when it ends), compiled by wazero on a
// process's first encode; it writes the same files as gen2brain/avif's
// WebAssembly build, using less than half its CPU. With -tags wasm2go,
// gen2brain/avif's build translated to Go ahead of time is used instead.
// Describe says which, how many encoder processes there are, and why.
//
// github.com/gen2brain/webp likewise encodes WebP with a system libwebp
// when it finds one (the unversioned libwebp.so and libwebpdemux.so), or
// else with its embedded WebAssembly build of libwebp, always compiled by
// wazero (-tags wasm2go changes only AVIF), in each process on its first
// WebP encode: Start warms the AVIF encoder only. DescribeWebP says which.
// WebP encodes share the AVIF encodes' processes and limits: their number
// follows the AVIF backend.
package encoder
