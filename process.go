package pictures

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/processor"
)

// Current reports whether p's recorded variants are exactly those the
// field's configuration asks for, made with its current encoder settings.
// Rendering shows whatever p records; Current says whether Reconcile has
// work to do.
func (f *PictureField) Current(p Picture) bool {
	c, err := f.config()
	if err != nil || p.IsZero() {
		return false
	}
	plan, err := c.variants(p.Width, p.Height)
	if err != nil {
		return false
	}
	return p.Version == c.version() && p.Preview != "" && equalVariants(plan, p.Variants)
}

func equalVariants(a, b []VariantSet) bool {
	return slices.EqualFunc(a, b, func(x, y VariantSet) bool {
		return x.Ratio == y.Ratio && x.Type == y.Type && slices.Equal(x.Widths, y.Widths)
	})
}

// Fingerprint identifies the encoder settings the field's variants are
// made with (quality, speed, chroma subsampling and the pipeline's own
// version), followed by "+originals" for a field with Originals: a
// Picture whose Version differs is not current (its variants are stale,
// or, when only the suffix differs, its original has not been moved to
// Originals yet). It is "" for a field whose configuration is invalid.
func (f *PictureField) Fingerprint() string {
	c, err := f.config()
	if err != nil {
		return ""
	}
	return c.version()
}

// pipelineVersion changes whenever the pipeline's output changes in a way
// that should regenerate existing variants (resampling, colour handling).
const pipelineVersion = "3"

// version returns the fingerprint of c's encoder settings. Register
// computes it before the configuration is shared; a configuration compiled
// for one call (an unregistered field) computes it when first needed, since
// most calls (Widths, Sizes) never do.
func (c *compiled) version() string {
	if c.fingerprint == "" {
		c.fingerprint = fingerprint(c.field.Encoding, slices.Contains(c.types, webpType))
		if c.apart {
			c.fingerprint += apartSuffix
		}
	}
	return c.fingerprint
}

// apartSuffix ends the Version of the pictures of a field with Originals,
// so that Reconcile moves the originals stored before it had them, without
// making their variants stale.
const apartSuffix = "+originals"

// sameEncoding reports whether a picture of Version v has variants made
// with c's encoder settings, wherever its original is.
func (c *compiled) sameEncoding(v string) bool {
	return strings.TrimSuffix(v, apartSuffix) == strings.TrimSuffix(c.version(), apartSuffix)
}

// fingerprint identifies the encoder settings variants are made with; the
// WebP settings count only in fields that encode WebP, so that other
// fields keep their fingerprint.
func fingerprint(o pipeline.Encoding, webp bool) string {
	o = o.WithDefaults()
	s := fmt.Appendf(nil, "pipeline=%s avif.q=%d avif.speed=%d avif.small=%d/%d avif.chroma=420 jpeg.q=%d",
		pipelineVersion, o.AVIFQuality, o.AVIFSpeed, o.AVIFSmallSpeed, pipeline.SmallWidth, o.JPEGQuality)
	if webp {
		s = fmt.Appendf(s, " webp.q=%d webp.method=%d", o.WebPQuality, o.WebPMethod)
	}
	sum := sha256.Sum256(s)
	return hex.EncodeToString(sum[:6])
}

// A variantID names one variant file of a picture.
type variantID struct {
	ratio string
	typ   string
	width int
}

func idsOf(vs []VariantSet) map[variantID]bool {
	m := make(map[variantID]bool)
	for _, v := range vs {
		for _, w := range v.Widths {
			m[variantID{v.Ratio, v.Type, w}] = true
		}
	}
	return m
}

// filterVariants returns the variant sets of plan restricted to keep.
func filterVariants(plan []VariantSet, keep func(variantID) bool) []VariantSet {
	var out []VariantSet
	for _, v := range plan {
		var ws []int
		for _, w := range v.Widths {
			if keep(variantID{v.Ratio, v.Type, w}) {
				ws = append(ws, w)
			}
		}
		if len(ws) > 0 {
			out = append(out, VariantSet{Ratio: v.Ratio, Type: v.Type, Widths: ws})
		}
	}
	return out
}

