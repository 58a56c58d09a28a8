package pictures

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// An Attr is an extra HTML attribute of the rendered <img> or <picture>. A
// true Value renders the bare attribute, false omits it; strings, integers,
// floats and fmt.Stringers render escaped.
type Attr struct {
	Name  string
	Value any
}

// RenderOptions describe one rendering of a Picture.
type RenderOptions struct {
	// Alt is the <img> alt text; "" marks a decorative image.
	Alt string
	// Ratio selects one of the field's declared aspect ratios; "" is the
	// original ratio.
	Ratio string
	// LayoutName names one of the field's declared Layouts; it excludes
	// Layout.
	LayoutName string
	// Layout gives the container width and columns per breakpoint that
	// `sizes` is computed from, as the template helper's per-call
	// arguments do.
	Layout Layout
	// Placeholder is what shows behind the picture while its file
	// downloads, as the helper's "placeholder" argument: "blur", "color",
	// or "" (or "none") for nothing.
	Placeholder string
	// Img and Picture are extra attributes of <img> and <picture>.
	Img, Picture []Attr
}

// reservedArgs are the helper's argument names that are not breakpoints.
var reservedArgs = map[string]bool{
	"alt": true, "ratio": true, "container": true, "layout": true, "priority": true, "placeholder": true,
	"loading": true, "decoding": true, "fetchpriority": true,
}

// imgShorthands are <img> attributes the helper takes without the img_
// prefix.
var imgShorthands = map[string]bool{"loading": true, "decoding": true, "fetchpriority": true}

// FuncMap returns the template functions of this package, for
// html/template's Template.Funcs:
//
//   - picture renders a <picture> element (see Render):
//     {{picture .Post.Image "alt" .Post.Caption "ratio" "1/1" "xs" 4 "loading" "lazy"}}
//   - picture_preload renders, from the same arguments, the
//     <link rel="preload"> of the page's largest picture, for <head>
//     (see Preload):
//     {{picture_preload .Post.Image "layout" "post" "alt" .Post.Caption "priority" true}}
//   - picture_url returns the URL of one variant (see URL), for places
//     without <picture>, such as e-mails and og:image:
//     {{picture_url .Post.Image "1/1" "JPEG" 600}}
func FuncMap() template.FuncMap {
	return template.FuncMap{"picture": Render, "picture_preload": Preload, "picture_url": URL}
}

// Render renders the <picture> element of p from its stored value and the
// given name/value arguments, the same as the template helper "picture":
//
//   - "alt" (required): the alt text; "" marks a decorative image.
//   - "layout": one of the field's declared Layouts, by name: `sizes` is
//     its exact painted width, and its Ratios choose the crop per
//     breakpoint (art direction). It excludes "container" and breakpoint
//     arguments.
//   - "ratio": one of the field's declared aspect ratios; "" (the default)
//     is the original ratio, or a field's only ratio. With a layout, it
//     applies where the layout sets no ratio.
//   - "container": the container width in CSS pixels, or "fluid";
//     defaults to the field's.
//   - a breakpoint name ("xs", "s", ...): the grid columns the picture spans
//     from that breakpoint up (see Layout).
//   - "priority" true: the picture is the page's largest content (its
//     Largest Contentful Paint): loading="eager" and fetchpriority="high";
//     render the matching preload link in <head> with Preload. It excludes
//     "loading" "lazy".
//   - "placeholder": what shows behind the picture while its file
//     downloads, with no request of its own: "blur", the Picture's inline
//     preview (its Preview), or "color", a plain background of its
//     dominant colour (its Color); "none" (the default) for nothing. The
//     <picture> is then wrapped in <span class="pictures-placeholder">,
//     whose first child is an <img alt=""> of the placeholder, which the
//     stylesheet PlaceholderCSS layers under the picture: no inline style
//     or script, so it works under a Content-Security-Policy that allows
//     img-src data: (as the preview already needs). The picture paints
//     over it and hides it once its file has arrived, so use it for opaque
//     pictures: transparent areas would show it. It is left out while
//     the <img> shows the preview itself (before the variants exist), and
//     for "color" until the Picture has a Color.
//   - "img_<attr>" and "picture_<attr>": extra attributes of <img> and
//     <picture>; "loading", "decoding" and "fetchpriority" need no prefix.
//     true renders a bare attribute, false omits it.
//
// It renders one <source type srcset sizes> per file type of the field with
// generated variants (with an art-directed layout, one per viewport range
// and type, each with its media, width and height, widest range first,
// and a JPEG one per range when JPEG is not a file type), then an <img> whose width and height are the size of
// the ratio's crop (no layout shift once it loads) and whose src is the
// stripped JPEG fallback, never the uploaded original. Until variants
// exist, src is the Picture's inline preview, or a transparent placeholder
// of the right shape. With "loading" "lazy", sizes starts with "auto, ", so
// browsers that support it use the laid-out width. A zero Picture renders as
// nothing.
//
// Render does no I/O: URLs come from the field's Storage.URL.
func Render(p Picture, args ...any) (template.HTML, error) {
	if p.IsZero() {
		return "", nil
	}
	var a renderArgs
	c, err := a.parseCall(p, args)
	if err != nil {
		return "", err
	}
	return c.render(&p, &a)
}

