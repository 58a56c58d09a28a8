package pipeline

import "encoding/binary"

// EXIF, as the TIFF structure that JPEG, PNG and WebP files embed (see
// jpegEXIF, pngEXIF, webpEXIF): only its orientation is read.

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
