// Package avifwasm encodes AVIF with a WebAssembly build of libavif and
// libaom made for this module (build/build.sh: -O3, WebAssembly SIMD, bulk
// memory; aom's SSE2 to SSE4.1 code compiled to WebAssembly SIMD through
// Emscripten's x86 compatibility headers), run by wazero. The encoder
// package uses it when no system libavif is found (except with -tags
// wasm2go). It is the same libavif 1.4.2 and libaom 3.14.1 as
// github.com/gen2brain/avif embeds, so its files are the same, byte for
// byte; it is faster for two reasons:
//
//   - the build: gen2brain/avif's is optimised for size (-Os) and runs
//     aom's plain C code; this one runs aom's SIMD code (at aom speed 6,
//     half the CPU of the same build without it);
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
	b := img.Bounds()
	f, err := NewFrame(b.Dx(), b.Dy())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dst, w := f.Pix(), b.Dx()*4
	for y := range b.Dy() {
		copy(dst[y*w:][:w], img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):])
	}
	return f.Encode(quality, speed)
}

// A Frame is one encode's instance of the module, holding a w x h frame
// of premultiplied RGBA in its linear memory, where the caller writes the
// pixels (Pix) before Encode: an encoder process reads them there
// straight from its input, with no copy on the Go heap. A Frame is for
// one goroutine at a time; Close returns its memory.
type Frame struct {
	w, h   int
	mod    api.Module
	encode api.Function
	pix    []byte // in the linear memory, at in
	in     uint32
}

// NewFrame instantiates the module (compiling it first, once per
// process) and allocates a w x h frame in its memory.
func NewFrame(w, h int) (*Frame, error) {
	if err := Compile(); err != nil {
		return nil, err
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("avifwasm: cannot encode a %dx%d image", w, h)
	}
	ctx := experimental.WithMemoryAllocator(context.Background(), allocator)
	mod, err := runtime.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		return nil, fmt.Errorf("avifwasm: %w", err)
	}
	f := &Frame{w: w, h: h, mod: mod, encode: mod.ExportedFunction("encode")}
	// The pixels, row by row, then 8 bytes for the result's address and
	// size.
	n := uint64(w) * uint64(h) * 4
	res, err := mod.ExportedFunction("malloc").Call(ctx, n+8)
	if err != nil || res[0] == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: no memory for %dx%d pixels", ErrEncode, w, h)
	}
	f.in = uint32(res[0])
	// The slice stays valid until Encode: only the encode grows the
	// memory.
	pix, ok := mod.Memory().Read(f.in, uint32(n))
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%w: pixels out of memory bounds", ErrEncode)
	}
	f.pix = pix
	return f, nil
}

// Pix returns the frame's pixels: w*h*4 bytes of premultiplied RGBA, row
// by row, for the caller to fill before Encode.
func (f *Frame) Pix() []byte { return f.pix }

// Encode encodes the frame as a 4:2:0 AVIF at quality 1 to 100 and aom
// speed 0 to 10, with no colour information (the caller tags it), with
// an alpha plane if a pixel is not opaque. It can be called once.
func (f *Frame) Encode(quality, speed int) ([]byte, error) {
	if f.pix == nil {
		return nil, fmt.Errorf("avifwasm: Encode on a closed or encoded Frame")
	}
	opaque := uint64(1)
	for i := 3; i < len(f.pix); i += 4 {
		if f.pix[i] != 0xff {
			opaque = 0
			break
		}
	}
	f.pix = nil
	ctx := context.Background()
	w, h := f.w, f.h
	result := f.in + uint32(w*h*4)
	res, err := f.encode.Call(ctx, uint64(f.in), uint64(w), uint64(h), uint64(quality), uint64(speed), opaque, uint64(result), uint64(result+4))
	if err != nil {
		return nil, fmt.Errorf("%w: %dx%d: %v", ErrEncode, w, h, err)
	}
	if res[0] != 0 {
		return nil, fmt.Errorf("%w: %dx%d: libavif result %d", ErrEncode, w, h, res[0])
	}
	mem := f.mod.Memory()
	ptr, _ := mem.ReadUint32Le(result)
	size, _ := mem.ReadUint32Le(result + 4)
	data, ok := mem.Read(ptr, size)
	if !ok {
		return nil, fmt.Errorf("%w: result out of memory bounds", ErrEncode)
	}
	return bytes.Clone(data), nil
}

// Close ends the instance and returns its memory to the system. It can
// be called more than once.
func (f *Frame) Close() {
	if f.mod != nil {
		f.mod.Close(context.Background())
		f.mod, f.pix = nil, nil
	}
}
