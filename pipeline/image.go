package pipeline

import (
	"image"
	"image/color"
)

// An Image is a decoded, upright picture, or a rectangle of one (see
// Crop). It yields rows of premultiplied 8-bit RGBA on demand, so a JPEG
// stays in its decoded YCbCr form (1.5 bytes a pixel where RGBA takes 4) and
// every resize converts the rows it reads. Other formats are held as RGBA.
type Image struct {
	rgba   *image.RGBA
	rgba16 *halvedImage[uint16] // premultiplied RGBA, 16 bits a channel
	ycbcr  *image.YCbCr
	gray   *image.Gray
	// conv converts the colours to sRGB, when they are not (see Resize).
	conv *converter
	// r is the region of the underlying image, at its own coordinates.
	r image.Rectangle
	// opaque caches Opaque for RGBA images: 0 unknown, 1 no, 2 yes.
	opaque uint8
	// warning says why the colour profile was not applied.
	warning error
}

// fromRGBA returns an Image of m, which it shares.
func fromRGBA(m *image.RGBA) *Image { return &Image{rgba: m, r: m.Rect} }

// Opaque reports whether every pixel is opaque: always for YCbCr and gray
// images, and for RGBA ones whose pixels all are (checked once).
func (m *Image) Opaque() bool {
	if m.rgba == nil && m.rgba16 == nil {
		return true
	}
	if m.opaque == 0 {
		m.opaque = 2
		buf := make([]uint16, m.r.Dx()*4)
		for y := 0; y < m.r.Dy() && m.opaque == 2; y++ {
			readRow(m, buf, 0, y)
			for i := 3; i < len(buf); i += 4 {
				if buf[i] != 0xFFFF {
					m.opaque = 1
					break
				}
			}
		}
	}
	return m.opaque == 2
}

// deep reports whether m is processed at 16 bits a channel: it has them,
// or its colours are converted to sRGB (which needs the precision).
func (m *Image) deep() bool { return m.rgba16 != nil || m.conv != nil }

// Bounds returns the image's size, at the origin.
func (m *Image) Bounds() image.Rectangle { return image.Rect(0, 0, m.r.Dx(), m.r.Dy()) }

// Crop returns the rectangle r (at m's own coordinates, from its top left)
// of m, sharing its pixels.
func (m *Image) Crop(r image.Rectangle) *Image {
	r = r.Add(m.r.Min).Intersect(m.r)
	c := *m
	c.r = r
	return &c
}

// Release gives the image's pixels back for reuse; m must not be used
// after. Crops share pixels: release only the image Decode returned.
func (m *Image) Release() {
	recycle(m.rgba)
	m.rgba, m.rgba16, m.ycbcr, m.gray = nil, nil, nil, nil
}

// RGBA returns the image as premultiplied RGBA, in sRGB: a copy unless it
// is held so.
func (m *Image) RGBA() *image.RGBA {
	if m.rgba != nil && m.r == m.rgba.Rect && m.conv == nil {
		return m.rgba
	}
	return NewResizer(m).Resize(m.r.Dx(), m.r.Dy())
}

// at returns the colour of a pixel as stored (before any conversion to
// sRGB), for tests and small reads.
func (m *Image) at(x, y int) color.RGBA {
	var p [4]uint8
	readRow(m, p[:], x, y)
	return color.RGBA{p[0], p[1], p[2], p[3]}
}

// readRow writes len(dst)/4 pixels of row y of m, from column x0, as
// premultiplied RGBA samples of 8 or 16 bits.
func readRow[T sample](m *Image, dst []T, x0, y int) {
	x0 += m.r.Min.X
	y += m.r.Min.Y
	n := len(dst) / 4
	scale := ^T(0) / 255 // 1 for bytes, 257 for 16 bits
	switch {
	case m.rgba16 != nil:
		src := m.rgba16.pix[(y*m.rgba16.w+x0)*4:][:n*4]
		if d, ok := any(dst).([]uint16); ok {
			copy(d, src)
			return
		}
		for i, v := range src {
			dst[i] = T((uint32(v)*255 + 32767) / 65535)
		}
	case m.rgba != nil:
		src := m.rgba.Pix[m.rgba.PixOffset(x0, y):][:n*4]
		if d, ok := any(dst).([]uint8); ok {
			copy(d, src)
			return
		}
		for i, v := range src {
			dst[i] = T(v) * scale
		}
	case m.gray != nil:
		src := m.gray.Pix[m.gray.PixOffset(x0, y):][:n]
		for i, v := range src {
			g := T(v) * scale
			d := dst[i*4 : i*4+4 : i*4+4]
			d[0], d[1], d[2], d[3] = g, g, g, ^T(0)
		}
	default:
		ycbcrRow(dst, m.ycbcr, x0, y)
	}
}

// ycbcrRow converts pixels of row y of a YCbCr image from column x0 with
// the fixed-point arithmetic of color.YCbCrToRGB (and image/draw), so the
// result is exactly what converting the whole image would give.
func ycbcrRow[T sample](dst []T, m *image.YCbCr, x0, y int) {
	n := len(dst) / 4
	yp := m.Y[m.YOffset(x0, y):][:n]
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
		// Two pixels share a chroma sample (COffset takes x/2): compute its
		// terms once per pair.
		ci := m.COffset(x0, y)
		i := 0
		if x0&1 == 1 {
			putYCC(dst[0:4], yp[0], m.Cb[ci], m.Cr[ci])
			i, ci = 1, ci+1
		}
		scale := ^T(0) / 255
		for ; i < n; i, ci = i+2, ci+1 {
			cb1, cr1 := int32(m.Cb[ci])-128, int32(m.Cr[ci])-128
			rc, gc, bc := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
			for k := i; k < min(i+2, n); k++ {
				yy1 := int32(yp[k]) * 0x10101
				d := dst[k*4 : k*4+4 : k*4+4]
				d[0], d[1], d[2], d[3] = T(clampYCC(yy1+rc))*scale, T(clampYCC(yy1+gc))*scale, T(clampYCC(yy1+bc))*scale, ^T(0)
			}
		}
	case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440:
		ci := m.COffset(x0, y)
		for i, yy := range yp {
			putYCC(dst[i*4:i*4+4], yy, m.Cb[ci+i], m.Cr[ci+i])
		}
	default:
		for i, yy := range yp {
			ci := m.COffset(x0+i, y)
			putYCC(dst[i*4:i*4+4], yy, m.Cb[ci], m.Cr[ci])
		}
	}
}

func putYCC[T sample](d []T, y, cb, cr uint8) {
	scale := ^T(0) / 255
	yy1 := int32(y) * 0x10101
	cb1, cr1 := int32(cb)-128, int32(cr)-128
	d[0] = T(clampYCC(yy1+91881*cr1)) * scale
	d[1] = T(clampYCC(yy1-22554*cb1-46802*cr1)) * scale
	d[2] = T(clampYCC(yy1+116130*cb1)) * scale
	d[3] = ^T(0)
}

func clampYCC(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}
