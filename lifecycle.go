package pictures

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/gopictures/pictures/encoder"
	"github.com/gopictures/pictures/pipeline"
)

// Delete removes a picture from storage: every variant (those p records,
// and any others under its folder, such as the leftovers of an interrupted
// job), then the original, then anything a job still running wrote in the
// meantime. Deleting a picture twice is not an error.
func (f *PictureField) Delete(ctx context.Context, p Picture) error {
	if p.IsZero() {
		return nil
	}
	c, err := f.config()
	if err != nil {
		return err
	}
	if err := c.deleteVariants(ctx, p, p.Keys()); err != nil {
		return err
	}
	if err := c.originals.Delete(ctx, p.originalKey()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pictures: deleting %s: %w", p.originalKey(), err)
	}
	if c.apart && p.Original == "" { // an original not moved to Originals yet
		if err := c.storage.Delete(ctx, p.Key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pictures: deleting %s: %w", p.Key, err)
		}
	}
	// A job that was writing variants checks for the original when it is
	// done, and cleans up after itself if it is gone; files it wrote before
	// that are listed here.
	return c.deleteVariants(ctx, p, nil)
}

// deleteVariants deletes keys and every other key under p's folder.
func (c *compiled) deleteVariants(ctx context.Context, p Picture, keys []string) error {
	listed, err := c.storage.List(ctx, variantsPrefix(p.Key))
	if err != nil {
		return fmt.Errorf("pictures: listing the variants of %s: %w", p.Key, err)
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range listed {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if err := c.storage.Delete(ctx, k); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pictures: deleting %s: %w", k, err)
		}
	}
	return nil
}

// ReconcileOptions configure Reconcile and ReconcileAll.
type ReconcileOptions struct {
	// Progress, if set, is called after each picture with the number done
	// so far, the total, the picture as it now is, and its error, if any.
	// ReconcileAll passes Total as the total (0: unknown).
	Progress func(done, total int, p Picture, err error)

	// DryRun makes Reconcile and ReconcileAll only count what reconciling
	// would do (see ReconcileStats): no I/O but the PageFunc's.
	DryRun bool

	// Schedule makes Reconcile and ReconcileAll hand each picture that is
	// not current to the field's Processor, as backlog (ScheduleBacklog:
	// uploads go first), to be processed there, spread over its workers,
	// instead of processing it in the caller's goroutine. The run then
	// ends when every job is enqueued.
	Schedule bool

	// PageSize is the number of pictures ReconcileAll asks its PageFunc
	// for at a time. Defaults to DefaultPageSize.
	PageSize int

	// Total is the number of pictures ReconcileAll will see, if known (a
	// COUNT of the rows), for Progress.
	Total int

	// Stats, if set, is called after each picture that is not current
	// with the counts so far: for progress bars of the work itself.
	Stats func(ReconcileStats)

	// Rates are what the estimates of ReconcileStats assume, per file
	// type name. Types it leaves out take NativeEncodeRates' if this
	// process encodes them with a system library, else
	// DefaultEncodeRates'.
	Rates map[string]EncodeRate
}

// DefaultPageSize is the default ReconcileOptions.PageSize.
const DefaultPageSize = 500

// A PageFunc returns the next page of a field's stored pictures, for
// ReconcileAll: up to limit of them, those that come after the picture
// whose Key is after (all from the first if after is ""), in an order of
// the application's choice that stays the same from call to call, such as
// that of the column holding the key:
//
//	SELECT image FROM posts WHERE image_key > ? ORDER BY image_key LIMIT ?
//
// A page shorter than limit is the last one.
type PageFunc func(ctx context.Context, after string, limit int) ([]Picture, error)

// ReconcileStats count what ReconcileAll did, or in a dry run would do.
// The sizes and times of new variants are estimates (see EncodeRate); the
// counts are exact, computed as Process computes its work: every variant
// the configuration plans that the picture does not record (all of them
// when its encoder settings changed) is added, every recorded one it no
// longer plans is deleted.
type ReconcileStats struct {
	Pictures int // pictures seen
	Current  int // already current: nothing to do, no I/O
	Stale    int // not current: processed or scheduled (in a dry run: to be)
	Failed   int // whose processing or scheduling failed

	Added   int // variant files generated (or to generate)
	Deleted int // variant files deleted (or to delete)

	AddedPixels  int64         // the pixels of the Added variants
	AddedBytes   int64         // estimated size of the Added variants
	DeletedBytes int64         // estimated size of the Deleted variants
	EncodeTime   time.Duration // estimated processing time of the Added variants, their originals' decoding included
}

