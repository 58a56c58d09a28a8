package pictures_test

import (
	"fmt"

	"github.com/gopictures/pictures"
)

func ExamplePictureField_LayoutSizes() {
	// Avatars: 32 px in lists, 96 px on a phone's profile and 160 px from
	// 768 px up, at densities 1 to 3.
	avatar := &pictures.PictureField{
		AspectRatios:   []string{"1/1"},
		PixelDensities: []int{1, 2, 3},
		Layouts: map[string]pictures.Layout{
			"small": {Widths: map[string]int{"xs": 32}},
			"large": {Widths: map[string]int{"xs": 96, "s": 160}},
		},
	}
	sizes, err := avatar.LayoutSizes("large")
	if err != nil {
		panic(err)
	}
	fmt.Println(sizes)
	// Every avatar painted at 1x to 3x finds a width at most 1.2 times what
	// it needs; the painted sizes at 1x and 2x are exact.
	widths, err := avatar.Widths(1200, 1200, "1/1")
	if err != nil {
		panic(err)
	}
	fmt.Println(widths)
	_, err = avatar.LayoutSizes("medium")
	fmt.Println(err)
	// Output:
	// (max-width: 767.98px) 96px, 160px
	// [32 38 45 54 64 67 80 96 112 134 160 192 223 267 320 334 400 480]
	// pictures: unknown layout "medium" (valid: large, small)
}
