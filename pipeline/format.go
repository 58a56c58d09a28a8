// Package pipeline turns an uploaded image into the variants of a picture:
// it recognises the format from content (never from a file name), reads the
// size and orientation from headers before any full decode, decodes once to
// an upright RGBA image, crops, resizes with a high-quality filter and
// encodes AVIF, JPEG or PNG without any metadata. It does not know about
// fields or storage; package pictures drives it.
package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"github.com/gen2brain/avif"
	"golang.org/x/image/webp"
)

// A Format is an accepted input format.
type Format string

// The accepted input formats.
const (
	JPEG Format = "JPEG"
	PNG  Format = "PNG"
	GIF  Format = "GIF"
	WEBP Format = "WEBP"
	AVIF Format = "AVIF"
)

// Ext returns the file extension originals of the format are stored with.
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	case GIF:
		return "gif"
	case WEBP:
		return "webp"
	case AVIF:
		return "avif"
	}
	return "bin"
}

// Errors of inspection and decoding.
var (
	// ErrUnsupported reports content that is not an image of an accepted
	// format.
	ErrUnsupported = errors.New("pipeline: not a JPEG, PNG, GIF, WebP or AVIF image")
	// ErrHEIC reports an HEIC/HEIF image, which browsers cannot show and
	// the pipeline does not decode.
	ErrHEIC = errors.New("pipeline: HEIC/HEIF images are not supported")
	// ErrAnimated reports an animated WebP, which the decoder does not
	// read. (Animated GIFs give their first frame.)
	ErrAnimated = errors.New("pipeline: animated WebP images are not supported")
	// ErrUnsupportedFeature reports an image of an accepted format that
	// uses a feature the decoder lacks, such as arithmetic-coded JPEG.
	ErrUnsupportedFeature = errors.New("pipeline: unsupported image feature")
	// ErrCorrupt reports an image of an accepted format that cannot be
	// decoded: truncated, damaged, or using a feature the decoder lacks.
	ErrCorrupt = errors.New("pipeline: damaged or unreadable image")
)

// Sniff recognises the format of an image from its first bytes (512 are
// enough). Images of other formats give ok == false.
func Sniff(head []byte) (f Format, ok bool) {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, true
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WEBP, true
	case isAVIF(head):
		return AVIF, true
	}
	return "", false
}

// ftypBrands returns the major and compatible brands of an ISOBMFF file's
// leading ftyp box.
func ftypBrands(head []byte) []string {
	if len(head) < 16 || string(head[4:8]) != "ftyp" {
		return nil
	}
	size := int(uint32(head[0])<<24 | uint32(head[1])<<16 | uint32(head[2])<<8 | uint32(head[3]))
	if size < 16 || size > len(head) {
		size = len(head)
	}
	brands := []string{string(head[8:12])}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	return brands
}

func isAVIF(head []byte) bool {
	for _, b := range ftypBrands(head) {
		if b == "avif" || b == "avis" {
			return true
		}
	}
	return false
}

func isHEIC(head []byte) bool {
	for _, b := range ftypBrands(head) {
		switch b {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			return true
		}
	}
	return false
}

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

// Inspect identifies data's format and reads its size and orientation from
// the headers only, so that the caller can refuse an image before the
// memory of its pixels is spent.
func Inspect(data []byte) (Info, error) {
	f, ok := Sniff(data[:min(len(data), 512)])
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
		cfg, err = avif.DecodeConfig(r)
		if err == nil {
			info.Orientation = avifOrientation(data)
			if icc, c, ok := avifColour(data); ok {
				info.ICC = icc
				if icc == nil {
					info.cicp = &c
				}
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
