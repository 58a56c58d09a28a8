// Package pictures gives Go web applications responsive picture fields: a
// field declares aspect ratios, a layout grid, pixel densities and formats;
// every variant (each ratio x width x format, AVIF first) is generated once,
// in the background, when a photo is uploaded; and a template helper renders
// <picture> with the srcset and sizes that make each browser download the
// one file it needs. It is the Go counterpart of django-pictures, with its
// known bugs fixed.
//
// # Fields
//
// A PictureField is one documented config struct whose zero value means the
// defaults (the original ratio, a 1200 px container on 12 columns,
// breakpoints xs 576 / s 768 / m 992 / l 1200 / xl 1400, densities 1 and 2,
// AVIF):
//
//	var PostImage = &pictures.PictureField{
//		Name:           "post.image",
//		AspectRatios:   []string{"", "1/1", "4/5"},
//		ContainerWidth: 935,
//		GridColumns:    3,
//		PixelDensities: []int{1, 2, 3},
//	}
//
//	func main() {
//		pictures.MustRegister(PostImage)
//		...
//	}
//
// Register validates the field and makes it reachable from the Pictures it
// stores, by name: a Picture read from a database row carries only the name.
//
// # Width math
//
// PictureField.Widths and PictureField.Sizes are pure functions of the
// configuration: the srcset widths generated for a source, and the `sizes`
// attribute of a layout (the grid columns a picture spans per breakpoint).
// They do no I/O and take no context.
//
// # Layouts
//
// A field may declare named Layouts: per breakpoint, the columns a picture
// spans, a fixed width or a share of the viewport, with the gutters and
// padding that make the painted width exact, and optionally the ratio per
// breakpoint (art direction). Templates then name a layout
// ({{picture .Post.Image "layout" "tile" "alt" .Post.Caption}}), its
// `sizes` is exact and computed once, and the width ladder is derived from
// the layouts so that at every viewport and device pixel ratio the file a
// browser picks is at most MaxWaste (1.2) times wider than it needs.
//
// # Uploads
//
// Save checks an upload (bytes, sniffed format, dimensions from the headers
// before any decoding, a process-wide pixel budget), stores the original,
// calls the application's store function so it can insert its row, and only
// then schedules the variants on the field's Processor, so that a job that
// finishes first can never update a row that does not exist yet.
//
// # Pictures and rendering
//
// A Picture is the value an application stores for one upload (one column:
// it implements sql.Scanner and driver.Valuer). It records the original's
// key and upright size and which variants exist, so rendering never asks
// storage anything. In templates:
//
//	tmpl := template.New("").Funcs(pictures.FuncMap())
//	{{picture .Post.Image "alt" .Post.Caption "ratio" "1/1" "xs" 1 "loading" "lazy"}}
//
// renders one <source type srcset sizes> per format and an <img> whose width
// and height are the rendered ratio's (no layout shift) and whose src is a
// stripped JPEG rendition, never the uploaded original. json.Marshal of a
// Picture gives every variant URL per ratio and format, for APIs.
//
// # What runs in the background
//
// Nothing starts before it is used. A field without a Processor uses
// DefaultProcessor: a processor.Pool of GOMAXPROCS goroutines started on the
// first upload, which Shutdown drains. AVIF (and WebP, an optional
// format: FileTypes "AVIF", "WEBP") is encoded by package encoder: in
// child processes of the program's own binary when main calls
// encoder.Init first (the only environment variable read,
// PICTURES_ENCODER_PROCESS, marks such a child), in this process otherwise;
// encoder.Stop ends them. Decoding is bounded process-wide by a pixel budget
// (SetPixelBudget).
//
// # Storage
//
// Originals and variants live in a Storage: a local directory by default
// (storage.Dir), storage.Memory for tests, S3-compatible object storage
// through an adapter in its own module. Variant keys derive from the
// original's: "<key without extension>/<W_H>/<width>w.<ext>".
package pictures
