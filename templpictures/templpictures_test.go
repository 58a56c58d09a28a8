package templpictures_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"os"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
	"github.com/gopictures/pictures/templpictures"
	"github.com/gopictures/pictures/templpictures/internal/card"
)

// helper renders {{name .P args...}} with the html/template helpers of
// pictures.FuncMap, each argument passed as the template passes it.
func helper(name string, p pictures.Picture, args []any) (string, error) {
	text := "{{" + name + " .P"
	for i := range args {
		text += fmt.Sprintf(" (index .A %d)", i)
	}
	tmpl := template.Must(template.New("t").Funcs(pictures.FuncMap()).Parse(text + "}}"))
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, map[string]any{"P": p, "A": args})
	return buf.String(), err
}

func render(c templ.Component) (string, error) {
	var buf bytes.Buffer
	err := c.Render(context.Background(), &buf)
	return buf.String(), err
}

// TestSameAsHelper: the components give the html/template helpers' HTML,
// and their errors, for the same arguments.
func TestSameAsHelper(t *testing.T) {
	f := &pictures.PictureField{
		Name:           t.Name(),
		AspectRatios:   []string{"", "1/1", "4/5"},
		ContainerWidth: 935,
		GridColumns:    3,
		PixelDensities: []int{1, 2},
		Layouts: map[string]pictures.Layout{
			"feed": {Columns: map[string]int{"xs": 3, "s": 2}, RatioChoices: []string{"", "4/5"}},
			"post": {Columns: map[string]int{"xs": 3, "s": 2}, Ratios: map[string]string{"xs": "4/5", "s": ""}},
			"tile": {Columns: map[string]int{"xs": 1}, Gutter: 5, Ratios: map[string]string{"xs": "1/1"}},
		},
		Storage: &storage.Memory{BaseURL: "https://cdn.example.com/a b/"},
	}
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	variants, err := f.Variants(4032, 3024)
	require.NoError(t, err)
	p := pictures.Picture{Field: f.Name, Key: "posts/k3j.jpeg", Width: 4032, Height: 3024, Variants: variants,
		Preview: "data:image/jpeg;base64,/9j/4AAQSkZJRg==", Color: "#5a7184"}
	pending := pictures.Picture{Field: f.Name, Key: "posts/new.jpeg", Width: 4032, Height: 3024, Preview: p.Preview}

	for _, tt := range []struct {
		name string
		p    pictures.Picture
		args []any
		err  error // the sentinel of a bad call
	}{
		{"tile", p, []any{"layout", "tile", "alt", "Sunset", "loading", "lazy"}, nil},
		{"feed portrait", p, []any{"layout", "feed", "ratio", "4/5", "alt", `Tom & "Jerry" <3`}, nil},
		{"art direction with priority", p, []any{"layout", "post", "alt", "Sunset", "priority", true}, nil},
		{"columns and attributes", p, []any{"alt", "", "ratio", "1/1", "xs", 1, "m", 2, "picture_class", "c", "img_data-id", 42, "img_hidden", true}, nil},
		{"blur placeholder", p, []any{"layout", "feed", "alt", "A", "placeholder", "blur"}, nil},
		{"colour placeholder", p, []any{"layout", "tile", "alt", "A", "placeholder", "color"}, nil},
		{"pending", pending, []any{"layout", "feed", "alt", "Soon", "placeholder", "blur"}, nil},
		{"zero picture", pictures.Picture{}, []any{"alt", ""}, nil},
		{"missing alt", p, []any{"layout", "tile"}, pictures.ErrInvalidArgument},
		{"unknown argument", p, []any{"alt", "", "size", "big"}, pictures.ErrInvalidArgument},
		{"odd arguments", p, []any{"alt"}, pictures.ErrInvalidArgument},
		{"undeclared ratio", p, []any{"alt", "", "ratio", "16/9"}, pictures.ErrUnknownRatio},
		{"unknown layout", p, []any{"layout", "hero", "alt", ""}, pictures.ErrUnknownLayout},
		{"event handler", p, []any{"alt", "", "img_onload", "alert(1)"}, pictures.ErrInvalidArgument},
		{"bad placeholder", p, []any{"alt", "", "placeholder", "shimmer"}, pictures.ErrInvalidArgument},
		{"lazy priority", p, []any{"layout", "tile", "alt", "", "priority", true, "loading", "lazy"}, pictures.ErrInvalidArgument},
		{"unregistered field", pictures.Picture{Field: "nope", Key: "a.jpeg", Width: 1, Height: 1}, []any{"alt", ""}, pictures.ErrNotRegistered},
	} {
		for _, c := range []struct {
			helper    string
			component func(pictures.Picture, ...any) templ.Component
		}{{"picture", templpictures.Picture}, {"picture_preload", templpictures.Preload}} {
			t.Run(c.helper+"/"+tt.name, func(t *testing.T) {
				want, wantErr := helper(c.helper, tt.p, tt.args)
				got, err := render(c.component(tt.p, tt.args...))
				if c.helper == "picture" {
					assert.Equal(t, tt.err == nil, wantErr == nil, "the helper's error: %v", wantErr)
				}
				if wantErr == nil { // (preload checks no <img> attribute)
					require.NoError(t, err)
					assert.Equal(t, want, got)
					if c.helper == "picture" && !tt.p.IsZero() {
						assert.Contains(t, got, "<picture")
					}
					return
				}
				require.Error(t, err)
				assert.ErrorIs(t, wantErr, tt.err)
				assert.ErrorIs(t, err, tt.err)
				// html/template adds where the call was; the message is the helper's.
				assert.True(t, strings.HasSuffix(wantErr.Error(), ": "+err.Error()), "%q ends with %q", wantErr, err)
			})
		}
	}
}

