package pipeline

import (
	"bytes"
	"encoding/binary"
	"image"
)

// jpegEXIF returns the TIFF structure of a JPEG's Exif APP1 segment, or nil.
// It stops at the first scan: metadata comes before the pixels.
func jpegEXIF(data []byte) []byte {
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2 // no length
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngEXIF returns the content of a PNG's eXIf chunk, or nil.
func pngEXIF(data []byte) []byte {
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 {
			return nil
		}
		if typ == "eXIf" {
			return data[i+8 : i+8+n]
		}
		if typ == "IEND" {
			return nil
		}
		i += 12 + n
	}
	return nil
}

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

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF structure; anything
// missing, malformed or out of range gives 1.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int(bo.Uint32(tiff[4:]))
	if off < 8 || off > len(tiff)-2 {
		return 1
	}
	n := int(bo.Uint16(tiff[off:]))
	for e := off + 2; n > 0 && e+12 <= len(tiff); e, n = e+12, n-1 {
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		if typ := bo.Uint16(tiff[e+2:]); typ != 3 { // SHORT
			return 1
		}
		if v := int(bo.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// avifOrientation maps the primary item's irot and imir properties of an
// AVIF (ISO/IEC 23008-12) to the EXIF orientation that has the same effect.
func avifOrientation(data []byte) int {
	meta := findBox(data, "meta")
	if len(meta) < 4 {
		return 1
	}
	meta = meta[4:] // full box: version and flags
	primary := uint32(1)
	if pitm := findBox(meta, "pitm"); len(pitm) >= 6 {
		if pitm[0] == 0 {
			primary = uint32(binary.BigEndian.Uint16(pitm[4:]))
		} else if len(pitm) >= 8 {
			primary = binary.BigEndian.Uint32(pitm[4:])
		}
	}
	iprp := findBox(meta, "iprp")
	ipco := findBox(iprp, "ipco")
	ipma := findBox(iprp, "ipma")
	if ipco == nil || len(ipma) < 8 {
		return 1
	}
	// The properties, indexed from 1.
	var props [][2][]byte // type, content
	for rest := ipco; len(rest) >= 8; {
		typ, content, next, ok := nextBox(rest)
		if !ok {
			break
		}
		props = append(props, [2][]byte{[]byte(typ), content})
		rest = next
	}
	version, flags := ipma[0], ipma[3]
	p := ipma[4:]
	if len(p) < 4 {
		return 1
	}
	count := binary.BigEndian.Uint32(p)
	p = p[4:]
	quarterCW, flipH := 0, false
	for ; count > 0; count-- {
		var item uint32
		if version < 1 {
			if len(p) < 3 {
				return 1
			}
			item, p = uint32(binary.BigEndian.Uint16(p)), p[2:]
		} else {
			if len(p) < 5 {
				return 1
			}
			item, p = binary.BigEndian.Uint32(p), p[4:]
		}
		n := int(p[0])
		p = p[1:]
		for ; n > 0; n-- {
			var index int
			if flags&1 != 0 {
				if len(p) < 2 {
					return 1
				}
				index, p = int(binary.BigEndian.Uint16(p)&0x7FFF), p[2:]
			} else {
				if len(p) < 1 {
					return 1
				}
				index, p = int(p[0]&0x7F), p[1:]
			}
			if item != primary || index < 1 || index > len(props) {
				continue
			}
			typ, content := string(props[index-1][0]), props[index-1][1]
			if len(content) < 1 {
				continue
			}
			switch typ {
			case "irot": // anticlockwise quarter turns
				quarterCW = (quarterCW + 4 - int(content[0]&3)) % 4
			case "imir":
				// Mode 1 exchanges left and right (EXIF 2); mode 0 exchanges
				// top and bottom (EXIF 4), which is a half turn and a
				// left-right exchange (ISO/IEC 23008-12:2022 6.5.12).
				if content[0]&1 == 0 {
					quarterCW = (quarterCW + 2) % 4
				}
				flipH = !flipH
			}
		}
	}
	return orientationOf(quarterCW, flipH)
}

// orientationOf gives the EXIF orientation that turns an image quarterCW
// quarter turns clockwise and then, if flipH, mirrors it left to right.
func orientationOf(quarterCW int, flipH bool) int {
	if flipH {
		return [4]int{2, 5, 4, 7}[quarterCW]
	}
	return [4]int{1, 6, 3, 8}[quarterCW]
}

// findBox returns the content of the first box of the given type among
// the boxes of data, or nil.
func findBox(data []byte, typ string) []byte {
	for len(data) >= 8 {
		t, content, next, ok := nextBox(data)
		if !ok {
			return nil
		}
		if t == typ {
			return content
		}
		data = next
	}
	return nil
}

func nextBox(data []byte) (typ string, content, rest []byte, ok bool) {
	if len(data) < 8 {
		return "", nil, nil, false
	}
	size := uint64(binary.BigEndian.Uint32(data))
	typ = string(data[4:8])
	header := uint64(8)
	switch size {
	case 0:
		size = uint64(len(data))
	case 1:
		if len(data) < 16 {
			return "", nil, nil, false
		}
		size, header = binary.BigEndian.Uint64(data[8:]), 16
	}
	if size < header || size > uint64(len(data)) {
		return "", nil, nil, false
	}
	return typ, data[header:size], data[size:], true
}

// oriented returns where the pixel (sx, sy) of a sw x sh image goes when
// EXIF orientation o is applied.
func oriented(o, sx, sy, sw, sh int) (dx, dy int) {
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

// uprightSize is the size of a w x h image once orientation o is applied.
func uprightSize(o, w, h int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// orient returns src transformed by EXIF orientation o, in a new image
// (src itself for orientation 1); src is recycled.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return src
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dst := NewRGBA(uprightSize(o, sw, sh))
	orientPlane(dst.Pix, dst.Stride, src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y):], src.Stride, sw, sh, o, 4)
	Recycle(src)
	return dst
}

// orient16 transforms a 16-bit image by orientation o.
func orient16(src halvedImage[uint16], o int) halvedImage[uint16] {
	if o <= 1 || o > 8 {
		return src
	}
	dw, dh := uprightSize(o, src.w, src.h)
	dst := halvedImage[uint16]{pix: make([]uint16, len(src.pix)), w: dw, h: dh}
	orientPlane(dst.pix, dw*4, src.pix, src.w*4, src.w, src.h, o, 4)
	return dst
}

// orientPlane writes the sw x sh plane src (of stride sstride, n samples
// a pixel) into dst (of stride dstride) transformed by orientation o.
func orientPlane[T sample](dst []T, dstride int, src []T, sstride, sw, sh, o, n int) {
	parallelRows(sh, func(y0, y1 int) {
		for sy := y0; sy < y1; sy++ {
			row := src[sy*sstride:][:sw*n]
			if n == 1 {
				for sx, v := range row {
					dx, dy := oriented(o, sx, sy, sw, sh)
					dst[dy*dstride+dx] = v
				}
				continue
			}
			for sx := 0; sx < sw; sx++ {
				dx, dy := oriented(o, sx, sy, sw, sh)
				copy(dst[dy*dstride+dx*n:][:n], row[sx*n:sx*n+n])
			}
		}
	})
}

func orientGray(m *image.Gray, o int) *image.Gray {
	if o <= 1 || o > 8 {
		return m
	}
	sw, sh := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := uprightSize(o, sw, sh)
	out := image.NewGray(image.Rect(0, 0, dw, dh))
	orientPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, sw, sh, o, 1)
	return out
}