// Process brings p's variants in line with the field's configuration, now,
// in the caller's goroutine: it generates what is missing or was made with
// other encoder settings (JPEG fallbacks first, then the rest, largest
// first), deletes what the configuration no longer asks for, keeps the
// rest, and returns the updated Picture. It calls the field's OnProcessed
// with the Picture after the fallbacks are written and again at the end, so
// the application can store it. A picture that is already current costs no
// I/O.
func (f *PictureField) Process(ctx context.Context, p Picture) (Picture, error) {
	c, err := f.config()
	if err != nil {
		return p, err
	}
	return c.process(ctx, p)
}

func (c *compiled) process(ctx context.Context, p Picture) (Picture, error) {
	if p.IsZero() {
		return p, processor.Permanent(fmt.Errorf("%w: processing a zero Picture", ErrInvalidArgument))
	}
	if p.Field != c.field.Name {
		return p, processor.Permanent(fmt.Errorf("%w: picture of field %q processed by field %q", ErrInvalidArgument, p.Field, c.field.Name))
	}
	plan, err := c.variants(p.Width, p.Height)
	if err != nil {
		return p, processor.Permanent(err)
	}
	recorded := idsOf(p.Variants)
	current := map[variantID]bool{}
	if c.sameEncoding(p.Version) {
		current = recorded
	}
	wanted := idsOf(plan)
	var todo []variantID
	for _, v := range plan {
		for _, w := range v.Widths {
			if id := (variantID{v.Ratio, v.Type, w}); !current[id] {
				todo = append(todo, id)
			}
		}
	}
	if len(todo) == 0 && p.Preview != "" && p.Version == c.version() && equalVariants(plan, p.Variants) {
		return p, nil // already current
	}
	if c.apart && p.Original == "" {
		if err := c.moveOriginal(ctx, &p); err != nil {
			return p, err
		}
	}

	if len(todo) > 0 || p.Preview == "" {
		written := map[variantID]bool{}
		genErr := c.generate(ctx, &p, plan, todo, current, written)
		// If the picture was deleted while it was processed, what was
		// written here may have escaped Delete: remove it. This is checked
		// whether or not generating failed, since a deletion can be what
		// made it fail (a store refusing a write into a removed folder).
		// (Delete lists again after removing the original, so one of the
		// two sees every file.)
		if gone, err := c.originalGone(ctx, p.originalKey()); err != nil {
			if genErr != nil {
				return p, genErr
			}
			return p, err
		} else if gone {
			c.removeOrphans(ctx, p, written)
			return p, processor.Permanent(fmt.Errorf("pictures: %s was deleted while it was processed", p.Key))
		}
		if genErr != nil {
			return p, genErr
		}
	}
	// Delete what the configuration no longer asks for, now that nothing
	// renders it.
	for id := range recorded {
		if !wanted[id] {
			if err := c.storage.Delete(ctx, c.variantKey(&p, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return p, fmt.Errorf("pictures: deleting obsolete variant of %s: %w", p.Key, err)
			}
		}
	}
	p.Variants = plan
	p.Version = c.version()
	if err := c.processed(ctx, p); err != nil {
		return p, err
	}
	return p, nil
}

// originalGone reports whether p's original is no longer stored.
func (c *compiled) originalGone(ctx context.Context, key string) (bool, error) {
	rc, err := c.originals.Open(ctx, key)
	if err == nil {
		rc.Close()
		return false, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return false, fmt.Errorf("pictures: checking original %s: %w", key, err)
}

// removeOrphans deletes what a job wrote for a picture deleted meanwhile,
// and anything else left under its folder. Failures are only logged: the
// picture is gone either way, and nothing renders these files.
func (c *compiled) removeOrphans(ctx context.Context, p Picture, written map[variantID]bool) {
	keys := make([]string, 0, len(written))
	for id := range written {
		keys = append(keys, c.variantKey(&p, id))
	}
	if err := c.deleteVariants(ctx, p, keys); err != nil {
		c.logger.Warn("pictures: removing the variants of a deleted picture", "field", p.Field, "key", p.Key, "err", err)
	}
}

func (c *compiled) processed(ctx context.Context, p Picture) error {
	if c.field.OnProcessed == nil {
		return nil
	}
	if err := c.field.OnProcessed(ctx, p); err != nil {
		return fmt.Errorf("pictures: recording the variants of %s: %w", p.Key, err)
	}
	return nil
}

// generate decodes the original once and writes the todo variants, JPEG
// fallbacks first. It fills in p.Preview and p.Color if they are missing.
func (c *compiled) generate(ctx context.Context, p *Picture, plan []VariantSet, todo []variantID, current map[variantID]bool, written map[variantID]bool) error {
	data, err := c.readOriginal(ctx, p.originalKey())
	if err != nil {
		return err
	}
	info, err := pipeline.Inspect(data)
	if err != nil {
		return processor.Permanent(fmt.Errorf("pictures: original %s: %w", p.Key, err))
	}
	// A job holds its decoded image, and the pyramid of its resizes, until
	// its last encode: it reserves its pixels in the process-wide budget
	// for that long, as uploads do (Save), so that the memory of jobs and
	// uploads together stays bounded whatever the Processor runs at once.
	release, err := jobPixels.acquire(ctx, info.Width*info.Height)
	if err != nil {
		return err
	}
	defer release()
	// The job's own time (Job.Timeout) starts now that it has its pixels.
	if timeout := c.jobTimeout(p.Width, p.Height, false); timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w (%v) processing %s", ErrJobTimeout, timeout, p.Key))
		defer cancel()
	}
	if err := c.decodeAndEncode(ctx, p, data, info, plan, todo, current, written); err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrJobTimeout) && !errors.Is(err, ErrJobTimeout) {
			return fmt.Errorf("%w: %w", cause, err)
		}
		return err
	}
	return nil
}

