package pictures

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	assert.Equal(t, string(want), string(got), "golden file %s (run go test -update to accept)", path)
}

// registered registers f under a name unique to the test and removes it
// when the test ends.
func registered(t testing.TB, f PictureField) *PictureField {
	t.Helper()
	f.Name = t.Name()
	if f.Storage == nil {
		f.Storage = &storage.Memory{}
	}
	require.NoError(t, Register(&f))
	t.Cleanup(func() { Unregister(&f) })
	return &f
}

// processed returns the Picture of a fully processed width x height upload.
func processed(t testing.TB, f *PictureField, key string, width, height int) Picture {
	t.Helper()
	vs, err := f.Variants(width, height)
	require.NoError(t, err)
	return Picture{Field: f.Name, Key: key, Width: width, Height: height, Variants: vs}
}

// instagram is the field of the example app's posts.
var instagram = PictureField{
	AspectRatios:   []string{"", "1/1", "4/5"},
	ContainerWidth: 935,
	GridColumns:    3,
	PixelDensities: []int{1, 2, 3},
}

// instagramLayouts is the example app's post field, with its layouts.
var instagramLayouts = PictureField{
	AspectRatios:   []string{"", "1/1", "4/5"},
	ContainerWidth: 935,
	GridColumns:    3,
	PixelDensities: []int{1, 2, 3},
	Layouts:        appPostLayouts,
}

