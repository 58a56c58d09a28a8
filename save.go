package pictures

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/gopictures/pictures/pipeline"
)

// displayName cleans a client file name for messages: the base name only,
// printable characters, at most 60 runes.
func displayName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, name)
	if r := []rune(name); len(r) > 60 {
		name = string(r[:57]) + "..."
	}
	if name == "" || name == "." || name == "/" {
		return "The file"
	}
	return fmt.Sprintf("%q", name)
}

func refuse(reason error, filename string, w, h int, format string, args ...any) *UploadError {
	name := displayName(filename)
	return &UploadError{Err: reason, Filename: name, Width: w, Height: h, Message: name + " " + fmt.Sprintf(format, args...)}
}

// byteSize formats a byte count for people: "32 MB", "1.5 MB", "200 KB".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Save checks an upload, stores it as the original of a new Picture, calls
// store with the Picture so that the application records it (inserts the
// row that holds it), and only then schedules the generation of its
// variants on the field's Processor. It returns the Picture as stored.
//
// Scheduling after store is what makes Save safe with any Processor: a job
// that finishes at once still finds the application's row when it calls
// OnProcessed, so no update is lost, whatever the order in which the job and
// the insert would otherwise finish. store must not be nil.
//
// The file is read from r, at most MaxBytes of it; its format is sniffed
// from its content (filename is only used in messages); its size is read
// from the headers and refused above MaxPixels before any decoding; the
// field's min/max size bounds are checked on the upright size; then it is
// decoded once, to prove it is readable and to make the Picture's inline
// preview. Every refusal is an *UploadError (usable with errors.Is and
// errors.As) and leaves nothing in storage. The original is stored without
// whatever follows the end of its image (see pipeline.Trim), under
// UploadTo with a random, collision-free name and the extension of its real
// format; it is never published.
//
// If store fails, the original is deleted again and store's error returned
// (wrapped). If the job cannot be scheduled after store succeeded, the
// application holds a valid Picture that shows its preview: Save returns it
// with an error wrapping ErrNotScheduled, and Reconcile (or Schedule)
// generates its variants later.
func (f *PictureField) Save(ctx context.Context, r io.Reader, filename string, store func(ctx context.Context, p Picture) error) (Picture, error) {
	c, err := f.config()
	if err != nil {
		return Picture{}, err
	}
	if store == nil {
		return Picture{}, fmt.Errorf("%w: Save needs a store function (or use Upload and Schedule)", ErrInvalidArgument)
	}
	p, err := c.upload(ctx, r, filename)
	if err != nil {
		return Picture{}, err
	}
	if err := store(ctx, p); err != nil {
		if derr := c.originals.Delete(context.WithoutCancel(ctx), p.originalKey()); derr != nil {
			err = errors.Join(err, derr)
		}
		return Picture{}, fmt.Errorf("pictures: storing %s: %w", p.Key, err)
	}
	if err := c.schedule(ctx, p); err != nil {
		return p, fmt.Errorf("%w: %s: %w", ErrNotScheduled, p.Key, err)
	}
	return p, nil
}

// Upload is Save without store and scheduling: for applications that
// enqueue the job themselves, with Schedule once the Picture is recorded, or
// in the database transaction that records it, as durable queues allow.
// Scheduling before the Picture is recorded can lose the update of a job
// that finishes first (see Save).
func (f *PictureField) Upload(ctx context.Context, r io.Reader, filename string) (Picture, error) {
	c, err := f.config()
	if err != nil {
		return Picture{}, err
	}
	return c.upload(ctx, r, filename)
}