// decodeAndEncode is generate once the original is read and its pixels
// reserved.
func (c *compiled) decodeAndEncode(ctx context.Context, p *Picture, data []byte, info pipeline.Info, plan []VariantSet, todo []variantID, current map[variantID]bool, written map[variantID]bool) error {
	img, err := pipeline.Decode(data, info)
	if err != nil {
		return processor.Permanent(fmt.Errorf("pictures: original %s: %w", p.Key, err))
	}
	data = nil
	defer img.Release()
	if w := img.Warning(); w != nil {
		// Never a failure: the picture is shown as if it were sRGB.
		c.logger.Warn("pictures: colour profile not applied", "field", p.Field, "key", p.Key, "err", w)
	}
	if b := img.Bounds(); b.Dx() != p.Width || b.Dy() != p.Height {
		return processor.Permanent(fmt.Errorf("pictures: original %s is %dx%d upright, the Picture says %dx%d", p.Key, b.Dx(), b.Dy(), p.Width, p.Height))
	}
	if p.Preview == "" {
		if p.Preview, err = pipeline.Preview(img); err != nil {
			return err
		}
	}
	if p.Color == "" {
		// From the preview: a few hundred pixels, already downsampled.
		if col, err := PreviewColor(p.Preview); err == nil {
			p.Color = col
		} else {
			c.logger.Warn("pictures: no dominant colour", "field", p.Field, "key", p.Key, "err", err)
		}
	}

	// Fallbacks first: with them the page shows a real picture in every
	// browser while the rest is encoded.
	fallback := map[variantID]bool{}
	for _, v := range plan {
		if v.Type == jpegType.Name {
			r, _ := ParseRatio(v.Ratio)
			fallback[variantID{v.Ratio, v.Type, c.fallbackWidth(r, v.Widths)}] = true
		}
	}
	var first, rest []variantID
	for _, id := range todo {
		if fallback[id] {
			first = append(first, id)
		} else {
			rest = append(rest, id)
		}
	}
	if err := c.encode(ctx, p, img, first, written); err != nil {
		return err
	}
	if len(first) > 0 && len(rest) > 0 {
		partial := *p
		partial.Variants = filterVariants(plan, func(id variantID) bool { return current[id] || written[id] })
		if err := c.processed(ctx, partial); err != nil {
			return err
		}
	}
	return c.encode(ctx, p, img, rest, written)
}