func TestRenderGolden(t *testing.T) {
	type tc struct {
		name    string
		field   PictureField
		picture func(f *PictureField) Picture
		args    []any
	}
	tests := []tc{
		{
			name:  "default_field",
			field: PictureField{},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "pictures/2026/11/21/abc.jpeg", 3000, 2000)
			},
			args: []any{"alt", "A beach"},
		},
		{
			name:  "three_ratios_square_lazy",
			field: instagram,
			picture: func(f *PictureField) Picture {
				return processed(t, f, "posts/2026/11/k3j.jpeg", 4032, 3024)
			},
			args: []any{"alt", "Sunset", "ratio", "1/1", "xs", 1, "loading", "lazy"},
		},
		{
			name:  "three_ratios_portrait",
			field: instagram,
			picture: func(f *PictureField) Picture {
				return processed(t, f, "posts/2026/11/p0r.jpeg", 1080, 1350)
			},
			args: []any{"alt", "Portrait", "ratio", "4/5", "fetchpriority", "high", "decoding", "async"},
		},
		{
			name:  "avif_and_jpeg_sources",
			field: PictureField{AspectRatios: []string{"16/9"}, FileTypes: []string{"AVIF", "JPEG"}, PixelDensities: []int{1}},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "hero.png", 2000, 1500)
			},
			args: []any{"alt", "Hero", "ratio", "16/9", "s", 6, "l", 4},
		},
		{
			name:  "extra_attributes",
			field: PictureField{AspectRatios: []string{"1/1"}},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "a.jpeg", 500, 500)
			},
			args: []any{"alt", "", "ratio", "1/1", "picture_class", "card", "img_class", "card-img", "img_hidden", true,
				"img_draggable", false, "img_data-id", 42, "picture_data-ratio", 1.5},
		},
		{
			name:  "size_override",
			field: PictureField{AspectRatios: []string{"1/1"}},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "a.jpeg", 500, 500)
			},
			args: []any{"alt", "x", "ratio", "1/1", "img_width", 200, "img_height", 200},
		},
		{
			name:  "escaping",
			field: PictureField{Storage: &storage.Memory{BaseURL: "https://cdn.example.com/my media/?a=1&b=2"}},
			picture: func(f *PictureField) Picture {
				p := processed(t, f, "ugly, key/with space.jpeg", 250, 250)
				return p
			},
			args: []any{"alt", `"Quotes" & <tags> 'too'`, "img_title", `x" onerror="alert(1)`, "picture_data-x", "</picture><script>"},
		},
		{
			name:  "pending_with_preview",
			field: instagram,
			picture: func(f *PictureField) Picture {
				return Picture{Field: f.Name, Key: "posts/new.jpeg", Width: 4032, Height: 3024, Preview: "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}
			},
			args: []any{"alt", "Soon", "ratio", "4/5", "loading", "lazy"},
		},
		{
			name:  "pending_without_preview",
			field: instagram,
			picture: func(f *PictureField) Picture {
				return Picture{Field: f.Name, Key: "posts/new.jpeg", Width: 4032, Height: 3024}
			},
			args: []any{"alt", "Soon", "ratio", "1/1"},
		},
		{
			name:  "fluid_container",
			field: PictureField{ContainerWidth: Fluid, PixelDensities: []int{1}, GridColumns: 4},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "wide.jpeg", 6000, 2000)
			},
			args: []any{"alt", "Wide", "m", 2},
		},
		{
			name:  "container_argument",
			field: PictureField{PixelDensities: []int{1}},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "c.jpeg", 1000, 1000)
			},
			args: []any{"alt", "Narrow", "container", 600, "s", 6},
		},
		{
			name:  "layout_tile_lazy",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return processed(t, f, "posts/2026/11/k3j.jpeg", 4032, 3024)
			},
			args: []any{"layout", "tile", "alt", "Sunset", "loading", "lazy"},
		},
		{
			name:  "layout_feed_portrait",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return processed(t, f, "posts/2026/11/p0r.jpeg", 1080, 1350)
			},
			args: []any{"layout", "feed", "ratio", "4/5", "alt", "Portrait"},
		},
		{
			name:  "art_direction",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return processed(t, f, "posts/2026/11/k3j.jpeg", 4032, 3024)
			},
			args: []any{"layout", "post", "alt", "Sunset", "fetchpriority", "high"},
		},
		{
			name: "art_direction_avif_and_jpeg",
			field: PictureField{AspectRatios: []string{"16/9", "1/1"}, FileTypes: []string{"AVIF", "JPEG"}, PixelDensities: []int{1, 2},
				Layouts: map[string]Layout{"hero": {Viewport: map[string]int{"xs": 100}, Ratios: map[string]string{"xs": "1/1", "m": "16/9"}}}},
			picture: func(f *PictureField) Picture {
				return processed(t, f, "hero.png", 3000, 2000)
			},
			args: []any{"layout", "hero", "alt", "Hero"},
		},
		{
			name:  "art_direction_pending",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return Picture{Field: f.Name, Key: "posts/new.jpeg", Width: 4032, Height: 3024, Preview: "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}
			},
			args: []any{"layout", "post", "alt", "Soon"},
		},
		{
			name:  "placeholder_blur",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return withPlaceholders(processed(t, f, "posts/2026/11/p0r.jpeg", 1080, 1350))
			},
			args: []any{"layout", "feed", "ratio", "4/5", "alt", "Portrait", "placeholder", "blur"},
		},
		{
			name:  "placeholder_color_tile_lazy",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return withPlaceholders(processed(t, f, "posts/2026/11/k3j.jpeg", 4032, 3024))
			},
			args: []any{"layout", "tile", "alt", "Sunset", "loading", "lazy", "placeholder", "color"},
		},
		{
			name:  "placeholder_blur_art_direction_priority",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return withPlaceholders(processed(t, f, "posts/2026/11/k3j.jpeg", 4032, 3024))
			},
			args: []any{"layout", "post", "alt", "Sunset", "priority", true, "placeholder", "blur", "picture_class", "hero"},
		},
		{
			name:  "placeholder_blur_pending",
			field: instagramLayouts,
			picture: func(f *PictureField) Picture {
				return Picture{Field: f.Name, Key: "posts/new.jpeg", Width: 4032, Height: 3024, Preview: "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}
			},
			args: []any{"layout", "feed", "alt", "Soon", "placeholder", "blur"},
		},
		{
			name:  "tiny_source",
			field: instagram,
			picture: func(f *PictureField) Picture {
				return processed(t, f, "tiny.png", 64, 48)
			},
			args: []any{"alt", "Tiny", "ratio", "1/1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := registered(t, tt.field)
			p := tt.picture(f)
			got, err := Render(p, tt.args...)
			require.NoError(t, err)
			golden(t, filepath.Join("render", tt.name+".html"), []byte(string(got)+"\n"))
		})
	}
}

// withPlaceholders gives p a preview and a dominant colour.
func withPlaceholders(p Picture) Picture {
	p.Preview = "data:image/jpeg;base64,/9j/4AAQSkZJRg=="
	p.Color = "#5a7184"
	return p
}

