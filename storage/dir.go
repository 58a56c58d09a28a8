package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
)

// Dir stores each key as a file below a root directory. Writes go to a
// temporary file in the destination folder, are synced, then renamed into
// place, so no reader ever sees half a file and a failed write leaves
// nothing behind. Keys that would escape the root are refused.
//
// The zero value stores below "media" and gives URLs under "/media/".
type Dir struct {
	// Root is the directory holding the files. Defaults to "media".
	Root string
	// BaseURL prefixes every URL, such as "/media/" or
	// "https://cdn.example.com/media/". Defaults to "/media/".
	BaseURL string
	// Public reports whether Handler may serve key. Defaults to
	// IsVariantKey, so originals are never published.
	Public func(key string) bool
}

func (d *Dir) root() string {
	if d.Root == "" {
		return "media"
	}
	return d.Root
}

func (d *Dir) baseURL() string {
	if d.BaseURL == "" {
		return "/media/"
	}
	return d.BaseURL
}

// openRoot opens the root directory, creating it if needed. Every file
// operation goes through the returned os.Root, so neither a key nor a
// symbolic link below the root can reach outside it.
func (d *Dir) openRoot() (*os.Root, error) {
	r, err := os.OpenRoot(d.root())
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(d.root(), 0o755); err != nil {
			return nil, err
		}
		r, err = os.OpenRoot(d.root())
	}
	return r, err
}

// Open opens the file of key.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := d.openRoot()
	if err != nil {
		return nil, fmt.Errorf("storage: open %q: %w", key, err)
	}
	defer root.Close()
	f, err := root.Open(key)
	if err != nil {
		return nil, err // *fs.PathError; missing files satisfy fs.ErrNotExist
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: key, Err: fs.ErrNotExist}
	}
	return f, nil
}

// Put writes r to the file of key atomically.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) (err error) {
	if err := CheckKey(key); err != nil {
		return err
	}
	defer func() {
		if err != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("storage: put %q: %w", key, err)
		}
	}()
	root, err := d.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	dir := path.Dir(key)
	tmpName := path.Join(dir, ".tmp-"+rand.Text())
	var tmp *os.File
	// Delete removes folders it empties: one may vanish between MkdirAll
	// and the create, when another key of the folder is deleted meanwhile.
	for try := 0; ; try++ {
		if err = root.MkdirAll(dir, 0o755); err == nil {
			tmp, err = root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || try == 9 {
			return err
		}
	}
	defer func() {
		if err != nil {
			tmp.Close()
			root.Remove(tmpName)
		}
	}()
	if _, err = io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = root.Rename(tmpName, key); err != nil {
		return err
	}
	if f, err := root.Open(dir); err == nil {
		f.Sync() // make the rename durable; some file systems cannot
		f.Close()
	}
	return nil
}

// Delete removes the file of key, then any folders the removal left empty.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := d.openRoot()
	if err != nil {
		return fmt.Errorf("storage: delete %q: %w", key, err)
	}
	defer root.Close()
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %q: %w", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if root.Remove(dir) != nil {
			break // not empty, or gone
		}
	}
	return nil
}

// List returns the keys below the root that start with prefix, skipping
// temporary files.
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	root, err := d.openRoot()
	if err != nil {
		return nil, fmt.Errorf("storage: list %q: %w", prefix, err)
	}
	defer root.Close()
	// Walk only the deepest folder that holds every match.
	start := path.Dir(prefix)
	if strings.HasSuffix(prefix, "/") {
		start = strings.TrimSuffix(prefix, "/")
	}
	var keys []string
	err = fs.WalkDir(root.FS(), start, func(key string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), ".") && key != start {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if e.Type().IsRegular() && strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list %q: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// URL returns BaseURL followed by the key, each path element escaped as by
// url.PathEscape.
func (d *Dir) URL(key string) string { return keyURL(d.baseURL(), key) }

// URLBase returns the prefix of every URL, BaseURL with a trailing slash:
// URL(key) is URLBase() followed by the escaped key. Package pictures uses
// it to build URLs without allocating.
func (d *Dir) URLBase() string { return urlBase(d.baseURL()) }

// FS returns the files below the root as an fs.FS (every file, originals
// included: for programs, not for publishing).
func (d *Dir) FS() fs.FS { return os.DirFS(d.root()) }

// Handler serves the public keys (see Dir.Public) at their URL paths, with
// long-lived immutable cache headers. Mount it at the path of BaseURL:
//
//	http.Handle("/media/", dir.Handler())
func (d *Dir) Handler() http.Handler {
	return Handler(d, d.baseURL(), d.Public)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
