package pictures

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gopictures/pictures/pipeline"
)

// Fluid, as PictureField.ContainerWidth or Layout.Container, means the layout
// has no maximum width: `sizes` ends in vw instead of px.
const Fluid = -1

// Defaults used where a PictureField leaves a setting at its zero value.
const (
	DefaultContainerWidth = 1200
	DefaultGridColumns    = 12
	DefaultUploadTo       = "pictures/%Y/%m/%d"
)

// Defaults used where a PictureField leaves a slice empty.
var (
	DefaultPixelDensities = []int{1, 2}
	DefaultFileTypes      = []string{"AVIF"}
)

// Limits on configuration values; beyond them the width math would produce
// nonsense (or overflow on 32-bit platforms).
const (
	maxContainer    = 16384
	maxGridColumns  = 128
	maxDensity      = 8
	maxRatioTerm    = 1 << 16
	maxSourceLength = 1 << 20
)

// A PictureField describes how the pictures of one model field are stored,
// generated and rendered: the aspect ratios it crops to, the layout grid it is
// shown in, the pixel densities it serves, the formats it encodes and the
// uploads it accepts. It is the Go counterpart of django-pictures'
// PictureField.
//
// The zero value is usable and means the defaults: the original aspect ratio
// only, a 1200 px container on a 12-column grid, DefaultBreakpoints, pixel
// densities 1 and 2, AVIF. A field must not be modified after it is
// registered with Register.
type PictureField struct {
	// Name identifies the field in stored Pictures, in the registry and in
	// job queues, for example "post.image". Required by Register.
	Name string

	// AspectRatios lists the ratios variants are cropped to, as "W/H"
	// strings such as "16/9", "4/5" or "1/1"; "" means the source's own
	// ratio. Defaults to [""].
	AspectRatios []string

	// ContainerWidth is the maximum width of the page's content, in CSS
	// pixels. Defaults to 1200; Fluid means no maximum.
	ContainerWidth int

	// GridColumns is the number of columns of the layout grid. Defaults to 12.
	GridColumns int

	// Breakpoints are the viewport widths at which the layout may change,
	// in any order. Defaults to DefaultBreakpoints.
	Breakpoints []Breakpoint

	// Layouts names the ways the field's pictures are shown, such as
	// "feed", "tile" and "post": templates render one by name
	// ({{picture .Image "layout" "tile" "alt" …}}), and its `sizes` is the
	// exact painted width at every viewport. When Layouts is set, the
	// width ladder of every ratio is derived from the layouts that show it
	// (see MaxWaste), instead of from ContainerWidth and GridColumns alone,
	// and a ratio that no layout can show is a configuration error.
	Layouts map[string]Layout

	// MaxWaste bounds, for fields with Layouts, how much wider than needed
	// the file a browser picks may be: for every viewport from MinViewport
	// to MaxViewport and every device pixel ratio up to the highest of
	// PixelDensities, fractional ones included, the narrowest width at
	// least the painted width times the ratio is at most MaxWaste times
	// that, wherever the source is large enough. Defaults to
	// DefaultMaxWaste (1.2); between 1.05 and 4.
	MaxWaste float64

	// MinViewport and MaxViewport bound the viewport widths, in CSS pixels,
	// the ladder of a field with Layouts serves. Default to
	// DefaultMinViewport (320) and DefaultMaxViewport (2560).
	MinViewport, MaxViewport int

	// PixelDensities lists the device pixel ratios served, such as 1, 2 and
	// 3. Defaults to DefaultPixelDensities (1 and 2).
	PixelDensities []int

	// FileTypes lists the formats variants are encoded in, most efficient
	// first: one <source> is rendered per type, in this order. Supported:
	// "AVIF", "WEBP" (optional, after AVIF), "JPEG", "PNG". Defaults to
	// DefaultFileTypes (AVIF).
	FileTypes []string

	// UploadTo is the storage folder of originals, with date placeholders
	// %Y (year), %m (month), %d (day), %H (hour), %M (minute), %S (second)
	// and %% (a percent sign), expanded in UTC. Defaults to DefaultUploadTo.
	UploadTo string

	// MinWidth, MinHeight, MaxWidth and MaxHeight bound the pixel size of an
	// accepted upload, after EXIF orientation. Zero means no bound.
	MinWidth, MinHeight, MaxWidth, MaxHeight int

	// MaxBytes bounds the size of an upload file. Defaults to 32 MiB.
	MaxBytes int64

	// ProcessingTimeout bounds the processing of one picture once its
	// decoded pixels are reserved (see Job.Timeout). Zero means ten times
	// its estimate on this process's encoder, at least MinJobTimeout: set
	// it when the estimate does not fit (slower Encoding settings than the
	// defaults, a host much slower than the development machine, many
	// jobs sharing few CPUs); a negative value means no bound of the
	// field's own (the Processor's JobTimeout still bounds an attempt).
	ProcessingTimeout time.Duration

	// MaxPixels bounds width x height of an upload, checked from its
	// headers before it is decoded. Defaults to 50 megapixels.
	MaxPixels int

	// Encoding sets the quality and speed of each output format; zero
	// fields mean pipeline's defaults (AVIF quality 60, speed 9, or 6 for
	// variants up to 640 px wide; JPEG quality 82; WebP quality 75,
	// method 4). Changing it marks existing variants stale (see
	// Reconcile).
	Encoding pipeline.Encoding

	// Revision numbers the field's configuration, as a migration number
	// does: raise it with every change to what its variants are (ratios,
	// widths, formats, encoder settings). While processes with two
	// configurations run at once (during a deploy) it tells which is newer:
	// a process does a job enqueued at a lower Revision with its own
	// configuration, and hands back one enqueued at a higher Revision, or at
	// the same with another configuration (see Job). Defaults to 0; must
	// not be negative.
	Revision int

	// Storage holds the variants and gives their URLs, and the originals
	// too unless Originals is set. Defaults to a local directory "media"
	// served under "/media/" (see DefaultStorage), whose Handler serves
	// variants only.
	Storage Storage

	// Originals, if set, holds the originals instead of Storage: a store
	// that is never public, such as another bucket or prefix (S3) or
	// another directory, never served. Set it whenever Storage's objects
	// are public (a public-read bucket or a CDN in front of one): an
	// original may carry metadata (GPS positions) and a variant's key
	// tells the original's (see VariantKey), so under a public policy the
	// original would be public too. In Originals an original is named
	// with a random suffix no variant key holds (Picture.Original), so
	// that knowing a variant does not lead to it. Setting Originals on a
	// field with pictures changes the field's Fingerprint: Reconcile then
	// moves each original from Storage to Originals (its variants stay
	// where they are).
	Originals Storage

	// Processor runs variant generation. Defaults to DefaultProcessor(), an
	// in-process worker pool.
	Processor Processor

	// OnProcessed is called with the updated Picture whenever variants
	// have been written: once the JPEG fallbacks exist, and when every
	// variant does. The application stores it (in the row holding the
	// picture, found by its Key), so that rendering lists the new variants.
	// An error makes the job fail and retry.
	OnProcessed func(ctx context.Context, p Picture) error

	// Placeholders makes rendering link every variant the configuration
	// plans, processed or not, to PlaceholderHandler instead of storage, so
	// that pages render without real files. For development.
	Placeholders bool

	// Logger receives processing notes (such as an unsupported colour
	// profile). Defaults to slog.Default().
	Logger *slog.Logger
}