// TestRenderPlaceholder checks what "placeholder" adds to the default
// output: a wrapper, and under the <picture> an <img> of a data: URL
// (never a request), only when there is something to show.
func TestRenderPlaceholder(t *testing.T) {
	f := registered(t, instagramLayouts)
	p := withPlaceholders(processed(t, f, "posts/a.jpeg", 4032, 3024))
	pending := Picture{Field: f.Name, Key: "posts/b.jpeg", Width: 4032, Height: 3024, Preview: p.Preview, Color: p.Color}
	noColor := p
	noColor.Color = ""
	badColor := p
	badColor.Color = `red" onload="x`
	remote := p
	remote.Preview = "https://elsewhere.example/p.jpeg"
	unsafe := p
	unsafe.Preview = "javascript:alert(1)"
	gif := string(appendColorGIF(nil, [3]byte{0x5a, 0x71, 0x84}))
	const open = `<span class="pictures-placeholder">`
	for _, tt := range []struct {
		name  string
		p     Picture
		kind  string
		layer string // the placeholder's <img>, "" for none
	}{
		{"blur", p, "blur", `<img class="pictures-placeholder-blur" src="` + p.Preview + `" alt="">`},
		{"color", p, "color", `<img class="pictures-placeholder-color" src="` + gif + `" alt="">`},
		{"pending: the img shows the preview", pending, "blur", ""},
		{"pending color", pending, "color", ""},
		{"no colour yet", noColor, "color", ""},
		{"a colour that is not #rrggbb", badColor, "color", ""},
		{"a preview that needs a request", remote, "blur", ""},
		{"an unsafe preview", unsafe, "blur", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []any{"layout", "feed", "alt", "A"}
			plain, err := Render(tt.p, args...)
			require.NoError(t, err)
			for _, none := range []string{"none", ""} {
				same, err := Render(tt.p, append(args, "placeholder", none)...)
				require.NoError(t, err)
				assert.Equal(t, plain, same, "placeholder %q is the default output", none)
			}
			got, err := Render(tt.p, append(args, "placeholder", tt.kind)...)
			require.NoError(t, err)
			assert.Equal(t, open+tt.layer+string(plain)+"</span>", string(got))

			viaOptions, err := tt.p.HTML(RenderOptions{LayoutName: "feed", Alt: "A", Placeholder: tt.kind})
			require.NoError(t, err)
			assert.Equal(t, got, viaOptions)
		})
	}
	pre, err := Preload(p, "layout", "feed", "alt", "A", "priority", true)
	require.NoError(t, err)
	withPlaceholder, err := Preload(p, "layout", "feed", "alt", "A", "priority", true, "placeholder", "blur")
	require.NoError(t, err)
	assert.Equal(t, pre, withPlaceholder, "the preload link is the same")
	assert.NotEmpty(t, pre)

	_, err = p.HTML(RenderOptions{LayoutName: "feed", Alt: "A", Placeholder: "shimmer"})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.EqualError(t, err, `pictures: invalid argument: placeholder is "shimmer", want "blur", "color" or "none"`)
}

// plainStorage hides the URLBaser upgrade of the storage it wraps.
type plainStorage struct{ Storage }

func TestRenderWithoutURLBaser(t *testing.T) {
	mem := &storage.Memory{BaseURL: "https://cdn.example.com/a b,c/"}
	fast := registered(t, PictureField{AspectRatios: []string{"", "1/1"}, Storage: mem})
	slowField := PictureField{Name: "slow", AspectRatios: []string{"", "1/1"}, Storage: plainStorage{mem}}
	require.NoError(t, Register(&slowField))
	defer Unregister(&slowField)
	_, isBaser := slowField.Storage.(URLBaser)
	require.False(t, isBaser)

	for _, key := range []string{"x/y.jpeg", "we ird/na,me;1.png", "caf\u00e9/\u00e0.jpeg"} {
		for _, ratio := range []string{"", "1/1"} {
			p := processed(t, fast, key, 3000, 2000)
			fastHTML, err := Render(p, "alt", "", "ratio", ratio)
			require.NoError(t, err)
			p.Field = "slow"
			slowHTML, err := Render(p, "alt", "", "ratio", ratio)
			require.NoError(t, err)
			assert.Equal(t, slowHTML, fastHTML, "key %q ratio %q", key, ratio)

			fastJSON, err := json.Marshal(Picture{Field: fast.Name, Key: key, Width: 3000, Height: 2000, Variants: p.Variants})
			require.NoError(t, err)
			slowJSON, err := json.Marshal(p)
			require.NoError(t, err)
			assert.JSONEq(t, string(slowJSON), string(fastJSON))
		}
	}
}