// An EncodeRate is what the estimates of ReconcileStats and Job.Timeout
// assume of one file type: BytesPerPixel, the size of a variant per pixel,
// and PixelsPerSecond, the pixels of variants one processing job makes per
// second, resizing and encoding included. SmallPixelsPerSecond, if set,
// replaces PixelsPerSecond for variants at most pipeline.SmallWidth wide,
// which AVIF encodes at a slower speed (Encoding.AVIFSmallSpeed).
type EncodeRate struct {
	BytesPerPixel        float64
	PixelsPerSecond      float64
	SmallPixelsPerSecond float64
}

// pixelsPerSecond is r's rate for a variant w pixels wide.
func (r EncodeRate) pixelsPerSecond(w int) float64 {
	if w <= pipeline.SmallWidth && r.SmallPixelsPerSecond > 0 {
		return r.SmallPixelsPerSecond
	}
	return r.PixelsPerSecond
}

// DefaultEncodeRates are the rates the estimates assume by default, per
// file type name, with the default encoder settings and the WebAssembly
// AVIF and WebP encoders in two encoder processes (see NativeEncodeRates
// for a system libavif). They were measured on the development machine
// (2 CPUs, on a day it ran BenchmarkJob in 6.7 s, against 3.6 s on its
// fast days), one job at a time, with the example app's photo field (41
// AVIF and JPEG variants of a 4032x3024 photo, 35 of a 1632x1224 one, and
// as many WebP variants again for the WebP rate): an AVIF variant above
// 640 px is made at about 4 million pixels a second, one at most 640 px
// wide (speed 6) at 0.55 million. Photos vary: take them as the order of
// magnitude.
var DefaultEncodeRates = map[string]EncodeRate{
	"AVIF": {BytesPerPixel: 0.047, PixelsPerSecond: 4.2e6, SmallPixelsPerSecond: 0.55e6},
	"WEBP": {BytesPerPixel: 0.039, PixelsPerSecond: 5.9e6},
	"JPEG": {BytesPerPixel: 0.13, PixelsPerSecond: 10e6},
	"PNG":  {BytesPerPixel: 1.5, PixelsPerSecond: 1e6},
}

// NativeEncodeRates replace DefaultEncodeRates' entries when this process
// encodes AVIF with a system libavif (see encoder.Describe), measured as
// DefaultEncodeRates were, with libavif 1.4.2 (aom 3.6). libavif runs in
// one encoder process, and so do WebAssembly WebP encodes then: their
// rate is taken as half of DefaultEncodeRates' (measured: 3.0 million
// pixels a second).
var NativeEncodeRates = map[string]EncodeRate{
	"AVIF": {BytesPerPixel: 0.035, PixelsPerSecond: 12.4e6, SmallPixelsPerSecond: 3.8e6},
}

// DecodePixelsPerSecond is what the estimates assume of a job's original:
// the pixels read, decoded, oriented and prepared for resizing per second
// (measured 14 to 19 million, from 12 to 48 megapixels, as
// DefaultEncodeRates were).
const DecodePixelsPerSecond = 15e6

// rateFunc returns the rate of each file type: own's, else those of this
// process's encoders (those of the WebAssembly encoders if wasm).
func rateFunc(own map[string]EncodeRate, wasm bool) func(typ string) EncodeRate {
	native := !wasm && encoder.Describe().Library == "libavif"
	return func(typ string) EncodeRate {
		if r, ok := own[typ]; ok {
			return r
		}
		if r, ok := NativeEncodeRates[typ]; ok && native {
			return r
		}
		r := DefaultEncodeRates[typ]
		if typ == "WEBP" && native && encoder.DescribeWebP().Library != "libwebp" {
			r.PixelsPerSecond /= 2 // in libavif's one encoder process
		}
		return r
	}
}

// Reconcile brings stored pictures in line with the field's current
// configuration, the counterpart of django-pictures' migration operation:
// for each picture it generates the variants the configuration adds (or
// whose encoder settings changed), deletes those it drops and keeps the
// rest, calling OnProcessed with the result. Pictures that are already
// current cost no I/O, so Reconcile is idempotent, and after a crash
// running it again resumes where it stopped (as long as OnProcessed stored
// each result). Pictures are processed one at a time, so memory stays that
// of one picture whatever the number of pictures. ReconcileAll does the
// same for pictures read page by page.
//
// A failing picture does not stop the others; the returned error joins
// every failure.
func (f *PictureField) Reconcile(ctx context.Context, pictures []Picture, opts ReconcileOptions) error {
	opts.Total = len(pictures)
	_, err := f.reconcile(ctx, func(yield func(Picture) bool) {
		for _, p := range pictures {
			if !yield(p) {
				return
			}
		}
	}, nil, opts)
	return err
}

