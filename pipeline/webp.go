package pipeline

import (
	"bytes"
	"encoding/binary"
)

// WebP metadata: the EXIF and ICCP chunks of the RIFF container.

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

// webpICC returns the content of a WebP's ICCP chunk.
func webpICC(data []byte) []byte {
	for i := 12; i+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if string(data[i:i+4]) == "ICCP" {
			return data[i+8 : i+8+n]
		}
		i += 8 + n + n&1
	}
	return nil
}
