package pictures

import (
	"fmt"
	"slices"
	"strconv"
)

// Widths returns every srcset width generated for a width x height source
// (after EXIF orientation) at one of the field's declared aspect ratios,
// ascending and without duplicates.
//
// The ladder is the one of django-pictures, computed with exact fractions:
// container x k / grid columns for k = 1..columns, times each pixel density,
// keeping the widths that need no upscaling (w <= source width and
// w / ratio <= source height), floored. For a Fluid container the ladder is
// built on the widest breakpoint. Where the source is too small for the top of
// the ladder, its full-resolution crop is added as the largest width (unless
// it is within 10% of the widest one kept), so a small or phone-sized upload
// still gets its sharpest rendition, and a tiny one gets one at all.
//
// Widths does no I/O; it is safe to call at any time.
func (f *PictureField) Widths(width, height int, ratio string) ([]int, error) {
	c, err := f.config()
	if err != nil {
		return nil, err
	}
	return c.widths(width, height, ratio)
}

func (c *compiled) widths(width, height int, ratio string) ([]int, error) {
	if width < 1 || height < 1 || width > maxSourceLength || height > maxSourceLength {
		return nil, fmt.Errorf("%w: source size %dx%d is not between 1x1 and %dx%d", ErrInvalidArgument, width, height, maxSourceLength, maxSourceLength)
	}
	r, err := c.declaredRatio(ratio)
	if err != nil {
		return nil, err
	}
	return c.ladderWidths(nil, r, width, height), nil
}

// ladderWidths appends the srcset widths of ratio r for a width x height
// source: derived from the layouts when the field declares some, else
// django-pictures' ladder.
func (c *compiled) ladderWidths(dst []int, r Ratio, width, height int) []int {
	if c.ladders != nil {
		l := c.ladders[slices.Index(c.ratios, r)]
		return layoutWidths(slices.Grow(dst, len(l)+1), l, width, height, r)
	}
	return ladder(slices.Grow(dst, c.grid*len(c.densities)+1), width, height, r, c.ladderContainer(), c.grid, c.densities, c.maxDensity)
}

// ladder appends to dst the srcset widths described by Widths.
func ladder(dst []int, width, height int, r Ratio, container, grid int, densities []int, maxDensity int) []int {
	rr := r.of(width, height)
	sw, sh := int64(width), int64(height)
	c, g := int64(container), int64(grid)
	rw, rh := int64(rr.W), int64(rr.H)
	start := len(dst)
	for k := int64(1); k <= g; k++ {
		for _, d := range densities {
			num := c * k * int64(d) // the width is num / g, exactly
			if num > sw*g || num*rh > sh*rw*g {
				continue // would upscale
			}
			w := num / g
			if w < 1 || w*rh/rw < 1 {
				continue
			}
			dst = append(dst, int(w))
		}
	}
	out := dst[start:]
	slices.Sort(out)
	out = slices.Compact(out)
	dst = dst[:start+len(out)]

	// The source truncated the ladder: offer its full-resolution crop.
	cropW, _ := r.CropSize(width, height)
	if int64(cropW) < c*int64(maxDensity) && cropW >= 1 && int64(cropW)*rh/rw >= 1 {
		top := 0
		if len(out) > 0 {
			top = out[len(out)-1]
		}
		if cropW*10 >= top*11 {
			dst = append(dst, cropW)
		}
	}
	return dst
}

// Sizes returns the `sizes` attribute for a picture shown with layout l.
//
// Below the container width each range of viewports whose column count is the
// same gets `(min-width: A px) and (max-width: B px) N vw`, with N =
// floor(100 x columns / grid columns); at and above the container the picture
// has a fixed width, floor(container x columns / grid columns) px, which still
// changes at breakpoints above the container. The last entry has no media
// condition. An unknown breakpoint name is an error listing the valid ones.
//
// Sizes does no I/O; it is safe to call at any time.
func (f *PictureField) Sizes(l Layout) (string, error) {
	c, err := f.config()
	if err != nil {
		return "", err
	}
	return c.sizes(l)
}

func (c *compiled) sizes(l Layout) (string, error) {
	container, err := c.layoutContainer(l.Container)
	if err != nil {
		return "", err
	}
	var buf [maxBreakpoints]int
	cols := buf[:len(c.breakpoints)]
	for name, n := range l.Columns {
		i := breakpointIndex(c.breakpoints, name)
		if i < 0 {
			return "", unknownBreakpoint(c.breakpoints, name)
		}
		if err := checkColumns(name, n, c.grid); err != nil {
			return "", err
		}
		cols[i] = n
	}
	var out [256]byte
	return string(appendSizes(out[:0], c.breakpoints, cols, c.grid, container)), nil
}

// layoutContainer resolves a Layout.Container against the field's.
func (c *compiled) layoutContainer(n int) (int, error) {
	switch {
	case n == 0:
		return c.container, nil
	case n == Fluid:
		return Fluid, nil
	case n < 0 || n > maxContainer:
		return 0, fmt.Errorf("%w: container %d is not between 1 and %d (or Fluid)", ErrInvalidArgument, n, maxContainer)
	}
	return n, nil
}

func checkColumns(name string, n, grid int) error {
	if n < 1 || n > grid {
		return fmt.Errorf("%w: columns for breakpoint %q must be between 1 and %d, got %d", ErrInvalidArgument, name, grid, n)
	}
	return nil
}

// A sizesRange is one entry of a `sizes` attribute: viewports from lo to
// hi-1 CSS pixels (hi < 0: unbounded) show the picture at val vw, or val px
// when px is set.
type sizesRange struct {
	lo, hi int
	val    int
	px     bool
}

// appendSizes appends the `sizes` value to dst. cols holds the explicit
// column count per breakpoint, 0 where it is inherited.
func appendSizes(dst []byte, bps []Breakpoint, cols []int, grid, container int) []byte {
	var buf [2*maxBreakpoints + 1]sizesRange
	ranges := buf[:0]
	add := func(r sizesRange) {
		if n := len(ranges); n > 0 && ranges[n-1].px == r.px && ranges[n-1].val == r.val {
			ranges[n-1].hi = r.hi
			return
		}
		ranges = append(ranges, r)
	}
	n := grid
	for i, bp := range bps {
		if cols[i] != 0 {
			n = cols[i]
		}
		lo, hi := bp.Width, -1
		if i == 0 {
			lo = 0
		}
		if i+1 < len(bps) {
			hi = bps[i+1].Width
		}
		vw := sizesRange{lo: lo, hi: hi, val: n * 100 / grid}
		switch {
		case container == Fluid || (hi >= 0 && hi <= container):
			add(vw)
		default:
			px := sizesRange{lo: max(lo, container), hi: hi, val: container * n / grid, px: true}
			if lo < container {
				vw.hi = container
				add(vw)
			}
			add(px)
		}
	}
	for i, r := range ranges {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if i < len(ranges)-1 {
			dst = append(dst, "(min-width: "...)
			dst = strconv.AppendInt(dst, int64(r.lo), 10)
			dst = append(dst, "px) and (max-width: "...)
			dst = strconv.AppendInt(dst, int64(r.hi-1), 10)
			dst = append(dst, "px) "...)
		}
		dst = strconv.AppendInt(dst, int64(r.val), 10)
		if r.px {
			dst = append(dst, "px"...)
		} else {
			dst = append(dst, "vw"...)
		}
	}
	return dst
}
