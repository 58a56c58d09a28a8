package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"sync"

	"github.com/gen2brain/avif"
	"golang.org/x/image/webp"
)

// Decode decodes data, whose headers Inspect read as info, to an upright
// Image, applying the EXIF orientation (or AVIF irot and imir). JPEGs stay
// in their YCbCr or grayscale planes; the other formats become
// premultiplied 8-bit RGBA. GIFs give their first frame. The caller must
// have checked info's size against its pixel budget, and releases the
// Image when done (see Image.Release).
func Decode(data []byte, info Info) (*Image, error) {
	var img image.Image
	var err error
	r := bytes.NewReader(data)
	switch info.Format {
	case JPEG:
		img, err = jpeg.Decode(r)
	case PNG:
		img, err = png.Decode(r)
	case GIF:
		img, err = gif.Decode(r)
	case WEBP:
		img, err = webp.Decode(r)
	case AVIF:
		img, err = avif.Decode(r) // orientation applied below, like the others
	default:
		return nil, ErrUnsupported
	}
	if err != nil {
		return nil, decodeError(info.Format, err)
	}
	if b := img.Bounds(); b.Dx() != info.Width || b.Dy() != info.Height {
		return nil, fmt.Errorf("%w: %s decodes to %dx%d, its header says %dx%d", ErrCorrupt, info.Format, b.Dx(), b.Dy(), info.Width, info.Height)
	}
	switch m := img.(type) {
	case *image.YCbCr:
		if oy := orientYCbCr(m, info.Orientation); oy != nil {
			return &Image{ycbcr: oy, r: oy.Rect}, nil
		}
	case *image.Gray:
		g := orientGray(m, info.Orientation)
		return &Image{gray: g, r: g.Rect}, nil
	}
	return FromRGBA(orient(toRGBA(img), info.Orientation)), nil
}

// decodeError classifies a decoder's error.
func decodeError(f Format, err error) error {
	var je jpeg.UnsupportedError
	var pe png.UnsupportedError
	if errors.As(err, &je) || errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: %v", ErrUnsupportedFeature, f, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, f, err)
}

// toRGBA converts img to a premultiplied RGBA image at the origin, in
// parallel bands.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	if m, ok := img.(*image.RGBA); ok && b.Min == (image.Point{}) {
		return m
	}
	dst := NewRGBA(b.Dx(), b.Dy())
	parallelRows(b.Dy(), func(y0, y1 int) {
		draw.Draw(dst, image.Rect(0, y0, b.Dx(), y1), img, image.Pt(b.Min.X, b.Min.Y+y0), draw.Src)
	})
	return dst
}

// parallelRows calls fn over bands of [0, n) rows, one per CPU.
func parallelRows(n int, fn func(y0, y1 int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/16))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range workers {
		y0, y1 := n*i/workers, n*(i+1)/workers
		wg.Go(func() { fn(y0, y1) })
	}
	wg.Wait()
}