// Preload renders the <link rel="preload" as="image"> elements that make
// the browser start, from <head>, the download the <picture> rendered by
// Render with the same arguments will use: with the same imagesrcset and
// imagesizes as its first <source>, so both pick the same candidate, and
// a type attribute, so a browser that cannot decode the format skips the
// link (and then downloads what the <picture> gives it). An art-directed
// layout gets one link per viewport range, each with the media of its
// range only. Until the picture's variants exist, or for a zero Picture,
// it renders nothing: the <img> then shows the inline preview.
//
// Use it for the page's largest picture, rendered with "priority" true:
//
//	<head>{{picture_preload .Post.Image "layout" "post" "alt" "" "priority" true}}</head>
//	…{{picture .Post.Image "layout" "post" "alt" .Post.Caption "priority" true}}
//
// Preload does no I/O.
func Preload(p Picture, args ...any) (template.HTML, error) {
	if p.IsZero() {
		return "", nil
	}
	var a renderArgs
	c, err := a.parseCall(p, args)
	if err != nil {
		return "", err
	}
	if c.field.Placeholders {
		return "", nil // placeholders are drawn on request, and cheap
	}
	_, ranges, err := c.ranges(&a, nil)
	if err != nil {
		return "", err
	}
	sizes := c.sizesOf(&a, nil)
	var b []byte
	for i := len(ranges) - 1; i >= 0; i-- {
		rr := c.ratios[ranges[i].ratio]
		urls := c.variantURLs(&p, rr)
		for _, t := range c.types {
			ws := p.widths(rr, t.Name)
			if len(ws) == 0 {
				continue
			}
			b = append(b, `<link rel="preload" as="image" type="`...)
			b = append(b, t.MIME...)
			b = append(b, `" imagesrcset="`...)
			b = appendSrcset(b, &urls, t, ws)
			b = append(b, `" imagesizes="`...)
			b = append(b, sizes...)
			b = append(b, '"')
			if len(ranges) > 1 {
				b = append(b, ` media="`...)
				if i > 0 {
					b = append(b, "(min-width: "...)
					b = strconv.AppendInt(b, int64(ranges[i].lo), 10)
					b = append(b, "px)"...)
				}
				if i < len(ranges)-1 {
					if i > 0 {
						b = append(b, " and "...)
					}
					b = append(b, "(max-width: "...)
					b = appendNumber(b, ranges[i].hi-0.02, 2)
					b = append(b, "px)"...)
				}
				b = append(b, '"')
			}
			if a.priority {
				b = append(b, ` fetchpriority="high"`...)
			}
			b = append(b, '>')
			break // the first format with variants is the one browsers take
		}
	}
	return template.HTML(b), nil
}

