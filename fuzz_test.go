package pictures

import (
	"regexp"
	"strconv"
	"testing"
)

// FuzzWidths checks the invariants of the width ladder for any source and
// any valid configuration: ascending, no duplicates, at least one pixel wide
// and high, never above the source (in width, or in height through the
// ratio), never above container x the largest density.
func FuzzWidths(f *testing.F) {
	f.Add(800, 600, 3, 2, 1200, 12, 1, 2, 0)
	f.Add(6000, 4000, 1, 1, 1200, 6, 1, 2, 0)
	f.Add(3000, 2000, 0, 0, 1200, 12, 1, 2, 0)
	f.Add(1080, 1350, 4, 5, 935, 3, 1, 2, 3)
	f.Add(1, 1, 16, 9, 1, 1, 1, 0, 0)
	f.Add(10, 1000, 16, 1, 1200, 12, 1, 2, 0)
	f.Add(5000, 5000, 0, 0, Fluid, 4, 1, 0, 0)
	f.Fuzz(func(t *testing.T, width, height, rw, rh, container, grid, d1, d2, d3 int) {
		ratio := ""
		if rw != 0 || rh != 0 {
			ratio = strconv.Itoa(rw) + "/" + strconv.Itoa(rh)
		}
		var ds []int
		for _, d := range []int{d1, d2, d3} {
			if d != 0 {
				ds = append(ds, d)
			}
		}
		field := PictureField{AspectRatios: []string{ratio}, ContainerWidth: container, GridColumns: grid, PixelDensities: ds}
		if field.Validate() != nil {
			t.Skip()
		}
		got, err := field.Widths(width, height, ratio)
		if err != nil {
			if width < 1 || height < 1 || width > maxSourceLength || height > maxSourceLength {
				return
			}
			t.Fatalf("Widths(%d, %d, %q): %v", width, height, ratio, err)
		}
		r, _ := ParseRatio(ratio)
		rr := r.of(width, height)
		c, _ := field.containerWidth()
		if c == Fluid {
			c = DefaultBreakpoints[len(DefaultBreakpoints)-1].Width
		}
		_, top, _ := field.densities()
		for i, w := range got {
			if i > 0 && w <= got[i-1] {
				t.Fatalf("widths %v are not strictly ascending", got)
			}
			if w < 1 || w > width {
				t.Fatalf("width %d is outside 1..%d (source width): %v", w, width, got)
			}
			if h := r.Height(w, width, height); h < 1 || h > height {
				t.Fatalf("width %d gives height %d, outside 1..%d: %v", w, h, height, got)
			}
			if int64(w)*int64(rr.H) > int64(height)*int64(rr.W) {
				t.Fatalf("width %d at ratio %v needs more than the source height %d", w, rr, height)
			}
			if w > c*top {
				t.Fatalf("width %d is above container %d x density %d: %v", w, c, top, got)
			}
		}
	})
}

var sizesEntry = regexp.MustCompile(`^\(min-width: (\d+)px\) and \(max-width: (\d+)px\) (\d+)(vw|px)$`)

// FuzzSizes checks that `sizes` covers every viewport once: ranges start at
// 0, follow each other without gap or overlap, and end in an unconditioned
// entry.
func FuzzSizes(f *testing.F) {
	f.Add(1200, 12, 0, 6, 0, 4, 0)
	f.Add(Fluid, 12, 6, 0, 0, 0, 0)
	f.Add(500, 12, 0, 0, 0, 0, 0)
	f.Add(1600, 3, 1, 2, 3, 1, 2)
	f.Add(992, 12, 0, 6, 4, 0, 0)
	f.Fuzz(func(t *testing.T, container, grid, xs, s, m, l, xl int) {
		field := PictureField{ContainerWidth: container, GridColumns: grid}
		if field.Validate() != nil {
			t.Skip()
		}
		cols := map[string]int{}
		for name, n := range map[string]int{"xs": xs, "s": s, "m": m, "l": l, "xl": xl} {
			if n != 0 {
				cols[name] = n
			}
		}
		got, err := field.Sizes(Layout{Columns: cols})
		if err != nil {
			return // columns out of range
		}
		entries := regexp.MustCompile(`, `).Split(got, -1)
		next := 0
		for i, e := range entries[:len(entries)-1] {
			m := sizesEntry.FindStringSubmatch(e)
			if m == nil {
				t.Fatalf("entry %d %q of %q is malformed", i, e, got)
			}
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			if lo != next || hi < lo {
				t.Fatalf("entry %q of %q does not start at %d", e, got, next)
			}
			next = hi + 1
		}
		last := entries[len(entries)-1]
		if !regexp.MustCompile(`^\d+(vw|px)$`).MatchString(last) {
			t.Fatalf("last entry %q of %q is not a bare length", last, got)
		}
	})
}