func (c *compiled) upload(ctx context.Context, r io.Reader, filename string) (Picture, error) {
	if c.field.Name == "" {
		return Picture{}, &ConfigError{Option: "Name", Value: "", Msg: "a field that stores pictures needs a name, and must be registered"}
	}
	data, err := io.ReadAll(io.LimitReader(r, c.maxBytes+1))
	if err != nil {
		return Picture{}, fmt.Errorf("pictures: reading upload: %w", err)
	}
	if int64(len(data)) > c.maxBytes {
		return Picture{}, refuse(ErrTooLarge, filename, 0, 0, "is larger than %s.", byteSize(c.maxBytes))
	}
	if len(data) == 0 {
		return Picture{}, refuse(ErrNotImage, filename, 0, 0, "is empty.")
	}
	info, err := pipeline.Inspect(data)
	switch {
	case errors.Is(err, pipeline.ErrHEIC):
		return Picture{}, refuse(ErrNotImage, filename, 0, 0, "is an HEIC image, which browsers cannot show; please upload a JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible).")
	case errors.Is(err, pipeline.ErrAnimated):
		return Picture{}, refuse(ErrNotImage, filename, 0, 0, "is an animated WebP; please upload a still image.")
	case errors.Is(err, pipeline.ErrUnsupported):
		return Picture{}, refuse(ErrNotImage, filename, 0, 0, "is not an image we can read (JPEG, PNG, GIF, WebP or AVIF).")
	case errors.Is(err, pipeline.ErrUnsupportedFeature):
		return Picture{}, refuse(ErrNotImage, filename, 0, 0, unreadableFeature)
	case err != nil:
		return Picture{}, refuse(ErrDamaged, filename, 0, 0, "is damaged or incomplete and cannot be read.")
	}
	// Only the image is decoded and stored: what follows its end (junk, a
	// second file) is dropped, and its memory freed before decoding.
	if trimmed := pipeline.Trim(data, info.Format); len(trimmed) < len(data) {
		data = bytes.Clone(trimmed)
	}
	w, h := info.Upright()
	if int64(w)*int64(h) > int64(c.maxPixels) {
		return Picture{}, refuse(ErrTooManyPixels, filename, w, h, "is %d×%d pixels; the limit is %s.", w, h, megapixels(c.maxPixels))
	}
	if err := c.checkSize(filename, w, h); err != nil {
		return Picture{}, err
	}

	release, err := acquirePixels(ctx, info.Width*info.Height)
	if err != nil {
		return Picture{}, err
	}
	img, err := pipeline.Decode(data, info)
	if err != nil {
		release()
		if errors.Is(err, pipeline.ErrUnsupportedFeature) {
			return Picture{}, refuse(ErrNotImage, filename, w, h, unreadableFeature)
		}
		return Picture{}, refuse(ErrDamaged, filename, w, h, "is damaged or incomplete and cannot be read.")
	}
	b := img.Bounds()
	w, h = b.Dx(), b.Dy() // decoders that orient themselves know best
	preview, err := pipeline.Preview(img)
	img.Release()
	release()
	if err != nil {
		return Picture{}, fmt.Errorf("pictures: preview: %w", err)
	}
	if err := c.checkSize(filename, w, h); err != nil {
		return Picture{}, err
	}

	p := Picture{Field: c.field.Name, Width: w, Height: h, Preview: preview}
	p.Key = path.Join(c.uploadDir(time.Now()), strings.ToLower(rand.Text())+"."+info.Format.Ext())
	if c.apart {
		p.Original = originalName(p.Key)
	}
	if err := c.originals.Put(ctx, p.originalKey(), bytes.NewReader(data)); err != nil {
		return Picture{}, fmt.Errorf("pictures: storing the original: %w", err)
	}
	return p, nil
}

const unreadableFeature = "uses a feature of its format that we cannot read (such as arithmetic coding); please save it again as an ordinary JPEG or PNG."

func megapixels(n int) string {
	if n%1_000_000 == 0 {
		return fmt.Sprintf("%d megapixels", n/1_000_000)
	}
	return fmt.Sprintf("%d pixels", n)
}

// checkSize applies the field's min/max size bounds.
func (c *compiled) checkSize(filename string, w, h int) error {
	f := c.field
	if (f.MinWidth > 0 && w < f.MinWidth) || (f.MinHeight > 0 && h < f.MinHeight) {
		return refuse(ErrImageTooSmall, filename, w, h, "is %d×%d pixels; it must be at least %s.", w, h, bound(f.MinWidth, f.MinHeight, "wide", "high"))
	}
	if (f.MaxWidth > 0 && w > f.MaxWidth) || (f.MaxHeight > 0 && h > f.MaxHeight) {
		return refuse(ErrImageTooBig, filename, w, h, "is %d×%d pixels; it must be at most %s.", w, h, bound(f.MaxWidth, f.MaxHeight, "wide", "high"))
	}
	return nil
}

func bound(w, h int, wide, high string) string {
	switch {
	case w > 0 && h > 0:
		return fmt.Sprintf("%d×%d", w, h)
	case w > 0:
		return fmt.Sprintf("%d pixels %s", w, wide)
	}
	return fmt.Sprintf("%d pixels %s", h, high)
}
