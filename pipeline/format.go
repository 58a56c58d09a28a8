package pipeline

import "bytes"

// A Format is an accepted input format.
type Format string

// The accepted input formats.
const (
	JPEG Format = "JPEG"
	PNG  Format = "PNG"
	GIF  Format = "GIF"
	WEBP Format = "WEBP"
	AVIF Format = "AVIF"
)

// Ext returns the file extension originals of the format are stored with.
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	case GIF:
		return "gif"
	case WEBP:
		return "webp"
	case AVIF:
		return "avif"
	}
	return "bin"
}

// sniff recognises the format of an image from its first bytes (512 are
// enough). Images of other formats give ok == false.
func sniff(head []byte) (f Format, ok bool) {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, true
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WEBP, true
	case isAVIF(head):
		return AVIF, true
	}
	return "", false
}