// ReconcileAll is Reconcile for every picture of the field, read page by
// page from the application's rows through page: memory holds one page
// whatever the number of pictures. With opts.DryRun it only counts; with
// opts.Schedule it enqueues each picture that is not current on the
// field's Processor instead of processing it here. It returns the counts,
// also on error.
//
// Pictures already current cost no I/O, so running it again after a
// crash (or a kill) resumes where it stopped; with opts.Schedule, jobs
// already enqueued are enqueued again (a Processor that keeps one job per
// picture, such as River's adapter, keeps one). A failing picture does not
// stop the others; a failing page does.
func (f *PictureField) ReconcileAll(ctx context.Context, page PageFunc, opts ReconcileOptions) (ReconcileStats, error) {
	if page == nil {
		return ReconcileStats{}, fmt.Errorf("%w: ReconcileAll needs a PageFunc", ErrInvalidArgument)
	}
	size := opts.PageSize
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0:
		return ReconcileStats{}, fmt.Errorf("%w: ReconcileOptions.PageSize %d is negative", ErrInvalidArgument, size)
	}
	var pageErr error
	pictures := func(yield func(Picture) bool) {
		after := ""
		for {
			ps, err := page(ctx, after, size)
			if err != nil {
				pageErr = fmt.Errorf("pictures: reading the pictures after %q: %w", after, err)
				return
			}
			for _, p := range ps {
				if !yield(p) {
					return
				}
			}
			if len(ps) < size || ps[len(ps)-1].Key == after {
				return
			}
			after = ps[len(ps)-1].Key
		}
	}
	return f.reconcile(ctx, pictures, &pageErr, opts)
}

func (f *PictureField) reconcile(ctx context.Context, pictures func(func(Picture) bool), pageErr *error, opts ReconcileOptions) (ReconcileStats, error) {
	var st ReconcileStats
	c, err := f.config()
	if err != nil {
		return st, err
	}
	rate := rateFunc(opts.Rates, false)
	var errs []error
	for p := range pictures {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		st.Pictures++
		var err error
		if p.IsZero() || f.Current(p) {
			st.Current++
		} else {
			st.Stale++
			if err = c.estimate(&st, p, rate); err == nil && !opts.DryRun {
				if opts.Schedule {
					err = c.scheduleBacklog(ctx, p) // after new uploads
				} else {
					p, err = c.process(ctx, p)
				}
			}
			if err != nil {
				st.Failed++
				err = fmt.Errorf("pictures: reconciling %s: %w", p.Key, err)
				errs = append(errs, err)
			}
			if opts.Stats != nil {
				opts.Stats(st)
			}
		}
		if opts.Progress != nil {
			opts.Progress(st.Pictures, opts.Total, p, err)
		}
	}
	if pageErr != nil && *pageErr != nil {
		errs = append(errs, *pageErr)
	}
	return st, errors.Join(errs...)
}

// estimate adds to st the work of bringing p up to date, computed as
// process does without doing it.
func (c *compiled) estimate(st *ReconcileStats, p Picture, rate func(string) EncodeRate) error {
	plan, err := c.variants(p.Width, p.Height)
	if err != nil {
		return err
	}
	recorded := idsOf(p.Variants)
	current := map[variantID]bool{}
	if c.sameEncoding(p.Version) {
		current = recorded
	}
	wanted := idsOf(plan)
	pixels := func(id variantID) float64 {
		r, _ := ParseRatio(id.ratio)
		return float64(id.width) * float64(r.Height(id.width, p.Width, p.Height))
	}
	var seconds float64
	for id := range wanted {
		if current[id] {
			continue
		}
		px, r := pixels(id), rate(id.typ)
		st.Added++
		st.AddedPixels += int64(px)
		st.AddedBytes += int64(px * r.BytesPerPixel)
		if pps := r.pixelsPerSecond(id.width); pps > 0 {
			seconds += px / pps
		}
	}
	if seconds > 0 {
		seconds += float64(p.Width) * float64(p.Height) / DecodePixelsPerSecond
	}
	st.EncodeTime += time.Duration(seconds * float64(time.Second))
	for id := range recorded {
		if !wanted[id] {
			st.Deleted++
			st.DeletedBytes += int64(pixels(id) * rate(id.typ).BytesPerPixel)
		}
	}
	return nil
}
