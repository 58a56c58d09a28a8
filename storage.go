package pictures

import (
	"context"
	"io"
	"sync"

	"github.com/gopictures/pictures/storage"
)

// Storage holds originals and variants under slash-separated keys such as
// "pictures/2026/11/21/k3j….jpeg". Implementations use standard-library
// types only, so they need not import this package: storage.Dir (a local
// directory), storage.Memory (tests) and the S3 adapter in its own module.
// Every implementation should pass storage/storagetest.
type Storage interface {
	// Open opens the object stored under key. A missing key gives an error
	// satisfying errors.Is(err, fs.ErrNotExist).
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores everything read from r under key, atomically: readers see
	// the previous object or the new one, never a part of either; if r or
	// ctx fails, nothing is stored.
	Put(ctx context.Context, key string, r io.Reader) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns every key that starts with prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// URL returns the URL a browser fetches key from. It does no I/O.
	URL(key string) string
}

// A URLBaser is a Storage whose URL(key) is always URLBase() followed by
// key, each path element escaped as by url.PathEscape. storage.Dir and
// storage.Memory are. Rendering uses this optional upgrade to build the URLs
// of a picture's variants from one URL call instead of one per variant. An
// empty URLBase means that, for this storage's configuration, URLs are not
// made that way (presigned ones, say).
type URLBaser interface {
	URLBase() string
}

var (
	defaultStorageOnce sync.Once
	defaultStorage     *storage.Dir
)

// DefaultStorage returns the storage of fields that set none: the local
// directory "media" (relative to the working directory), served under the
// URL path "/media/". Serve it with
//
//	http.Handle("/media/", pictures.DefaultStorage().(*storage.Dir).Handler())
func DefaultStorage() Storage {
	defaultStorageOnce.Do(func() {
		defaultStorage = &storage.Dir{Root: "media", BaseURL: "/media/"}
	})
	return defaultStorage
}
