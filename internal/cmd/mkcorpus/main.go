// Command mkcorpus writes the hostile and odd input corpus under
// testdata/hostile: crafted headers, truncations, polyglots, every EXIF
// orientation, unusual pixel formats, and files made by Debian's image
// tools (imagemagick, libjpeg-turbo-progs, webp, libavif-bin), which must
// be installed. The corpus is committed; run this only to rebuild it:
//
//	go run ./internal/cmd/mkcorpus testdata/hostile
package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/gopictures/pictures/internal/imagetest"
)

var dir string

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: mkcorpus DIR")
	}
	dir = os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	photo := scene(640, 480)

	write("empty.jpg", nil)
	write("text-named.jpg", []byte("This is a text file with a .jpg name.\n"))
	write("page.html", []byte("<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>\n"))
	write("image.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script><rect width="100" height="100"/></svg>`+"\n"))
	write("fake-heic.heic", append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 64)...))

	jpg := encodeJPEG(photo, 90)
	write("photo.jpg", jpg)
	write("truncated.jpg", jpg[:len(jpg)/2])
	write("jpeg-no-frame.jpg", []byte{0xFF, 0xD8, 0xFF, 0xD9})
	pngBytes := encodePNG(photo)
	write("truncated.png", pngBytes[:len(pngBytes)/2])
	bad := bytes.Clone(pngBytes)
	bad[29] ^= 0xFF // the IHDR CRC
	write("bad-crc.png", bad)
	write("header-50000x50000.png", pngHeaderOnly(50000, 50000))
	write("header-0x0.png", pngHeaderOnly(0, 0))
	write("header-50000x50000.jpg", jpegWithSize(jpg, 50000, 50000))
	write("polyglot.jpg", append(bytes.Clone(jpg), zipWith("payload.txt", "not a picture")...))

	for o := 1; o <= 8; o++ {
		stored := imagetest.Stored(imagetest.Quadrants(60, 40), o)
		write(fmt.Sprintf("orientation-%d.jpg", o), imagetest.WithJPEGEXIF(encodeJPEG(stored, 92), imagetest.TIFFOrientation(o, binary.BigEndian)))
	}
	write("orientation-6.png", imagetest.WithPNGChunk(encodePNG(imagetest.Stored(imagetest.Quadrants(60, 40), 6)), "eXIf", imagetest.TIFFOrientation(6, binary.BigEndian)))
	write("huge-exif.jpg", imagetest.WithJPEGEXIF(encodeJPEG(photo, 80), hugeTIFF()))
	malformed := imagetest.TIFFOrientation(6, binary.BigEndian)
	binary.BigEndian.PutUint32(malformed[4:], 0x7FFFFFF0) // IFD offset far beyond the data
	write("bad-exif.jpg", imagetest.WithJPEGEXIF(encodeJPEG(photo, 80), malformed))

	gray := image.NewGray(photo.Bounds())
	rgba16 := image.NewNRGBA64(photo.Bounds())
	gray16 := image.NewGray16(photo.Bounds())
	pal := image.NewPaletted(photo.Bounds(), append(palette.Plan9[:255:255], color.RGBA{}))
	grayAlpha := image.NewNRGBA(photo.Bounds())
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			c := photo.RGBAAt(x, y)
			gray.Set(x, y, c)
			gray16.Set(x, y, c)
			rgba16.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, uint16(x * 65535 / 639)})
			pal.Set(x, y, c)
			if (x/40+y/40)%2 == 0 {
				pal.SetColorIndex(x, y, 255) // transparent squares
			}
			g := color.GrayModel.Convert(c).(color.Gray).Y
			grayAlpha.SetNRGBA(x, y, color.NRGBA{g, g, g, uint8(y * 255 / 479)})
		}
	}
	write("gray.jpg", encodeJPEG(gray, 90))
	write("gray16.png", encodePNG(gray16))
	write("rgba16.png", encodePNG(rgba16))
	write("paletted-alpha.png", encodePNG(pal))
	write("gray-alpha.png", encodePNG(grayAlpha))
	write("tiny-1x1.png", encodePNG(scene(1, 1)))
	write("tiny-1x1.jpg", encodeJPEG(scene(1, 1), 90))

	var g bytes.Buffer
	anim := &gif.GIF{LoopCount: 0}
	for i := range 3 {
		frame := image.NewPaletted(image.Rect(0, 0, 80, 60), palette.Plan9)
		for y := range 60 {
			for x := range 80 {
				frame.Set(x, y, color.RGBA{uint8(i * 100), uint8(x * 3), uint8(y * 4), 255})
			}
		}
		anim.Image = append(anim.Image, frame)
		anim.Delay = append(anim.Delay, 10)
	}
	must(gif.EncodeAll(&g, anim))
	write("animated.gif", g.Bytes())
	g.Reset()
	must(gif.Encode(&g, scene(1, 1), nil))
	write("tiny-1x1.gif", g.Bytes())
	// A frame larger than the logical screen.
	g.Reset()
	must(gif.Encode(&g, anim.Image[0], nil))
	oversize := bytes.Clone(g.Bytes())
	binary.LittleEndian.PutUint16(oversize[6:], 10) // logical screen 10x10
	binary.LittleEndian.PutUint16(oversize[8:], 10)
	write("gif-frame-outside-screen.gif", oversize)

	var b bytes.Buffer
	small := scene(64, 48)
	must(bmp.Encode(&b, small))
	write("image.bmp", b.Bytes())
	b.Reset()
	must(tiff.Encode(&b, small, nil))
	write("image.tiff", b.Bytes())

	// Files made by Debian's tools from photo.jpg / a PNG.
	tmp, err := os.MkdirTemp("", "mkcorpus")
	must(err)
	defer os.RemoveAll(tmp)
	src := filepath.Join(dir, "photo.jpg")
	srcPNG := filepath.Join(tmp, "photo.png")
	must(os.WriteFile(srcPNG, pngBytes, 0o644))
	alphaPNG := filepath.Join(tmp, "alpha.png")
	must(os.WriteFile(alphaPNG, encodePNG(grayAlpha), 0o644))
	quadPNG := filepath.Join(tmp, "quad.png")
	must(os.WriteFile(quadPNG, encodePNG(imagetest.Stored(imagetest.Quadrants(60, 40), 6)), 0o644))
	run("convert", src, "-colorspace", "CMYK", "-quality", "90", filepath.Join(dir, "cmyk.jpg"))
	run("convert", src, "-interlace", "Plane", "-quality", "85", filepath.Join(dir, "progressive.jpg"))
	run("jpegtran", "-arithmetic", "-outfile", filepath.Join(dir, "arithmetic.jpg"), src)
	run("cwebp", "-quiet", "-q", "80", srcPNG, "-o", filepath.Join(dir, "lossy.webp"))
	run("cwebp", "-quiet", "-lossless", alphaPNG, "-o", filepath.Join(dir, "lossless-alpha.webp"))
	run("gif2webp", "-quiet", filepath.Join(dir, "animated.gif"), "-o", filepath.Join(dir, "animated.webp"))
	quadWebP := filepath.Join(tmp, "quad.webp")
	exif := filepath.Join(tmp, "exif.bin")
	must(os.WriteFile(exif, imagetest.TIFFOrientation(6, binary.BigEndian), 0o644))
	run("cwebp", "-quiet", "-q", "95", quadPNG, "-o", quadWebP)
	run("webpmux", "-set", "exif", exif, quadWebP, "-o", filepath.Join(dir, "orientation-6.webp"))
	avifenc := func(args ...string) {
		run("avifenc", append([]string{"--speed", "10", "--min", "10", "--max", "30"}, args...)...)
	}
	avifenc("-y", "420", srcPNG, filepath.Join(dir, "photo.avif"))
	// Stored as EXIF orientation 8 would (upright once turned a quarter
	// anticlockwise), with irot 1, a quarter anticlockwise.
	avifenc("-y", "444", "--irot", "1", encodeFile(tmp, "quad8.png", imagetest.Stored(imagetest.Quadrants(60, 40), 8)), filepath.Join(dir, "irot-90.avif"))
	// Stored upside down, with imir mode 0 (top and bottom exchanged).
	avifenc("-y", "444", "--imir", "0", encodeFile(tmp, "flipped.png", imagetest.Stored(imagetest.Quadrants(60, 40), 4)), filepath.Join(dir, "imir-0.avif"))
}

