package pictures

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A Picture is the value an application stores for one upload, in one
// database column: where the original is, its upright size, and which
// variants have been generated. Rendering needs nothing else: it never asks
// storage what exists.
//
// The zero Picture means "no picture"; it is stored as SQL NULL and renders
// as nothing.
type Picture struct {
	// Field is the Name of the PictureField the picture belongs to.
	Field string
	// Key identifies the picture: its variants' keys derive from it (see
	// VariantKey), and the application's row holds it. Without Original,
	// it is also the storage key of the original upload (in Storage).
	// Originals are never rendered or published: they may carry metadata
	// such as GPS positions.
	Key string
	// Original is the storage key of the original in the field's
	// Originals: Key with a random suffix before its extension, which no
	// variant key tells, so that knowing a variant does not lead to the
	// original. "" for a field without Originals (the original is then at
	// Key in Storage).
	Original string
	// Width and Height are the original's pixel size after EXIF orientation.
	Width, Height int
	// Focus is the point crops keep in view, as fractions of the width and
	// height from the top left corner; nil means the centre.
	Focus *FocalPoint
	// Variants lists the variants that exist in storage.
	Variants []VariantSet
	// Version is the fingerprint of the field configuration the variants
	// were generated with; see PictureField.Fingerprint.
	Version string
	// Preview is a tiny blurred rendition as a data: URL, shown until the
	// variants exist, and behind the picture while it downloads with the
	// helper's "placeholder" "blur".
	Preview string
	// Color is the picture's dominant colour as "#rrggbb", computed from
	// Preview when the variants are generated (see PreviewColor); "" until
	// then, and for pictures processed before it existed until they are
	// processed again. The helper's "placeholder" "color" paints it behind
	// the picture while it downloads.
	Color string
}

// A FocalPoint is a point of a picture, as fractions of its width and height
// (0 to 1) from the top left corner.
type FocalPoint struct {
	X, Y float64
}

// A VariantSet records the widths generated for one ratio in one format.
type VariantSet struct {
	Ratio  string // "" for the original ratio, else reduced "W/H"
	Type   string // "AVIF", "JPEG" or "PNG"
	Widths []int  // ascending
}

// IsZero reports whether p holds no picture.
func (p Picture) IsZero() bool { return p.Key == "" }

// widths returns the widths recorded for ratio r in type t.
func (p *Picture) widths(r Ratio, t string) []int {
	for i := range p.Variants {
		v := &p.Variants[i]
		if v.Type == t && ratioEqual(v.Ratio, r) {
			return v.Widths
		}
	}
	return nil
}

// ratioEqual reports whether the recorded ratio s is r. Recorded ratios are
// written reduced by this package, so this is a string comparison that does
// not allocate.
func ratioEqual(s string, r Ratio) bool {
	if r.IsOriginal() {
		return s == ""
	}
	ws, hs, ok := cutByte(s, '/')
	return ok && atoiEqual(ws, r.W) && atoiEqual(hs, r.H)
}

func cutByte(s string, c byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func atoiEqual(s string, n int) bool {
	v, err := strconv.Atoi(s)
	return err == nil && v == n
}

// originalKey is where p's original is stored: Original in Originals, or
// Key.
func (p *Picture) originalKey() string {
	if p.Original != "" {
		return p.Original
	}
	return p.Key
}

// Keys returns the storage keys of every recorded variant.
func (p Picture) Keys() []string {
	var keys []string
	for _, v := range p.Variants {
		r, err := ParseRatio(v.Ratio)
		t, ok := lookupFileType(v.Type)
		if err != nil || !ok {
			continue
		}
		for _, w := range v.Widths {
			keys = append(keys, VariantKey(p.Key, r, w, t.Ext))
		}
	}
	return keys
}

// stored is the database form of a Picture.
type stored struct {
	Field    string          `json:"field"`
	Key      string          `json:"key"`
	Original string          `json:"original,omitempty"`
	Width    int             `json:"width"`
	Height   int             `json:"height"`
	Focus    *FocalPoint     `json:"focus,omitempty"`
	Variants []storedVariant `json:"variants,omitempty"`
	Version  string          `json:"version,omitempty"`
	Preview  string          `json:"preview,omitempty"`
	Color    string          `json:"color,omitempty"` // absent from rows written before it existed
}

type storedVariant struct {
	Ratio  string `json:"ratio"`
	Type   string `json:"type"`
	Widths []int  `json:"widths"`
}

// Value stores p in a database column as JSON text (NULL for the zero
// Picture). It implements driver.Valuer.
func (p Picture) Value() (driver.Value, error) {
	if p.IsZero() {
		return nil, nil
	}
	s := stored{Field: p.Field, Key: p.Key, Original: p.Original, Width: p.Width, Height: p.Height, Focus: p.Focus, Version: p.Version, Preview: p.Preview, Color: p.Color}
	for _, v := range p.Variants {
		s.Variants = append(s.Variants, storedVariant(v))
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Scan reads a value written by Value: JSON text or bytes, or NULL. It
// implements sql.Scanner.
func (p *Picture) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*p = Picture{}
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("pictures: cannot scan %T into a Picture", src)
	}
	var s stored
	if !decodeStored(b, &s) {
		s = stored{}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("pictures: scanning a Picture: %w", err)
		}
	}
	if s.Key == "" {
		return errors.New("pictures: scanning a Picture: no key")
	}
	*p = Picture{Field: s.Field, Key: s.Key, Original: s.Original, Width: s.Width, Height: s.Height, Focus: s.Focus, Version: s.Version, Preview: s.Preview, Color: s.Color}
	if len(s.Variants) > 0 {
		p.Variants = make([]VariantSet, len(s.Variants))
		for i, v := range s.Variants {
			p.Variants[i] = VariantSet(v)
		}
	}
	return nil
}

