package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"

	"github.com/gopictures/pictures/pipeline"
)

// An upload goes through the pipeline: inspect its headers, decode it once,
// crop it around its focal point, resize it and encode each variant.
func Example() {
	upload := samplePNG(1200, 800)

	info, err := pipeline.Inspect(upload)
	if err != nil {
		log.Fatal(err) // errors.Is(err, pipeline.ErrUnsupported)...
	}
	fmt.Println(info.Format, info.Width, info.Height)
	if info.Width*info.Height > 50_000_000 {
		log.Fatal("too many pixels") // refused before any decode
	}

	img, err := pipeline.Decode(upload, info)
	if err != nil {
		log.Fatal(err)
	}
	defer img.Release()

	// A square crop, its focal point a third of the way across.
	b := img.Bounds()
	rs := pipeline.NewResizer(img.Crop(pipeline.CropRect(b.Dx(), b.Dy(), 800, 800, 1.0/3, 0.5)))
	defer rs.Release()
	for _, w := range []int{640, 320} {
		out := rs.Resize(w, w)
		var buf bytes.Buffer
		if err := pipeline.Encode(context.Background(), &buf, "JPEG", out, pipeline.Encoding{JPEGQuality: 80}); err != nil {
			log.Fatal(err)
		}
		pipeline.Recycle(out)
		variant, err := pipeline.Inspect(buf.Bytes())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(variant.Format, variant.Width, variant.Height)
	}
	// Output:
	// PNG 1200 800
	// JPEG 640 640
	// JPEG 320 320
}

// samplePNG returns a w x h gradient as a PNG file.
func samplePNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}
