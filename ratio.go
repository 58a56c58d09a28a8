package pictures

import (
	"fmt"
	"strconv"
	"strings"
)

// A Ratio is a reduced aspect ratio W/H. The zero Ratio stands for the
// source's own ratio.
type Ratio struct {
	W, H int
}

// ParseRatio parses "W/H" (for example "16/9"), reducing it: "32/18" gives
// 16/9. The empty string gives the zero Ratio, the original ratio.
func ParseRatio(s string) (Ratio, error) {
	if s == "" {
		return Ratio{}, nil
	}
	ws, hs, ok := strings.Cut(s, "/")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if !ok || errW != nil || errH != nil || w <= 0 || h <= 0 || ws[0] == '+' || hs[0] == '+' {
		return Ratio{}, fmt.Errorf("aspect ratio %q is not W/H", s)
	}
	if w > maxRatioTerm || h > maxRatioTerm {
		return Ratio{}, fmt.Errorf("aspect ratio %q has a term above %d", s, maxRatioTerm)
	}
	g := gcd(w, h)
	return Ratio{w / g, h / g}, nil
}

// IsOriginal reports whether r stands for the source's own ratio.
func (r Ratio) IsOriginal() bool { return r.W == 0 }

// String returns "W/H", or "" for the original ratio.
func (r Ratio) String() string {
	if r.IsOriginal() {
		return ""
	}
	return strconv.Itoa(r.W) + "/" + strconv.Itoa(r.H)
}

// Dir returns the ratio's folder in variant keys, "W_H", or "" for the
// original ratio.
func (r Ratio) Dir() string {
	if r.IsOriginal() {
		return ""
	}
	return strconv.Itoa(r.W) + "_" + strconv.Itoa(r.H)
}

// of returns r, or the reduced ratio of a width x height source when r is the
// original ratio.
func (r Ratio) of(width, height int) Ratio {
	if !r.IsOriginal() {
		return r
	}
	g := gcd(width, height)
	return Ratio{width / g, height / g}
}

// CropSize returns the largest width x height with ratio r that fits in a
// width x height source: the size of every variant's crop before resizing.
// For the original ratio it is the source size.
func (r Ratio) CropSize(width, height int) (w, h int) {
	if r.IsOriginal() {
		return width, height
	}
	// Compare width/height with r.W/r.H without division.
	if int64(width)*int64(r.H) > int64(height)*int64(r.W) {
		// The source is wider than r: keep the full height.
		return int(int64(height) * int64(r.W) / int64(r.H)), height
	}
	return width, int(int64(width) * int64(r.H) / int64(r.W))
}

// Height returns the height of a variant of the given width at ratio r,
// floor(width / ratio), for a width x height source.
func (r Ratio) Height(variantWidth, width, height int) int {
	rr := r.of(width, height)
	return int(int64(variantWidth) * int64(rr.H) / int64(rr.W))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
