package pictures

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/storage"
)

// DefaultSweepGrace is how long Sweep leaves a file that no recorded
// picture refers to, counted from when it was last written, when
// SweepOptions.Grace is zero.
const DefaultSweepGrace = 24 * time.Hour

// sweepBatch is the number of listed keys Sweep looks up at once.
const sweepBatch = 256

// SweepOptions configure Sweep.
type SweepOptions struct {
	// Recorded returns the recorded pictures whose Key is one of keys, in
	// any order: the application's rows that hold them (for example
	// SELECT image FROM posts WHERE image_key IN (…)). Keys that no row
	// holds are simply left out. It is called with at most a few
	// thousand keys at a time, and should look in every field whose
	// pictures share the prefix swept. Required.
	Recorded func(ctx context.Context, keys []string) ([]Picture, error)

	// Grace is how old a file that no recorded picture refers to must be
	// (since it was last written) to be deleted. It must exceed the
	// longest time between a file's write and the recording of the row
	// that refers to it: between Upload and the application's insert, and
	// a job's run (the Processor's job timeout). Defaults to
	// DefaultSweepGrace (24 hours).
	Grace time.Duration

	// DryRun counts what would be deleted, and deletes nothing.
	DryRun bool

	// Prefix is the part of storage swept. Defaults to the folder of the
	// field's UploadTo before its first placeholder ("posts/" for
	// "posts/%Y/%m/%d"); a field whose UploadTo starts with a
	// placeholder needs one. Everything under it that no recorded
	// picture refers to goes: give each field its own folder.
	Prefix string

	// OnDelete, if set, is called with each file deleted (or, in a dry
	// run, that would be): a key, or the name of a temporary file.
	OnDelete func(name string, size int64, modTime time.Time)

	// OnDeleteOriginal, if set, is called instead of OnDelete for the
	// files of the field's Originals store, when it has one apart from
	// Storage, so that a report can tell the two stores apart (a key is
	// relative to its store: an S3 store's Prefix is not in it).
	OnDeleteOriginal func(name string, size int64, modTime time.Time)
}

// SweepStats counts what Sweep found.
type SweepStats struct {
	Listed     int   // keys listed under the prefix
	Referenced int   // keys a recorded picture refers to: kept
	Young      int   // keys no recorded picture refers to, younger than the grace period: kept
	Deleted    int   // keys no recorded picture refers to, older: deleted (in a dry run, to delete)
	Bytes      int64 // the size of the Deleted keys
	Temp       int   // leftover temporary files deleted (or to delete)
	TempYoung  int   // temporary files younger than the grace period (writes in progress): kept
}

// A Walker is a Storage that can list keys one at a time, without holding
// the whole listing, as storage.Dir does. Sweep uses it when the field's
// Storage has it, and List otherwise.
type Walker interface {
	// Walk calls fn with every key that starts with prefix, in any order.
	// An error of fn stops the walk and is returned.
	Walk(ctx context.Context, prefix string, fn func(key string) error) error
}

// A Stater is a Storage that tells when a key was last written (its
// fs.FileInfo's ModTime) without reading it. Sweep needs modification
// times for the keys no recorded picture refers to, to apply its grace
// period: it asks Stat when the field's Storage has it, and otherwise the
// Stat method of what Open returns, if it has one (as the files of
// storage.Dir and the objects of storage.Memory do). A missing key gives
// an error satisfying errors.Is(err, fs.ErrNotExist).
type Stater interface {
	Stat(ctx context.Context, key string) (fs.FileInfo, error)
}

// A TempLister is a Storage that writes through temporary files, which a
// process killed in the middle of a write leaves behind, as storage.Dir
// does. Sweep removes those older than its grace period.
type TempLister interface {
	// ListTemp calls fn with the name and modification time of every
	// temporary file whose name starts with prefix.
	ListTemp(ctx context.Context, prefix string, fn func(name string, modTime time.Time) error) error
	// RemoveTemp removes a temporary file ListTemp gave.
	RemoveTemp(ctx context.Context, name string) error
}