// HTML renders p like Render, from options instead of template arguments.
func (p Picture) HTML(o RenderOptions) (template.HTML, error) {
	if p.IsZero() {
		return "", nil
	}
	c, err := lookup(p.Field)
	if err != nil {
		return "", err
	}
	a := renderArgs{alt: o.Alt, hasAlt: true, ratio: o.Ratio, hasRatio: o.Ratio != "", img: o.Img, pic: o.Picture}
	if a.placeholder, err = parsePlaceholder(o.Placeholder); err != nil {
		return "", err
	}
	if o.LayoutName != "" {
		if o.Layout.Container != 0 || len(o.Layout.Columns) > 0 || !o.Layout.isLegacy() {
			return "", fmt.Errorf("%w: LayoutName %q excludes Layout", ErrInvalidArgument, o.LayoutName)
		}
		if a.layout, err = c.layout(o.LayoutName); err != nil {
			return "", err
		}
		return c.render(&p, &a)
	}
	if !o.Layout.isLegacy() {
		return "", fmt.Errorf("%w: a per-call Layout takes Container and Columns only; declare the others in PictureField.Layouts", ErrInvalidArgument)
	}
	if a.container, err = c.layoutContainer(o.Layout.Container); err != nil {
		return "", err
	}
	for name, n := range o.Layout.Columns {
		if err := a.setColumns(c, name, n); err != nil {
			return "", err
		}
	}
	return c.render(&p, &a)
}

// renderArgs are the parsed arguments of one rendering.
type renderArgs struct {
	alt         string
	hasAlt      bool
	ratio       string
	hasRatio    bool
	layout      *compiledLayout
	container   int // 0: the field's
	hasCols     bool
	priority    bool
	placeholder placeholderKind
	cols        [maxBreakpoints]int
	img, pic    []Attr
	imgBuf      [4]Attr
	picBuf      [2]Attr
}

// parseCall finds p's field and parses the helper's arguments into a,
// which the caller keeps on its stack.
func (a *renderArgs) parseCall(p Picture, args []any) (*compiled, error) {
	c, err := lookup(p.Field)
	if err != nil {
		return nil, err
	}
	a.img = a.imgBuf[:0]
	a.pic = a.picBuf[:0]
	return c, a.parse(c, args)
}

func (a *renderArgs) parse(c *compiled, args []any) error {
	if len(args)%2 != 0 {
		return fmt.Errorf("%w: picture helper arguments come in name/value pairs, got %d values", ErrInvalidArgument, len(args))
	}
	for i := 0; i < len(args); i += 2 {
		name, ok := args[i].(string)
		if !ok {
			return fmt.Errorf("%w: argument name %v is a %T, want a string", ErrInvalidArgument, args[i], args[i])
		}
		v := args[i+1]
		switch {
		case name == "alt":
			s, ok := stringValue(v)
			if !ok {
				return fmt.Errorf("%w: alt is a %T, want a string", ErrInvalidArgument, v)
			}
			a.alt, a.hasAlt = s, true
		case name == "ratio":
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%w: ratio is a %T, want a string such as \"16/9\"", ErrInvalidArgument, v)
			}
			a.ratio, a.hasRatio = s, true
		case name == "layout":
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%w: layout is a %T, want a layout name", ErrInvalidArgument, v)
			}
			l, err := c.layout(s)
			if err != nil {
				return err
			}
			a.layout = l
		case name == "priority":
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("%w: priority is a %T, want true or false", ErrInvalidArgument, v)
			}
			a.priority = b
		case name == "placeholder":
			var err error
			if a.placeholder, err = parsePlaceholder(v); err != nil {
				return err
			}
		case name == "container":
			if s, ok := v.(string); ok && s == "fluid" {
				a.container = Fluid
				break
			}
			n, ok := intValue(v)
			if !ok {
				return fmt.Errorf("%w: container is %v, want a width in pixels or \"fluid\"", ErrInvalidArgument, v)
			}
			var err error
			if a.container, err = c.layoutContainer(n); err != nil {
				return err
			}
		case strings.HasPrefix(name, "img_"):
			a.img = append(a.img, Attr{name[len("img_"):], v})
		case strings.HasPrefix(name, "picture_"):
			a.pic = append(a.pic, Attr{name[len("picture_"):], v})
		case imgShorthands[name]:
			a.img = append(a.img, Attr{name, v})
		default:
			if breakpointIndex(c.breakpoints, name) < 0 {
				return fmt.Errorf("%w %q (want alt, layout, ratio, container, a breakpoint (%s), priority, placeholder, loading, decoding, fetchpriority, img_<attribute> or picture_<attribute>)",
					ErrInvalidArgument, name, breakpointNames(c.breakpoints))
			}
			n, ok := intValue(v)
			if !ok {
				return fmt.Errorf("%w: columns for breakpoint %q is %v, want a number", ErrInvalidArgument, name, v)
			}
			if err := a.setColumns(c, name, n); err != nil {
				return err
			}
		}
	}
	if !a.hasAlt {
		return fmt.Errorf(`%w: missing "alt" (describe the picture, or pass "alt" "" if it is decorative)`, ErrInvalidArgument)
	}
	if a.priority {
		for _, at := range a.img {
			if s, _ := at.Value.(string); at.Name == "loading" && strings.EqualFold(s, "lazy") {
				return fmt.Errorf(`%w: "priority" true excludes "loading" "lazy"`, ErrInvalidArgument)
			}
		}
		for _, at := range []Attr{{"loading", "eager"}, {"fetchpriority", "high"}} {
			if !slices.ContainsFunc(a.img, func(x Attr) bool { return x.Name == at.Name }) {
				a.img = append(a.img, at)
			}
		}
	}
	if a.layout != nil && (a.container != 0 || a.hasCols) {
		return fmt.Errorf(`%w: layout %q sets the widths; drop "container" and the breakpoint arguments`, ErrInvalidArgument, a.layout.name)
	}
	return nil
}

