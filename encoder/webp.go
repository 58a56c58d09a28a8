package encoder

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"io"

	"github.com/gen2brain/webp"
)

// WebP writes img as a lossy WebP file (VP8, with an ALPH chunk when img
// has transparency), without metadata: no EXIF, XMP or ICC chunk, which
// browsers read as sRGB. Quality is 1 to 100 and method the libwebp
// effort, 0 (fastest) to 6 (slowest, smallest). It encodes where AVIF
// does, in the same encoder processes and under the same limits (see
// AVIF); ctx ends the wait, and an encode in a process, which is then
// killed.
func WebP(ctx context.Context, w io.Writer, img *image.RGBA, quality, method int) error {
	if quality < 1 || quality > 100 {
		return fmt.Errorf("encoder: WebP quality must be between 1 and 100, got %d", quality)
	}
	if method < 0 || method > 6 {
		return fmt.Errorf("encoder: WebP method must be between 0 and 6, got %d", method)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return encode(ctx, w, job{formatWebP, img, quality, method}, true)
}

// webpHere encodes in this process.
func webpHere(w io.Writer, img *image.RGBA, quality, method int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := webp.Encode(bw, straight(img), webp.Options{Quality: quality, Method: method}); err != nil {
		return err
	}
	return bw.Flush()
}

// straight returns img with straight (not premultiplied) alpha, at the
// origin and with rows end to end, as libwebp takes pixels (and
// github.com/gen2brain/webp passes an *image.RGBA's bytes as if they
// were). An opaque image is the same bytes either way, and is shared when
// its rows are end to end.
func straight(img *image.RGBA) *image.NRGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	opaque := true
	for y := b.Min.Y; y < b.Max.Y && opaque; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):][:w*4]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0xFF {
				opaque = false
				break
			}
		}
	}
	if opaque && img.Stride == w*4 {
		off := img.PixOffset(b.Min.X, b.Min.Y)
		return &image.NRGBA{Pix: img.Pix[off : off+w*h*4], Stride: w * 4, Rect: image.Rect(0, 0, w, h)}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:w*4]
		out := dst.Pix[y*dst.Stride:][:w*4]
		if opaque {
			copy(out, src)
			continue
		}
		for i := 0; i < len(src); i += 4 {
			switch a := uint32(src[i+3]); a {
			case 0xFF:
				copy(out[i:i+4], src[i:i+4])
			case 0:
				// Fully transparent: the colour is not shown (zero).
			default:
				// min: a premultiplied colour above its alpha is invalid.
				out[i] = uint8(min(0xFF, (uint32(src[i])*0xFF+a/2)/a))
				out[i+1] = uint8(min(0xFF, (uint32(src[i+1])*0xFF+a/2)/a))
				out[i+2] = uint8(min(0xFF, (uint32(src[i+2])*0xFF+a/2)/a))
				out[i+3] = uint8(a)
			}
		}
	}
	return dst
}
