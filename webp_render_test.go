package pictures

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderWebPGolden renders fields with WebP among their file types:
// one <source> per type in the declared order (AVIF, then WebP), then the
// JPEG <img>; with art direction, each range lists both and its JPEG.
func TestRenderWebPGolden(t *testing.T) {
	tests := []struct {
		name  string
		field PictureField
		w, h  int
		args  []any
	}{
		{
			name:  "avif_and_webp_sources",
			field: PictureField{AspectRatios: []string{"16/9"}, FileTypes: []string{"AVIF", "WEBP"}, PixelDensities: []int{1}},
			w:     2000, h: 1500,
			args: []any{"alt", "Hero", "ratio", "16/9", "s", 6, "l", 4},
		},
		{
			name:  "webp_only",
			field: PictureField{AspectRatios: []string{"1/1"}, FileTypes: []string{"WEBP"}},
			w:     500, h: 500,
			args: []any{"alt", "Square", "ratio", "1/1", "loading", "lazy"},
		},
		{
			name: "art_direction_avif_and_webp",
			field: PictureField{AspectRatios: []string{"16/9", "1/1"}, FileTypes: []string{"AVIF", "WEBP"}, PixelDensities: []int{1, 2},
				Layouts: map[string]Layout{"hero": {Viewport: map[string]int{"xs": 100}, Ratios: map[string]string{"xs": "1/1", "m": "16/9"}}}},
			w: 3000, h: 2000,
			args: []any{"layout", "hero", "alt", "Hero"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := registered(t, tt.field)
			got, err := Render(processed(t, f, "hero.png", tt.w, tt.h), tt.args...)
			require.NoError(t, err)
			golden(t, filepath.Join("render", tt.name+".html"), []byte(string(got)+"\n"))
		})
	}
}

func TestWebPVariantPlan(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"1/1"}, FileTypes: []string{"AVIF", "WEBP"}, PixelDensities: []int{1}, ContainerWidth: 600})
	vs, err := f.Variants(1000, 1000)
	require.NoError(t, err)
	require.Len(t, vs, 3)
	assert.Equal(t, []string{"AVIF", "WEBP", "JPEG"}, []string{vs[0].Type, vs[1].Type, vs[2].Type})
	assert.Equal(t, vs[0].Widths, vs[1].Widths, "WebP at every AVIF width")
	assert.Len(t, vs[2].Widths, 1, "one JPEG fallback")
	assert.Equal(t, "hero/1_1/600w.webp", VariantKey("hero.png", Ratio{1, 1}, 600, webpType.Ext))
	t2, ok := lookupFileType("webp")
	assert.True(t, ok)
	assert.Equal(t, FileType{Name: "WEBP", MIME: "image/webp", Ext: "webp"}, t2)
}