func (a *renderArgs) setColumns(c *compiled, name string, n int) error {
	i := breakpointIndex(c.breakpoints, name)
	if i < 0 {
		return unknownBreakpoint(c.breakpoints, name)
	}
	if err := checkColumns(name, n, c.grid); err != nil {
		return err
	}
	a.cols[i] = n
	a.hasCols = true
	return nil
}

func stringValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case fmt.Stringer:
		return v.String(), true
	}
	return "", false
}

func intValue(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int8:
		return int(v), true
	case int16:
		return int(v), true
	case int32:
		return int(v), true
	case int64:
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v), true
		}
	case uint8:
		return int(v), true
	case uint16:
		return int(v), true
	case uint32:
		return int(v), true
	case uint:
		if v <= math.MaxInt32 {
			return int(v), true
		}
	case uint64:
		if v <= math.MaxInt32 {
			return int(v), true
		}
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// ranges returns the call's ratio and the viewport ranges with the ratio
// each shows: one range, unless an art-directed layout shows several.
func (c *compiled) ranges(a *renderArgs, dst []segment) (Ratio, []segment, error) {
	var r Ratio
	var err error
	switch {
	case !a.hasRatio && len(c.ratios) == 1:
		r = c.ratios[0] // a field of one ratio needs no "ratio"
	case a.layout == nil || !a.layout.fixed || a.hasRatio:
		if r, err = c.declaredRatio(a.ratio); err != nil {
			return r, nil, err
		}
	}
	if l := a.layout; l != nil {
		if a.hasRatio && l.fixed {
			return r, nil, fmt.Errorf("%w: layout %q sets the ratio at every breakpoint; drop \"ratio\"", ErrInvalidArgument, l.name)
		}
		ri := slices.Index(c.ratios, r)
		if !l.fixed && !l.choices[ri] {
			return r, nil, fmt.Errorf("%w: layout %q does not show ratio %q (its RatioChoices)", ErrUnknownRatio, l.name, a.ratio)
		}
		return r, l.ratioRanges(ri, dst), nil
	}
	return r, append(dst, segment{ratio: slices.Index(c.ratios, r), hi: math.Inf(1)}), nil
}

// sizesOf appends the call's sizes value to dst.
func (c *compiled) sizesOf(a *renderArgs, dst []byte) []byte {
	if a.layout != nil {
		return append(dst, a.layout.sizes...)
	}
	container := a.container
	if container == 0 {
		container = c.container
	}
	return appendSizes(dst, c.breakpoints, a.cols[:len(c.breakpoints)], c.grid, container)
}

