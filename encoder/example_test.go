package encoder_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"log"

	"github.com/gen2brain/avif"

	"github.com/gopictures/pictures/encoder"
)

// A program calls Init first in main (here, TestMain did), may configure
// and start the encoder processes, and stops them when it ends.
func Example() {
	// func main() {
	encoder.Init() // an encoder process serves here, and never returns

	if err := encoder.Configure(encoder.Config{Processes: 1, Nice: 10}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(encoder.Describe().Processes, "encoder process")
	if err := encoder.Start(context.Background()); err != nil {
		log.Print(err) // AVIF encodes in this process meanwhile
	}
	defer encoder.Stop()

	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	if err := encoder.AVIF(context.Background(), &buf, img, 60, 8); err != nil {
		log.Fatal(err)
	}
	cfg, err := avif.DecodeConfig(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Width, cfg.Height)

	fmt.Println(encoder.Configure(encoder.Config{Nice: 40}))
	// Output:
	// 1 encoder process
	// 64 48
	// encoder: Config.Nice must be between -1 and 19, got 40
}

// WebP encodes where AVIF does, in the same encoder processes.
func ExampleWebP() {
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	if err := encoder.WebP(context.Background(), &buf, img, 75, 4); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(buf.Bytes()[8:12]), encoder.DescribeWebP().Library != "")

	fmt.Println(encoder.WebP(context.Background(), &buf, img, 75, 9))
	// Output:
	// WEBP true
	// encoder: WebP method must be between 0 and 6, got 9
}