func encodeFile(tmp, name string, img image.Image) string {
	p := filepath.Join(tmp, name)
	must(os.WriteFile(p, encodePNG(img), 0o644))
	return p
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s %v: %v", name, args, err)
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func write(name string, data []byte) {
	must(os.WriteFile(filepath.Join(dir, name), data, 0o644))
}

// scene is a deterministic colourful picture.
func scene(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), uint8((x ^ y) & 0xFF), 255})
		}
	}
	return img
}

func encodeJPEG(img image.Image, q int) []byte {
	var b bytes.Buffer
	must(jpeg.Encode(&b, img, &jpeg.Options{Quality: q}))
	return b.Bytes()
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	must(png.Encode(&b, img))
	return b.Bytes()
}

// hugeTIFF is an EXIF block near the 64 KB segment limit: orientation 1
// and a long maker note of filler.
func hugeTIFF() []byte {
	t := imagetest.TIFFOrientation(1, binary.BigEndian)
	return append(t, bytes.Repeat([]byte("MakerNote filler "), 3800)...)
}

// pngHeaderOnly is a PNG whose IHDR claims w x h pixels, with a tiny IDAT.
func pngHeaderOnly(w, h uint32) []byte {
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, []uint32{w, h})
	ihdr.Write([]byte{8, 2, 0, 0, 0}) // 8-bit RGB
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, imagetest.PNGChunk("IHDR", ihdr.Bytes())...)
	out = append(out, imagetest.PNGChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, imagetest.PNGChunk("IEND", nil)...)
}

// jpegWithSize rewrites the frame header of a baseline JPEG to claim w x h.
func jpegWithSize(jpg []byte, w, h uint16) []byte {
	out := bytes.Clone(jpg)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xFF {
			break
		}
		m := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if m == 0xC0 || m == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	log.Fatal("no frame header")
	return nil
}

func zipWith(name, content string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	f, err := z.Create(name)
	must(err)
	f.Write([]byte(content))
	must(z.Close())
	return b.Bytes()
}
