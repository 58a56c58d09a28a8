package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/avif"
)

// Encoder settings. The zero value of each field means its default.
type Options struct {
	// AVIFQuality is 1 to 100. Defaults to 60.
	AVIFQuality int
	// AVIFSpeed is the aom encoder speed, 0 (slowest, smallest) to 10, of
	// variants wider than SmallWidth. Defaults to 9: at 1400x1400 it made
	// the same bytes as speed 8 (-0.02 dB PSNR) in 56% of the time.
	AVIFSpeed int
	// AVIFSmallSpeed is the speed of variants at most SmallWidth wide,
	// which are cheap to encode slowly. Defaults to 6: at 312x312 it made 7%
	// fewer bytes than speed 8, with 0.35 dB more PSNR.
	AVIFSmallSpeed int
	// JPEGQuality is 1 to 100. Defaults to 82.
	JPEGQuality int
}

// Default encoder settings.
const (
	DefaultAVIFQuality    = 60
	DefaultAVIFSpeed      = 9
	DefaultAVIFSmallSpeed = 6
	DefaultJPEGQuality    = 82
	// SmallWidth is the width up to which AVIFSmallSpeed applies.
	SmallWidth = 640
)

// SpeedFor returns the AVIF speed of a variant w pixels wide.
func (o Options) SpeedFor(w int) int {
	o = o.WithDefaults()
	if w <= SmallWidth {
		return o.AVIFSmallSpeed
	}
	return o.AVIFSpeed
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.AVIFQuality == 0 {
		o.AVIFQuality = DefaultAVIFQuality
	}
	if o.AVIFSpeed == 0 {
		o.AVIFSpeed = DefaultAVIFSpeed
	}
	if o.AVIFSmallSpeed == 0 {
		o.AVIFSmallSpeed = DefaultAVIFSmallSpeed
	}
	if o.JPEGQuality == 0 {
		o.JPEGQuality = DefaultJPEGQuality
	}
	return o
}

// Check reports settings out of range.
func (o Options) Check() error {
	if o.AVIFQuality < 0 || o.AVIFQuality > 100 {
		return fmt.Errorf("AVIF quality must be between 1 and 100, got %d", o.AVIFQuality)
	}
	if o.AVIFSpeed < 0 || o.AVIFSpeed > 10 {
		return fmt.Errorf("AVIF speed must be between 0 and 10, got %d", o.AVIFSpeed)
	}
	if o.AVIFSmallSpeed < 0 || o.AVIFSmallSpeed > 10 {
		return fmt.Errorf("AVIF small speed must be between 0 and 10, got %d", o.AVIFSmallSpeed)
	}
	if o.JPEGQuality < 0 || o.JPEGQuality > 100 {
		return fmt.Errorf("JPEG quality must be between 1 and 100, got %d", o.JPEGQuality)
	}
	return nil
}

// Encode writes img in the named output format ("AVIF", "JPEG" or "PNG")
// with no metadata: no EXIF, no XMP, no ICC profile, no text.
func Encode(w io.Writer, format string, img *image.RGBA, o Options) error {
	return EncodeContext(context.Background(), w, format, img, o)
}

// EncodeContext is Encode with a context, which ends a wait for an AVIF
// worker process.
func EncodeContext(ctx context.Context, w io.Writer, format string, img *image.RGBA, o Options) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o = o.WithDefaults()
	switch format {
	case "AVIF":
		return encodeAVIFIsolated(ctx, w, img, o.AVIFQuality, o.SpeedFor(img.Bounds().Dx()))
	case "JPEG":
		bw := bufio.NewWriter(w)
		if err := jpeg.Encode(bw, opaque(img), &jpeg.Options{Quality: o.JPEGQuality}); err != nil {
			return err
		}
		return bw.Flush()
	case "PNG":
		enc := png.Encoder{CompressionLevel: png.DefaultCompression}
		return enc.Encode(w, img)
	}
	return fmt.Errorf("pipeline: cannot encode %q", format)
}

// opaque returns img composited over white when it has any transparency,
// so that a JPEG shows transparent areas as white rather than black.
func opaque(img *image.RGBA) *image.RGBA {
	b := img.Bounds()
	transparent := false
	for y := b.Min.Y; y < b.Max.Y && !transparent; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):][:b.Dx()*4]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0xFF {
				transparent = true
				break
			}
		}
	}
	if !transparent {
		return img
	}
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:b.Dx()*4]
		out := dst.Pix[y*dst.Stride:][:b.Dx()*4]
		for i := 0; i < len(src); i += 4 {
			// Premultiplied "over" a white background.
			inv := 255 - uint32(src[i+3])
			out[i] = uint8(uint32(src[i]) + inv)
			out[i+1] = uint8(uint32(src[i+1]) + inv)
			out[i+2] = uint8(uint32(src[i+2]) + inv)
			out[i+3] = 0xFF
		}
	}
	return dst
}

// AVIFBackend describes the AVIF encoder in use: a system libavif (1.1 or
// later) loaded at start-up, or the WebAssembly build of libavif embedded in
// github.com/gen2brain/avif, which is several times slower and, while it
// runs, can pause the whole Go process.
func AVIFBackend() string {
	if err := avif.Dynamic(); err != nil {
		return wasmBackend + " (libavif in WebAssembly; no system libavif >= 1.1: " + err.Error() + ")"
	}
	return "libavif (system library)"
}

// AVIFBackendName is the short name of the AVIF backend: "libavif", or
// "wasm" (wazero, the default build) or "wasm2go" (-tags wasm2go).
func AVIFBackendName() string {
	if avif.Dynamic() == nil {
		return "libavif"
	}
	return wasmBackend
}

// NativeAVIF reports whether a system libavif encodes AVIF.
func NativeAVIF() bool { return avif.Dynamic() == nil }

// Preview returns a tiny, blurry JPEG rendition of img as a data: URL (a
// few hundred bytes), to show while the variants are being generated. Its
// longest side is 24 pixels.
func Preview(img *Image) (string, error) {
	b := img.Bounds()
	w, h := 24, 24
	if b.Dx() >= b.Dy() {
		h = max(1, b.Dy()*24/b.Dx())
	} else {
		w = max(1, b.Dx()*24/b.Dy())
	}
	rs := NewResizer(img)
	small := rs.Resize(w, h)
	rs.Release()
	defer Recycle(small)
	var buf bytes.Buffer
	buf.WriteString("data:image/jpeg;base64,")
	enc := base64.NewEncoder(base64.StdEncoding, &buf)
	if err := jpeg.Encode(enc, opaque(small), &jpeg.Options{Quality: 50}); err != nil {
		return "", err
	}
	enc.Close()
	return buf.String(), nil
}
