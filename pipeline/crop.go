package pipeline

import (
	"image"
	"math"
)

// CropRect returns the cw x ch rectangle of a w x h image that keeps the
// focal point (fx, fy), given as fractions of the width and height, as
// close to its centre as the image's edges allow. (0.5, 0.5) is a centre
// crop.
func CropRect(w, h, cw, ch int, fx, fy float64) image.Rectangle {
	if !(fx >= 0 && fx <= 1) { // also NaN
		fx = 0.5
	}
	if !(fy >= 0 && fy <= 1) {
		fy = 0.5
	}
	cw, ch = min(cw, w), min(ch, h)
	x := clampInt(int(math.Round(fx*float64(w)-float64(cw)/2)), 0, w-cw)
	y := clampInt(int(math.Round(fy*float64(h)-float64(ch)/2)), 0, h-ch)
	return image.Rect(x, y, x+cw, y+ch)
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