func (c *compiled) render(p *Picture, a *renderArgs) (template.HTML, error) {
	var rangeBuf [maxBreakpoints + 1]segment
	_, ranges, err := c.ranges(a, rangeBuf[:0])
	if err != nil {
		return "", err
	}
	lazy := false
	ownSize := true
	for _, at := range a.img {
		if err := checkAttrName("img", at.Name); err != nil {
			return "", err
		}
		switch at.Name {
		case "loading":
			s, _ := at.Value.(string)
			lazy = strings.EqualFold(s, "lazy")
		case "width", "height":
			ownSize = false
		}
	}
	for _, at := range a.pic {
		if err := checkAttrName("picture", at.Name); err != nil {
			return "", err
		}
	}

	if c.field.Placeholders {
		view := *p
		view.Variants, _ = c.variants(p.Width, p.Height)
		p = &view
	}
	b := make([]byte, 0, 2048)
	if a.placeholder != placeholderNone {
		b = appendPlaceholderLayer(b, p, a.placeholder)
	}
	b = append(b, "<picture"...)
	if b, err = appendAttrs(b, a.pic); err != nil {
		return "", err
	}
	b = append(b, '>')
	var sizesBuf [512]byte
	sizes := c.sizesOf(a, sizesBuf[:0])
	art := len(ranges) > 1
	// Widest range first: browsers take the first <source> whose media
	// matches, and the narrowest range needs none.
	for i := len(ranges) - 1; i >= 0; i-- {
		rr := c.ratios[ranges[i].ratio]
		urls := c.variantURLs(p, rr)
		if c.field.Placeholders {
			urls.placeholder, urls.alt = true, a.alt
		}
		src := sourceAttrs{sizes: sizes, lazy: lazy}
		if art {
			src.w, src.h = rr.CropSize(p.Width, p.Height)
			if i > 0 {
				src.minWidth = int(ranges[i].lo)
			}
		}
		hasJPEG := false
		for _, t := range c.types {
			hasJPEG = hasJPEG || t == jpegType
			b = src.append(b, &urls, t, p.widths(rr, t.Name))
		}
		if art && i > 0 && !hasJPEG {
			// Browsers without AVIF get this range's crop too.
			if fw := c.fallbackWidth(rr, p.widths(rr, jpegType.Name)); fw != 0 {
				b = src.append(b, &urls, jpegType, []int{fw})
			}
		}
	}
	r := c.ratios[ranges[0].ratio]
	width, height := r.CropSize(p.Width, p.Height)
	b = append(b, `<img src="`...)
	switch fw := c.fallbackWidth(r, p.widths(r, jpegType.Name)); {
	case fw != 0:
		urls := c.variantURLs(p, r)
		if c.field.Placeholders {
			urls.placeholder, urls.alt = true, a.alt
		}
		b = urls.append(b, fw, jpegType.Ext, false)
	case p.Preview != "":
		b = appendURL(b, p.Preview, false)
	default:
		b = appendPlaceholderSVG(b, width, height)
	}
	b = append(b, `" alt="`...)
	b = appendEscaped(b, a.alt)
	b = append(b, '"')
	if ownSize {
		b = appendSize(b, width, height)
	}
	if b, err = appendAttrs(b, a.img); err != nil {
		return "", err
	}
	b = append(b, "></picture>"...)
	if a.placeholder != placeholderNone {
		b = append(b, "</span>"...)
	}
	return template.HTML(b), nil
}

// A placeholderKind is a value of the helper's "placeholder" argument.
type placeholderKind uint8

const (
	placeholderNone placeholderKind = iota
	placeholderBlur
	placeholderColor
)

func parsePlaceholder(v any) (placeholderKind, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf(`%w: placeholder is a %T, want "blur", "color" or "none"`, ErrInvalidArgument, v)
	}
	switch s {
	case "", "none":
		return placeholderNone, nil
	case "blur":
		return placeholderBlur, nil
	case "color":
		return placeholderColor, nil
	}
	return 0, fmt.Errorf(`%w: placeholder is %q, want "blur", "color" or "none"`, ErrInvalidArgument, s)
}

// appendPlaceholderLayer opens the wrapper of a picture rendered with a
// placeholder, and appends the placeholder's <img> (see Render): the
// preview, or a GIF of the dominant colour, both data: URLs, so that the
// placeholder costs no request. There is none while the picture has no
// variant (its <img> shows the preview), or nothing to show.
func appendPlaceholderLayer(b []byte, p *Picture, kind placeholderKind) []byte {
	b = append(b, `<span class="pictures-placeholder">`...)
	if len(p.Variants) == 0 {
		return b
	}
	switch kind {
	case placeholderBlur:
		if isDataImage(p.Preview) {
			b = append(b, `<img class="pictures-placeholder-blur" src="`...)
			b = appendURL(b, p.Preview, false)
			b = append(b, `" alt="">`...)
		}
	case placeholderColor:
		if rgb, ok := parseColor(p.Color); ok {
			b = append(b, `<img class="pictures-placeholder-color" src="`...)
			b = appendColorGIF(b, rgb)
			b = append(b, `" alt="">`...)
		}
	}
	return b
}

