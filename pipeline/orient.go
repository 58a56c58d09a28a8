package pipeline

import "image"

// Turning decoded pixels upright by an EXIF orientation, 1 to 8 (see
// exifOrientation and avifOrientation).

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
	dst := newRGBA(uprightSize(o, sw, sh))
	orientPlane(dst.Pix, dst.Stride, src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y):], src.Stride, sw, sh, o, 4)
	recycle(src)
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
