package pictures

import "strings"

// A FileType is an output format of variants.
type FileType struct {
	Name string // "AVIF", "WEBP", "JPEG" or "PNG"
	MIME string // "image/avif"
	Ext  string // the variant key extension, "avif"
}

var fileTypes = []FileType{
	{Name: "AVIF", MIME: "image/avif", Ext: "avif"},
	{Name: "JPEG", MIME: "image/jpeg", Ext: "jpeg"},
	{Name: "PNG", MIME: "image/png", Ext: "png"},
	{Name: "WEBP", MIME: "image/webp", Ext: "webp"},
}

// supportedFileTypes names the supported types, for error messages.
const supportedFileTypes = "AVIF, WEBP, JPEG, PNG"

// jpegType is the fallback format of <img src>.
var jpegType = fileTypes[1]

// webpType is the optional second modern format.
var webpType = fileTypes[3]

// lookupFileType finds a supported type by name, ignoring case; "JPG" is
// JPEG.
func lookupFileType(name string) (FileType, bool) {
	if strings.EqualFold(name, "JPG") {
		return jpegType, true
	}
	for _, t := range fileTypes {
		if strings.EqualFold(name, t.Name) {
			return t, true
		}
	}
	return FileType{}, false
}
