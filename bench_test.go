package pictures

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"testing"
)

// BenchmarkWidths and BenchmarkSizes measure registered fields, the path
// of every application (the registry holds the compiled configuration);
// the "unregistered" cases compile the field on every call.
func BenchmarkWidths(b *testing.B) {
	for _, tc := range []struct {
		name       string
		field      PictureField
		ratio      string
		unregister bool
	}{
		{"default", PictureField{}, "", false},
		{"instagram_1_1", instagram, "1/1", false},
		{"instagram_1_1_layouts", instagramLayouts, "1/1", false},
		{"instagram_1_1_unregistered", instagram, "1/1", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := &tc.field
			if !tc.unregister {
				f = registered(b, tc.field)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Widths(4032, 3024, tc.ratio); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSizes(b *testing.B) {
	field := registered(b, PictureField{})
	for _, cols := range []map[string]int{nil, {"s": 6, "l": 4}} {
		b.Run(fmt.Sprintf("columns=%d", len(cols)), func(b *testing.B) {
			b.ReportAllocs()
			l := Layout{Columns: cols}
			for b.Loop() {
				if _, err := field.Sizes(l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("layout", func(b *testing.B) {
		f := registered(b, instagramLayouts)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.LayoutSizes("tile"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRender compares, in one run, a <picture> of a 3-ratio field
// rendered through the template helper with a plain html/template
// <img src alt width height> (the goal: at most 3x its cost), and the
// helper called from Go.
func BenchmarkRender(b *testing.B) {
	f := registered(b, instagram)
	p := processed(b, f, "posts/2026/11/21/k3jz5q7w2m4n6p8r.jpeg", 4032, 3024)
	data := map[string]any{
		"Image": p, "Alt": "Sunset over the bay", "URL": "/media/posts/2026/11/21/k3jz5q7w2m4n6p8r/1_1/935w.jpeg",
		"W": 3024, "H": 3024,
	}
	picture := template.Must(template.New("p").Funcs(FuncMap()).Parse(
		`{{picture .Image "alt" .Alt "ratio" "1/1" "xs" 1 "loading" "lazy"}}`))
	img := template.Must(template.New("i").Parse(
		`<img src="{{.URL}}" alt="{{.Alt}}" width="{{.W}}" height="{{.H}}">`))

	b.Run("img_template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := img.Execute(io.Discard, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("picture_template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := picture.Execute(io.Discard, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("picture_go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Render(p, "alt", "Sunset over the bay", "ratio", "1/1", "xs", 1, "loading", "lazy"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPictureScan decodes a stored Picture, as every page load that
// reads pictures from a database does.
func BenchmarkPictureScan(b *testing.B) {
	f := registered(b, instagram)
	p := processed(b, f, "posts/2026/11/21/k3jz5q7w2m4n6p8r.jpeg", 4032, 3024)
	p.Preview = "data:image/jpeg;base64," + strings.Repeat("QUJD", 150)
	v, err := p.Value()
	if err != nil {
		b.Fatal(err)
	}
	src := []byte(v.(string))
	b.ReportAllocs()
	for b.Loop() {
		var q Picture
		if err := q.Scan(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVariants plans the variants of a registered field, the work
// Current and Process start with.
func BenchmarkVariants(b *testing.B) {
	f := registered(b, instagram)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Variants(4032, 3024); err != nil {
			b.Fatal(err)
		}
	}
}
