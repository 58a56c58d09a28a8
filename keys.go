package pictures

import (
	"crypto/rand"
	"strconv"
	"strings"
)

// Variant keys. This file is the one place that writes their format,
//
//	<original key without extension>/[<W>_<H>/]<width>w.<ext>
//
// which storage.IsVariantKey recognises (keys_test.go checks that the two
// agree). A picture's variants share the folder of its stem, so listing
// and deleting them is one prefix on every storage.

// VariantKey returns the storage key of one variant of the original stored
// under key: "<key without extension>/<W_H>/<width>w.<ext>", without the
// ratio folder for the original ratio. For example VariantKey("posts/beach.jpg",
// Ratio{16, 9}, 100, "avif") is "posts/beach/16_9/100w.avif".
func VariantKey(key string, r Ratio, width int, ext string) string {
	s := stem(key)
	b := make([]byte, 0, len(s)+24)
	b = append(b, s...)
	return string(appendVariantPath(b, r, width, ext))
}

// appendVariantPath appends "/[W_H/]<width>w.<ext>", the part of a variant
// key after its stem, which needs no URL escaping.
func appendVariantPath(b []byte, r Ratio, width int, ext string) []byte {
	b = append(b, '/')
	if !r.IsOriginal() {
		b = strconv.AppendInt(b, int64(r.W), 10)
		b = append(b, '_')
		b = strconv.AppendInt(b, int64(r.H), 10)
		b = append(b, '/')
	}
	b = strconv.AppendInt(b, int64(width), 10)
	b = append(b, "w."...)
	return append(b, ext...)
}

// variantsPrefix is the prefix every variant key of the original key has.
func variantsPrefix(key string) string { return stem(key) + "/" }

// stem returns key without its extension.
func stem(key string) string {
	for i := len(key) - 1; i >= 0 && key[i] != '/'; i-- {
		if key[i] == '.' {
			return key[:i]
		}
	}
	return key
}

func (c *compiled) variantKey(p *Picture, id variantID) string {
	r, _ := ParseRatio(id.ratio)
	t, _ := lookupFileType(id.typ)
	return VariantKey(p.Key, r, id.width, t.Ext)
}

// originalName returns the key of an original in a field's Originals for
// a picture of Key key: "<stem>-<26 random base32 letters>.<ext>", so that
// no variant key (which tells only the stem) leads to it.
func originalName(key string) string {
	s := stem(key)
	return s + "-" + strings.ToLower(rand.Text()) + key[len(s):]
}

// originalSuffix is the length of "-" and the random letters that
// originalName adds.
const originalSuffix = 27

// keyOfOriginal returns the picture Key an original's key in Originals
// was made for (see originalName), or "" if it is not such a key.
func keyOfOriginal(name string) string {
	s := stem(name)
	if len(s) < originalSuffix+1 || s[len(s)-originalSuffix] != '-' || strings.ContainsRune(s[len(s)-originalSuffix:], '/') {
		return ""
	}
	for _, c := range s[len(s)-originalSuffix+1:] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return ""
		}
	}
	return s[:len(s)-originalSuffix] + name[len(s):]
}
