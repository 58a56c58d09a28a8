// Package avifwasm encodes AVIF with a WebAssembly build of libavif and
// libaom made for this module (build/build.sh: -O3, WebAssembly SIMD, bulk
// memory), run by wazero. The encoder package uses it when no system
// libavif is found (except with -tags wasm2go). It is the same libavif
// 1.4.2 and libaom 3.14.1 as github.com/gen2brain/avif embeds, so its
// files are the same, byte for byte; it is faster for two reasons:
//
//   - the build: gen2brain/avif's is optimised for size (-Os) and scalar;
//   - the memory: each encode runs in a fresh instance whose linear memory
//     is one reservation outside the Go heap (on Linux, mmap with
//     MAP_NORESERVE), so it grows without copying, never makes work for
//     the garbage collector, and goes back to the system when the encode
//     ends. With a linear memory on the Go heap, as gen2brain/avif's, a
//     1400x1750 encode allocates 339 MB to grow its memory to 67 MB, and
//     the collector's stop-the-world phases wait for the encodes running
//     on other goroutines, whose machine code cannot be preempted.
//
// The module is compiled once per process, on first use or by Compile:
// about 2 s of CPU and 45 MB.
package avifwasm

import (
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

//go:embed avifenc.wasm.gz
var module []byte

// MaxMemory bounds the linear memory of one encode: an encode that needs
// more fails (libaom's allocation fails, and the module traps). A
// 2805x2104 encode uses 153 MB; 16384x16384, the largest the encoder
// package sends, about 4 GB would not fit: such sizes fail.
const MaxMemory = 2 << 30

// maxMemory is MaxMemory, lowered by tests.
var maxMemory uint64 = MaxMemory

var (
	compileOnce sync.Once
	runtime     wazero.Runtime
	compiled    wazero.CompiledModule
	compileErr  error
)

// Compile compiles the module, once per process; later calls return the
// first one's error.
func Compile() error {
	compileOnce.Do(func() {
		ctx := context.Background()
		zr, err := gzip.NewReader(bytes.NewReader(module))
		if err != nil {
			compileErr = err
			return
		}
		wasm, err := io.ReadAll(zr)
		if err != nil {
			compileErr = err
			return
		}
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			compileErr = err
			return
		}
		cm, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			compileErr = fmt.Errorf("avifwasm: compiling the encoder: %w", err)
			return
		}
		runtime, compiled = rt, cm
	})
	return compileErr
}

// The versions the module is built from (build/build.sh).
const (
	LibavifVersion = "1.4.2"
	AomVersion     = "3.14.1"
)

// ErrEncode is returned, wrapped, when the encoder fails (out of memory
// included).
var ErrEncode = errors.New("avifwasm: encoding failed")

// Encode encodes img, premultiplied, as a 4:2:0 AVIF at quality 1 to 100
// and aom speed 0 to 10, with no colour information (the caller tags it).
// It is safe for concurrent use: each call has an instance of its own.
func Encode(img *image.RGBA, quality, speed int) ([]byte, error) {
	if err := Compile(); err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("avifwasm: cannot encode a %dx%d image", w, h)
	}
	ctx := experimental.WithMemoryAllocator(context.Background(), allocator)
	mod, err := runtime.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		return nil, fmt.Errorf("avifwasm: %w", err)
	}
	defer mod.Close(ctx)
	malloc, encode := mod.ExportedFunction("malloc"), mod.ExportedFunction("encode")
	mem := mod.Memory()

	// The pixels, row by row, then 8 bytes for the result's address and
	// size.
	n := uint64(w) * uint64(h) * 4
	res, err := malloc.Call(ctx, n+8)
	if err != nil || res[0] == 0 {
		return nil, fmt.Errorf("%w: no memory for %dx%d pixels", ErrEncode, w, h)
	}
	in := uint32(res[0])
	dst, ok := mem.Read(in, uint32(n))
	if !ok {
		return nil, fmt.Errorf("%w: pixels out of memory bounds", ErrEncode)
	}
	opaque := true
	for y := range h {
		row := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:w*4]
		copy(dst[y*w*4:], row)
		if opaque {
			for i := 3; i < len(row); i += 4 {
				if row[i] != 0xff {
					opaque = false
					break
				}
			}
		}
	}
	result := in + uint32(n)
	flag := uint64(0)
	if opaque {
		flag = 1
	}
	res, err = encode.Call(ctx, uint64(in), uint64(w), uint64(h), uint64(quality), uint64(speed), flag, uint64(result), uint64(result+4))
	if err != nil {
		return nil, fmt.Errorf("%w: %dx%d: %v", ErrEncode, w, h, err)
	}
	if res[0] != 0 {
		return nil, fmt.Errorf("%w: %dx%d: libavif result %d", ErrEncode, w, h, res[0])
	}
	ptr, _ := mem.ReadUint32Le(result)
	size, _ := mem.ReadUint32Le(result + 4)
	data, ok := mem.Read(ptr, size)
	if !ok {
		return nil, fmt.Errorf("%w: result out of memory bounds", ErrEncode)
	}
	return bytes.Clone(data), nil
}
