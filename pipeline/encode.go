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

	"github.com/gopictures/pictures/encoder"
)

// Encoding holds the encoder settings of the variants. The zero value of
// each field means its default.
type Encoding struct {
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
	// WebPQuality is 1 to 100, for fields whose FileTypes include WEBP.
	// Defaults to 75, libwebp's own default (and next/image's).
	WebPQuality int
	// WebPMethod is the libwebp effort, 1 (fastest) to 6 (slowest,
	// smallest); 0 means the default, 4, libwebp's own.
	WebPMethod int
}

// SmallWidth is the width up to which Encoding.AVIFSmallSpeed applies.
const SmallWidth = 640

// Defaults of Encoding.
const (
	defaultAVIFQuality    = 60
	defaultAVIFSpeed      = 9
	defaultAVIFSmallSpeed = 6
	defaultJPEGQuality    = 82
	defaultWebPQuality    = 75
	defaultWebPMethod     = 4
)

// SpeedFor returns the AVIF speed of a variant w pixels wide.
func (e Encoding) SpeedFor(w int) int {
	e = e.WithDefaults()
	if w <= SmallWidth {
		return e.AVIFSmallSpeed
	}
	return e.AVIFSpeed
}

// WithDefaults returns e with every zero field set to its default.
func (e Encoding) WithDefaults() Encoding {
	if e.AVIFQuality == 0 {
		e.AVIFQuality = defaultAVIFQuality
	}
	if e.AVIFSpeed == 0 {
		e.AVIFSpeed = defaultAVIFSpeed
	}
	if e.AVIFSmallSpeed == 0 {
		e.AVIFSmallSpeed = defaultAVIFSmallSpeed
	}
	if e.JPEGQuality == 0 {
		e.JPEGQuality = defaultJPEGQuality
	}
	if e.WebPQuality == 0 {
		e.WebPQuality = defaultWebPQuality
	}
	if e.WebPMethod == 0 {
		e.WebPMethod = defaultWebPMethod
	}
	return e
}

// Check reports settings out of range, naming the field and its value.
func (e Encoding) Check() error {
	if e.AVIFQuality < 0 || e.AVIFQuality > 100 {
		return fmt.Errorf("AVIFQuality must be between 1 and 100, got %d", e.AVIFQuality)
	}
	if e.AVIFSpeed < 0 || e.AVIFSpeed > 10 {
		return fmt.Errorf("AVIFSpeed must be between 0 and 10, got %d", e.AVIFSpeed)
	}
	if e.AVIFSmallSpeed < 0 || e.AVIFSmallSpeed > 10 {
		return fmt.Errorf("AVIFSmallSpeed must be between 0 and 10, got %d", e.AVIFSmallSpeed)
	}
	if e.JPEGQuality < 0 || e.JPEGQuality > 100 {
		return fmt.Errorf("JPEGQuality must be between 1 and 100, got %d", e.JPEGQuality)
	}
	if e.WebPQuality < 0 || e.WebPQuality > 100 {
		return fmt.Errorf("WebPQuality must be between 1 and 100, got %d", e.WebPQuality)
	}
	if e.WebPMethod < 0 || e.WebPMethod > 6 {
		return fmt.Errorf("WebPMethod must be between 1 and 6, got %d", e.WebPMethod)
	}
	return nil
}

// Encode writes img in the named output format ("AVIF", "WEBP", "JPEG" or
// "PNG") with no metadata: no EXIF, no XMP, no ICC profile, no text. AVIF
// files are 4:2:0 and tagged sRGB, WebP files lossy (4:2:0, untagged, that
// is sRGB), both encoded by package encoder (in an encoder process when the
// program called encoder.Init); ctx ends the wait for one, and the encode.
// JPEGs show transparent pixels as white.
func Encode(ctx context.Context, w io.Writer, format string, img *image.RGBA, e Encoding) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e = e.WithDefaults()
	switch format {
	case "AVIF":
		return encoder.AVIF(ctx, w, img, e.AVIFQuality, e.SpeedFor(img.Bounds().Dx()))
	case "WEBP":
		return encoder.WebP(ctx, w, img, e.WebPQuality, e.WebPMethod)
	case "JPEG":
		bw := bufio.NewWriter(w)
		if err := jpeg.Encode(bw, opaque(img), &jpeg.Options{Quality: e.JPEGQuality}); err != nil {
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
	defer recycle(small)
	var buf bytes.Buffer
	buf.WriteString("data:image/jpeg;base64,")
	enc := base64.NewEncoder(base64.StdEncoding, &buf)
	if err := jpeg.Encode(enc, opaque(small), &jpeg.Options{Quality: 50}); err != nil {
		return "", err
	}
	enc.Close()
	return buf.String(), nil
}
