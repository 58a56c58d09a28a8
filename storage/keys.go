// Package storage provides the Storage implementations of package pictures:
// Dir, a local directory (the default), and Memory, for tests. They use
// standard-library types only; package storagetest checks any implementation,
// including third-party ones.
package storage

import (
	"fmt"
	"io/fs"
	"net/url"
	"strings"
)

// ErrInvalidKey reports a key that is not a clean relative slash-separated
// path (such as "../x", "/etc/passwd" or one holding a NUL byte). It also
// satisfies errors.Is(err, fs.ErrInvalid).
var ErrInvalidKey = fmt.Errorf("storage: invalid key: %w", fs.ErrInvalid)

// MaxKeyLength bounds the length of keys, in bytes.
const MaxKeyLength = 1024

// CheckKey reports whether key is acceptable to every storage of this
// package: valid per fs.ValidPath, not ".", no element starting with a dot
// (temporary files use such names), no backslash, NUL or other control
// character, at most MaxKeyLength bytes.
func CheckKey(key string) error {
	if key == "" || key == "." || len(key) > MaxKeyLength || !fs.ValidPath(key) {
		return invalidKey(key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return invalidKey(key)
		}
		if c == '.' && (i == 0 || key[i-1] == '/') {
			return invalidKey(key)
		}
	}
	return nil
}

func invalidKey(key string) error {
	return fmt.Errorf("%w %q", ErrInvalidKey, key)
}

// CheckPrefix accepts "" and any string that some valid key starts with:
// the prefixes List may be given.
func CheckPrefix(prefix string) error { return checkPrefix(prefix) }

// checkPrefix accepts "" and any string that some valid key starts with.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	// A prefix ending inside an element is completed into a checkable key.
	if CheckKey(strings.TrimSuffix(prefix, "/")+"/x") != nil && CheckKey(prefix+"x") != nil {
		return invalidKey(prefix)
	}
	return nil
}

// IsVariantKey reports whether key names a generated variant of package
// pictures, "<stem>/[<W_H>/]<width>w.<avif|webp|jpeg|png>", as opposed to an
// original upload. Handlers serve only such keys by default: originals may
// carry metadata (GPS positions) that must not be published.
func IsVariantKey(key string) bool {
	base := key[strings.LastIndexByte(key, '/')+1:]
	if base == key {
		return false // a variant always has a folder: its original's stem
	}
	name, ext, ok := strings.Cut(base, ".")
	if !ok || (ext != "avif" && ext != "webp" && ext != "jpeg" && ext != "png") {
		return false
	}
	if len(name) < 2 || name[len(name)-1] != 'w' || name[0] == '0' {
		return false
	}
	for _, c := range name[:len(name)-1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// JoinURL joins base (given a trailing slash if it lacks one) and key,
// escaping each path element of key as url.PathEscape does: the URL of key
// for a storage whose objects are served under base.
func JoinURL(base, key string) string { return keyURL(base, key) }

// keyURL joins base and key, escaping each path element of key as
// url.PathEscape does.
func keyURL(base, key string) string {
	var b strings.Builder
	b.Grow(len(base) + len(key) + 8)
	b.WriteString(urlBase(base))
	for len(key) > 0 {
		elem, rest, found := strings.Cut(key, "/")
		b.WriteString(url.PathEscape(elem))
		if found {
			b.WriteByte('/')
		}
		key = rest
	}
	return b.String()
}

// urlBase returns base with a trailing slash.
func urlBase(base string) string {
	if base != "" && !strings.HasSuffix(base, "/") {
		return base + "/"
	}
	return base
}