func TestRenderBrowserFacts(t *testing.T) {
	f := registered(t, instagram)
	p := processed(t, f, "posts/x.jpeg", 4032, 3024)

	got, err := Render(p, "alt", "x", "ratio", "4/5", "loading", "lazy")
	require.NoError(t, err)
	html := string(got)
	// <img width height> are the 4/5 crop, not the original's 4032x3024.
	assert.Contains(t, html, ` width="2419" height="3024"`)
	// src is a stripped JPEG rendition, never the original upload.
	assert.NotContains(t, html, `posts/x.jpeg"`)
	assert.Contains(t, html, `<img src="/media/posts/x/4_5/935w.jpeg"`)
	// Lazy images let the browser use their laid-out width.
	assert.Contains(t, html, `sizes="auto, (min-width: 0px)`)
	// Only the AVIF source: JPEG is the fallback, not a declared type.
	assert.Equal(t, 1, strings.Count(html, "<source "))

	eager, err := Render(p, "alt", "x", "ratio", "4/5")
	require.NoError(t, err)
	assert.NotContains(t, string(eager), "auto,")
}

func TestRenderErrors(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"1/1", "3/2", "16/9"}})
	p := processed(t, f, "a.jpeg", 3000, 2000)
	tests := []struct {
		name string
		args []any
		is   error
		msg  string
	}{
		{"undeclared ratio", []any{"alt", "", "ratio", "4/3"}, ErrUnknownRatio,
			`pictures: undeclared aspect ratio "4/3" (choices: "1/1", "3/2", "16/9")`},
		{"unknown argument", []any{"alt", "", "ratio", "1/1", "does_not_exist", "error"}, ErrInvalidArgument,
			`pictures: invalid argument "does_not_exist" (want alt, layout, ratio, container, a breakpoint (xs, s, m, l, xl), priority, placeholder, loading, decoding, fetchpriority, img_<attribute> or picture_<attribute>)`},
		{"unknown placeholder", []any{"alt", "", "ratio", "1/1", "placeholder", "blurhash"}, ErrInvalidArgument,
			`pictures: invalid argument: placeholder is "blurhash", want "blur", "color" or "none"`},
		{"placeholder not a string", []any{"alt", "", "ratio", "1/1", "placeholder", true}, ErrInvalidArgument,
			`pictures: invalid argument: placeholder is a bool, want "blur", "color" or "none"`},
		{"missing alt", []any{"ratio", "1/1"}, ErrInvalidArgument,
			`pictures: invalid argument: missing "alt" (describe the picture, or pass "alt" "" if it is decorative)`},
		{"odd arguments", []any{"alt"}, ErrInvalidArgument,
			`pictures: invalid argument: picture helper arguments come in name/value pairs, got 1 values`},
		{"non-string name", []any{3, "x"}, ErrInvalidArgument,
			`pictures: invalid argument: argument name 3 is a int, want a string`},
		{"columns not a number", []any{"alt", "", "ratio", "1/1", "m", "six"}, ErrInvalidArgument,
			`pictures: invalid argument: columns for breakpoint "m" is six, want a number`},
		{"too many columns", []any{"alt", "", "ratio", "1/1", "m", 13}, ErrInvalidArgument,
			`pictures: invalid argument: columns for breakpoint "m" must be between 1 and 12, got 13`},
		{"event handler", []any{"alt", "", "ratio", "1/1", "img_onerror", "alert(1)"}, ErrInvalidArgument,
			`pictures: invalid argument: img attribute "onerror" is an event handler; attach scripts from a script file`},
		{"computed attribute", []any{"alt", "", "ratio", "1/1", "img_src", "/x.jpg"}, ErrInvalidArgument,
			`pictures: invalid argument: img attribute "src" is computed by the helper (use "alt" for the alt text)`},
		{"bad attribute name", []any{"alt", "", "ratio", "1/1", `picture_a"b`, "x"}, ErrInvalidArgument,
			`pictures: invalid argument: picture attribute name "a\"b" is not a plain name`},
		{"bad container", []any{"alt", "", "ratio", "1/1", "container", "wide"}, ErrInvalidArgument,
			`pictures: invalid argument: container is wide, want a width in pixels or "fluid"`},
		{"attribute value type", []any{"alt", "", "ratio", "1/1", "img_data-x", []int{1}}, ErrInvalidArgument,
			`pictures: invalid argument: attribute "data-x" is a []int, want a string, number or bool`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(p, tt.args...)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, tt.msg, err.Error())
		})
	}

	t.Run("unregistered field", func(t *testing.T) {
		_, err := Render(Picture{Field: "nope", Key: "a.jpeg", Width: 1, Height: 1}, "alt", "")
		assert.ErrorIs(t, err, ErrNotRegistered)
		assert.EqualError(t, err, `pictures: field not registered: "nope" (register the field with pictures.Register at start-up)`)
	})
	t.Run("zero picture renders nothing", func(t *testing.T) {
		got, err := Render(Picture{}, "alt", "")
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}

func TestRenderInTemplate(t *testing.T) {
	f := registered(t, instagram)
	p := processed(t, f, "posts/x.jpeg", 1080, 1350)
	tmpl := template.Must(template.New("post").Funcs(FuncMap()).Parse(
		`<article>{{picture .Image "alt" .Caption "ratio" "1/1" "xs" 1 "loading" "lazy"}}` +
			`<meta property="og:image" content="{{picture_url .Image "1/1" "JPEG" 600}}"></article>`))
	var buf bytes.Buffer
	require.NoError(t, tmpl.Execute(&buf, map[string]any{"Image": p, "Caption": `Tom & "Jerry" <3`}))

	direct, err := Render(p, "alt", `Tom & "Jerry" <3`, "ratio", "1/1", "xs", 1, "loading", "lazy")
	require.NoError(t, err)
	assert.Equal(t, `<article>`+string(direct)+`<meta property="og:image" content="/media/posts/x/1_1/935w.jpeg"></article>`, buf.String())
	assert.Contains(t, buf.String(), `alt="Tom &amp; &#34;Jerry&#34; &lt;3"`)

	// Errors surface from Execute with the helper's message.
	bad := template.Must(template.New("bad").Funcs(FuncMap()).Parse(`{{picture .Image "alt" "" "ratio" "7/3"}}`))
	err = bad.Execute(&bytes.Buffer{}, map[string]any{"Image": p})
	assert.ErrorIs(t, err, ErrUnknownRatio)
}

func TestHTMLOptions(t *testing.T) {
	f := registered(t, instagram)
	p := processed(t, f, "posts/x.jpeg", 1080, 1350)
	viaArgs, err := Render(p, "alt", "A", "ratio", "1/1", "xs", 1, "m", 1, "picture_class", "c", "loading", "lazy")
	require.NoError(t, err)
	viaOptions, err := p.HTML(RenderOptions{
		Alt: "A", Ratio: "1/1",
		Layout:  Layout{Columns: map[string]int{"xs": 1, "m": 1}},
		Picture: []Attr{{"class", "c"}},
		Img:     []Attr{{"loading", "lazy"}},
	})
	require.NoError(t, err)
	assert.Equal(t, viaArgs, viaOptions)

	_, err = p.HTML(RenderOptions{Layout: Layout{Columns: map[string]int{"huge": 1}}})
	assert.ErrorIs(t, err, ErrUnknownBreakpoint)
}

func TestURL(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"1/1"}, FileTypes: []string{"AVIF", "JPEG"}})
	p := processed(t, f, "a.jpeg", 800, 800)
	tests := []struct {
		typ  string
		min  int
		want string
	}{
		{"AVIF", 250, "/media/a/1_1/300w.avif"},
		{"avif", 300, "/media/a/1_1/300w.avif"},
		{"JPEG", 1, "/media/a/1_1/100w.jpeg"},
		{"JPEG", 5000, "/media/a/1_1/800w.jpeg"},
		{"PNG", 100, "/media/a/1_1/800w.jpeg"}, // no PNG variants: the JPEG fallback
	}
	for _, tt := range tests {
		got, err := URL(p, "1/1", tt.typ, tt.min)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "%s %d", tt.typ, tt.min)
	}
	_, err := URL(p, "1/1", "GIF", 1)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = URL(p, "2/1", "AVIF", 1)
	assert.ErrorIs(t, err, ErrUnknownRatio)
}

