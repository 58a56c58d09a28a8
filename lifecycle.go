package pictures

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
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
	// type name. Types it leaves out take DefaultEncodeRates'.
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
	EncodeTime   time.Duration // estimated processing time of the Added variants
}

// An EncodeRate is what the estimates of ReconcileStats assume of one file
// type: BytesPerPixel, the size of a variant per pixel, and
// PixelsPerSecond, the pixels of variants one processing job makes per
// second, decoding, resizing and encoding included.
type EncodeRate struct {
	BytesPerPixel   float64
	PixelsPerSecond float64
}

// DefaultEncodeRates are the rates measured on the development machine (2
// CPUs) with the default encoder settings: AVIF from the 12-megapixel job
// of BENCHMARKS.md (18 variants, 13.8 million pixels, 661,211 bytes in
// 3.7 s with the WebAssembly encoder; 0.038 bytes per pixel and 10.8
// million pixels per second with system libavif), JPEG and PNG from
// encodes of 1400 and 624 px wide crops of a photograph (0.12 to 0.16
// bytes per pixel, 9 to 16 million pixels per second for JPEG). Photos
// vary: take them as the order of magnitude.
var DefaultEncodeRates = map[string]EncodeRate{
	"AVIF": {BytesPerPixel: 0.048, PixelsPerSecond: 3.8e6},
	"JPEG": {BytesPerPixel: 0.13, PixelsPerSecond: 10e6},
	"PNG":  {BytesPerPixel: 1.5, PixelsPerSecond: 1e6},
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
			if err = c.estimate(&st, p, opts.Rates); err == nil && !opts.DryRun {
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
func (c *compiled) estimate(st *ReconcileStats, p Picture, rates map[string]EncodeRate) error {
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
	rate := func(typ string) EncodeRate {
		if r, ok := rates[typ]; ok {
			return r
		}
		return DefaultEncodeRates[typ]
	}
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
		if r.PixelsPerSecond > 0 {
			seconds += px / r.PixelsPerSecond
		}
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
