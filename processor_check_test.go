package pictures_test

import (
	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor"
)

// A *processor.Pool[pictures.Job] is a pictures.Processor. The check lives
// here because package processor must not import this one (this one imports
// it).
var _ pictures.Processor = (*processor.Pool[pictures.Job])(nil)
