package pictures_test

import (
	"fmt"
	"html/template"
	"os"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

func ExamplePictureField_Widths() {
	field := pictures.PictureField{AspectRatios: []string{"3/2"}}
	widths, err := field.Widths(800, 600, "3/2")
	if err != nil {
		panic(err)
	}
	fmt.Println(widths)
	// Output: [100 200 300 400 500 600 700 800]
}

func ExamplePictureField_Sizes() {
	// Half the page from m (992 px) up, a third from l (1200 px) up, in a
	// 1200 px container.
	field := pictures.PictureField{}
	sizes, err := field.Sizes(pictures.Layout{Columns: map[string]int{"m": 6, "l": 4}})
	if err != nil {
		panic(err)
	}
	fmt.Println(sizes)
	// Output: (min-width: 0px) and (max-width: 991px) 100vw, (min-width: 992px) and (max-width: 1199px) 50vw, 400px
}

func ExamplePictureField_Sizes_unknownBreakpoint() {
	field := pictures.PictureField{}
	_, err := field.Sizes(pictures.Layout{Columns: map[string]int{"xxl": 3}})
	fmt.Println(err)
	// Output: pictures: unknown breakpoint "xxl" (valid: xs, s, m, l, xl)
}

func ExamplePictureField_Validate() {
	field := pictures.PictureField{Name: "post.image", AspectRatios: []string{"16:9"}}
	fmt.Println(field.Validate())
	// Output: pictures: field "post.image": AspectRatios: aspect ratio "16:9" is not W/H
}

func ExampleVariantKey() {
	fmt.Println(pictures.VariantKey("posts/beach.jpg", pictures.Ratio{W: 16, H: 9}, 100, "avif"))
	fmt.Println(pictures.VariantKey("posts/beach.jpg", pictures.Ratio{}, 100, "avif"))
	// Output:
	// posts/beach/16_9/100w.avif
	// posts/beach/100w.avif
}

func ExampleRender() {
	avatar := &pictures.PictureField{
		Name:         "example.avatar",
		AspectRatios: []string{"1/1"},
		Storage:      &storage.Memory{BaseURL: "https://cdn.example.com/"},
	}
	pictures.MustRegister(avatar)
	defer pictures.Unregister(avatar)

	// A Picture as loaded from the database, after processing.
	variants, _ := avatar.Variants(300, 400)
	p := pictures.Picture{Field: "example.avatar", Key: "avatars/ada.jpeg", Width: 300, Height: 400, Variants: variants}

	html, err := pictures.Render(p, "alt", "Ada", "ratio", "1/1", "xs", 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(html)
	// Output: <picture><source type="image/avif" srcset="https://cdn.example.com/avatars/ada/1_1/100w.avif 100w, https://cdn.example.com/avatars/ada/1_1/200w.avif 200w, https://cdn.example.com/avatars/ada/1_1/300w.avif 300w" sizes="(min-width: 0px) and (max-width: 1199px) 16vw, 200px"><img src="https://cdn.example.com/avatars/ada/1_1/300w.jpeg" alt="Ada" width="300" height="300"></picture>
}

func ExampleFuncMap() {
	post := &pictures.PictureField{
		Name:           "example.post",
		AspectRatios:   []string{"", "1/1"},
		ContainerWidth: 935,
		GridColumns:    3,
		PixelDensities: []int{1, 2},
		Storage:        &storage.Memory{},
	}
	pictures.MustRegister(post)
	defer pictures.Unregister(post)

	tmpl := template.Must(template.New("grid").Funcs(pictures.FuncMap()).Parse(
		`{{range .}}{{picture .Image "alt" .Caption "ratio" "1/1" "xs" 1 "loading" "lazy"}}` + "\n" + `{{end}}`))

	variants, _ := post.Variants(1000, 800)
	posts := []struct {
		Image   pictures.Picture
		Caption string
	}{
		{pictures.Picture{Field: "example.post", Key: "p/1.jpeg", Width: 1000, Height: 800, Variants: variants}, "Tom & Jerry"},
		{pictures.Picture{Field: "example.post", Key: "p/2.jpeg", Width: 1000, Height: 800}, "Still processing"},
	}
	if err := tmpl.Execute(os.Stdout, posts); err != nil {
		panic(err)
	}
	// Output:
	// <picture><source type="image/avif" srcset="/media/p/1/1_1/311w.avif 311w, /media/p/1/1_1/623w.avif 623w, /media/p/1/1_1/800w.avif 800w" sizes="auto, (min-width: 0px) and (max-width: 934px) 33vw, 311px"><img src="/media/p/1/1_1/800w.jpeg" alt="Tom &amp; Jerry" width="800" height="800" loading="lazy"></picture>
	// <picture><img src="data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22%20viewBox=%220%200%20800%20800%22/%3E" alt="Still processing" width="800" height="800" loading="lazy"></picture>
}
