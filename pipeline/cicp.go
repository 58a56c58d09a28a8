package pipeline

import "fmt"

// CICP colour descriptions (ITU-T H.273), which AVIF files give in nclx
// colr boxes (see avifColour), as the profiles they stand for.

// cicp holds the colour description of an AVIF's nclx box.
type cicp struct {
	primaries, transfer int
}

// Chromaticities (x, y) of CICP colour primaries (ITU-T H.273).
var cicpPrimaries = map[int][8]float64{
	9:  {0.708, 0.292, 0.170, 0.797, 0.131, 0.046, 0.3127, 0.3290}, // BT.2020
	12: {0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290}, // Display P3 (SMPTE EG 432-1)
}

// cicpProfile builds the matrix/TRC profile of a CICP description, or nil
// for sRGB (primaries 1 or 2, unspecified) and what is not supported.
func cicpProfile(c cicp) (*profile, error) {
	if c.primaries == 1 || c.primaries == 2 {
		if c.transfer == 13 || c.transfer == 2 || c.transfer == 1 || c.transfer == 6 {
			return nil, nil // sRGB, as browsers show it
		}
	}
	prim, ok := cicpPrimaries[c.primaries]
	if c.primaries == 1 || c.primaries == 2 {
		prim, ok = [8]float64{0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290}, true
	}
	var trc curve
	switch c.transfer {
	case 13, 2, 1, 6, 14, 15:
		// sRGB; and the BT.709 family, which browsers show as sRGB.
		trc = paraCurve{typ: 3, g: 2.4, a: 1 / 1.055, b: 0.055 / 1.055, c: 1 / 12.92, d: 0.04045}
	case 8:
		trc = identityCurve{}
	default:
		ok = false
	}
	if !ok {
		return nil, fmt.Errorf("%w: AVIF colour primaries %d, transfer %d", errUnsupportedProfile, c.primaries, c.transfer)
	}
	return &profile{space: "RGB ", pcs: "XYZ ", trc: []curve{trc, trc, trc}, matrix: primariesD50(prim)}, nil
}

// primariesD50 returns the RGB to XYZ matrix of chromaticities
// (red, green, blue, white), adapted to D50 with the Bradford transform,
// as ICC colorant tags hold it.
func primariesD50(p [8]float64) [9]float64 {
	xyz := func(x, y float64) [3]float64 { return [3]float64{x / y, 1, (1 - x - y) / y} }
	r, g, b, w := xyz(p[0], p[1]), xyz(p[2], p[3]), xyz(p[4], p[5]), xyz(p[6], p[7])
	m := [9]float64{r[0], g[0], b[0], r[1], g[1], b[1], r[2], g[2], b[2]}
	s0, s1, s2 := mul3(invert3(m), w[0], w[1], w[2])
	rgb2xyz := [9]float64{
		m[0] * s0, m[1] * s1, m[2] * s2,
		m[3] * s0, m[4] * s1, m[5] * s2,
		m[6] * s0, m[7] * s1, m[8] * s2,
	}
	return mulMat3(bradford(w, d50), rgb2xyz)
}

// bradford returns the Bradford adaptation from white src to white dst.
func bradford(src, dst [3]float64) [9]float64 {
	mb := [9]float64{0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296}
	sr, sg, sb := mul3(mb, src[0], src[1], src[2])
	dr, dg, db := mul3(mb, dst[0], dst[1], dst[2])
	d := [9]float64{dr / sr, 0, 0, 0, dg / sg, 0, 0, 0, db / sb}
	return mulMat3(invert3(mb), mulMat3(d, mb))
}
