package storage

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory keeps objects in memory, for tests. The zero value is ready to
// use and gives URLs under "/media/".
type Memory struct {
	// BaseURL prefixes every URL. Defaults to "/media/".
	BaseURL string

	mu   sync.RWMutex
	objs map[string]memObject
}

type memObject struct {
	data []byte
	mod  time.Time
}

// Open returns a reader of the object's bytes at the time of the call.
func (m *Memory) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	o, ok := m.objs[key]
	m.mu.RUnlock()
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: key, Err: fs.ErrNotExist}
	}
	return memReader{bytes.NewReader(o.data), o.mod}, nil
}

type memReader struct {
	*bytes.Reader
	mod time.Time
}

func (memReader) Close() error { return nil }

func (r memReader) Stat() (fs.FileInfo, error) { return memInfo{r.Size(), r.mod}, nil }

type memInfo struct {
	size int64
	mod  time.Time
}

func (i memInfo) Name() string       { return "" }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// Put reads r to the end, then stores its bytes under key.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objs == nil {
		m.objs = make(map[string]memObject)
	}
	m.objs[key] = memObject{data, time.Now()}
	return nil
}

// Delete removes key.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

// List returns the keys starting with prefix, sorted.
func (m *Memory) List(ctx context.Context, prefix string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

func (m *Memory) baseURL() string {
	if m.BaseURL == "" {
		return "/media/"
	}
	return m.BaseURL
}

// URL returns BaseURL followed by the key, each path element escaped as by
// url.PathEscape.
func (m *Memory) URL(key string) string { return keyURL(m.baseURL(), key) }

// URLBase returns the prefix of every URL, like Dir.URLBase.
func (m *Memory) URLBase() string { return urlBase(m.baseURL()) }

// Handler serves the variant keys, like Dir.Handler.
func (m *Memory) Handler() http.Handler { return Handler(m, m.baseURL(), nil) }

// Len returns the number of stored objects.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.objs)
}