func TestAppendURL(t *testing.T) {
	tests := []struct {
		in     string
		srcset bool
		want   string
	}{
		{"/media/a b.jpeg", false, "/media/a%20b.jpeg"},
		{"/media/a,b.jpeg", true, "/media/a%2Cb.jpeg"},
		{"/media/a,b.jpeg", false, "/media/a,b.jpeg"},
		{"/media/a%20b.jpeg", false, "/media/a%20b.jpeg"},
		{"/media/100%.jpeg", false, "/media/100%25.jpeg"},
		{"https://x.test/a?b=1&c=2", false, "https://x.test/a?b=1&amp;c=2"},
		{`/a"b<c>`, false, "/a%22b%3Cc%3E"},
		{"/caf\u00e9", false, "/caf%C3%A9"},
		{"javascript:alert(1)", false, "#ZgotmplZ"},
		{"JavaScript:alert(1)", false, "#ZgotmplZ"},
		{"data:text/html,<script>", false, "#ZgotmplZ"},
		{"data:image/svg+xml,<svg onload=alert(1)>", false, "#ZgotmplZ"},
		{"data:image/jpeg;base64,AAAA", false, "data:image/jpeg;base64,AAAA"},
		{"/media/x:y.jpeg", false, "/media/x:y.jpeg"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(appendURL(nil, tt.in, tt.srcset)), tt.in)
	}
}

