package pipeline

import "encoding/binary"

// Trim returns data without what follows the end of its image of format
// f: bytes after a JPEG's end-of-image marker, a PNG's IEND chunk, a GIF's
// trailer, a WebP's RIFF chunk or an AVIF's last top-level box. Uploads may
// carry such data (a second image, an archive, junk); no decoder reads it,
// and a stored original need not keep it. The result is a prefix of data,
// not a copy. When the end cannot be found (a truncated or malformed file,
// an ISOBMFF box that runs to the end of the file), Trim returns data
// whole: decoding it is what tells whether it is an image.
func Trim(data []byte, f Format) []byte {
	n := -1
	switch f {
	case JPEG:
		n = jpegEnd(data)
	case PNG:
		n = pngEnd(data)
	case GIF:
		n = gifEnd(data)
	case WEBP:
		n = webpEnd(data)
	case AVIF:
		n = isobmffEnd(data)
	}
	if n <= 0 || n > len(data) {
		return data
	}
	return data[:n]
}

// jpegEnd returns the offset just past a JPEG's EOI marker, or -1. Marker
// segments are skipped by their length (so the EOI of a thumbnail in an
// Exif segment does not count); after each start of scan, the
// entropy-coded data runs to the next marker that is neither a stuffed
// 0xFF00 nor a restart marker.
func jpegEnd(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return -1
	}
	i := 2
	for i+2 <= len(data) {
		if data[i] != 0xFF {
			return -1
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD9:
			return i + 2
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2 // no length
			continue
		}
		if i+4 > len(data) {
			return -1
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 {
			return -1
		}
		i += 2 + n
		if marker != 0xDA {
			continue
		}
		// Entropy-coded data, up to the next real marker.
		for i < len(data) {
			if data[i] != 0xFF {
				i++
				continue
			}
			if i+1 >= len(data) {
				return -1
			}
			if next := data[i+1]; next == 0x00 || (next >= 0xD0 && next <= 0xD7) {
				i += 2
				continue
			}
			break
		}
	}
	return -1
}

// pngEnd returns the offset just past a PNG's IEND chunk, or -1.
func pngEnd(data []byte) int {
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		if n < 0 || n > len(data)-i-12 {
			return -1
		}
		if string(data[i+4:i+8]) == "IEND" {
			return i + 12 + n
		}
		i += 12 + n
	}
	return -1
}

// gifEnd returns the offset just past a GIF's trailer, or -1.
func gifEnd(data []byte) int {
	if len(data) < 13 {
		return -1
	}
	i := 13
	if data[10]&0x80 != 0 { // global colour table
		i += 3 << (data[10]&7 + 1)
	}
	// subBlocks skips data sub-blocks from j, through the terminator.
	subBlocks := func(j int) int {
		for j < len(data) {
			if data[j] == 0 {
				return j + 1
			}
			j += 1 + int(data[j])
		}
		return -1
	}
	for i < len(data) {
		switch data[i] {
		case 0x3B: // trailer
			return i + 1
		case 0x21: // extension: introducer, label, sub-blocks
			if i = subBlocks(i + 2); i < 0 {
				return -1
			}
		case 0x2C: // image: descriptor, local colour table, LZW code size, sub-blocks
			if i+10 > len(data) {
				return -1
			}
			packed := data[i+9]
			i += 10
			if packed&0x80 != 0 {
				i += 3 << (packed&7 + 1)
			}
			if i = subBlocks(i + 1); i < 0 {
				return -1
			}
		default:
			return -1
		}
	}
	return -1
}

// webpEnd returns the end of a WebP's RIFF chunk (its size field counts
// from byte 8; chunks are padded to an even size), or -1.
func webpEnd(data []byte) int {
	if len(data) < 12 {
		return -1
	}
	n := int64(binary.LittleEndian.Uint32(data[4:])) + 8
	n += n & 1
	if n < 12 || n > int64(len(data)) {
		return -1
	}
	return int(n)
}

// isobmffEnd returns the end of an ISOBMFF file's last top-level box: the
// boxes are read one after the other from the leading ftyp, and the file
// ends before the first bytes that are not a box (a size that does not
// fit, a type that is not four printable characters). It returns -1 for a
// box whose size is 0 (it runs to the end of the file) or when the file
// does not start with a box.
func isobmffEnd(data []byte) int {
	i := 0
	for i+8 <= len(data) {
		size := int64(binary.BigEndian.Uint32(data[i:]))
		header := int64(8)
		switch size {
		case 0:
			return -1
		case 1:
			if i+16 > len(data) {
				return i
			}
			size = int64(binary.BigEndian.Uint64(data[i+8:]))
			header = 16
		}
		if size < header || size > int64(len(data)-i) || !boxType(data[i+4:i+8]) {
			break
		}
		i += int(size)
	}
	if i == 0 {
		return -1
	}
	return i
}

// boxType reports whether t can be the type of an ISOBMFF box: four
// printable ASCII characters.
func boxType(t []byte) bool {
	for _, c := range t {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}
