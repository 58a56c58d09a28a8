package pictures

import (
	"fmt"
	"slices"
)

// Variants returns every variant the field generates for a width x height
// source (after EXIF orientation): for each declared ratio, each file type
// at every width of Widths; and, unless JPEG is one of the file types, one
// JPEG per ratio for <img src>, the fallback of browsers without AVIF, at
// the widest ladder width not above the container (see Render).
func (f *PictureField) Variants(width, height int) ([]VariantSet, error) {
	c, err := f.config()
	if err != nil {
		return nil, err
	}
	return c.variants(width, height)
}

func (c *compiled) variants(width, height int) ([]VariantSet, error) {
	if width < 1 || height < 1 || width > maxSourceLength || height > maxSourceLength {
		return nil, fmt.Errorf("%w: source size %dx%d is not between 1x1 and %dx%d", ErrInvalidArgument, width, height, maxSourceLength, maxSourceLength)
	}
	hasJPEG := false
	for _, t := range c.types {
		hasJPEG = hasJPEG || t == jpegType
	}
	var out []VariantSet
	for _, r := range c.ratios {
		ws := c.ladderWidths(nil, r, width, height)
		if len(ws) == 0 {
			continue
		}
		for _, t := range c.types {
			out = append(out, VariantSet{Ratio: r.String(), Type: t.Name, Widths: slices.Clone(ws)})
		}
		if !hasJPEG {
			out = append(out, VariantSet{Ratio: r.String(), Type: jpegType.Name, Widths: []int{c.fallbackWidth(r, ws)}})
		}
	}
	return out, nil
}
