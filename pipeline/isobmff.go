package pipeline

import "encoding/binary"

// AVIF metadata, in ISOBMFF boxes (ISO/IEC 14496-12 and 23008-12): the
// ftyp brands, the primary item's irot and imir orientation, and its colr
// colour description, an ICC profile or nclx (CICP) codes.

// ftypBrands returns the major and compatible brands of an ISOBMFF file's
// leading ftyp box.
func ftypBrands(head []byte) []string {
	if len(head) < 16 || string(head[4:8]) != "ftyp" {
		return nil
	}
	size := int(uint32(head[0])<<24 | uint32(head[1])<<16 | uint32(head[2])<<8 | uint32(head[3]))
	if size < 16 || size > len(head) {
		size = len(head)
	}
	brands := []string{string(head[8:12])}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	return brands
}

func isAVIF(head []byte) bool {
	for _, b := range ftypBrands(head) {
		if b == "avif" || b == "avis" {
			return true
		}
	}
	return false
}

func isHEIC(head []byte) bool {
	for _, b := range ftypBrands(head) {
		switch b {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			return true
		}
	}
	return false
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

// avifColour returns the primary item's ICC profile, or its CICP colour
// description, from the colr properties of an AVIF.
func avifColour(data []byte) (icc []byte, c cicp, ok bool) {
	meta := findBox(data, "meta")
	if len(meta) < 4 {
		return nil, c, false
	}
	ipco := findBox(findBox(meta[4:], "iprp"), "ipco")
	for rest := ipco; len(rest) >= 8; {
		typ, content, next, ok := nextBox(rest)
		if !ok {
			break
		}
		rest = next
		if typ != "colr" || len(content) < 4 {
			continue
		}
		switch string(content[:4]) {
		case "prof", "rICC":
			if len(content)-4 <= maxProfile {
				return content[4:], c, true
			}
		case "nclx":
			if len(content) >= 10 {
				c = cicp{int(binary.BigEndian.Uint16(content[4:])), int(binary.BigEndian.Uint16(content[6:]))}
				return nil, c, true
			}
		}
	}
	return nil, c, false
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
