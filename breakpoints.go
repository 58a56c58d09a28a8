package pictures

import (
	"fmt"
	"slices"
	"strings"
)

// A Breakpoint is a named viewport min-width, in CSS pixels, at which a
// layout may change its number of grid columns (Bootstrap's xs, s, m, ...).
type Breakpoint struct {
	Name  string
	Width int
}

// DefaultBreakpoints are the breakpoints used when PictureField.Breakpoints
// is empty: xs 576, s 768, m 992, l 1200, xl 1400.
//
// The first breakpoint covers every viewport below the second one, from 0 px.
var DefaultBreakpoints = []Breakpoint{
	{Name: "xs", Width: 576},
	{Name: "s", Width: 768},
	{Name: "m", Width: 992},
	{Name: "l", Width: 1200},
	{Name: "xl", Width: 1400},
}

// maxBreakpoints bounds the breakpoints of a field; it keeps the per-render
// column table on the stack.
const maxBreakpoints = 16

func byWidth(a, b Breakpoint) int { return a.Width - b.Width }

// breakpoints returns the field's breakpoints ordered by width, checked.
// It allocates only when the configured ones are not already in order.
func (f *PictureField) breakpoints() ([]Breakpoint, error) {
	bps := f.Breakpoints
	if len(bps) == 0 {
		return DefaultBreakpoints, nil
	}
	if len(bps) > maxBreakpoints {
		return nil, configErrorf(f, "Breakpoints", len(bps), "has %d breakpoints, at most %d are supported", len(bps), maxBreakpoints)
	}
	if !slices.IsSortedFunc(bps, byWidth) {
		bps = slices.Clone(bps)
		slices.SortStableFunc(bps, byWidth)
	}
	for i, bp := range bps {
		if bp.Name == "" || strings.ContainsAny(bp.Name, " \t\n\"'<>=&") || strings.HasPrefix(bp.Name, "img_") || strings.HasPrefix(bp.Name, "picture_") {
			return nil, configErrorf(f, "Breakpoints", bp.Name, "breakpoint name %q is not a plain word", bp.Name)
		}
		if reservedArgs[bp.Name] {
			return nil, configErrorf(f, "Breakpoints", bp.Name, "breakpoint name %q is reserved for the picture helper", bp.Name)
		}
		if bp.Width <= 0 {
			return nil, configErrorf(f, "Breakpoints", bp.Width, "breakpoint %q has width %d, want > 0", bp.Name, bp.Width)
		}
		for _, prev := range bps[:i] {
			if prev.Name == bp.Name {
				return nil, configErrorf(f, "Breakpoints", bp.Name, "breakpoint %q is declared twice", bp.Name)
			}
			if prev.Width == bp.Width {
				return nil, configErrorf(f, "Breakpoints", bp.Width, "breakpoints %q and %q have the same width %d", prev.Name, bp.Name, bp.Width)
			}
		}
	}
	return bps, nil
}

// breakpointIndex returns the index of the named breakpoint in bps.
func breakpointIndex(bps []Breakpoint, name string) int {
	for i, bp := range bps {
		if bp.Name == name {
			return i
		}
	}
	return -1
}

func breakpointNames(bps []Breakpoint) string {
	var b strings.Builder
	for i, bp := range bps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(bp.Name)
	}
	return b.String()
}

func unknownBreakpoint(bps []Breakpoint, name string) error {
	return fmt.Errorf("%w %q (valid: %s)", ErrUnknownBreakpoint, name, breakpointNames(bps))
}
