package pictures

import (
	"math"
	"time"
)

// MinJobTimeout is the least time Job.Timeout gives a job.
const MinJobTimeout = 2 * time.Minute

// jobTimeoutFloor is MinJobTimeout, but for tests.
var jobTimeoutFloor = MinJobTimeout

// JobTimeoutMargin is how many times its estimated processing time
// Job.Timeout gives a job: room for a machine slower than the one the
// rates were measured on, or busy with other work (the development
// machine itself ran the same job 4 times slower on some days than on
// others).
const JobTimeoutMargin = 10

// Timeout returns how long the processing of the job's picture may take
// once its decoded pixels are reserved in the process's pixel budget
// (see SetPixelBudget): the field's ProcessingTimeout if it sets one,
// else JobTimeoutMargin times the estimated time of making all of its
// variants with this process's encoders (the rates of NativeEncodeRates
// with a system libavif, else DefaultEncodeRates, measured with the
// default Encoding), at least MinJobTimeout. 0 means no bound of its own.
// Processing (Run, and so every Processor, but also Process and
// Reconcile) is canceled then, with an error wrapping ErrJobTimeout; the
// time spent reading the original and waiting for the pixel budget does
// not count, so that a job waiting behind a large one does not time out.
// The Processor's bound on a whole attempt (processor.Config.JobTimeout,
// riverprocessor.Config.JobTimeout) applies on top. A job of a field not
// registered in this process gets MinJobTimeout.
func (j Job) Timeout() time.Duration {
	c, err := lookup(j.Picture.Field)
	if err != nil {
		return jobTimeoutFloor
	}
	return c.jobTimeout(j.Picture.Width, j.Picture.Height, false)
}

// JobTimeout returns the Timeout of a job of a width x height picture
// of the field, on this process's encoders.
func (f *PictureField) JobTimeout(width, height int) (time.Duration, error) {
	c, err := f.config()
	if err != nil {
		return 0, err
	}
	if _, err := c.variants(width, height); err != nil {
		return 0, err
	}
	return c.jobTimeout(width, height, false), nil
}

// MaxJobTimeout returns the longest Timeout a job of the field can have:
// that of the worst picture it admits, searched over the sizes it admits
// (widths from MinWidth to MaxWidth at the tallest height MaxPixels and
// MaxHeight allow, and the same turned), estimated with the WebAssembly
// encoders, the slower ones, whatever this process uses, so that a bound
// derived from it (a durable queue's rescue delay, which any of its
// processes may apply to the jobs of all) holds in every process. Twice
// MaxJobTimeout is a sound bound on a whole attempt: it leaves room for a
// wait in the pixel budget behind another job as long. With
// ProcessingTimeout set, it is that (0 if negative).
func (f *PictureField) MaxJobTimeout() (time.Duration, error) {
	c, err := f.config()
	if err != nil {
		return 0, err
	}
	if d := c.field.ProcessingTimeout; d != 0 {
		return max(d, 0), nil
	}
	limit := func(n int) int {
		if n <= 0 || n > maxSourceLength {
			return maxSourceLength
		}
		return n
	}
	maxW, maxH := limit(c.field.MaxWidth), limit(c.field.MaxHeight)
	minW, minH := max(c.field.MinWidth, 1), max(c.field.MinHeight, 1)
	longest := jobTimeoutFloor
	try := func(w, h int) {
		if w >= minW && h >= minH && w <= maxW && h <= maxH {
			if _, err := c.variants(w, h); err == nil {
				longest = max(longest, c.jobTimeout(w, h, true))
			}
		}
	}
	// Widths (and heights) in steps of 2%, each at the longest other
	// side the limits allow: the ladder depends on both.
	for n := float64(min(minW, minH)); n <= float64(max(maxW, maxH)); n = math.Ceil(n * 1.02) {
		side := int(n)
		other := c.maxPixels / side
		try(side, min(other, maxH))
		try(min(other, maxW), side)
	}
	return longest, nil
}

// jobTimeout is Job.Timeout for a width x height picture, with the
// WebAssembly encoders' rates if wasm.
func (c *compiled) jobTimeout(width, height int, wasm bool) time.Duration {
	if d := c.field.ProcessingTimeout; d != 0 {
		return max(d, 0)
	}
	var st ReconcileStats
	if err := c.estimate(&st, Picture{Width: width, Height: height}, rateFunc(nil, wasm)); err != nil {
		return jobTimeoutFloor
	}
	return max(jobTimeoutFloor, (JobTimeoutMargin * st.EncodeTime).Round(time.Second))
}
