package pictures

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	if err := c.storage.Delete(ctx, p.Key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pictures: deleting %s: %w", p.Key, err)
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

// ReconcileOptions configure Reconcile.
type ReconcileOptions struct {
	// Progress, if set, is called after each picture with the number done
	// so far, the total, the picture as it now is, and its error, if any.
	Progress func(done, total int, p Picture, err error)
}

// Reconcile brings stored pictures in line with the field's current
// configuration, the counterpart of django-pictures' migration operation:
// for each picture it generates the variants the configuration adds (or
// whose encoder settings changed), deletes those it drops and keeps the
// rest, calling OnProcessed with the result. Pictures that are already
// current cost no I/O, so Reconcile is idempotent, and after a crash
// running it again resumes where it stopped (as long as OnProcessed stored
// each result). Pictures are processed one at a time, so memory stays that
// of one picture whatever the number of pictures.
//
// A failing picture does not stop the others; the returned error joins
// every failure.
func (f *PictureField) Reconcile(ctx context.Context, pictures []Picture, opts ReconcileOptions) error {
	var errs []error
	for i, p := range pictures {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		var err error
		if !p.IsZero() && !f.Current(p) {
			p, err = f.Process(ctx, p)
			if err != nil {
				err = fmt.Errorf("pictures: reconciling %s: %w", p.Key, err)
				errs = append(errs, err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(pictures), p, err)
		}
	}
	return errors.Join(errs...)
}
