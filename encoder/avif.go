package encoder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gen2brain/avif"
)

// AVIF writes img as an AVIF file, 4:2:0, tagged sRGB, without metadata,
// at quality 1 to 100 and aom speed 0 (slowest, smallest) to 10. It
// encodes in an encoder process when Init was called and the Config does
// not say otherwise, and in this process otherwise, or when no process
// can be started (the first failure is logged with log/slog's default
// logger, and Describe reports the last one). It waits while as many
// encodes run as the processes have lanes (Config.Processes *
// Config.EncodesPerProcess; in-process: GOMAXPROCS). When ctx ends it returns at once;
// an encode already running in a process is left to finish (for up to 10
// s, then the process is killed) and dropped, so that the process serves
// the next encode: starting another costs a WebAssembly compilation.
func AVIF(ctx context.Context, w io.Writer, img *image.RGBA, quality, speed int) error {
	if quality < 1 || quality > 100 {
		return fmt.Errorf("encoder: AVIF quality must be between 1 and 100, got %d", quality)
	}
	if speed < 0 || speed > 10 {
		return fmt.Errorf("encoder: AVIF speed must be between 0 and 10, got %d", speed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return encode(ctx, w, job{formatAVIF, img, quality, speed}, true)
}

// encode encodes j in a process, or in this one when processes are off,
// or, if fallback, when a process cannot be started.
func encode(ctx context.Context, w io.Writer, j job, fallback bool) error {
	pr, err := encoders.acquire(ctx)
	if err != nil {
		return err
	}
	if pr == nil {
		defer encoders.releaseLocal()
		return encodeHere(w, j)
	}
	data, err := encoders.run(ctx, pr, j) // gives pr back

	var se startError
	if fallback && errors.As(err, &se) {
		return encodeHere(w, j)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// A startError reports that an encoder process could not be started.
type startError struct{ err error }

func (e startError) Error() string {
	return "encoder: cannot start an encoder process: " + e.err.Error()
}
func (e startError) Unwrap() error { return e.err }

var logStartFailure sync.Once

// cancelGrace is how long an encode whose request ended may go on in its
// process before the process is killed (a variable for tests).
var cancelGrace = 10 * time.Second

// run has the process pr encode j, starting it if needed, and once more
// if it dies, and gives pr back to the pool.
//
// When ctx ends first, run returns at once, but the encode, which cannot
// be interrupted, is left to finish, for up to cancelGrace, and its result
// dropped: killing the process would make the next encode start another,
// whose WebAssembly compilation costs seconds of CPU, and far more on the
// loaded machine where requests time out, so that killing on every
// timeout makes the next requests time out too.
func (p *pool) run(ctx context.Context, pr *lane, j job) (_ []byte, err error) {
	later := false
	defer func() {
		if !later {
			p.release(pr)
		}
	}()
	if b := j.img.Bounds(); b.Dx() < 1 || b.Dy() < 1 || b.Dx() > maxSide || b.Dy() > maxSide {
		return nil, fmt.Errorf("encoder: cannot encode a %dx%d image in an encoder process (1 to %d pixels a side)", b.Dx(), b.Dy(), maxSide)
	}
	for attempt := 1; ; attempt++ {
		if !pr.running() {
			err := p.attach(pr)
			p.mu.Lock()
			p.startErr = err
			p.mu.Unlock()
			if err != nil {
				logStartFailure.Do(func() {
					slog.Warn("pictures: cannot start encoder processes; encoding in this process", "err", err)
				})
				return nil, startError{err}
			}
		}
		type result struct {
			data []byte
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			data, err := pr.roundTrip(j)
			ch <- result{data, err}
		}()
		select {
		case res := <-ch:
			var encErr encodeError
			if errors.As(res.err, &encErr) {
				return nil, fmt.Errorf("encoder: %w", res.err)
			}
			if res.err == nil {
				return res.data, nil
			}
			// The process died (out of memory, killed): start a new one
			// and try once more.
			p.detach(pr, true)
			if attempt == 2 {
				return nil, fmt.Errorf("encoder: the encoder process failed twice: %w", res.err)
			}
		case <-ctx.Done():
			later = true
			go func() {
				t := time.NewTimer(cancelGrace)
				defer t.Stop()
				select {
				case res := <-ch:
					var encErr encodeError
					if res.err != nil && !errors.As(res.err, &encErr) {
						p.detach(pr, true) // it died meanwhile
					}
				case <-t.C:
					p.detach(pr, true)
					<-ch
				}
				p.release(pr)
			}()
			return nil, ctx.Err()
		}
	}
}

// encodeHere encodes j in this process.
func encodeHere(w io.Writer, j job) error {
	if j.format == formatWebP {
		return webpHere(w, j.img, j.quality, j.speed)
	}
	return avifHere(w, j.img, j.quality, j.speed)
}

// avifHere encodes in this process. Speed and chroma subsampling are
// always explicit: the zero avif.Options means speed 0 and 4:4:4, seconds
// per small image.
func avifHere(w io.Writer, img *image.RGBA, quality, speed int) error {
	if ownWASM() {
		data, err := wasmEncode(img, quality, speed)
		if err != nil {
			return err
		}
		tagSRGB(data)
		_, err = w.Write(data)
		return err
	}
	var buf bytes.Buffer
	err := avif.Encode(&buf, img, avif.Options{
		Quality:           quality,
		QualityAlpha:      quality,
		Speed:             speed,
		ChromaSubsampling: image.YCbCrSubsampleRatio420,
	})
	if err != nil {
		return err
	}
	tagSRGB(buf.Bytes())
	_, err = w.Write(buf.Bytes())
	return err
}
