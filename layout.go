package pictures

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A Layout says how wide a picture is painted at every viewport width: per
// breakpoint, the grid columns it spans, a fixed CSS width or a share of the
// viewport; the container, gutters and padding that make that width exact;
// and, optionally, the aspect ratio shown from each breakpoint up (art
// direction).
//
// Each map is keyed by breakpoint name and applies from that breakpoint up
// to the next breakpoint that sets one of Columns, Widths or Viewport (the
// first breakpoint covers every viewport from 0 px). A breakpoint may set
// only one of the three. Where none is set, the picture spans every column.
//
// A Layout passed to Sizes or RenderOptions with only Container and Columns
// gives django-pictures' `sizes` (whole vw percentages, no gutters).
// Layouts declared on the field (PictureField.Layouts) are exact: their
// `sizes` use calc() where gutters or padding make the width depend on the
// viewport, and the field's width ladder is derived from them.
type Layout struct {
	// Container is the maximum content width in CSS pixels, padding
	// excluded. 0 means the field's ContainerWidth; Fluid means no maximum.
	Container int
	// Columns maps breakpoint names to the grid columns the picture spans
	// from that breakpoint up.
	Columns map[string]int
	// Widths maps breakpoint names to a fixed CSS width, in pixels, from
	// that breakpoint up (an avatar, a thumbnail).
	Widths map[string]int
	// Viewport maps breakpoint names to the share of the viewport width, in
	// percent, the picture spans from that breakpoint up, whatever the
	// container (a full-bleed hero is 100).
	Viewport map[string]int
	// Gutter is the space between two grid columns, in CSS pixels.
	Gutter int
	// Padding is the space between the viewport's edge and the content on
	// each side, in CSS pixels, on viewports narrower than the container.
	Padding int
	// Ratios maps breakpoint names to the aspect ratio shown from that
	// breakpoint up; each must be one of the field's AspectRatios. Below the
	// first one set, the "ratio" argument of the render call applies.
	// Different ratios at different breakpoints render one <source media>
	// per range (art direction).
	Ratios map[string]string
	// RatioChoices lists the ratios a render call may choose where Ratios
	// sets none (a feed that crops portraits to 4/5 and shows landscapes
	// whole). Defaults to every one of the field's AspectRatios. The
	// ladder of a ratio serves only the layouts that can show it.
	RatioChoices []string
}

// isLegacy reports whether l uses only what django-pictures' layouts have.
func (l Layout) isLegacy() bool {
	return len(l.Widths) == 0 && len(l.Viewport) == 0 && len(l.Ratios) == 0 && len(l.RatioChoices) == 0 && l.Gutter == 0 && l.Padding == 0
}

// Defaults of the ladder derived from layouts.
const (
	// DefaultMaxWaste is the largest ratio of the width a browser downloads
	// to the width it paints (times the device pixel ratio).
	DefaultMaxWaste = 1.2
	// DefaultMinViewport and DefaultMaxViewport bound the viewport widths,
	// in CSS pixels, the ladder serves: small phones to 2560 px screens.
	DefaultMinViewport = 320
	DefaultMaxViewport = 2560
)

// A segment is a range of viewport widths [lo, hi) over which a layout
// paints the picture a*v + b CSS pixels wide at viewport width v.
type segment struct {
	lo, hi float64 // hi is +Inf for the last segment
	a, b   float64
	ratio  int // index into compiled.ratios; -1: the render call's ratio
}

func (s segment) width(v float64) float64 { return s.a*v + s.b }

// A compiledLayout is a validated, normalised declared Layout.
type compiledLayout struct {
	name string
	segs []segment // ascending, adjacent, covering [0, +Inf)
	// choices marks, per ratio, whether a render call may choose it where
	// the layout sets no ratio.
	choices []bool
	sizes   string // the `sizes` value
	// artDirected is set when the layout shows different ratios at
	// different viewports; fixed when it sets a ratio for every viewport.
	artDirected, fixed bool
}

// ratioRanges returns the layout's ratio per viewport range, ascending,
// with -1 replaced by call, adjacent equal ratios merged.
func (l *compiledLayout) ratioRanges(call int, dst []segment) []segment {
	for _, s := range l.segs {
		if s.ratio < 0 {
			s.ratio = call
		}
		if n := len(dst); n > 0 && dst[n-1].ratio == s.ratio {
			dst[n-1].hi = s.hi
			continue
		}
		dst = append(dst, s)
	}
	return dst
}

