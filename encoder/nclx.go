package encoder

import "encoding/binary"

// The AVIF encoder writes a colour description (an nclx colr property)
// of "unspecified" primaries, transfer and matrix (2, 2, 2), though it
// converts RGB to YUV with BT.601's matrix and the pixels are sRGB. Decoders
// guess right today (MIAF's defaults are sRGB and BT.601), but a guess is
// not a description: tagSRGB rewrites those codes in place as what they
// are, sRGB primaries (1), sRGB transfer (13) and BT.601 matrix (6), full
// range, the colour space browsers then show without guessing.

// tagSRGB rewrites, in the AVIF file data, every nclx colr property whose
// codes are all unspecified with sRGB's. It changes no size, and leaves
// anything it does not understand alone.
func tagSRGB(data []byte) {
	meta := findBox(data, "meta")
	if len(meta) < 4 {
		return
	}
	for rest := findBox(findBox(meta[4:], "iprp"), "ipco"); ; {
		typ, body, next, ok := nextBox(rest)
		if !ok {
			return
		}
		rest = next
		if typ == "colr" && len(body) >= 11 && string(body[:4]) == "nclx" &&
			binary.BigEndian.Uint16(body[4:]) == 2 && binary.BigEndian.Uint16(body[6:]) == 2 && binary.BigEndian.Uint16(body[8:]) == 2 {
			binary.BigEndian.PutUint16(body[4:], 1)  // BT.709 / sRGB primaries
			binary.BigEndian.PutUint16(body[6:], 13) // sRGB transfer
			binary.BigEndian.PutUint16(body[8:], 6)  // BT.601 matrix, as encoded
		}
	}
}

// findBox returns the content of the first ISOBMFF box of the given type
// among the boxes of data, or nil. (Package pipeline reads the same boxes
// with a copy of findBox and nextBox: this package imports no other of
// the module's.)
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

// nextBox splits the first box off data.
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