// encode resizes and encodes the given variants, per ratio from one shared
// pyramid, largest width first, and stores each. Resizing runs here, one
// size after the other (each resize is itself parallel); encoding and
// storing run on up to GOMAXPROCS goroutines, so that the next size is
// resized while the previous ones are encoded. At most that many resized
// images wait for an encoder, which bounds the memory.
func (c *compiled) encode(ctx context.Context, p *Picture, img *pipeline.Image, ids []variantID, written map[variantID]bool) error {
	byRatio := map[string][]variantID{}
	var order []string
	for _, id := range ids {
		if _, ok := byRatio[id.ratio]; !ok {
			order = append(order, id.ratio)
		}
		byRatio[id.ratio] = append(byRatio[id.ratio], id)
	}
	focusX, focusY := 0.5, 0.5
	if p.Focus != nil {
		focusX, focusY = p.Focus.X, p.Focus.Y
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	// An output is recycled once every format of its size is encoded.
	refs := map[*image.RGBA]int{}
	done := func(out *image.RGBA) {
		mu.Lock()
		refs[out]--
		last := refs[out] == 0
		mu.Unlock()
		if last {
			pipeline.Recycle(out)
		}
	}
	store := func(id variantID, out *image.RGBA) {
		defer func() { done(out); <-slots; wg.Done() }()
		key := c.variantKey(p, id)
		var buf bytes.Buffer
		if err := pipeline.Encode(ctx, &buf, id.typ, out, c.field.Encoding); err != nil {
			cancel(fmt.Errorf("pictures: encoding %s: %w", key, err))
			return
		}
		if err := c.storage.Put(ctx, key, bytes.NewReader(buf.Bytes())); err != nil {
			cancel(fmt.Errorf("pictures: storing %s: %w", key, err))
			return
		}
		mu.Lock()
		written[id] = true
		mu.Unlock()
	}
	for _, ratio := range order {
		r, _ := ParseRatio(ratio)
		cw, ch := r.CropSize(p.Width, p.Height)
		rs := pipeline.NewResizer(img.Crop(pipeline.CropRect(p.Width, p.Height, cw, ch, focusX, focusY)))
		group := byRatio[ratio]
		slices.SortStableFunc(group, func(a, b variantID) int { return b.width - a.width })
		for i := 0; i < len(group) && ctx.Err() == nil; {
			w := group[i].width
			out := rs.Resize(w, r.Height(w, p.Width, p.Height))
			n := 0
			for n < len(group)-i && group[i+n].width == w {
				n++
			}
			mu.Lock()
			refs[out] = n
			mu.Unlock()
			for ; n > 0; i, n = i+1, n-1 {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
				}
				if ctx.Err() != nil {
					for ; n > 0; n-- {
						done(out)
					}
					break
				}
				wg.Add(1)
				go store(group[i], out)
			}
		}
		rs.Release()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// readOriginal reads the stored original, at most the field's byte limit.
func (c *compiled) readOriginal(ctx context.Context, key string) ([]byte, error) {
	rc, err := c.originals.Open(ctx, key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, processor.Permanent(fmt.Errorf("pictures: original %s is missing: %w", key, err))
		}
		return nil, fmt.Errorf("pictures: opening original %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, c.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("pictures: reading original %s: %w", key, err)
	}
	if int64(len(data)) > c.maxBytes {
		return nil, processor.Permanent(fmt.Errorf("pictures: original %s is larger than %d bytes", key, c.maxBytes))
	}
	return data, nil
}

// moveOriginal moves the original of a picture stored before the field
// had Originals, from Key in Storage to a new Original in Originals, and
// records the move (OnProcessed) before it deletes the old copy, so that
// the row never points where the original is not.
func (c *compiled) moveOriginal(ctx context.Context, p *Picture) error {
	rc, err := c.storage.Open(ctx, p.Key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the job finds out (a deleted picture)
	} else if err != nil {
		return fmt.Errorf("pictures: opening original %s to move it to Originals: %w", p.Key, err)
	}
	// Upload bounded it; the bound of the field now is checked when it is
	// read from Originals.
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("pictures: reading original %s to move it to Originals: %w", p.Key, err)
	}
	moved := *p
	moved.Original = originalName(p.Key)
	if err := c.originals.Put(ctx, moved.Original, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("pictures: moving original %s to Originals: %w", p.Key, err)
	}
	if err := c.processed(ctx, moved); err != nil {
		c.originals.Delete(context.WithoutCancel(ctx), moved.Original)
		return err
	}
	*p = moved
	if err := c.storage.Delete(ctx, p.Key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pictures: deleting original %s from Storage, once moved to Originals as %s: %w", p.Key, p.Original, err)
	}
	c.logger.Info("pictures: moved an original to Originals", "field", c.field.Name, "key", p.Key, "original", p.Original)
	return nil
}
