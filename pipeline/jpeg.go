package pipeline

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// JPEG metadata: the Exif APP1 segment and the ICC profile of the APP2
// segments, read before the first scan.

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

// jpegICC reassembles the ICC profile of a JPEG from its APP2 segments
// ("ICC_PROFILE\0", sequence number, count), in sequence order.
func jpegICC(data []byte) []byte {
	type chunk struct {
		seq  int
		data []byte
	}
	var chunks []chunk
	total := 0
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			break
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF:
			i++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9:
			i = len(data)
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			break
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE2 && len(seg) > 14 && string(seg[:12]) == "ICC_PROFILE\x00" {
			chunks = append(chunks, chunk{int(seg[12]), seg[14:]})
			total += len(seg) - 14
		}
		i += 2 + n
	}
	if len(chunks) == 0 || total > maxProfile {
		return nil
	}
	slices.SortStableFunc(chunks, func(a, b chunk) int { return a.seq - b.seq })
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c.data...)
	}
	return out
}
