package storage_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/storage"
	"github.com/gopictures/pictures/storage/storagetest"
)

func TestDirConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Storage {
		return &storage.Dir{Root: filepath.Join(t.TempDir(), "media")}
	})
}

func TestMemoryConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Storage { return &storage.Memory{} })
}

func TestDirLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d := &storage.Dir{Root: root}
	ctx := context.Background()
	require.NoError(t, d.Put(ctx, "a/b.jpeg", strings.NewReader("x")))
	require.Error(t, d.Put(ctx, "a/c.jpeg", io.MultiReader(strings.NewReader("partial"), errReader{})))
	var files []string
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	assert.Equal(t, []string{filepath.Join("a", "b.jpeg")}, files)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken upload") }

func TestDirDeleteRemovesEmptyFolders(t *testing.T) {
	root := t.TempDir()
	d := &storage.Dir{Root: root}
	ctx := context.Background()
	require.NoError(t, d.Put(ctx, "p/a/1_1/100w.avif", strings.NewReader("x")))
	require.NoError(t, d.Put(ctx, "p/keep.jpeg", strings.NewReader("x")))
	require.NoError(t, d.Delete(ctx, "p/a/1_1/100w.avif"))
	_, err := os.Stat(filepath.Join(root, "p", "a"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "empty folders are removed")
	_, err = os.Stat(filepath.Join(root, "p", "keep.jpeg"))
	assert.NoError(t, err)
	_, err = os.Stat(root)
	assert.NoError(t, err, "the root stays")
}

func TestDirRefusesSymlinkEscape(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.jpeg"), []byte("secret"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "link")))
	d := &storage.Dir{Root: root}
	ctx := context.Background()
	_, err := d.Open(ctx, "link/secret.jpeg")
	assert.Error(t, err, "reading through a symlink out of the root")
	assert.Error(t, d.Put(ctx, "link/new.jpeg", strings.NewReader("x")), "writing through a symlink out of the root")
	_, err = os.Stat(filepath.Join(outside, "new.jpeg"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestCheckKey(t *testing.T) {
	for _, ok := range []string{"a", "a/b.jpeg", "pictures/2026/11/21/x.jpeg", "with space.jpeg", "x/1_1/100w.avif"} {
		assert.NoError(t, storage.CheckKey(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", "../x", "/x", "a//b", "a/", "./a", "a\x00", "a\\b", ".x", "a/.b", strings.Repeat("x", 1025)} {
		err := storage.CheckKey(bad)
		assert.ErrorIs(t, err, storage.ErrInvalidKey, "%q", bad)
		assert.ErrorIs(t, err, fs.ErrInvalid, "%q", bad)
	}
}

func TestIsVariantKey(t *testing.T) {
	for key, want := range map[string]bool{
		"p/a/100w.avif":      true,
		"p/a/1_1/2400w.jpeg": true,
		"a/4_5/8w.png":       true,
		"p/a/1_1/640w.webp":  true,
		"p/a.jpeg":           false, // an original
		"100w.avif":          false, // no stem folder
		"p/a/100.avif":       false,
		"p/a/w.avif":         false,
		"p/a/0100w.avif":     false,
		"p/a/100w.gif":       false,
		"p/a/100w.avif.jpeg": false,
		"p/a/10x0w.avif":     false,
	} {
		assert.Equal(t, want, storage.IsVariantKey(key), key)
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	d := &storage.Dir{Root: t.TempDir(), BaseURL: "/media/"}
	require.NoError(t, d.Put(ctx, "p/a.jpeg", strings.NewReader("ORIGINAL WITH GPS")))
	require.NoError(t, d.Put(ctx, "p/a/1_1/100w.avif", strings.NewReader("avif bytes")))
	require.NoError(t, d.Put(ctx, "p/a/100w.jpeg", strings.NewReader("jpeg bytes")))
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()

	get := func(method, path string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(body)
	}

	res, body := get("GET", "/media/p/a/1_1/100w.avif")
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "avif bytes", body)
	assert.Equal(t, "image/avif", res.Header.Get("Content-Type"))
	assert.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))

	res, _ = get("GET", "/media/p/a/100w.jpeg")
	assert.Equal(t, "image/jpeg", res.Header.Get("Content-Type"))

	res, body = get("GET", "/media/p/a.jpeg")
	assert.Equal(t, 404, res.StatusCode, "originals are never served")
	assert.NotContains(t, body, "GPS")

	for _, p := range []string{"/media/p/a/1_1/999w.avif", "/media/../etc/passwd", "/media/p/a/%2e%2e/a.jpeg", "/other/p/a/100w.jpeg"} {
		res, _ = get("GET", p)
		assert.Equal(t, 404, res.StatusCode, p)
	}

	res, _ = get("POST", "/media/p/a/100w.jpeg")
	assert.Equal(t, 405, res.StatusCode)

	res, body = get("GET", "/media/p/a/1_1/100w.avif", "Range", "bytes=0-3")
	assert.Equal(t, 206, res.StatusCode)
	assert.Equal(t, "avif", body)

	res, body = get("HEAD", "/media/p/a/1_1/100w.avif")
	assert.Equal(t, 200, res.StatusCode)
	assert.Empty(t, body)
}

func TestURLs(t *testing.T) {
	d := &storage.Dir{BaseURL: "https://cdn.example.com/m"}
	assert.Equal(t, "https://cdn.example.com/m/a%20b/c%2Cd.jpeg", d.URL("a b/c,d.jpeg"))
	assert.Equal(t, "https://cdn.example.com/m/", d.URLBase())
	assert.Equal(t, "/media/x/1w.avif", (&storage.Memory{}).URL("x/1w.avif"))
	assert.Equal(t, "/media/x/1w.avif", (&storage.Dir{}).URL("x/1w.avif"))
}
