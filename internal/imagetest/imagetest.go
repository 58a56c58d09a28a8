// Package imagetest makes the test images of this module: an asymmetric
// picture that shows any wrong rotation or mirror, stored as a camera in
// any EXIF orientation would store it, and EXIF blocks to tag it with.
package imagetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
)

// The quadrant colours: red, green on top; blue, white below.
var (
	Red   = color.RGBA{255, 0, 0, 255}
	Green = color.RGBA{0, 255, 0, 255}
	Blue  = color.RGBA{0, 0, 255, 255}
	White = color.RGBA{255, 255, 255, 255}
)

// Quadrants returns an upright w x h picture of four coloured quadrants.
func Quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := Red
			switch {
			case x >= w/2 && y < h/2:
				c = Green
			case x < w/2 && y >= h/2:
				c = Blue
			case x >= w/2 && y >= h/2:
				c = White
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// Displayed returns where the pixel (sx, sy) of a sw x sh image stored in
// EXIF orientation o is shown.
func Displayed(sx, sy, sw, sh, o int) (dx, dy int) {
	switch o {
	case 2:
		return sw - 1 - sx, sy
	case 3:
		return sw - 1 - sx, sh - 1 - sy
	case 4:
		return sx, sh - 1 - sy
	case 5:
		return sy, sx
	case 6:
		return sh - 1 - sy, sx
	case 7:
		return sh - 1 - sy, sw - 1 - sx
	case 8:
		return sy, sw - 1 - sx
	}
	return sx, sy
}

// Stored returns up as a camera in EXIF orientation o stores it: showing
// the result in orientation o gives up back.
func Stored(up *image.RGBA, o int) *image.RGBA {
	w, h := up.Rect.Dx(), up.Rect.Dy()
	sw, sh := w, h
	if o >= 5 {
		sw, sh = h, w
	}
	st := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for sy := range sh {
		for sx := range sw {
			dx, dy := Displayed(sx, sy, sw, sh, o)
			st.SetRGBA(sx, sy, up.RGBAAt(dx, dy))
		}
	}
	return st
}

// TIFFOrientation returns a TIFF structure (the content of an EXIF block)
// whose IFD0 holds an unrelated tag and then Orientation = o.
func TIFFOrientation(o int, bo binary.ByteOrder) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II*\x00")
	} else {
		b.WriteString("MM\x00*")
	}
	binary.Write(&b, bo, uint32(8))
	binary.Write(&b, bo, uint16(2)) // two entries
	binary.Write(&b, bo, []uint16{0x010F, 2})
	binary.Write(&b, bo, []uint32{4, 0}) // Make: 4 ASCII bytes, inline
	binary.Write(&b, bo, []uint16{0x0112, 3})
	binary.Write(&b, bo, uint32(1))
	binary.Write(&b, bo, []uint16{uint16(o), 0})
	binary.Write(&b, bo, uint32(0)) // no next IFD
	return b.Bytes()
}

// WithJPEGEXIF inserts an Exif APP1 segment holding tiff after the SOI
// marker of jpg.
func WithJPEGEXIF(jpg, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	if len(seg)+2 > 0xFFFF {
		panic(fmt.Sprintf("imagetest: EXIF segment of %d bytes is too long", len(seg)))
	}
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// PNGChunk encodes a PNG chunk.
func PNGChunk(typ string, data []byte) []byte {
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(len(data)))
	c.WriteString(typ)
	c.Write(data)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return c.Bytes()
}

// WithPNGChunk inserts a chunk right after the IHDR chunk of p.
func WithPNGChunk(p []byte, typ string, data []byte) []byte {
	ihdrEnd := 8 + 12 + 13
	return append(append(bytes.Clone(p[:ihdrEnd]), PNGChunk(typ, data)...), p[ihdrEnd:]...)
}

// Upright reports whether img (a crop or resize of Quadrants, possibly
// through a lossy encoding) is the right way round: red at the top left,
// white at the bottom right.
func Upright(img image.Image) error {
	b := img.Bounds()
	at := func(fx, fy float64) color.RGBA {
		r, g, bl, _ := img.At(b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+int(fy*float64(b.Dy()))).RGBA()
		return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
	}
	tl, br := at(0.1, 0.15), at(0.9, 0.85)
	if !(tl.R > 170 && tl.G < 100 && tl.B < 100) {
		return fmt.Errorf("top left is %v, want red", tl)
	}
	if !(br.R > 170 && br.G > 170 && br.B > 170) {
		return fmt.Errorf("bottom right is %v, want white", br)
	}
	return nil
}