// compileLadderSettings validates MaxWaste and the viewport range.
func (c *compiled) compileLadderSettings(f *PictureField) []error {
	var errs []error
	switch c.maxWaste = f.MaxWaste; {
	case c.maxWaste == 0:
		c.maxWaste = DefaultMaxWaste
	case !(c.maxWaste >= 1.05 && c.maxWaste <= 4):
		errs = append(errs, configErrorf(f, "MaxWaste", f.MaxWaste, "max waste %g is not between 1.05 and 4", f.MaxWaste))
	}
	c.minViewport, c.maxViewport = f.MinViewport, f.MaxViewport
	if c.minViewport == 0 {
		c.minViewport = DefaultMinViewport
	}
	if c.maxViewport == 0 {
		c.maxViewport = DefaultMaxViewport
	}
	if c.minViewport < 1 || c.maxViewport > maxContainer || c.minViewport >= c.maxViewport {
		errs = append(errs, configErrorf(f, "MinViewport", f.MinViewport, "viewport range %d to %d px is not within 1 to %d px", c.minViewport, c.maxViewport, maxContainer))
	}
	return errs
}

// compileLayouts validates f.Layouts into c.layouts.
func (c *compiled) compileLayouts(f *PictureField) []error {
	if len(f.Layouts) == 0 {
		return nil
	}
	var errs []error
	names := make([]string, 0, len(f.Layouts))
	for name := range f.Layouts {
		names = append(names, name)
	}
	slices.Sort(names)
	c.layouts = make(map[string]*compiledLayout, len(names))
	for _, name := range names {
		l, err := c.compileLayout(f, name, f.Layouts[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.layouts[name] = l
		c.layoutNames = append(c.layoutNames, name)
	}
	return errs
}

func (c *compiled) compileLayout(f *PictureField, name string, l Layout) (*compiledLayout, error) {
	option := "Layouts[" + strconv.Quote(name) + "]"
	bad := func(value any, format string, args ...any) error {
		return configErrorf(f, option, value, "layout %q: %s", name, fmt.Sprintf(format, args...))
	}
	if name == "" || strings.ContainsAny(name, " \t\n\"'<>=&") {
		return nil, configErrorf(f, "Layouts", name, "layout name %q is not a plain word", name)
	}
	container := c.container
	switch {
	case l.Container == Fluid:
		container = Fluid
	case l.Container < 0 || l.Container > maxContainer:
		return nil, bad(l.Container, "container %d is not between 1 and %d (or Fluid)", l.Container, maxContainer)
	case l.Container > 0:
		container = l.Container
	}
	if l.Gutter < 0 || l.Gutter > maxContainer {
		return nil, bad(l.Gutter, "gutter %d is not between 0 and %d", l.Gutter, maxContainer)
	}
	if l.Padding < 0 || l.Padding > maxContainer {
		return nil, bad(l.Padding, "padding %d is not between 0 and %d", l.Padding, maxContainer)
	}
	for _, m := range []struct {
		what string
		keys []string
	}{{"Columns", mapKeys(l.Columns)}, {"Widths", mapKeys(l.Widths)}, {"Viewport", mapKeys(l.Viewport)}, {"Ratios", mapKeys(l.Ratios)}} {
		for _, k := range m.keys {
			if breakpointIndex(c.breakpoints, k) < 0 {
				return nil, bad(k, "%s names breakpoint %q (valid: %s)", m.what, k, breakpointNames(c.breakpoints))
			}
		}
	}

	out := &compiledLayout{name: name, choices: make([]bool, len(c.ratios))}
	if len(l.RatioChoices) == 0 {
		for i := range out.choices {
			out.choices[i] = true
		}
	}
	for _, s := range l.RatioChoices {
		r, err := ParseRatio(s)
		if err != nil {
			return nil, bad(s, "RatioChoices: %v", err)
		}
		i := slices.Index(c.ratios, r)
		if i < 0 {
			return nil, bad(s, "RatioChoices: ratio %q is not one of the field's AspectRatios", s)
		}
		out.choices[i] = true
	}

	grid, gutter, pad := float64(c.grid), float64(l.Gutter), float64(l.Padding)
	type spec struct {
		kind byte // 'c' columns, 'w' fixed width, 'v' viewport share
		n    float64
	}
	cur, ratio := spec{'c', grid}, -1
	add := func(s segment) {
		if n := len(out.segs); n > 0 {
			if p := &out.segs[n-1]; p.a == s.a && p.b == s.b && p.ratio == s.ratio {
				p.hi = s.hi
				return
			}
		}
		out.segs = append(out.segs, s)
	}
	for i, bp := range c.breakpoints {
		set := 0
		if n, ok := l.Columns[bp.Name]; ok {
			if n < 1 || n > c.grid {
				return nil, bad(n, "columns at %q must be between 1 and %d, got %d", bp.Name, c.grid, n)
			}
			cur, set = spec{'c', float64(n)}, set+1
		}
		if n, ok := l.Widths[bp.Name]; ok {
			if n < 1 || n > maxContainer {
				return nil, bad(n, "width at %q must be between 1 and %d px, got %d", bp.Name, maxContainer, n)
			}
			cur, set = spec{'w', float64(n)}, set+1
		}
		if n, ok := l.Viewport[bp.Name]; ok {
			if n < 1 || n > 100 {
				return nil, bad(n, "viewport share at %q must be between 1 and 100 percent, got %d", bp.Name, n)
			}
			cur, set = spec{'v', float64(n)}, set+1
		}
		if set > 1 {
			return nil, bad(bp.Name, "breakpoint %q sets more than one of Columns, Widths and Viewport", bp.Name)
		}
		if s, ok := l.Ratios[bp.Name]; ok {
			r, err := ParseRatio(s)
			if err != nil {
				return nil, bad(s, "%v", err)
			}
			if ratio = slices.Index(c.ratios, r); ratio < 0 {
				return nil, bad(s, "ratio %q at %q is not one of the field's AspectRatios", s, bp.Name)
			}
		}
		lo, hi := float64(bp.Width), math.Inf(1)
		if i == 0 {
			lo = 0
		}
		if i+1 < len(c.breakpoints) {
			hi = float64(c.breakpoints[i+1].Width)
		}
		switch cur.kind {
		case 'w':
			add(segment{lo: lo, hi: hi, b: cur.n, ratio: ratio})
		case 'v':
			add(segment{lo: lo, hi: hi, a: cur.n / 100, ratio: ratio})
		default:
			// content(v) = min(v - 2 pad, container); the picture spans
			// n of the grid's columns and the n-1 gutters between them.
			n := cur.n
			fluid := segment{a: n / grid, b: -(2*pad+(grid-1)*gutter)*n/grid + (n-1)*gutter, ratio: ratio}
			fixed := segment{b: (float64(container)-(grid-1)*gutter)*n/grid + (n-1)*gutter, ratio: ratio}
			t := math.Inf(1) // the viewport from which the content is the container
			if container != Fluid {
				t = float64(container) + 2*pad
			}
			if t > lo {
				fluid.lo, fluid.hi = lo, min(hi, t)
				add(fluid)
			}
			if t < hi {
				fixed.lo, fixed.hi = max(lo, t), hi
				add(fixed)
			}
		}
	}
	for _, s := range out.segs {
		at := max(s.lo, float64(c.minViewport))
		if at < s.hi && s.width(at) < 1 {
			return nil, bad(l, "the picture is %.4g px wide at a %.0f px viewport", s.width(at), at)
		}
	}
	seen := map[int]bool{}
	for _, r := range out.ratioRanges(-1, nil) {
		seen[r.ratio] = true
	}
	out.artDirected = len(seen) > 1
	out.fixed = !seen[-1]
	out.sizes = string(appendLayoutSizes(nil, out.segs))
	return out, nil
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendLayoutSizes appends the `sizes` value of the segments: one
// "(max-width: …px) width" entry per range of viewports with the same
// width expression, the last without a condition. A range ends 0.02 px
// below the next breakpoint, so that fractional viewport widths (zoomed
// pages) fall in one range or the other.
func appendLayoutSizes(b []byte, segs []segment) []byte {
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		for i+1 < len(segs) && segs[i+1].a == s.a && segs[i+1].b == s.b {
			i++
			s.hi = segs[i].hi
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		if !math.IsInf(s.hi, 1) {
			b = append(b, "(max-width: "...)
			b = appendNumber(b, s.hi-0.02, 2)
			b = append(b, "px) "...)
		}
		b = appendWidthExpr(b, s.a, s.b)
	}
	return b
}

// appendWidthExpr appends a*100vw + b px as a CSS length.
func appendWidthExpr(dst []byte, a, b float64) []byte {
	switch {
	case a == 0:
		return append(appendNumber(dst, b, 2), "px"...)
	case math.Abs(b) < 0.005:
		return append(appendNumber(dst, a*100, 4), "vw"...)
	}
	dst = append(dst, "calc("...)
	dst = append(appendNumber(dst, a*100, 4), "vw "...)
	if b < 0 {
		dst = append(dst, "- "...)
	} else {
		dst = append(dst, "+ "...)
	}
	dst = append(appendNumber(dst, math.Abs(b), 2), "px)"...)
	return dst
}

// appendNumber appends x with at most prec decimals, trailing zeros
// trimmed.
func appendNumber(b []byte, x float64, prec int) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, x, 'f', prec, 64)
	if i := slices.Index(b[n:], '.'); i >= 0 {
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
		if b[len(b)-1] == '.' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// layoutLadders derives, per declared ratio, the widths that serve every
// layout using it: for every viewport from minViewport to maxViewport and
// every device pixel ratio from the lowest density to the highest
// (fractional ones included), the narrowest candidate at least as wide as
// the picture's painted width times the ratio is at most maxWaste times
// that. Where a layout paints a fixed width over a range of viewports (at
// and above the container, an avatar), that width at 1x and 2x (the
// densities of desktop and laptop screens, where fixed widths are) is a
// candidate, so those screens download exactly what they paint. The other widths are taken from the top down, each as
// small as the one above allows, which spends the fewest pixels. It also
// returns, per ratio, the widest width painted at 1x (the JPEG fallback's
// target). A ratio no layout uses gets no widths.
func (c *compiled) layoutLadders() (ladders [][]int, targets []int) {
	ladders = make([][]int, len(c.ratios))
	targets = make([]int, len(c.ratios))
	lowD := float64(slices.Min(c.densities))
	highD := float64(c.maxDensity)
	vmin, vmax := float64(c.minViewport), float64(c.maxViewport)
	type interval struct{ lo, hi float64 }
	for ri := range c.ratios {
		var need []interval
		var anchors []int
		widest := 0.0
		for _, name := range c.layoutNames {
			for _, s := range c.layouts[name].segs {
				if s.ratio != ri && (s.ratio >= 0 || !c.layouts[name].choices[ri]) {
					continue
				}
				lo, hi := max(s.lo, vmin), min(s.hi, vmax)
				if lo > hi || (lo == hi && hi == s.hi) {
					continue
				}
				w0, w1 := s.width(lo), s.width(hi)
				need = append(need, interval{w0 * lowD, w1 * highD})
				widest = max(widest, w1)
				if s.a == 0 {
					for _, d := range c.densities {
						if d <= 2 { // 3x screens are phones, where widths are fluid
							anchors = append(anchors, int(math.Ceil(s.b*float64(d)-1e-9)))
						}
					}
				}
			}
		}
		if len(need) == 0 {
			continue
		}
		targets[ri] = int(math.Ceil(widest - 1e-9))
		slices.Sort(anchors)
		anchors = slices.Compact(anchors)
		// below returns the narrowest anchor in [lo, hi), or 0.
		below := func(lo, hi float64) int {
			i, _ := slices.BinarySearch(anchors, int(math.Ceil(lo-1e-9)))
			if i < len(anchors) && float64(anchors[i]) < hi {
				return anchors[i]
			}
			return 0
		}
		// Cover the needed widths from the top down. front is the narrowest
		// candidate so far; it serves every need from front/maxWaste up.
		slices.SortFunc(need, func(x, y interval) int { return cmpFloat(y.hi, x.hi) })
		ws := anchors
		front := math.Inf(1)
		for _, iv := range need {
			for {
				hi := min(iv.hi, front/c.maxWaste)
				if a := below(hi, front); a != 0 {
					front = float64(a) // a candidate anyway: it serves from a/maxWaste up
					continue
				}
				if hi < iv.lo {
					break // served by wider candidates
				}
				w := math.Ceil(hi - 1e-9)
				ws = append(ws, int(w))
				front = w
				if w/c.maxWaste <= iv.lo {
					break
				}
			}
		}
		slices.Sort(ws)
		ladders[ri] = slices.Compact(ws)
	}
	return ladders, targets
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// layoutWidths appends to dst the widths of ladder a width x height source
// can serve at ratio r: those that need no upscaling, and the source's full
// crop width as the widest when the ladder asks for more.
func layoutWidths(dst []int, ladder []int, width, height int, r Ratio) []int {
	cropW, cropH := r.CropSize(width, height)
	if cropW < 1 || cropH < 1 {
		return dst
	}
	start := len(dst)
	for _, w := range ladder {
		if w > cropW {
			break
		}
		if r.Height(w, width, height) >= 1 {
			dst = append(dst, w)
		}
	}
	if n := len(ladder); n > 0 && ladder[n-1] > cropW && (len(dst) == start || dst[len(dst)-1] < cropW) {
		dst = append(dst, cropW)
	}
	return dst
}

// layout returns the named declared layout.
func (c *compiled) layout(name string) (*compiledLayout, error) {
	if l, ok := c.layouts[name]; ok {
		return l, nil
	}
	valid := "none declared"
	if len(c.layoutNames) > 0 {
		valid = "valid: " + strings.Join(c.layoutNames, ", ")
	}
	return nil, fmt.Errorf("%w %q (%s)", ErrUnknownLayout, name, valid)
}

// LayoutSizes returns the `sizes` attribute of the named declared layout:
// the exact width the picture is painted at on every viewport.
func (f *PictureField) LayoutSizes(name string) (string, error) {
	c, err := f.config()
	if err != nil {
		return "", err
	}
	l, err := c.layout(name)
	if err != nil {
		return "", err
	}
	return l.sizes, nil
}