// MarshalJSON gives the picture as an API client wants it, modelled on
// django-pictures' REST serializer: the fallback JPEG URL and size, the
// inline preview and the dominant colour (null until known), which a client
// shows while the file downloads, then per
// declared ratio ("original" for the source's own) its crop size, fallback,
// and the URLs of every generated variant per MIME type and width; then,
// for a field with Layouts, each layout's `sizes` and the ratio it shows
// per viewport range (see JSON). A field without Layouts gives each ratio
// the `sizes` of a full-width layout instead:
//
//	{"url": "/media/…/1200w.jpeg", "width": 4000, "height": 3000,
//	 "preview": "data:image/jpeg;base64,…", "color": "#5a7184",
//	 "ratios": {"original": {"width": 4000, "height": 3000, "src": "…",
//	   "sources": {"image/avif": {"100": "/media/…/100w.avif", …}},
//	   "sizes": "(min-width: 0px) and (max-width: 1199px) 100vw, 1200px"}}}
//
// The original's URL is never included. The zero Picture gives null. The
// field must be registered (see Register). This form is for output only:
// store Pictures with Value and Scan.
func (p Picture) MarshalJSON() ([]byte, error) { return p.JSON(JSONOptions{}) }

// JSONOptions narrow the JSON form of a Picture, as django-pictures' REST
// field can. Empty lists mean everything.
type JSONOptions struct {
	// Ratios lists the ratios to include ("" or "original" for the
	// source's own).
	Ratios []string
	// FileTypes lists the formats of "sources" to include, by name
	// ("AVIF") or MIME type ("image/avif").
	FileTypes []string
	// Layouts lists the layouts to include.
	Layouts []string
	// OmitPreview leaves out "preview" (a few hundred bytes a picture),
	// for clients that show only the colour.
	OmitPreview bool
}