// isDataImage reports whether u is a data:image/ URL that appendURL keeps:
// an image that needs no request.
func isDataImage(u string) bool {
	return len(u) > len("data:image/") && strings.EqualFold(u[:len("data:image/")], "data:image/") && safeURL(u)
}

// sourceAttrs are the attributes the <source> elements of one viewport
// range share.
type sourceAttrs struct {
	minWidth int    // media="(min-width: …px)" when > 0
	w, h     int    // width and height when > 0 (art direction)
	sizes    []byte // the sizes value
	lazy     bool   // sizes starts with "auto, "
}

// append appends a <source> of type t listing widths ws, if there are any.
func (s *sourceAttrs) append(b []byte, urls *variantURLs, t FileType, ws []int) []byte {
	if len(ws) == 0 {
		return b
	}
	b = append(b, `<source`...)
	if s.minWidth > 0 {
		b = append(b, ` media="(min-width: `...)
		b = strconv.AppendInt(b, int64(s.minWidth), 10)
		b = append(b, `px)"`...)
	}
	b = append(b, ` type="`...)
	b = append(b, t.MIME...)
	b = append(b, `" srcset="`...)
	b = appendSrcset(b, urls, t, ws)
	b = append(b, `" sizes="`...)
	if s.lazy {
		b = append(b, "auto, "...)
	}
	b = append(b, s.sizes...)
	b = append(b, '"')
	if s.w > 0 {
		b = appendSize(b, s.w, s.h)
	}
	return append(b, '>')
}

// appendSrcset appends the srcset candidates of widths ws in type t.
func appendSrcset(b []byte, urls *variantURLs, t FileType, ws []int) []byte {
	for i, w := range ws {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = urls.append(b, w, t.Ext, true)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(w), 10)
		b = append(b, 'w')
	}
	return b
}

func appendSize(b []byte, w, h int) []byte {
	b = append(b, ` width="`...)
	b = strconv.AppendInt(b, int64(w), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(h), 10)
	return append(b, '"')
}

// checkAttrName refuses attribute names that are not plain, event handlers
// (which would run their value as script) and the attributes the helper
// computes itself.
func checkAttrName(elem, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty %s attribute name", ErrInvalidArgument, elem)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.')) {
			return fmt.Errorf("%w: %s attribute name %q is not a plain name", ErrInvalidArgument, elem, name)
		}
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "on") {
		return fmt.Errorf("%w: %s attribute %q is an event handler; attach scripts from a script file", ErrInvalidArgument, elem, name)
	}
	switch lower {
	case "src", "srcset", "sizes", "alt", "type":
		return fmt.Errorf("%w: %s attribute %q is computed by the helper (use \"alt\" for the alt text)", ErrInvalidArgument, elem, name)
	}
	return nil
}

func appendAttrs(b []byte, attrs []Attr) ([]byte, error) {
	for _, at := range attrs {
		var s string
		switch v := at.Value.(type) {
		case bool:
			if v {
				b = append(b, ' ')
				b = append(b, at.Name...)
			}
			continue
		case nil:
			continue
		case string:
			s = v
		case float32:
			s = strconv.FormatFloat(float64(v), 'g', -1, 32)
		case float64:
			s = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			if n, ok := intValue(v); ok {
				s = strconv.Itoa(n)
			} else if st, ok := v.(fmt.Stringer); ok {
				s = st.String()
			} else {
				return b, fmt.Errorf("%w: attribute %q is a %T, want a string, number or bool", ErrInvalidArgument, at.Name, v)
			}
		}
		b = append(b, ' ')
		b = append(b, at.Name...)
		b = append(b, `="`...)
		b = appendEscaped(b, s)
		b = append(b, '"')
	}
	return b, nil
}

// appendEscaped appends s escaped for a quoted HTML attribute value.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case 0:
			esc = "\uFFFD"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// appendURL appends u, normalized and escaped for a quoted src or srcset
