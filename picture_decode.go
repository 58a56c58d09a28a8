package pictures

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// decodeStored is the fast path of Picture.Scan: a decoder of exactly the
// JSON that Value writes (any spacing, any key order). It reports false for
// anything else (escaped strings, unknown keys, other types), and Scan then
// uses encoding/json, so it never decides what is valid: FuzzPictureScan
// checks that both always agree. Pages decode a Picture per row; this is
// several times faster than encoding/json.
func decodeStored(b []byte, s *stored) bool {
	d := decoder{b: b}
	return d.object(func(key string) (ok bool) {
		switch key {
		case "field":
			s.Field, ok = d.str()
		case "key":
			s.Key, ok = d.str()
		case "original":
			s.Original, ok = d.str()
		case "version":
			s.Version, ok = d.str()
		case "preview":
			s.Preview, ok = d.str()
		case "color":
			s.Color, ok = d.str()
		case "width":
			s.Width, ok = d.int()
		case "height":
			s.Height, ok = d.int()
		case "focus":
			f := &FocalPoint{}
			ok = d.object(func(key string) (ok bool) {
				switch key {
				case "X":
					f.X, ok = d.float()
				case "Y":
					f.Y, ok = d.float()
				}
				return ok
			})
			s.Focus = f
		case "variants":
			s.Variants = make([]storedVariant, 0, 8) // a repeated key replaces, as in encoding/json
			ok = d.array(func() bool {
				var v storedVariant
				ok := d.object(func(key string) (ok bool) {
					switch key {
					case "ratio":
						v.Ratio, ok = d.str()
					case "type":
						v.Type, ok = d.str()
					case "widths":
						v.Widths = make([]int, 0, 8)
						ok = d.array(func() bool {
							n, ok := d.int()
							v.Widths = append(v.Widths, n)
							return ok
						})
					}
					return ok
				})
				s.Variants = append(s.Variants, v)
				return ok
			})
		}
		return ok // unknown keys are left to encoding/json
	}) && d.end()
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) consume(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *decoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// str reads a string without escapes, control characters or invalid UTF-8
// (others are left to encoding/json).
func (d *decoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	end := bytes.IndexByte(d.b[d.i:], '"')
	if end < 0 {
		return "", false
	}
	raw := d.b[d.i : d.i+end]
	// One table lookup a byte, no branch: escapes and control characters
	// send the string to encoding/json, other bytes must be valid UTF-8.
	var class byte
	for _, c := range raw {
		class |= strClass[c]
	}
	if class&strEscape != 0 || class&strNonASCII != 0 && !utf8.Valid(raw) {
		return "", false
	}
	d.i += end + 1
	return internString(raw), true
}

// strClass classifies the bytes of a JSON string.
var strClass = func() (t [256]byte) {
	for c := range t {
		switch {
		case c < 0x20 || c == '\\':
			t[c] = strEscape
		case c >= 0x80:
			t[c] = strNonASCII
		}
	}
	return t
}()

const (
	strEscape   = 1 << iota // an escape or a control character: not for the fast path
	strNonASCII             // part of a multi-byte character
)

// internString avoids allocating for the few strings that repeat in every
// picture.
func internString(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "AVIF":
		return "AVIF"
	case "JPEG":
		return "JPEG"
	case "PNG":
		return "PNG"
	case "1/1":
		return "1/1"
	case "4/5":
		return "4/5"
	case "16/9":
		return "16/9"
	case "3/2":
		return "3/2"
	}
	return string(b)
}

// number returns the bytes of a JSON number.
func (d *decoder) number() []byte {
	d.space()
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
		default:
			return d.b[start:d.i]
		}
	}
	return d.b[start:d.i]
}

func (d *decoder) int() (int, bool) {
	n := d.number()
	// Plain integers only, as JSON writes them: -?(0|[1-9][0-9]*).
	digits := n
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	v := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if n[0] == '-' {
		v = -v
	}
	return v, true
}

func (d *decoder) float() (float64, bool) {
	n := d.number()
	if !jsonNumber(n) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(n), 64)
	return v, err == nil
}

// jsonNumber checks the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(n []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(n) && n[i] == '-' {
		i++
	}
	if i < len(n) && n[i] == '0' {
		i++
	} else if i < len(n) && n[i] >= '1' && n[i] <= '9' {
		digits()
	} else {
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(n)
}

// object reads a JSON object, calling field with each key, the decoder
// at its value; field reports whether it read the value.
func (d *decoder) object(field func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') || !field(key) {
			return false
		}
		if !d.consume(',') {
			return d.consume('}')
		}
	}
}

// array reads a JSON array, calling elem at each element.
func (d *decoder) array(elem func() bool) bool {
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !d.consume(',') {
			return d.consume(']')
		}
	}
}
