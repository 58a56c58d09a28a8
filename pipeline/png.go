package pipeline

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
)

// PNG metadata: the eXIf and iCCP chunks.

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

// pngICC inflates the profile of a PNG's iCCP chunk.
func pngICC(data []byte) []byte {
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 {
			return nil
		}
		switch typ {
		case "iCCP":
			c := data[i+8 : i+8+n]
			name := bytes.IndexByte(c, 0)
			if name < 0 || name+2 > len(c) || c[name+1] != 0 {
				return nil
			}
			zr, err := zlib.NewReader(bytes.NewReader(c[name+2:]))
			if err != nil {
				return nil
			}
			profile, err := io.ReadAll(io.LimitReader(zr, maxProfile+1))
			if err != nil || len(profile) > maxProfile {
				return nil
			}
			return profile
		case "IDAT", "IEND":
			return nil // the profile comes before the pixels
		}
		i += 12 + n
	}
	return nil
}
