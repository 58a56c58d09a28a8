package pipeline

import (
	_ "embed"
	"fmt"
	"sync"
)

// warmAVIF is an 8x8 AVIF (313 bytes, made by Encode at quality 30).
//
//go:embed warm.avif
var warmAVIF []byte

// WarmDecoders prepares the AVIF decoder, so that the first AVIF upload
// does not pay for it. Without a system libavif (1.1 or later, found at
// start-up by github.com/gen2brain/avif), AVIFs are decoded by libavif
// compiled to WebAssembly, and the first decode in a process compiles that
// module with wazero: seconds of CPU and about 120 MB allocated, inside
// whatever request comes first. WarmDecoders pays that cost once, by
// decoding a tiny embedded AVIF, and returns what the decode returned;
// later calls return the same at once.
//
// It is optional, and nothing runs unless it is called: an application
// may call it at start-up, in a goroutine (go pipeline.WarmDecoders()), so
// that the compilation overlaps its other start-up work. Inspect never
// needs it: a truncated or broken AVIF is refused without the decoder. The
// compiled module is also the one AVIFs are encoded with in this process
// (encoder processes compile their own). With a system libavif, or a
// build with -tags wasm2go (no compilation), it costs a tiny decode.
func WarmDecoders() error { return warm() }

var warm = sync.OnceValue(func() error {
	info, err := Inspect(warmAVIF)
	if err != nil {
		return fmt.Errorf("pipeline: warming the AVIF decoder: %w", err)
	}
	img, err := Decode(warmAVIF, info)
	if err != nil {
		return fmt.Errorf("pipeline: warming the AVIF decoder: %w", err)
	}
	img.Release()
	return nil
})