func TestPictureJSON(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"", "1/1"}, ContainerWidth: 600, GridColumns: 6, PixelDensities: []int{1}})
	p := withPlaceholders(processed(t, f, "pictures/a.jpeg", 900, 600))
	got, err := json.MarshalIndent(map[string]any{"image": p, "none": Picture{}}, "", "  ")
	require.NoError(t, err)
	golden(t, "json/picture.json", append(got, '\n'))
	assert.NotContains(t, string(got), "pictures/a.jpeg", "the original is never published")

	// What an API client shows while the file downloads: the preview and
	// the colour, null until known.
	var v struct {
		Image struct{ Preview, Color *string }
	}
	require.NoError(t, json.Unmarshal(got, &v))
	require.NotNil(t, v.Image.Preview)
	require.NotNil(t, v.Image.Color)
	assert.Equal(t, p.Preview, *v.Image.Preview)
	assert.Equal(t, p.Color, *v.Image.Color)
	bare, err := json.Marshal(processed(t, f, "pictures/a.jpeg", 900, 600))
	require.NoError(t, err)
	assert.Contains(t, string(bare), `"preview":null,"color":null,`)
	omitted, err := p.JSON(JSONOptions{OmitPreview: true})
	require.NoError(t, err)
	assert.NotContains(t, string(omitted), "preview")
	assert.Contains(t, string(omitted), `"color":"#5a7184"`)

	var back struct{ Image Picture }
	assert.Error(t, json.Unmarshal([]byte(`{"Image": {"url": "x"}}`), &back))
	assert.NoError(t, json.Unmarshal([]byte(`{"Image": null}`), &back))
}