// attribute: characters that are not allowed in URLs are percent-encoded,
// commas too in a srcset (where they separate candidates), and an unsafe
// scheme (anything but http, https and data:image/) is replaced by
// "#ZgotmplZ", as html/template does.
func appendURL(b []byte, u string, srcset bool) []byte {
	if !safeURL(u) {
		return append(b, "#ZgotmplZ"...)
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b = append(b, c)
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '\'':
			b = append(b, "&#39;"...)
		case c == ',' && srcset:
			b = append(b, "%2C"...)
		case c == '%' && i+2 < len(u) && isHex(u[i+1]) && isHex(u[i+2]):
			b = append(b, c)
		case strings.IndexByte("-._~:/?#[]@!$()*+,;=", c) >= 0:
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// safeURL reports whether u is relative, http(s), or a data:image/ URL
// other than SVG from an untrusted source.
func safeURL(u string) bool {
	i := strings.IndexAny(u, ":/?#")
	if i < 0 || u[i] != ':' {
		return true // no scheme
	}
	switch scheme := strings.ToLower(u[:i]); scheme {
	case "http", "https":
		return true
	case "data":
		rest := strings.ToLower(u[i+1:])
		return strings.HasPrefix(rest, "image/") && !strings.HasPrefix(rest, "image/svg")
	}
	return false
}

// appendPlaceholderSVG appends a transparent SVG of the given shape as a
// data URL, so that an unprocessed picture keeps its place in the layout.
func appendPlaceholderSVG(b []byte, width, height int) []byte {
	b = append(b, "data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22%20viewBox=%220%200%20"...)
	b = strconv.AppendInt(b, int64(width), 10)
	b = append(b, "%20"...)
	b = strconv.AppendInt(b, int64(height), 10)
	return append(b, "%22/%3E"...)
}

// URL returns the URL of the narrowest variant of p at ratio with the given
// file type that is at least minWidth pixels wide, or the widest one if none
// is. If none of that type exists yet it returns the JPEG fallback's URL,
// and "" if there is nothing to show yet. It is the template helper
// picture_url, for places that cannot use <picture> (e-mails, og:image).
func URL(p Picture, ratio, fileType string, minWidth int) (string, error) {
	if p.IsZero() {
		return "", nil
	}
	c, err := lookup(p.Field)
	if err != nil {
		return "", err
	}
	r, err := c.declaredRatio(ratio)
	if err != nil {
		return "", err
	}
	t, ok := lookupFileType(fileType)
	if !ok {
		return "", fmt.Errorf("%w: file type %q (want one of "+supportedFileTypes+")", ErrInvalidArgument, fileType)
	}
	ws := p.widths(r, t.Name)
	if len(ws) == 0 {
		return c.fallbackURL(&p, r), nil
	}
	w := ws[len(ws)-1]
	for _, cand := range ws {
		if cand >= minWidth {
			w = cand
			break
		}
	}
	return c.storage.URL(VariantKey(p.Key, r, w, t.Ext)), nil
}

// variantURLs builds the URLs of one picture's variants at one ratio.
type variantURLs struct {
	c    *compiled
	p    *Picture
	r    Ratio
	stem string // URL of the key's stem, when the storage is a URLBaser

	placeholder bool   // link to PlaceholderHandler instead
	alt         string // the placeholder's label
}

func (c *compiled) variantURLs(p *Picture, r Ratio) variantURLs {
	u := variantURLs{c: c, p: p, r: r}
	if b, ok := c.storage.(URLBaser); ok && b.URLBase() != "" {
		u.stem = c.storage.URL(stem(p.Key))
	}
	return u
}

// append appends the URL of the variant of width w in format ext to b,
// escaped for an attribute (see appendURL).
func (u *variantURLs) append(b []byte, w int, ext string, srcset bool) []byte {
	if u.placeholder {
		return appendPlaceholderURL(b, u.alt, u.r.of(u.p.Width, u.p.Height), w, ext)
	}
	if u.stem == "" {
		return appendURL(b, u.c.storage.URL(VariantKey(u.p.Key, u.r, w, ext)), srcset)
	}
	return u.appendSuffix(appendURL(b, u.stem, srcset), w, ext)
}

// appendRaw appends the URL as the storage gives it, unescaped.
func (u *variantURLs) appendRaw(b []byte, w int, ext string) []byte {
	if u.stem == "" {
		return append(b, u.c.storage.URL(VariantKey(u.p.Key, u.r, w, ext))...)
	}
	return u.appendSuffix(append(b, u.stem...), w, ext)
}

// appendSuffix appends "/W_H/123w.ext", which needs no escaping.
func (u *variantURLs) appendSuffix(b []byte, w int, ext string) []byte {
	return appendVariantPath(b, u.r, w, ext)
}