// Sweep deletes from the field's storage what no recorded picture refers
// to: the originals of uploads whose row was never inserted (a crash
// between storing the original and the insert), variants left over by a
// job or a deletion that was interrupted, and, on storages that write
// through temporary files (TempLister), the files of writes a crash cut
// short. It lists the storage under SweepOptions.Prefix, asks Recorded
// which of the listed keys are the originals of recorded pictures (and
// which pictures own the listed variants), and deletes a key only if no
// recorded picture refers to it (as its Key or one of its Keys) and it was
// last written more than Grace ago.
//
// That rule keeps every live file, whatever runs at the same time: a file
// being written is young, an upload's original is young until its row is
// inserted, and a job's variants until the job records them (if Grace is
// longer than those take); and since the lookup follows the listing, a row
// inserted before a file is listed is always seen. A file written again
// after it was listed is checked for its age just before it is deleted.
//
// Memory is that of one batch of keys on a Walker (and, for storage.Dir,
// the entries of one folder), and that of the whole listing on other
// storages. Sweep is safe to run again after it stopped: it keeps
// no state.
func (f *PictureField) Sweep(ctx context.Context, opts SweepOptions) (SweepStats, error) {
	var st SweepStats
	c, err := f.config()
	if err != nil {
		return st, err
	}
	if opts.Recorded == nil {
		return st, fmt.Errorf("%w: Sweep needs SweepOptions.Recorded", ErrInvalidArgument)
	}
	grace := opts.Grace
	switch {
	case grace == 0:
		grace = DefaultSweepGrace
	case grace < 0:
		return st, fmt.Errorf("%w: SweepOptions.Grace %v is negative", ErrInvalidArgument, grace)
	}
	prefix := opts.Prefix
	if prefix == "" {
		if prefix = c.sweepPrefix(); prefix == "" {
			return st, fmt.Errorf("%w: field %q stores pictures under UploadTo %q, which starts with a placeholder: set SweepOptions.Prefix", ErrInvalidArgument, f.Name, c.uploadTo)
		}
	}
	if err := storage.CheckPrefix(prefix); err != nil {
		return st, fmt.Errorf("%w: SweepOptions.Prefix %q: %v", ErrInvalidArgument, prefix, err)
	}
	stores := []Storage{c.storage}
	if c.apart {
		stores = append(stores, c.originals)
	}
	for i, store := range stores {
		s := &sweeper{c: c, store: store, variantsOnly: c.apart && i == 0, onDelete: opts.OnDelete, opts: opts, grace: grace, st: &st}
		if c.apart && i == 1 && opts.OnDeleteOriginal != nil {
			s.onDelete = opts.OnDeleteOriginal
		}
		if err := s.sweep(ctx, prefix); err != nil {
			return st, err
		}
	}
	return st, nil
}

// sweepPrefix returns the folder of the field's originals before the first
// placeholder of UploadTo, with a trailing slash, or "".
func (c *compiled) sweepPrefix() string {
	p := c.uploadTo
	if i := strings.IndexByte(p, '%'); i >= 0 {
		p = p[:i]
		if j := strings.LastIndexByte(p, '/'); j >= 0 {
			return p[:j+1]
		}
		return ""
	}
	return p + "/"
}

type sweeper struct {
	c     *compiled
	store Storage // c.storage or c.originals
	// variantsOnly: store is Storage, and the field has Originals
	variantsOnly bool
	// onDelete is opts.OnDelete, or opts.OnDeleteOriginal for Originals.
	onDelete func(name string, size int64, modTime time.Time)
	opts     SweepOptions
	grace    time.Duration
	st       *SweepStats
	batch    []string
}

// sweep lists s.store under prefix and deletes what no recorded picture
// refers to, then the temporary files of old writes.
func (s *sweeper) sweep(ctx context.Context, prefix string) error {
	st := s.st
	add := func(key string) error {
		st.Listed++
		s.batch = append(s.batch, key)
		if len(s.batch) == sweepBatch {
			return s.flush(ctx)
		}
		return nil
	}
	var err error
	if w, ok := s.store.(Walker); ok {
		err = w.Walk(ctx, prefix, add)
	} else {
		var keys []string
		if keys, err = s.store.List(ctx, prefix); err == nil {
			for _, k := range keys {
				if err = add(k); err != nil {
					break
				}
			}
		}
	}
	if err == nil {
		err = s.flush(ctx)
	}
	if err != nil {
		return fmt.Errorf("pictures: sweeping %s: %w", prefix, err)
	}
	if t, ok := s.store.(TempLister); ok {
		err := t.ListTemp(ctx, prefix, func(name string, mod time.Time) error {
			if time.Since(mod) < s.grace {
				st.TempYoung++
				return nil
			}
			st.Temp++
			if s.onDelete != nil {
				s.onDelete(name, -1, mod)
			}
			if s.opts.DryRun {
				return nil
			}
			return t.RemoveTemp(ctx, name)
		})
		if err != nil {
			return fmt.Errorf("pictures: sweeping the temporary files of %s: %w", prefix, err)
		}
	}
	return nil
}

