package pictures

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/gopictures/pictures/pipeline"
)

// PlaceholderPath is the URL path under which PlaceholderHandler draws
// placeholders, and that fields with Placeholders set link to.
const PlaceholderPath = "/_pictures/"

// Placeholder limits: nobody needs a larger placeholder or a longer label,
// and a handler mounted on a public site must stay cheap whatever is asked
// of it: it draws GOMAXPROCS placeholders at once (other requests wait),
// and keeps the most recent drawings up to a total size.
const (
	maxPlaceholderSide  = 4096
	maxPlaceholderAlt   = 200 // bytes
	placeholderCacheMax = 16 << 20
)

// appendPlaceholderURL appends the placeholder URL of one variant:
// /_pictures/<alt>/<W>x<H>/<width>w.<ext>, W x H the reduced ratio.
func appendPlaceholderURL(b []byte, alt string, r Ratio, w int, ext string) []byte {
	if alt == "" {
		alt = "picture"
	}
	b = append(b, PlaceholderPath...)
	b = appendURL(b, url.PathEscape(alt), true)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(r.W), 10)
	b = append(b, 'x')
	b = strconv.AppendInt(b, int64(r.H), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(w), 10)
	b = append(b, "w."...)
	return append(b, ext...)
}

// PlaceholderHandler draws a placeholder for any ratio, width and format,
// at PlaceholderPath + "<alt>/<W>x<H>/<width>w.<avif|webp|jpeg|png>": a pastel
// image, its colour chosen by the alt text, crossed by two diagonals and
// labelled with the alt text and the size. Fields with Placeholders set
// link to it, so pages render during development without any processed
// file. Mount it at PlaceholderPath. Responses are cached (by browsers for
// a year, and here for the most recent drawings, up to 16 MB). It draws
// GOMAXPROCS placeholders at once, up to 4096 pixels a side, so that it
// stays cheap if it is left mounted on a public site.
func PlaceholderHandler() http.Handler {
	return &placeholderHandler{draws: make(chan struct{}, runtime.GOMAXPROCS(0)), cache: map[string][]byte{}}
}

type placeholderHandler struct {
	draws chan struct{} // placeholders being drawn

	mu    sync.Mutex
	cache map[string][]byte
	order []string
	bytes int // of the cache's keys and bodies
}