// TestComposes: the component renders inside templ-generated components,
// and its error stops the page.
func TestComposes(t *testing.T) {
	f := &pictures.PictureField{Name: t.Name(), AspectRatios: []string{"1/1"}, PixelDensities: []int{1}}
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	variants, err := f.Variants(600, 600)
	require.NoError(t, err)
	p := pictures.Picture{Field: f.Name, Key: "a.jpeg", Width: 600, Height: 600, Variants: variants, Preview: "data:image/jpeg;base64,AAAA"}

	got, err := render(card.Post(p, "A <b>"))
	require.NoError(t, err)
	want, err := pictures.Render(p, "alt", "A <b>", "ratio", "1/1", "xs", 1, "loading", "lazy", "placeholder", "blur")
	require.NoError(t, err)
	assert.Equal(t, `<figure class="post">`+string(want)+`<figcaption>A &lt;b&gt;</figcaption></figure>`, got)

	p.Field = "unregistered"
	_, err = render(card.Post(p, ""))
	assert.True(t, errors.Is(err, pictures.ErrNotRegistered), "%v", err)
}

func ExamplePicture() {
	post := &pictures.PictureField{
		Name:           "example.templ",
		AspectRatios:   []string{"1/1"},
		PixelDensities: []int{1},
		Storage:        &storage.Memory{BaseURL: "https://cdn.example.com/"},
	}
	pictures.MustRegister(post)
	defer pictures.Unregister(post)
	variants, _ := post.Variants(400, 400)
	p := pictures.Picture{Field: "example.templ", Key: "p/1.jpeg", Width: 400, Height: 400, Variants: variants}

	// In a .templ file: @templpictures.Picture(p, "alt", "Tom & Jerry", "xs", 6)
	err := templpictures.Picture(p, "alt", "Tom & Jerry", "xs", 6).Render(context.Background(), os.Stdout)
	fmt.Println()
	fmt.Println(err)

	err = templpictures.Picture(p, "alt", "Tom & Jerry", "ratio", "16/9").Render(context.Background(), os.Stdout)
	fmt.Println(err)
	// Output:
	// <picture><source type="image/avif" srcset="https://cdn.example.com/p/1/1_1/100w.avif 100w, https://cdn.example.com/p/1/1_1/200w.avif 200w, https://cdn.example.com/p/1/1_1/300w.avif 300w, https://cdn.example.com/p/1/1_1/400w.avif 400w" sizes="(min-width: 0px) and (max-width: 1199px) 50vw, 600px"><img src="https://cdn.example.com/p/1/1_1/400w.jpeg" alt="Tom &amp; Jerry" width="400" height="400"></picture>
	// <nil>
	// pictures: undeclared aspect ratio "16/9" (choices: "1/1")
}
