package pipeline

import (
	"bytes"
	"encoding/binary"
	"image"
	"math"
)

// WebP metadata: the EXIF and ICCP chunks of the RIFF container.

// webpEXIF returns the content of a WebP's EXIF chunk, or nil.
func webpEXIF(data []byte) []byte {
	for i := 12; i+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			return bytes.TrimPrefix(data[i+8:i+8+n], []byte("Exif\x00\x00"))
		}
		i += 8 + n + n&1
	}
	return nil
}

// webpICC returns the content of a WebP's ICCP chunk.
func webpICC(data []byte) []byte {
	for i := 12; i+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if string(data[i:i+4]) == "ICCP" {
			return data[i+8 : i+8+n]
		}
		i += 8 + n + n&1
	}
	return nil
}

// Lossy WebP (VP8) stores BT.601 YCbCr in studio range (Y 16 to 235, Cb
// and Cr 16 to 240), as libwebp and browsers decode it, but
// golang.org/x/image/webp returns the planes as they are, in an
// image.YCbCr, which Go reads as JFIF's full range: a pure (200, 100, 50)
// would come out (190, 101, 57). fullRange rescales the planes in place
// to full range (the same matrix), so that every later step reads them
// right.
func fullRange(img image.Image) {
	var y, cb, cr []byte
	switch m := img.(type) {
	case *image.YCbCr:
		y, cb, cr = m.Y, m.Cb, m.Cr
	case *image.NYCbCrA:
		y, cb, cr = m.Y, m.Cb, m.Cr
	default:
		return // lossless WebP: RGB already
	}
	for i, v := range y {
		y[i] = studioLuma[v]
	}
	for i, v := range cb {
		cb[i] = studioChroma[v]
	}
	for i, v := range cr {
		cr[i] = studioChroma[v]
	}
}

// studioLuma and studioChroma map studio-range values to full range,
// rounded and clipped.
var studioLuma, studioChroma = func() (l, c [256]byte) {
	for v := range 256 {
		l[v] = uint8(max(0, min(255, math.Round(float64(v-16)*255/219))))
		c[v] = uint8(max(0, min(255, math.Round(128+float64(v-128)*255/224))))
	}
	return l, c
}()