// flush decides the keys of the batch: it looks up their possible
// owners, then deletes those no recorded picture refers to, if old.
func (s *sweeper) flush(ctx context.Context) error {
	if len(s.batch) == 0 {
		return nil
	}
	defer func() { s.batch = s.batch[:0] }()
	owners := map[string]bool{}
	for _, k := range s.batch {
		for _, o := range ownerKeys(k) {
			owners[o] = true
		}
	}
	keys := make([]string, 0, len(owners))
	for k := range owners {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	recorded, err := s.opts.Recorded(ctx, keys)
	if err != nil {
		return fmt.Errorf("looking up recorded pictures: %w", err)
	}
	refs := map[string]bool{}
	for _, p := range recorded {
		if p.IsZero() {
			continue
		}
		if !s.variantsOnly || p.Original == "" {
			refs[p.Key] = true // (in Storage once Original is set: a leftover)
		}
		refs[p.Original] = true
		for _, k := range p.Keys() {
			refs[k] = true
		}
	}
	for _, k := range s.batch {
		if refs[k] {
			s.st.Referenced++
			continue
		}
		// Its age is read now, after the lookup, just before deleting.
		info, err := stat(ctx, s.store, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if time.Since(info.ModTime()) < s.grace {
			s.st.Young++
			continue
		}
		s.st.Deleted++
		s.st.Bytes += info.Size()
		if s.onDelete != nil {
			s.onDelete(k, info.Size(), info.ModTime())
		}
		if s.opts.DryRun {
			continue
		}
		if err := s.store.Delete(ctx, k); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("deleting %s: %w", k, err)
		}
	}
	return nil
}

// stat returns what store knows of key, through Stater or the Stat method
// of what Open returns.
func stat(ctx context.Context, store Storage, key string) (fs.FileInfo, error) {
	if s, ok := store.(Stater); ok {
		return s.Stat(ctx, key)
	}
	rc, err := store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if s, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		return s.Stat()
	}
	return nil, fmt.Errorf("storage %T gives no modification time of %s, which Sweep needs: it needs a Stat method (see Stater)", store, key)
}

// originalExts are the extensions originals are stored with: one per
// format Upload accepts.
var originalExts = []string{
	pipeline.JPEG.Ext(), pipeline.PNG.Ext(), pipeline.GIF.Ext(), pipeline.WEBP.Ext(), pipeline.AVIF.Ext(),
}

// ownerKeys returns the keys of the originals key may belong to: key
// itself, the picture Key an original in Originals was named for (see
// originalName), and for a variant key (see VariantKey), the original of each
// way of reading it (its stem with every original extension; a variant
// of the original ratio whose stem ends in a folder named like a ratio,
// "a/1_1/100w.avif", reads both as ratio 1/1 of "a" and as a variant of
// "a/1_1"). TestSweepOwnerKeys checks that every variant key VariantKey
// makes leads back to its original.
func ownerKeys(key string) []string {
	out := []string{key}
	if !storage.IsVariantKey(key) {
		if k := keyOfOriginal(key); k != "" { // in Originals
			out = append(out, k)
		}
		return out
	}
	stems := []string{path.Dir(key)}
	if dir, base := path.Split(stems[0]); dir != "" && isRatioDir(base) {
		stems = append(stems, strings.TrimSuffix(dir, "/"))
	}
	for _, s := range stems {
		for _, ext := range originalExts {
			out = append(out, s+"."+ext)
		}
	}
	return out
}

// isRatioDir reports whether name is a ratio folder of a variant key,
// "<W>_<H>".
func isRatioDir(name string) bool {
	w, h, ok := strings.Cut(name, "_")
	return ok && isDigits(w) && isDigits(h)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