// JSON gives the JSON form of p (see MarshalJSON), narrowed by o. Each
// layout is
//
//	"post": {"sizes": "(max-width: 767.98px) 100vw, …",
//	         "ranges": [{"min_width": 768, "ratio": "original"},
//	                    {"min_width": 0, "ratio": "4/5"}]}
//
// with its viewport ranges widest first, as <source media> lists them: a
// client shows, at viewport width v, the ratio of the first range whose
// min_width is at most v, and downloads from that ratio's "sources" the
// narrowest width at least the `sizes` width times the device pixel
// ratio. A null ratio is the client's choice among the layout's
// "choices".
func (p Picture) JSON(o JSONOptions) ([]byte, error) {
	if p.IsZero() {
		return []byte("null"), nil
	}
	c, err := lookup(p.Field)
	if err != nil {
		return nil, err
	}
	ratios := c.ratios
	if len(o.Ratios) > 0 {
		ratios = nil
		for _, s := range o.Ratios {
			if s == "original" {
				s = ""
			}
			r, err := c.declaredRatio(s)
			if err != nil {
				return nil, err
			}
			ratios = append(ratios, r)
		}
	}
	types := c.types
	if len(o.FileTypes) > 0 {
		types = nil
		for _, s := range o.FileTypes {
			i := slices.IndexFunc(c.types, func(t FileType) bool { return strings.EqualFold(t.Name, s) || t.MIME == s })
			if i < 0 {
				return nil, fmt.Errorf("%w: file type %q is not one of the field's", ErrInvalidArgument, s)
			}
			types = append(types, c.types[i])
		}
	}
	layouts := c.layoutNames
	if len(o.Layouts) > 0 {
		for _, name := range o.Layouts {
			if _, err := c.layout(name); err != nil {
				return nil, err
			}
		}
		layouts = o.Layouts
	}
	var sizes string
	if c.layouts == nil {
		var cols [maxBreakpoints]int
		sizes = string(appendSizes(nil, c.breakpoints, cols[:len(c.breakpoints)], c.grid, c.container))
	}
	var scratch []byte
	b := []byte(`{"url":`)
	first := ""
	if len(ratios) > 0 {
		first = c.fallbackURL(&p, ratios[0])
	}
	b = appendJSONStringOrNull(b, first)
	b = append(b, `,"width":`...)
	b = strconv.AppendInt(b, int64(p.Width), 10)
	b = append(b, `,"height":`...)
	b = strconv.AppendInt(b, int64(p.Height), 10)
	if !o.OmitPreview {
		b = append(b, `,"preview":`...)
		b = appendJSONStringOrNull(b, p.Preview)
	}
	b = append(b, `,"color":`...)
	b = appendJSONStringOrNull(b, p.Color)
	b = append(b, `,"ratios":{`...)
	for i, r := range ratios {
		if i > 0 {
			b = append(b, ',')
		}
		w, h := r.CropSize(p.Width, p.Height)
		b = appendJSONString(b, ratioName(r))
		b = append(b, `:{"width":`...)
		b = strconv.AppendInt(b, int64(w), 10)
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(h), 10)
		b = append(b, `,"src":`...)
		b = appendJSONStringOrNull(b, c.fallbackURL(&p, r))
		b = append(b, `,"sources":{`...)
		urls := c.variantURLs(&p, r)
		n := 0
		for _, t := range types {
			ws := p.widths(r, t.Name)
			if len(ws) == 0 {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendJSONString(b, t.MIME)
			b = append(b, ":{"...)
			for j, w := range ws {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = strconv.AppendInt(b, int64(w), 10)
				b = append(b, `":`...)
				scratch = urls.appendRaw(scratch[:0], w, t.Ext)
				b = appendJSONString(b, string(scratch))
			}
			b = append(b, '}')
		}
		b = append(b, '}')
		if sizes != "" {
			b = append(b, `,"sizes":`...)
			b = appendJSONString(b, sizes)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	if len(layouts) > 0 {
		b = append(b, `,"layouts":{`...)
		for i, name := range layouts {
			l := c.layouts[name]
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
			b = append(b, `:{"sizes":`...)
			b = appendJSONString(b, l.sizes)
			b = append(b, `,"ranges":[`...)
			ranges := l.ratioRanges(-1, nil)
			for j := len(ranges) - 1; j >= 0; j-- {
				if j < len(ranges)-1 {
					b = append(b, ',')
				}
				b = append(b, `{"min_width":`...)
				b = strconv.AppendInt(b, int64(ranges[j].lo), 10)
				b = append(b, `,"ratio":`...)
				if ri := ranges[j].ratio; ri >= 0 {
					b = appendJSONString(b, ratioName(c.ratios[ri]))
				} else {
					b = append(b, "null"...)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
			if !l.fixed {
				b = append(b, `,"choices":[`...)
				n := 0
				for ri, ok := range l.choices {
					if ok {
						if n > 0 {
							b = append(b, ',')
						}
						n++
						b = appendJSONString(b, ratioName(c.ratios[ri]))
					}
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	return b, nil
}

// ratioName names r in the JSON form: "original" for the source's own.
func ratioName(r Ratio) string {
	if r.IsOriginal() {
		return "original"
	}
	return r.String()
}

// UnmarshalJSON accepts only null: the JSON form of a Picture is for output.
// Use Value and Scan to store Pictures.
func (p *Picture) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*p = Picture{}
		return nil
	}
	return errors.New("pictures: a Picture cannot be decoded from its JSON output; store it with Value and Scan")
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // never fails for a string
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// fallbackWidth picks the JPEG rendition <img src> uses among the recorded
// widths of ratio r: the widest at most the container width (at 1x), or
// with layouts the widest width a layout paints r at (at 1x), else the
// narrowest. It returns 0 when there is none.
func (c *compiled) fallbackWidth(r Ratio, ws []int) int {
	if len(ws) == 0 {
		return 0
	}
	target := c.ladderContainer()
	if c.ladders != nil {
		if i := slices.Index(c.ratios, r); i >= 0 {
			target = c.fallbackTargets[i]
		}
	}
	i, found := slices.BinarySearch(ws, target)
	switch {
	case found:
		return ws[i]
	case i == 0:
		return ws[0]
	default:
		return ws[i-1]
	}
}

// ladderContainer is the container the width ladder is built on.
func (c *compiled) ladderContainer() int {
	if c.container == Fluid {
		return c.breakpoints[len(c.breakpoints)-1].Width
	}
	return c.container
}

// fallbackURL returns the URL of the JPEG rendition for ratio r, or "".
func (c *compiled) fallbackURL(p *Picture, r Ratio) string {
	w := c.fallbackWidth(r, p.widths(r, jpegType.Name))
	if w == 0 {
		return ""
	}
	return c.storage.URL(VariantKey(p.Key, r, w, jpegType.Ext))
}
