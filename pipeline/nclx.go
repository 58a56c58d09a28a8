package pipeline

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