// chromaSize is the size of the chroma planes of a YCbCr image of
// rectangle r, as image.NewYCbCr lays them out.
func chromaSize(r image.Rectangle, ratio image.YCbCrSubsampleRatio) (cw, ch int) {
	cw, ch = r.Dx(), r.Dy()
	if ratio == image.YCbCrSubsampleRatio422 || ratio == image.YCbCrSubsampleRatio420 {
		cw = (r.Max.X+1)/2 - r.Min.X/2
	}
	if ratio == image.YCbCrSubsampleRatio440 || ratio == image.YCbCrSubsampleRatio420 {
		ch = (r.Max.Y+1)/2 - r.Min.Y/2
	}
	return cw, ch
}

// orientYCbCr transforms a YCbCr image plane by plane, or returns nil for
// a subsampling it does not handle (the caller converts to RGBA). A quarter
// turn swaps horizontal and vertical subsampling (4:2:2 and 4:4:0). With an
// odd width or height, a mirrored chroma plane is off by half a chroma
// sample, which no one can see.
func orientYCbCr(m *image.YCbCr, o int) *image.YCbCr {
	ratio := m.SubsampleRatio
	switch ratio {
	case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440:
	default:
		return nil
	}
	if o <= 1 || o > 8 {
		return m
	}
	sw, sh := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := sw, sh
	if o >= 5 {
		dw, dh = sh, sw
		switch ratio {
		case image.YCbCrSubsampleRatio422:
			ratio = image.YCbCrSubsampleRatio440
		case image.YCbCrSubsampleRatio440:
			ratio = image.YCbCrSubsampleRatio422
		}
	}
	out := image.NewYCbCr(image.Rect(0, 0, dw, dh), ratio)
	orientPlane(out.Y, out.YStride, m.Y[m.YOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.YStride, sw, sh, o, 1)
	cw, ch := chromaSize(m.Rect, m.SubsampleRatio)
	c0 := m.COffset(m.Rect.Min.X, m.Rect.Min.Y)
	orientPlane(out.Cb, out.CStride, m.Cb[c0:], m.CStride, cw, ch, o, 1)
	orientPlane(out.Cr, out.CStride, m.Cr[c0:], m.CStride, cw, ch, o, 1)
	return out
}
