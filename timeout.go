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
// (see SetPixelBudget): JobTimeoutMargin times the estimated time of
// making all of its variants with this process's encoders (the rates of
// NativeEncodeRates with a system libavif, else DefaultEncodeRates), at
// least MinJobTimeout. Run cancels the processing then, with an error
// that says so; the time spent reading the original and waiting for the
// pixel budget does not count, so that a job waiting behind a large one
// does not time out. The Processor's bound on a whole attempt
// (processor.Config.JobTimeout, riverprocessor.Config.JobTimeout) applies
// on top. A job of a field not registered in this process gets
// MinJobTimeout.
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
// that of the largest picture it admits (MaxPixels, within MaxWidth and
// MaxHeight, in landscape or portrait at 4:3, 3:2, 16:9 or square),
// estimated with the WebAssembly encoders, the slower ones, whatever this
// process uses, so that a bound derived from it (a durable queue's
// rescue delay, which any of its processes may apply to the jobs of all)
// holds in every process. Twice MaxJobTimeout is a sound bound on a whole
// attempt: it leaves room for a wait in the pixel budget behind another
// job as large.
func (f *PictureField) MaxJobTimeout() (time.Duration, error) {
	c, err := f.config()
	if err != nil {
		return 0, err
	}
	var longest time.Duration
	for _, r := range [][2]float64{{4, 3}, {3, 2}, {16, 9}, {1, 1}} {
		for _, portrait := range []bool{false, true} {
			w, h := r[0], r[1]
			if portrait {
				w, h = h, w
			}
			k := math.Sqrt(float64(c.maxPixels) / (w * h))
			width, height := int(k*w), int(k*h)
			if c.field.MaxWidth > 0 && width > c.field.MaxWidth {
				width, height = c.field.MaxWidth, int(float64(c.field.MaxWidth)*h/w)
			}
			if c.field.MaxHeight > 0 && height > c.field.MaxHeight {
				width, height = int(float64(c.field.MaxHeight)*w/h), c.field.MaxHeight
			}
			if _, err := c.variants(width, height); err != nil {
				continue
			}
			longest = max(longest, c.jobTimeout(width, height, true))
		}
	}
	return max(longest, jobTimeoutFloor), nil
}

// jobTimeout is Job.Timeout for a width x height picture, with the
// WebAssembly encoders' rates if wasm.
func (c *compiled) jobTimeout(width, height int, wasm bool) time.Duration {
	var st ReconcileStats
	if err := c.estimate(&st, Picture{Width: width, Height: height}, rateFunc(nil, wasm)); err != nil {
		return jobTimeoutFloor
	}
	return max(jobTimeoutFloor, (JobTimeoutMargin * st.EncodeTime).Round(time.Second))
}
