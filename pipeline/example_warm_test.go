package pipeline_test

import (
	"log"

	"github.com/gopictures/pictures/pipeline"
)

// A program that takes AVIF uploads prepares the AVIF decoder at start-up,
// in the background, so that its first AVIF upload does not wait seconds
// for the decoder's compilation. (No output: the example only compiles.)
func ExampleWarmDecoders() {
	go func() {
		if err := pipeline.WarmDecoders(); err != nil {
			log.Print(err)
		}
	}()
	// ... start serving.
}