func (h *placeholderHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Split the escaped path: the alt text may hold an escaped "/".
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), PlaceholderPath)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	alt, err := url.PathUnescape(parts[0])
	if err != nil || len(alt) > maxPlaceholderAlt {
		http.NotFound(w, r)
		return
	}
	rw, rh, ok1 := parseRatioWxH(parts[1])
	width, typ, ok2 := parseVariantName(parts[2])
	if !ok1 || !ok2 || width < 1 || width > maxPlaceholderSide {
		http.NotFound(w, r)
		return
	}
	height := int(int64(width) * int64(rh) / int64(rw))
	if height < 1 || height > maxPlaceholderSide {
		http.NotFound(w, r)
		return
	}
	id := r.URL.Path
	h.mu.Lock()
	body, hit := h.cache[id]
	h.mu.Unlock()
	if !hit {
		select {
		case h.draws <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		var buf bytes.Buffer
		opts := pipeline.Encoding{AVIFQuality: 40, AVIFSpeed: 10}
		err := pipeline.Encode(r.Context(), &buf, typ.Name, drawPlaceholder(alt, width, height), opts)
		<-h.draws
		if err != nil {
			http.Error(w, "cannot draw placeholder", http.StatusInternalServerError)
			return
		}
		body = buf.Bytes()
		h.remember(id, body)
	}
	w.Header().Set("Content-Type", typ.MIME)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// remember caches a drawing, forgetting the oldest ones beyond the
// cache's size.
func (h *placeholderHandler) remember(id string, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.cache[id]; dup || len(body) > placeholderCacheMax/4 {
		return
	}
	h.cache[id] = body
	h.order = append(h.order, id)
	h.bytes += len(id) + len(body)
	for h.bytes > placeholderCacheMax {
		h.bytes -= len(h.order[0]) + len(h.cache[h.order[0]])
		delete(h.cache, h.order[0])
		h.order = h.order[1:]
	}
}

func parseRatioWxH(s string) (w, h int, ok bool) {
	ws, hs, found := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	return w, h, found && err1 == nil && err2 == nil && w > 0 && h > 0 && w <= maxRatioTerm && h <= maxRatioTerm
}

func parseVariantName(s string) (width int, t FileType, ok bool) {
	name, ext, found := strings.Cut(s, ".")
	num, isW := strings.CutSuffix(name, "w")
	width, err := strconv.Atoi(num)
	if !found || !isW || err != nil {
		return 0, FileType{}, false
	}
	for _, ft := range fileTypes {
		if ft.Ext == ext {
			return width, ft, true
		}
	}
	return 0, FileType{}, false
}

// drawPlaceholder draws the placeholder image.
func drawPlaceholder(alt string, w, h int) *image.RGBA {
	hf := fnv.New32a()
	hf.Write([]byte(alt))
	hue := float64(hf.Sum32() % 360)
	bg, fg := hsl(hue, 0.4, 0.8), hsl(hue, 0.6, 0.2)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, 255
	}
	thick := max(1, min(w, h)/150)
	steps := max(w, h)
	for i := 0; i <= steps; i++ {
		x := i * (w - 1) / max(steps, 1)
		y := i * (h - 1) / max(steps, 1)
		for d := -thick; d <= thick; d++ {
			setClamped(img, x+d, y, fg)
			setClamped(img, x+d, h-1-y, fg)
		}
	}
	// The label, drawn in the 7x13 bitmap font, then scaled up to about
	// 60% of the width.
	label := fmt.Sprintf("%s  %dx%d", alt, w, h)
	if r := []rune(label); len(r) > 60 {
		label = string(r[:60])
	}
	face := basicfont.Face7x13
	tw := font.MeasureString(face, label).Ceil() + 4
	text := image.NewRGBA(image.Rect(0, 0, tw, 17))
	for i := 0; i < len(text.Pix); i += 4 {
		text.Pix[i], text.Pix[i+1], text.Pix[i+2], text.Pix[i+3] = bg.R, bg.G, bg.B, 255
	}
	d := font.Drawer{Dst: text, Src: image.NewUniform(fg), Face: face, Dot: fixed.P(2, 13)}
	d.DrawString(label)
	scale := max(1, int(math.Floor(float64(w)*0.6/float64(tw))))
	scale = min(scale, max(1, h/(17*2)))
	ox, oy := (w-tw*scale)/2, (h-17*scale)/2
	for y := 0; y < 17*scale; y++ {
		for x := 0; x < tw*scale; x++ {
			c := text.RGBAAt(x/scale, y/scale)
			setClamped(img, ox+x, oy+y, c)
		}
	}
	return img
}

func setClamped(img *image.RGBA, x, y int, c color.RGBA) {
	if image.Pt(x, y).In(img.Rect) {
		img.SetRGBA(x, y, c)
	}
}

