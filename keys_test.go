package pictures

import (
	"strings"
	"testing"

	"github.com/gopictures/pictures/storage"
	"github.com/stretchr/testify/assert"
)

// TestVariantKeyRoundTrip checks that the key format written here is the one
// storage.IsVariantKey reads: every variant of every file type is
// recognised (and so served), every original is not (and so stays private),
// and all of a picture's variants share its prefix.
func TestVariantKeyRoundTrip(t *testing.T) {
	originals := []string{
		"posts/2026/11/21/k3jz5q7w2m4n6p8r.jpeg",
		"a.png",
		"deep/er/path/x.y.avif",
		"avatars/2026/noext",
	}
	ratios := []Ratio{{}, {1, 1}, {4, 5}, {16, 9}, {65536, 1}}
	for _, key := range originals {
		assert.False(t, storage.IsVariantKey(key), "original %q must not look like a variant", key)
		for _, r := range ratios {
			for _, w := range []int{1, 9, 10, 311, 2805, 16384} {
				for _, ft := range fileTypes {
					vk := VariantKey(key, r, w, ft.Ext)
					assert.True(t, storage.IsVariantKey(vk), "%q is a variant key", vk)
					assert.NoError(t, storage.CheckKey(vk))
					assert.True(t, strings.HasPrefix(vk, variantsPrefix(key)), "%q under %q", vk, variantsPrefix(key))
					assert.NotEqual(t, key, vk)
				}
			}
		}
	}
	assert.Equal(t, "posts/beach/16_9/100w.avif", VariantKey("posts/beach.jpg", Ratio{16, 9}, 100, "avif"))
	assert.Equal(t, "posts/beach/100w.jpeg", VariantKey("posts/beach.jpg", Ratio{}, 100, "jpeg"))
}

// TestOriginalName: the name of an original in Originals leads back to
// its picture's Key (for Sweep), and nothing else is taken for one.
func TestOriginalName(t *testing.T) {
	for _, key := range []string{"posts/2026/12/abc.jpeg", "a.png", "x/y-z/b.c.webp", "noext"} {
		name := originalName(key)
		assert.NotEqual(t, key, name)
		assert.Len(t, name, len(key)+originalSuffix)
		assert.Equal(t, key, keyOfOriginal(name), name)
		assert.NotEqual(t, originalName(key), name, "random")
	}
	for _, name := range []string{"posts/abc.jpeg", "posts/abc-ABCDEFGHIJKLMNOPQRSTUVWXYZ.jpeg", "abc-abcdefghijklmnopqrstuvw1.jpeg", "-abcdefghijklmnopqrstuvwxyz.jpeg"[1:], "a/-abcdefghijklmnopqrstuvwxy/z.jpeg"} {
		assert.Empty(t, keyOfOriginal(name), name)
	}
}