// Defaults of the upload limits.
const (
	DefaultMaxBytes  = 32 << 20
	DefaultMaxPixels = 50_000_000
)

// ratios returns the declared ratios, parsed and checked.
func (f *PictureField) ratios() ([]Ratio, error) {
	if len(f.AspectRatios) == 0 {
		return []Ratio{{}}, nil
	}
	out := make([]Ratio, 0, len(f.AspectRatios))
	for _, s := range f.AspectRatios {
		r, err := ParseRatio(s)
		if err != nil {
			return nil, configErrorf(f, "AspectRatios", s, "%v", err)
		}
		for j, prev := range out {
			if prev == r {
				return nil, configErrorf(f, "AspectRatios", s, "aspect ratio %q repeats %q", s, f.AspectRatios[j])
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// declaredRatio parses s and checks that the field declares it. It does not
// allocate for a declared ratio.
func (c *compiled) declaredRatio(s string) (Ratio, error) {
	r, err := ParseRatio(s)
	if err != nil {
		return Ratio{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	for _, d := range c.ratios {
		if d == r {
			return r, nil
		}
	}
	return Ratio{}, c.unknownRatio(s)
}

func (c *compiled) unknownRatio(s string) error {
	var b strings.Builder
	for i, d := range c.ratios {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(d.String()))
		if d.IsOriginal() {
			b.WriteString(" (the original)")
		}
	}
	return fmt.Errorf("%w %q (choices: %s)", ErrUnknownRatio, s, b.String())
}

// containerWidth returns the configured container width, or Fluid.
func (f *PictureField) containerWidth() (int, error) {
	switch c := f.ContainerWidth; {
	case c == 0:
		return DefaultContainerWidth, nil
	case c == Fluid:
		return Fluid, nil
	case c < 0 || c > maxContainer:
		return 0, configErrorf(f, "ContainerWidth", c, "container width %d is not between 1 and %d (or Fluid)", c, maxContainer)
	default:
		return c, nil
	}
}

func (f *PictureField) gridColumns() (int, error) {
	switch g := f.GridColumns; {
	case g == 0:
		return DefaultGridColumns, nil
	case g < 0 || g > maxGridColumns:
		return 0, configErrorf(f, "GridColumns", g, "grid columns %d is not between 1 and %d", g, maxGridColumns)
	default:
		return g, nil
	}
}

// densities returns the pixel densities, checked, and the largest one.
func (f *PictureField) densities() ([]int, int, error) {
	ds := f.PixelDensities
	if len(ds) == 0 {
		ds = DefaultPixelDensities
	}
	top := 0
	for i, d := range ds {
		if d < 1 || d > maxDensity {
			return nil, 0, configErrorf(f, "PixelDensities", d, "pixel density %d is not between 1 and %d", d, maxDensity)
		}
		for _, prev := range ds[:i] {
			if prev == d {
				return nil, 0, configErrorf(f, "PixelDensities", d, "pixel density %d is declared twice", d)
			}
		}
		top = max(top, d)
	}
	return ds, top, nil
}

func (f *PictureField) fileTypes() ([]FileType, error) {
	names := f.FileTypes
	if len(names) == 0 {
		names = DefaultFileTypes
	}
	out := make([]FileType, 0, len(names))
	for _, n := range names {
		t, ok := lookupFileType(n)
		if !ok {
			return nil, configErrorf(f, "FileTypes", n, "file type %q is not supported (supported: "+supportedFileTypes+")", n)
		}
		for _, prev := range out {
			if prev == t {
				return nil, configErrorf(f, "FileTypes", n, "file type %q is declared twice", n)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func (f *PictureField) uploadTo() (string, error) {
	p := f.UploadTo
	if p == "" {
		p = DefaultUploadTo
	}
	if err := checkUploadPattern(p); err != nil {
		return "", configErrorf(f, "UploadTo", p, "upload pattern %q %v", p, err)
	}
	return p, nil
}

func checkUploadPattern(p string) error {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%':
			if i+1 == len(p) || !strings.ContainsRune("YmdHMS%", rune(p[i+1])) {
				return errors.New("has a placeholder other than %Y %m %d %H %M %S %%")
			}
			i++
		case c == 0 || c == '\\':
			return errors.New("has a NUL byte or a backslash")
		}
	}
	if strings.HasPrefix(p, "/") || path.Clean(p) != strings.TrimSuffix(p, "/") || p == "." || strings.HasPrefix(p, "../") || p == ".." {
		return errors.New("is not a clean relative folder")
	}
	return nil
}

// UploadDir expands the field's UploadTo pattern for time t (taken in UTC),
// giving the folder an original uploaded at t is stored in.
func (f *PictureField) UploadDir(t time.Time) (string, error) {
	c, err := f.config()
	if err != nil {
		return "", err
	}
	return c.uploadDir(t), nil
}

func (c *compiled) uploadDir(t time.Time) string {
	p := c.uploadTo
	t = t.UTC()
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		i++
		switch p[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case '%':
			b.WriteByte('%')
		}
	}
	return strings.TrimSuffix(b.String(), "/")
}

func (f *PictureField) checkSizeLimits() error {
	for _, v := range []struct {
		name string
		val  int
	}{{"MinWidth", f.MinWidth}, {"MinHeight", f.MinHeight}, {"MaxWidth", f.MaxWidth}, {"MaxHeight", f.MaxHeight}} {
		if v.val < 0 || v.val > maxSourceLength {
			return configErrorf(f, v.name, v.val, "%s %d is not between 0 and %d", strings.ToLower(v.name[:3])+" "+strings.ToLower(v.name[3:]), v.val, maxSourceLength)
		}
	}
	if f.MaxWidth > 0 && f.MinWidth > f.MaxWidth {
		return configErrorf(f, "MinWidth", f.MinWidth, "min width %d is above max width %d", f.MinWidth, f.MaxWidth)
	}
	if f.MaxHeight > 0 && f.MinHeight > f.MaxHeight {
		return configErrorf(f, "MinHeight", f.MinHeight, "min height %d is above max height %d", f.MinHeight, f.MaxHeight)
	}
	return nil
}

// Validate checks every setting of the field and returns all problems
// found, each a *ConfigError wrapping ErrInvalidConfig.
func (f *PictureField) Validate() error {
	_, err := f.compile()
	return err
}

// compiled is a validated, normalized PictureField.
type compiled struct {
	field       *PictureField
	ratios      []Ratio
	container   int // or Fluid
	grid        int
	breakpoints []Breakpoint
	densities   []int
	maxDensity  int
	types       []FileType
	uploadTo    string
	storage     Storage
	originals   Storage // where originals are: Originals, or storage
	apart       bool    // originals and storage differ
	maxBytes    int64
	maxPixels   int
	fingerprint string // see version
	logger      *slog.Logger

	// Declared layouts and what derives from them (see layout.go).
	layouts                  map[string]*compiledLayout
	layoutNames              []string // sorted
	maxWaste                 float64
	minViewport, maxViewport int
	ladders                  [][]int // per ratio; nil without layouts
	fallbackTargets          []int   // per ratio, with layouts
}

func (f *PictureField) compile() (*compiled, error) {
	c := &compiled{field: f, storage: f.Storage}
	var errs []error
	var err error
	if c.ratios, err = f.ratios(); err != nil {
		errs = append(errs, err)
	}
	if c.container, err = f.containerWidth(); err != nil {
		errs = append(errs, err)
	}
	if c.grid, err = f.gridColumns(); err != nil {
		errs = append(errs, err)
	}
	if c.breakpoints, err = f.breakpoints(); err != nil {
		errs = append(errs, err)
	}
	if c.densities, c.maxDensity, err = f.densities(); err != nil {
		errs = append(errs, err)
	}
	if c.types, err = f.fileTypes(); err != nil {
		errs = append(errs, err)
	}
	if c.uploadTo, err = f.uploadTo(); err != nil {
		errs = append(errs, err)
	}
	if err = f.checkSizeLimits(); err != nil {
		errs = append(errs, err)
	}
	switch c.maxBytes = f.MaxBytes; {
	case c.maxBytes == 0:
		c.maxBytes = DefaultMaxBytes
	case c.maxBytes < 0:
		errs = append(errs, configErrorf(f, "MaxBytes", f.MaxBytes, "max bytes %d is negative", f.MaxBytes))
	}
	switch c.maxPixels = f.MaxPixels; {
	case c.maxPixels == 0:
		c.maxPixels = DefaultMaxPixels
	case c.maxPixels < 0:
		errs = append(errs, configErrorf(f, "MaxPixels", f.MaxPixels, "max pixels %d is negative", f.MaxPixels))
	}
	if f.Revision < 0 {
		errs = append(errs, configErrorf(f, "Revision", f.Revision, "revision %d is negative", f.Revision))
	}
	errs = append(errs, c.compileLadderSettings(f)...)
	if len(errs) == 0 {
		errs = append(errs, c.compileLayouts(f)...)
	}
	if len(errs) == 0 && len(c.layouts) > 0 {
		c.ladders, c.fallbackTargets = c.layoutLadders()
		for i, r := range c.ratios {
			if len(c.ladders[i]) == 0 {
				errs = append(errs, configErrorf(f, "AspectRatios", r.String(), "aspect ratio %q is shown by no layout (give it a layout, or a layout without Ratios)", r.String()))
			}
		}
	}
	if err := f.Encoding.Check(); err != nil {
		errs = append(errs, configErrorf(f, "Encoding", f.Encoding, "%v", err))
	}
	if c.logger = f.Logger; c.logger == nil {
		c.logger = slog.Default()
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if c.storage == nil {
		c.storage = DefaultStorage()
	}
	c.originals = c.storage
	if f.Originals != nil && !sameStorage(f.Originals, c.storage) {
		c.originals, c.apart = f.Originals, true
	}
	return c, nil
}

// sameStorage reports whether a and b are the same storage value (storages
// of uncomparable types are taken as different).
func sameStorage(a, b Storage) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}