func hsl(h, s, l float64) color.RGBA {
	c := (1 - math.Abs(2*l-1)) * s
	hp := h / 60
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch {
	case hp < 1:
		r, g = c, x
	case hp < 2:
		r, g = x, c
	case hp < 3:
		g, b = c, x
	case hp < 4:
		g, b = x, c
	case hp < 5:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := l - c/2
	return color.RGBA{uint8((r + m) * 255), uint8((g + m) * 255), uint8((b + m) * 255), 255}
}

// PlaceholderCSS is the stylesheet that the helper's "placeholder"
// argument needs: serve it from the site's own origin, or copy it into the
// site's stylesheet (a strict Content-Security-Policy refuses inline
// styles). It layers the placeholder <img> under the <picture> that the
// wrapper holds, sized to it, so that the picture covers it once painted;
// the picture's <img> gets no background, which would hide the placeholder.
// The wrapper is a block: style it, not the <picture>, for the box the
// picture fills (its size, its aspect-ratio, its border radius).
const PlaceholderCSS = `.pictures-placeholder { display: block; position: relative; }
.pictures-placeholder > img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; }
.pictures-placeholder > picture { position: relative; }
.pictures-placeholder > picture img { background: none; }
`

// maxPreviewSide bounds the previews that PreviewColor decodes:
// pipeline.Preview makes them 24 pixels at most.
const maxPreviewSide = 256

// PreviewColor returns the dominant colour of a preview (a base64 data:
// URL of a JPEG or PNG image, as Picture.Preview holds) as "#rrggbb": the
// mean of the pixels in the most populous cell of an 8x8x8 grid of the RGB
// cube (transparent pixels left out). Processing sets Picture.Color with
// it; call it to fill in the colour of pictures processed before Color
// existed, without processing them again. It decodes a few hundred
// pixels (well under a millisecond), so call it when a picture is
// stored, not when it is rendered.
func PreviewColor(preview string) (string, error) {
	meta, data, ok := strings.Cut(preview, ",")
	mime, isBase64 := strings.CutSuffix(strings.TrimPrefix(meta, "data:"), ";base64")
	if !ok || !strings.HasPrefix(meta, "data:") || !isBase64 || !strings.HasPrefix(mime, "image/") {
		return "", fmt.Errorf("%w: preview %.40q is not a base64 data:image/ URL", ErrInvalidArgument, preview)
	}
	// Previews are small JPEGs or PNGs (pipeline.Preview), decoded here by
	// their own decoders: whatever else package image has registered (AVIF
	// or WebP decoders may compile WebAssembly first) is never run.
	decodeConfig, decode := jpeg.DecodeConfig, jpeg.Decode
	switch mime {
	case "image/jpeg":
	case "image/png":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	default:
		return "", fmt.Errorf("%w: preview is %s, not image/jpeg or image/png", ErrInvalidArgument, mime)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "", fmt.Errorf("%w: preview: %v", ErrInvalidArgument, err)
	}
	cfg, err := decodeConfig(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("%w: preview: %v", ErrInvalidArgument, err)
	}
	if cfg.Width > maxPreviewSide || cfg.Height > maxPreviewSide {
		return "", fmt.Errorf("%w: preview is %dx%d pixels, more than %d a side", ErrInvalidArgument, cfg.Width, cfg.Height, maxPreviewSide)
	}
	img, err := decode(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("%w: preview: %v", ErrInvalidArgument, err)
	}
	c, ok := dominantColor(img)
	if !ok {
		return "", fmt.Errorf("%w: preview has no opaque pixel", ErrInvalidArgument)
	}
	return c, nil
}

// dominantColor returns the mean of img's pixels in the most populous
// cell of an 8x8x8 grid of the RGB cube, as "#rrggbb" (see PreviewColor);
// false if every pixel is transparent.
func dominantColor(img image.Image) (string, bool) {
	var count [512]int
	var sum [512][3]int
	b := img.Bounds()
	ycc, _ := img.(*image.YCbCr) // JPEG previews: read without boxing each pixel
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var c color.NRGBA
			if ycc != nil {
				yi, ci := ycc.YOffset(x, y), ycc.COffset(x, y)
				c.R, c.G, c.B = color.YCbCrToRGB(ycc.Y[yi], ycc.Cb[ci], ycc.Cr[ci])
				c.A = 255
			} else {
				c = color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			}
			if c.A < 128 {
				continue
			}
			i := int(c.R>>5)<<6 | int(c.G>>5)<<3 | int(c.B>>5)
			count[i]++
			sum[i][0] += int(c.R)
			sum[i][1] += int(c.G)
			sum[i][2] += int(c.B)
		}
	}
	best := 0
	for i, n := range count {
		if n > count[best] {
			best = i // the first of equals: the same result every time
		}
	}
	n := count[best]
	if n == 0 {
		return "", false
	}
	const hex = "0123456789abcdef"
	out := []byte{'#', 0, 0, 0, 0, 0, 0}
	for k := range 3 {
		v := (sum[best][k] + n/2) / n
		out[1+2*k], out[2+2*k] = hex[v>>4], hex[v&15]
	}
	return string(out), true
}

// parseColor parses "#rrggbb".
func parseColor(s string) (rgb [3]byte, ok bool) {
	if len(s) != 7 || s[0] != '#' {
		return rgb, false
	}
	for k := range 3 {
		v, err := strconv.ParseUint(s[1+2*k:3+2*k], 16, 8)
		if err != nil {
			return rgb, false
		}
		rgb[k] = byte(v)
	}
	return rgb, true
}

// appendColorGIF appends a data: URL of a 1x1 GIF of the colour rgb: 35
// bytes, which a browser stretches to a plain background without a
// request, and which a Content-Security-Policy allows with img-src data:
// (it refuses a style attribute).
func appendColorGIF(b []byte, rgb [3]byte) []byte {
	gif := [35]byte{
		'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, // a 1x1 screen
		0x80, 0, 0, // a global table of 2 colours, background 0
		rgb[0], rgb[1], rgb[2], 0, 0, 0,
		0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, // a 1x1 image
		2, 2, 0x44, 0x01, 0, // LZW: clear, index 0, end
		0x3b,
	}
	b = append(b, "data:image/gif;base64,"...)
	return base64.StdEncoding.AppendEncode(b, gif[:])
}
