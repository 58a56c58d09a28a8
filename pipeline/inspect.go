package pipeline

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"
)

// Info is what an image's headers say, read without decoding its pixels.
type Info struct {
	Format Format
	// Width and Height are the pixel size as stored, before orientation.
	Width, Height int
	// Orientation is the EXIF orientation, 1 (upright) to 8.
	Orientation int
	// ICC is the embedded colour profile, if any; AVIFs may describe
	// their colours with CICP codes instead.
	ICC  []byte
	cicp *cicp
}

// Upright returns the size of the image once its orientation is applied.
func (i Info) Upright() (w, h int) {
	if i.Orientation >= 5 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

// Inspect identifies data's format and reads its size, orientation and
// colour profile from the headers only, so that the caller can refuse an
// image before the memory of its pixels is spent. An AVIF's container is
// checked whole, in Go: a truncated or structurally broken AVIF is
// refused here (ErrCorrupt), and never reaches the AVIF decoder, whose
// first use in a process is costly (see WarmDecoders).
func Inspect(data []byte) (Info, error) {
	f, ok := sniff(data[:min(len(data), 512)])
	if !ok {
		if isHEIC(data[:min(len(data), 512)]) {
			return Info{}, ErrHEIC
		}
		return Info{}, ErrUnsupported
	}
	info := Info{Format: f, Orientation: 1}
	var cfg image.Config
	var err error
	r := bytes.NewReader(data)
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(r)
		info.Orientation = exifOrientation(jpegEXIF(data))
		info.ICC = jpegICC(data)
	case PNG:
		cfg, err = png.DecodeConfig(r)
		info.Orientation = exifOrientation(pngEXIF(data))
		info.ICC = pngICC(data)
	case GIF:
		cfg, err = gif.DecodeConfig(r)
	case WEBP:
		// VP8X flags: bit 1 is animation.
		if len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0 {
			return Info{}, ErrAnimated
		}
		cfg, err = webp.DecodeConfig(r)
		info.Orientation = exifOrientation(webpEXIF(data))
		info.ICC = webpICC(data)
	case AVIF:
		// The container is checked whole here, without the decoder (whose
		// first use in a process compiles it): a truncated or broken file
		// is refused before any decode (see checkAVIF).
		w, h, err := checkAVIF(data)
		if err != nil {
			return Info{}, err
		}
		cfg = image.Config{Width: w, Height: h}
		info.Orientation = avifOrientation(data)
		if icc, c, ok := avifColour(data); ok {
			info.ICC = icc
			if icc == nil {
				info.cicp = &c
			}
		}
	}
	if err != nil {
		return Info{}, decodeError(f, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return Info{}, fmt.Errorf("%w: %s header gives a size of %dx%d", ErrCorrupt, f, cfg.Width, cfg.Height)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	return info, nil
}
