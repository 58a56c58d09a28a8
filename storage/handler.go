package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// An Opener opens stored objects by key; every Storage is one.
type Opener interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Handler serves the objects of s over HTTP. The key is the request path
// with the path of baseURL (such as "/media/" or
// "https://cdn.example.com/media/") removed. Only GET and HEAD are
// answered, and only for keys that public accepts (nil means IsVariantKey);
// anything else is 404, so originals are never published. Responses carry
// the type of the key's extension, "X-Content-Type-Options: nosniff" and,
// since a variant key's content never changes, a one-year immutable
// Cache-Control. Seekable objects support range and conditional requests.
func Handler(s Opener, baseURL string, public func(key string) bool) http.Handler {
	if public == nil {
		public = IsVariantKey
	}
	prefix := "/"
	if u, err := url.Parse(baseURL); err == nil && u.Path != "" {
		prefix = u.Path
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || CheckKey(key) != nil || !public(key) {
			http.NotFound(w, r)
			return
		}
		obj, err := s.Open(r.Context(), key)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				http.NotFound(w, r)
				return
			}
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		defer obj.Close()
		h := w.Header()
		h.Set("Content-Type", contentType(key))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", VariantCacheControl)
		if rs, ok := obj.(io.ReadSeeker); ok {
			var mod time.Time
			if st, ok := obj.(interface{ Stat() (fs.FileInfo, error) }); ok {
				if fi, err := st.Stat(); err == nil {
					mod = fi.ModTime()
				}
			}
			http.ServeContent(w, r, "", mod, rs)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		io.Copy(w, obj)
	})
}

// VariantCacheControl is the Cache-Control of variants: a variant key's
// content never changes (a new configuration writes new keys), so browsers
// and CDNs may keep it for a year without asking again.
const VariantCacheControl = "public, max-age=31536000, immutable"

// contentType returns the MIME type of key's extension, or
// application/octet-stream.
func contentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// ContentType returns the MIME type of a key, from its extension; adapters
// use it to label objects.
func ContentType(key string) string { return contentType(key) }
