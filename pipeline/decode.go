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
// Image, applying the EXIF orientation (or AVIF irot and imir); colours
// are converted to sRGB from the image's profile as its rows are read
// (see Image.Warning). JPEGs stay in their YCbCr or grayscale planes; the
// other formats become premultiplied 8-bit RGBA. GIFs give their first
// frame. The caller must have checked info's size against its pixel
// budget, and releases the Image when done (see Image.Release).
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
		if img, err = webp.Decode(r); err == nil {
			fullRange(img)
		}
	case AVIF:
		img, err = decodeAVIF(data, info) // orientation applied below, like the others
	default:
		return nil, ErrUnsupported
	}
	if err != nil {
		return nil, decodeError(info.Format, err)
	}
	if b := img.Bounds(); b.Dx() != info.Width || b.Dy() != info.Height {
		return nil, fmt.Errorf("%w: %s decodes to %dx%d, its header says %dx%d", ErrCorrupt, info.Format, b.Dx(), b.Dy(), info.Width, info.Height)
	}
	tr, warning := colourTransform(info, img)
	out := decoded(img, info.Orientation, tr)
	out.warning = warning
	if tr != nil && out.conv == nil && tr.channels() != 4 {
		out.conv = newConverter(tr)
	}
	return out, nil
}

// decodeAVIF decodes an AVIF that Inspect accepted (see checkAVIF). An
// image beyond the decoder's limits is refused before the decoder runs;
// a panic of the decoder (github.com/gen2brain/avif v0.5.3 indexes an
// empty frame list when the system libavif fails to decode the first
// frame) is an error.
func decodeAVIF(data []byte, info Info) (img image.Image, err error) {
	if info.Width > avifMaxSide || info.Height > avifMaxSide || int64(info.Width)*int64(info.Height) > avifMaxPixels {
		return nil, fmt.Errorf("%w: AVIF of %dx%d: the decoder reads at most %d pixels a side and %d in all", ErrUnsupportedFeature, info.Width, info.Height, avifMaxSide, avifMaxPixels)
	}
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("the decoder failed: %v", p)
		}
	}()
	return avif.Decode(bytes.NewReader(data))
}

// decoded turns a decoded image into an upright Image: JPEG planes stay
// as they are, CMYK is converted (through its profile, tr, when it has
// one), 16-bit images keep 16 bits, the rest becomes RGBA.
func decoded(img image.Image, o int, tr colorTransform) *Image {
	switch m := img.(type) {
	case *image.YCbCr:
		if oy := orientYCbCr(m, o); oy != nil {
			return &Image{ycbcr: oy, r: oy.Rect}
		}
	case *image.Gray:
		g := orientGray(m, o)
		return &Image{gray: g, r: g.Rect}
	case *image.CMYK:
		if tr != nil && tr.channels() == 4 {
			return deepImage(cmykToRGBA16(m, tr), o)
		}
	case *image.RGBA64, *image.NRGBA64, *image.Gray16:
		return deepImage(toRGBA16(img), o)
	}
	return fromRGBA(orient(toRGBA(img), o))
}

func deepImage(h halvedImage[uint16], o int) *Image {
	h = orient16(h, o)
	return &Image{rgba16: &h, r: image.Rect(0, 0, h.w, h.h)}
}

// Warning returns why the image's colour profile was not applied (an
// unsupported profile), or nil. The image is then taken as sRGB.
func (m *Image) Warning() error { return m.warning }

// colourTransform builds the conversion of the image's colours to sRGB
// from its embedded profile (or AVIF CICP codes): nil for sRGB and for
// images without a profile, and a warning for a profile that does not fit
// or cannot be applied.
func colourTransform(info Info, img image.Image) (colorTransform, error) {
	var p *profile
	var err error
	switch {
	case info.ICC != nil:
		p, err = parseICC(info.ICC)
	case info.cicp != nil:
		p, err = cicpProfile(*info.cicp)
	}
	if err != nil || p == nil {
		return nil, err
	}
	want := "RGB "
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		want = "GRAY"
	case *image.CMYK:
		want = "CMYK"
	}
	if p.space != want && !(p.space == "GRAY" && want == "RGB ") {
		return nil, fmt.Errorf("%w: a %q profile on a %s image", errUnsupportedProfile, p.space, want)
	}
	tr, err := newTransform(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %q (%s, %s)", errUnsupportedProfile, p.desc, p.space, p.a2bType)
	}
	return tr, nil
}

// toRGBA16 converts a 16-bit image to premultiplied 16-bit RGBA.
func toRGBA16(img image.Image) halvedImage[uint16] {
	b := img.Bounds()
	h := halvedImage[uint16]{pix: make([]uint16, b.Dx()*b.Dy()*4), w: b.Dx(), h: b.Dy()}
	parallelRows(b.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := h.pix[y*h.w*4 : (y+1)*h.w*4]
			for x := 0; x < b.Dx(); x++ {
				r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA() // premultiplied, 16 bits
				row[x*4], row[x*4+1], row[x*4+2], row[x*4+3] = uint16(r), uint16(g), uint16(bl), uint16(a)
			}
		}
	})
	return h
}

// cmykToRGBA16 converts CMYK pixels through the profile's transform,
// sampled on a grid (see cmykTable).
func cmykToRGBA16(m *image.CMYK, tr colorTransform) halvedImage[uint16] {
	b := m.Bounds()
	h := halvedImage[uint16]{pix: make([]uint16, b.Dx()*b.Dy()*4), w: b.Dx(), h: b.Dy()}
	table := newCMYKTable(tr)
	parallelRows(b.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:b.Dx()*4]
			row := h.pix[y*h.w*4 : (y+1)*h.w*4]
			for x := 0; x < b.Dx(); x++ {
				p := src[x*4 : x*4+4 : x*4+4]
				o := row[x*4 : x*4+4 : x*4+4]
				o[0], o[1], o[2] = table.at(p[0], p[1], p[2], p[3])
				o[3] = 0xFFFF
			}
		}
	})
	return h
}

// decodeError classifies a decoder's error.
func decodeError(f Format, err error) error {
	if errors.Is(err, ErrUnsupportedFeature) || errors.Is(err, ErrCorrupt) {
		return err // classified already
	}
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
	dst := newRGBA(b.Dx(), b.Dy())
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