func TestPictureJSONLayouts(t *testing.T) {
	f := registered(t, instagramLayouts)
	p := processed(t, f, "posts/a.jpeg", 4032, 3024)
	got, err := json.MarshalIndent(p, "", "  ")
	require.NoError(t, err)
	golden(t, "json/layouts.json", append(got, '\n'))
	assert.NotContains(t, string(got), `"sizes": "(min-width`, "a field with layouts gives each layout's sizes, not a made-up one per ratio")

	narrow, err := p.JSON(JSONOptions{Ratios: []string{"1/1"}, FileTypes: []string{"image/avif"}, Layouts: []string{"tile"}})
	require.NoError(t, err)
	var v struct {
		Ratios  map[string]json.RawMessage
		Layouts map[string]struct {
			Sizes  string
			Ranges []struct {
				MinWidth int     `json:"min_width"`
				Ratio    *string `json:"ratio"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(narrow, &v))
	assert.Equal(t, []string{"1/1"}, mapKeys(v.Ratios))
	assert.Equal(t, []string{"tile"}, mapKeys(v.Layouts))
	sizes, _ := f.LayoutSizes("tile")
	assert.Equal(t, sizes, v.Layouts["tile"].Sizes, "one sizes for pages and the API")
	require.Len(t, v.Layouts["tile"].Ranges, 1)
	assert.Equal(t, "1/1", *v.Layouts["tile"].Ranges[0].Ratio)

	_, err = p.JSON(JSONOptions{Layouts: []string{"hero"}})
	assert.ErrorIs(t, err, ErrUnknownLayout)
	_, err = p.JSON(JSONOptions{Ratios: []string{"16/9"}})
	assert.ErrorIs(t, err, ErrUnknownRatio)
}

// TestPreload checks that the preload links list exactly the candidates and
// sizes of the <source> the browser will use, per viewport range, and that
// "priority" makes the picture eager and high priority.
func TestPreload(t *testing.T) {
	f := registered(t, instagramLayouts)
	p := processed(t, f, "posts/2026/11/k3j.jpeg", 4032, 3024)
	srcsets := regexp.MustCompile(`srcset="([^"]*)" sizes="([^"]*)"`)
	links := regexp.MustCompile(`imagesrcset="([^"]*)" imagesizes="([^"]*)"`)
	for _, args := range [][]any{
		{"layout", "feed", "alt", "A", "priority", true},
		{"layout", "post", "alt", "A", "priority", true},
		{"alt", "A", "ratio", "1/1", "xs", 1, "priority", true},
	} {
		pic, err := Render(p, args...)
		require.NoError(t, err)
		pre, err := Preload(p, args...)
		require.NoError(t, err)
		name := fmt.Sprint(args[:2]...)
		golden(t, filepath.Join("render", "preload_"+strings.NewReplacer(" ", "_", "/", "_").Replace(name)+".html"), []byte(string(pre)+"\n"+string(pic)+"\n"))
		assert.Contains(t, string(pic), `loading="eager" fetchpriority="high"`)
		var want [][]string
		for _, m := range srcsets.FindAllStringSubmatch(string(pic), -1) {
			if !strings.Contains(m[1], ".jpeg") { // AVIF sources: what preload names
				want = append(want, m[1:])
			}
		}
		var got [][]string
		for _, m := range links.FindAllStringSubmatch(string(pre), -1) {
			got = append(got, m[1:])
		}
		assert.Equal(t, want, got, "%v: the links preload what the sources offer", args)
	}
	post, err := Preload(p, "layout", "post", "alt", "", "priority", true)
	require.NoError(t, err)
	assert.Contains(t, string(post), `media="(min-width: 768px)"`)
	assert.Contains(t, string(post), `media="(max-width: 767.98px)"`, "each link only for its range: one download")

	pending := Picture{Field: f.Name, Key: "posts/new.jpeg", Width: 4032, Height: 3024}
	none, err := Preload(pending, "layout", "feed", "alt", "", "priority", true)
	require.NoError(t, err)
	assert.Empty(t, none, "nothing to preload before the variants exist")
	_, err = Render(p, "layout", "tile", "alt", "", "priority", true, "loading", "lazy")
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = Render(p, "layout", "tile", "alt", "", "priority", "yes")
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func TestRenderOnlyRatio(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"1/1"}, PixelDensities: []int{1, 2, 3}, Layouts: appAvatarLayouts})
	p := processed(t, f, "avatars/a.jpeg", 400, 300)
	got, err := Render(p, "layout", "small", "alt", "")
	require.NoError(t, err, "a field of one ratio needs no ratio argument")
	want, err := Render(p, "layout", "small", "alt", "", "ratio", "1/1")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Contains(t, string(got), `width="300" height="300"`)
}

func TestRenderLayoutErrors(t *testing.T) {
	f := registered(t, instagramLayouts)
	p := processed(t, f, "posts/a.jpeg", 4032, 3024)
	for _, tt := range []struct {
		args []any
		want error
		msg  string
	}{
		{[]any{"layout", "hero", "alt", ""}, ErrUnknownLayout, `"hero" (valid: feed, post, tile)`},
		{[]any{"layout", "tile", "alt", "", "ratio", "4/5"}, ErrInvalidArgument, `sets the ratio at every breakpoint`},
		{[]any{"layout", "feed", "alt", "", "ratio", "1/1"}, ErrUnknownRatio, `does not show ratio "1/1"`},
		{[]any{"layout", "feed", "alt", "", "xs", 1}, ErrInvalidArgument, `drop "container" and the breakpoint arguments`},
		{[]any{"layout", 3, "alt", ""}, ErrInvalidArgument, `want a layout name`},
	} {
		_, err := Render(p, tt.args...)
		assert.ErrorIs(t, err, tt.want, "%v", tt.args)
		assert.ErrorContains(t, err, tt.msg)
	}
	_, err := p.HTML(RenderOptions{LayoutName: "feed", Layout: Layout{Container: 600}})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	got, err := p.HTML(RenderOptions{LayoutName: "tile", Alt: "x"})
	require.NoError(t, err)
	want, err := Render(p, "layout", "tile", "alt", "x")
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestPictureValueScan(t *testing.T) {
	f := registered(t, instagram)
	p := processed(t, f, "posts/x.jpeg", 1080, 1350)
	p.Focus = &FocalPoint{X: 0.25, Y: 0.75}
	p.Version = "v1"
	p.Preview = "data:image/jpeg;base64,AAAA"
	p.Color = "#5a7184"

	v, err := p.Value()
	require.NoError(t, err)
	var back Picture
	require.NoError(t, back.Scan(v))
	assert.Equal(t, p, back)
	require.NoError(t, back.Scan([]byte(v.(string))))
	assert.Equal(t, p, back)

	v, err = Picture{}.Value()
	require.NoError(t, err)
	assert.Nil(t, v)
	require.NoError(t, back.Scan(nil))
	assert.True(t, back.IsZero())

	assert.Error(t, back.Scan(42))
	assert.Error(t, back.Scan("{not json"))
	assert.Error(t, back.Scan(`{"field":"x"}`), "a stored picture has a key")

	// Rows written before Color existed scan as before, with no colour;
	// so do rows holding keys this version does not know.
	for _, old := range []string{
		`{"field":"f","key":"a.jpeg","width":4,"height":3,"variants":[{"ratio":"","type":"AVIF","widths":[4]}],"version":"v1","preview":"data:image/jpeg;base64,AAAA"}`,
		`{"field":"f","key":"a.jpeg","width":4,"height":3,"variants":[{"ratio":"","type":"AVIF","widths":[4]}],"version":"v1","preview":"data:image/jpeg;base64,AAAA","blurhash":"LEHV"}`,
	} {
		var s stored
		assert.False(t, decodeStored([]byte(old), &s) && strings.Contains(old, "blurhash"), "unknown keys go to encoding/json")
		require.NoError(t, back.Scan(old))
		assert.Equal(t, Picture{Field: "f", Key: "a.jpeg", Width: 4, Height: 3, Version: "v1", Preview: "data:image/jpeg;base64,AAAA",
			Variants: []VariantSet{{Ratio: "", Type: "AVIF", Widths: []int{4}}}}, back)
	}
	// The fast decoder reads the colour itself.
	v, err = p.Value()
	require.NoError(t, err)
	var s stored
	require.True(t, decodeStored([]byte(v.(string)), &s), "%s", v)
	assert.Equal(t, "#5a7184", s.Color)
	// Pictures without a colour store no "color" key: old readers scan
	// them as before.
	p.Color = ""
	v, err = p.Value()
	require.NoError(t, err)
	assert.NotContains(t, v, "color")
}

func TestPictureKeys(t *testing.T) {
	f := registered(t, PictureField{AspectRatios: []string{"", "1/1"}, PixelDensities: []int{1}, GridColumns: 2, ContainerWidth: 400})
	p := processed(t, f, "a/b.png", 400, 200)
	assert.Equal(t, []string{
		"a/b/200w.avif", "a/b/400w.avif", "a/b/400w.jpeg",
		"a/b/1_1/200w.avif", "a/b/1_1/200w.jpeg",
	}, p.Keys())
	for _, k := range p.Keys() {
		assert.True(t, storage.IsVariantKey(k), "handlers must recognise %s as a variant", k)
	}
	assert.False(t, storage.IsVariantKey(p.Key), "handlers must never serve the original")
}

func TestRegister(t *testing.T) {
	f := &PictureField{Name: "test.register"}
	require.NoError(t, Register(f))
	defer Unregister(f)
	assert.NoError(t, Register(f), "registering the same field twice is a no-op")

	other := &PictureField{Name: "test.register"}
	err := Register(other)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.EqualError(t, err, `pictures: field "test.register": Name: another field is already registered as "test.register"`)

	err = Register(&PictureField{})
	assert.EqualError(t, err, `pictures: PictureField.Name: a registered field needs a name`)

	err = Register(&PictureField{Name: "test.bad", AspectRatios: []string{"16:9"}})
	assert.EqualError(t, err, `pictures: field "test.bad": AspectRatios: aspect ratio "16:9" is not W/H`)

	got, err := Lookup("test.register")
	require.NoError(t, err)
	assert.Same(t, f, got)
	Unregister(other) // not the registered one: no effect
	_, err = Lookup("test.register")
	assert.NoError(t, err)
}
