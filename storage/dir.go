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
	"time"
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
	tmpName := path.Join(dir, tempPrefix+rand.Text())
	var tmp *os.File
	// Delete removes folders it empties: one may vanish between MkdirAll
	// and the create, when another key of the folder is deleted meanwhile,
	// or within MkdirAll, which then reports that it exists (its mkdirat
	// found the folder, which was gone when it looked at it).
	for try := 0; ; try++ {
		var retry bool
		if err = root.MkdirAll(dir, 0o755); err == nil {
			tmp, err = root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			retry = errors.Is(err, fs.ErrNotExist)
		} else {
			retry = errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)
		}
		if err == nil {
			break
		}
		if !retry || try == 9 {
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
	var keys []string
	err := d.walk(ctx, "list", prefix, false, func(key string, _ fs.DirEntry) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return keys, nil
}

// Walk calls fn with every key below the root that starts with prefix, as
// List returns them but one at a time, holding no listing: in lexical
// order within each folder, a folder's keys where its name sorts. Keys
// deleted during the walk may or may not be seen. An error of fn stops the
// walk and is returned. Package pictures' Sweep uses it.
func (d *Dir) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	return d.walk(ctx, "walk", prefix, false, func(key string, _ fs.DirEntry) error { return fn(key) })
}

// tempPrefix starts the name of the temporary file of every Put.
const tempPrefix = ".tmp-"

// ListTemp calls fn with the temporary file of every write below the
// folders of prefix whose path starts with prefix: writes in progress, and
// those a process left behind when it was killed (a failed write removes
// its own). name is the file's slash-separated path below the root, such
// as "posts/2026/.tmp-K3J…", for RemoveTemp; modTime is when it was last
// written, so that callers can tell a write in progress (its file grows)
// from a leftover. Package pictures' Sweep removes the old ones.
func (d *Dir) ListTemp(ctx context.Context, prefix string, fn func(name string, modTime time.Time) error) error {
	return d.walk(ctx, "list temporary files of", prefix, true, func(name string, e fs.DirEntry) error {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // renamed into place or removed meanwhile
		}
		if err != nil {
			return err
		}
		return fn(name, info.ModTime())
	})
}

// RemoveTemp removes a temporary file that ListTemp gave, then any folders
// its removal left empty. Names that are not those of temporary files are
// refused with ErrInvalidKey; a missing file is not an error.
func (d *Dir) RemoveTemp(ctx context.Context, name string) error {
	dir, base := path.Dir(name), path.Base(name)
	if !strings.HasPrefix(base, tempPrefix) || !fs.ValidPath(name) || (dir != "." && CheckKey(dir) != nil) || strings.ContainsAny(base[len(tempPrefix):], "/\\.\x00") {
		return invalidKey(name)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := d.openRoot()
	if err != nil {
		return fmt.Errorf("storage: remove %q: %w", name, err)
	}
	defer root.Close()
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: remove %q: %w", name, err)
	}
	for ; dir != "."; dir = path.Dir(dir) {
		if root.Remove(dir) != nil {
			break // not empty, or gone
		}
	}
	return nil
}

// walk calls fn with the regular files below the root whose path starts
// with prefix: the keys, or (temp) the temporary files. Hidden folders are
// skipped, and so are hidden files other than temporary ones.
func (d *Dir) walk(ctx context.Context, op, prefix string, temp bool, fn func(name string, e fs.DirEntry) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	root, err := d.openRoot()
	if err != nil {
		return fmt.Errorf("storage: %s %q: %w", op, prefix, err)
	}
	defer root.Close()
	// Walk only the deepest folder that holds every match.
	start := path.Dir(prefix)
	if strings.HasSuffix(prefix, "/") {
		start = strings.TrimSuffix(prefix, "/")
	}
	var fnErr error
	err = fs.WalkDir(root.FS(), start, func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		hidden := strings.HasPrefix(e.Name(), ".") && name != start
		if hidden && e.IsDir() {
			return fs.SkipDir
		}
		if hidden != temp || (temp && !strings.HasPrefix(e.Name(), tempPrefix)) {
			return nil
		}
		if e.Type().IsRegular() && strings.HasPrefix(name, prefix) {
			if fnErr = fn(name, e); fnErr != nil {
				return fnErr
			}
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("storage: %s %q: %w", op, prefix, err)
	}
	return nil
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
