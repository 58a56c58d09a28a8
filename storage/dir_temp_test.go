package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/storage"
)

// TestDirWalkAndTemp walks the keys of a Dir without its temporary files,
// lists the temporary files alone, and removes one, with the folders it
// leaves empty; names other than temporary files' are refused.
func TestDirWalkAndTemp(t *testing.T) {
	root := t.TempDir()
	d := &storage.Dir{Root: root}
	ctx := context.Background()
	for _, k := range []string{"p/a.jpeg", "p/a/1_1/100w.avif", "q/b.jpeg"} {
		require.NoError(t, d.Put(ctx, k, strings.NewReader("x")))
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, name := range []string{"p/a/1_1/.tmp-LEFT", "p/.tmp-OTHER", "q/.hidden"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte("half"), 0o644))
		require.NoError(t, os.Chtimes(filepath.Join(root, name), old, old))
	}
	var walked []string
	require.NoError(t, d.Walk(ctx, "p/", func(key string) error { walked = append(walked, key); return nil }))
	assert.ElementsMatch(t, []string{"p/a.jpeg", "p/a/1_1/100w.avif"}, walked)

	temps := map[string]time.Time{}
	require.NoError(t, d.ListTemp(ctx, "p/", func(name string, mod time.Time) error { temps[name] = mod; return nil }))
	assert.Equal(t, map[string]time.Time{"p/a/1_1/.tmp-LEFT": old, "p/.tmp-OTHER": old}, temps)

	require.NoError(t, d.Delete(ctx, "p/a/1_1/100w.avif"))
	require.NoError(t, d.RemoveTemp(ctx, "p/a/1_1/.tmp-LEFT"))
	_, err := os.Stat(filepath.Join(root, "p", "a"))
	assert.True(t, os.IsNotExist(err), "the folders it emptied are removed")
	require.NoError(t, d.RemoveTemp(ctx, "p/a/1_1/.tmp-LEFT"), "a missing file is not an error")

	for _, name := range []string{"p/a.jpeg", "q/.hidden", "../.tmp-X", ".tmp-X/../p/a.jpeg", "p/.tmp-X/y"} {
		assert.ErrorIs(t, d.RemoveTemp(ctx, name), storage.ErrInvalidKey, name)
	}
	_, err = os.Stat(filepath.Join(root, "p", "a.jpeg"))
	assert.NoError(t, err)
}
