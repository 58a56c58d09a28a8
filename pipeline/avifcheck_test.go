package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gen2brain/avif"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/internal/proctest"
)

// avifFixtures returns the AVIFs of testdata, and those of
// github.com/gen2brain/avif's testdata (an image sequence, 10-bit, Exif
// and XMP items) when the module's source is at hand.
func avifFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	names, _ := filepath.Glob("../testdata/*/*.avif")
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gen2brain/avif").Output(); err == nil {
		more, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "testdata", "*.avif*"))
		names = append(names, more...)
	}
	require.GreaterOrEqual(t, len(names), 9)
	files := map[string][]byte{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		files[filepath.Base(name)] = data
	}
	return files
}

// TestAVIFFixturesAccepted: every AVIF at hand passes the check, with the
// size the library's own header reader gives.
func TestAVIFFixturesAccepted(t *testing.T) {
	for name, data := range avifFixtures(t) {
		info, err := Inspect(data)
		require.NoError(t, err, name)
		cfg, err := avif.DecodeConfig(bytes.NewReader(data))
		require.NoError(t, err, name)
		assert.Equal(t, [2]int{cfg.Width, cfg.Height}, [2]int{info.Width, info.Height}, name)
	}
}

// TestTruncatedAVIFRefusedAtEveryLength cuts each AVIF of testdata (whose
// image data ends with the file) at every length: each cut is refused by
// Inspect, as damaged once the ftyp box is whole. (The decoder would not
// refuse all of them: it returns a blank image when the data of the frame
// is cut short.)
func TestTruncatedAVIFRefusedAtEveryLength(t *testing.T) {
	names, _ := filepath.Glob("../testdata/*/*.avif")
	require.NotEmpty(t, names)
	for _, name := range names {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		ftyp := int(binary.BigEndian.Uint32(data))
		for n := range len(data) {
			_, err := Inspect(data[:n])
			if !assert.Error(t, err, "%s cut to %d bytes", name, n) {
				break
			}
			if n >= ftyp {
				assert.ErrorIs(t, err, ErrCorrupt, "%s cut to %d bytes", name, n)
			}
		}
	}
}

// Building AVIFs from parts, to test structures that no file of testdata
// has.

func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	b = append(b, typ...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func fullBox(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags)
	return box(typ, append([][]byte{vf}, parts...)...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func ispeBox(w, h uint32) []byte { return fullBox("ispe", 0, 0, u32(w), u32(h)) }

func auxCAlpha() []byte { return fullBox("auxC", 0, 0, []byte(alphaURN+"\x00")) }

// gridPayload is an ImageGrid of rows x cols tiles making a w x h image.
func gridPayload(rows, cols int, w, h uint16) []byte {
	return append([]byte{0, 0, byte(rows - 1), byte(cols - 1)}, append(u16(w), u16(h)...)...)
}

type testItem struct {
	id     uint32
	typ    string // "" leaves the item out of iinf
	data   []byte
	idat   bool   // stored in the idat box (construction method 1)
	method uint16 // a construction method to declare instead
	extra  uint32 // bytes to declare beyond the data
	props  []byte // 1-based property indices, 0x80 set for essential
}

type testRef struct {
	typ  string
	from uint32
	to   []uint32
}

// testAVIF is an AVIF to build: ftyp, meta (hdlr, pitm, iloc version 1,
// iinf, iref, iprp, idat), then any moov, then mdat.
type testAVIF struct {
	brands  []string // major brand first
	hdlr    string
	primary uint32 // 0: no pitm
	items   []testItem
	props   [][]byte // whole property boxes
	refs    []testRef
	moov    []byte
}

func (a testAVIF) bytes() []byte {
	ftyp := box("ftyp", []byte(a.brands[0]), u32(0), []byte(strings.Join(a.brands, "")))
	meta := a.meta(0)
	return slicesConcat(ftyp, a.meta(len(ftyp)+len(meta)+len(a.moov)+8), a.moov, box("mdat", a.mdat()...))
}

func slicesConcat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func (a testAVIF) mdat() [][]byte {
	var parts [][]byte
	for _, it := range a.items {
		if !it.idat {
			parts = append(parts, it.data)
		}
	}
	return parts
}

// meta builds the meta box, with mdat's data starting at offset mdat.
func (a testAVIF) meta(mdat int) []byte {
	hdlr := a.hdlr
	if hdlr == "" {
		hdlr = "pict"
	}
	var iloc, iinf, idat, ipma [][]byte
	fileAt, idatAt := mdat, 0
	for _, it := range a.items {
		method, at := uint16(0), fileAt
		if it.idat {
			method, at = 1, idatAt
			idatAt += len(it.data)
			idat = append(idat, it.data)
		} else {
			fileAt += len(it.data)
		}
		if it.method != 0 {
			method = it.method
		}
		iloc = append(iloc, u16(uint16(it.id)), u16(method), u16(0), u16(1), u32(uint32(at)), u32(uint32(len(it.data))+it.extra))
		if it.typ != "" {
			iinf = append(iinf, fullBox("infe", 2, 0, u16(uint16(it.id)), u16(0), []byte(it.typ+"\x00")))
		}
		if len(it.props) > 0 {
			ipma = append(ipma, u16(uint16(it.id)), []byte{byte(len(it.props))}, it.props)
		}
	}
	var iref [][]byte
	for _, r := range a.refs {
		refs := [][]byte{u16(uint16(r.from)), u16(uint16(len(r.to)))}
		for _, to := range r.to {
			refs = append(refs, u16(uint16(to)))
		}
		iref = append(iref, box(r.typ, refs...))
	}
	children := [][]byte{fullBox("hdlr", 0, 0, u32(0), []byte(hdlr), make([]byte, 12), []byte("\x00"))}
	if a.primary != 0 {
		children = append(children, fullBox("pitm", 0, 0, u16(uint16(a.primary))))
	}
	children = append(children,
		fullBox("iloc", 1, 0, []byte{0x44, 0x00}, u16(uint16(len(a.items))), slicesConcat(iloc...)),
		fullBox("iinf", 0, 0, u16(uint16(len(iinf))), slicesConcat(iinf...)))
	if len(iref) > 0 {
		children = append(children, fullBox("iref", 0, 0, iref...))
	}
	children = append(children, box("iprp", box("ipco", a.props...),
		fullBox("ipma", 0, 0, u32(uint32(len(ipma)/3)), slicesConcat(ipma...))))
	if len(idat) > 0 {
		children = append(children, box("idat", idat...))
	}
	return fullBox("meta", 0, 0, children...)
}

// photoParts returns the AV1 data and av1C box of testdata's photo.avif
// (640x480).
func photoParts(t testing.TB) (av01, av1C []byte) {
	t.Helper()
	data, err := os.ReadFile("../testdata/hostile/photo.avif")
	require.NoError(t, err)
	av01 = findBox(data, "mdat") // the image's only item fills it
	ipco := findBox(findBox(findBox(data, "meta")[4:], "iprp"), "ipco")
	c := findBox(ipco, "av1C")
	require.Len(t, c, 4)
	return av01, box("av1C", c)
}

// Property indices of testProps.
const (
	pIspe     = 1 // 640x480
	pAv1C     = 2
	pGridIspe = 3 // 1280x480
	pAlpha    = 4
	pIspe0    = 5 // 0x0
	pIrot     = 6
)

func testProps(av1C []byte) [][]byte {
	return [][]byte{ispeBox(640, 480), av1C, ispeBox(1280, 480), auxCAlpha(), ispeBox(0, 0), box("irot", []byte{1})}
}

// single is photo.avif rebuilt.
func single(av01, av1C []byte) testAVIF {
	return testAVIF{brands: []string{"avif", "mif1", "miaf"}, primary: 1, props: testProps(av1C),
		items: []testItem{{id: 1, typ: "av01", data: av01, props: []byte{pIspe, 0x80 | pAv1C}}}}
}

// grid is two copies of photo.avif side by side, a 1280x480 grid.
func grid(av01, av1C []byte) testAVIF {
	return testAVIF{brands: []string{"avif", "mif1", "miaf"}, primary: 1, props: testProps(av1C),
		items: []testItem{
			{id: 1, typ: "grid", data: gridPayload(1, 2, 1280, 480), props: []byte{pGridIspe}},
			{id: 2, typ: "av01", data: av01, props: []byte{pIspe, 0x80 | pAv1C}},
			{id: 3, typ: "av01", data: av01, props: []byte{pIspe, 0x80 | pAv1C}},
		},
		refs: []testRef{{"dimg", 1, []uint32{2, 3}}}}
}

// withAlpha adds an alpha auxiliary image to a (its data is colour data:
// enough for the structure).
func withAlpha(a testAVIF, av01 []byte) testAVIF {
	a.items = append(a.items, testItem{id: 9, typ: "av01", data: av01, props: []byte{pIspe, 0x80 | pAv1C, pAlpha}})
	a.refs = append(a.refs, testRef{"auxl", 9, []uint32{1}})
	return a
}

func edit(a testAVIF, f func(*testAVIF)) testAVIF {
	a.items = append([]testItem(nil), a.items...)
	a.refs = append([]testRef(nil), a.refs...)
	a.props = append([][]byte(nil), a.props...)
	f(&a)
	return a
}

// TestBuiltAVIFsDecode proves the builder makes what the decoder reads:
// photo.avif rebuilt, and as a grid of two tiles (with its payload in the
// file or in idat), decode to the expected pixels.
func TestBuiltAVIFsDecode(t *testing.T) {
	av01, av1C := photoParts(t)
	photo, err := os.ReadFile("../testdata/hostile/photo.avif")
	require.NoError(t, err)
	want, err := avif.Decode(bytes.NewReader(photo))
	require.NoError(t, err)
	for name, a := range map[string]testAVIF{
		"single":       single(av01, av1C),
		"grid":         grid(av01, av1C),
		"grid in idat": edit(grid(av01, av1C), func(a *testAVIF) { a.items[0].idat = true }),
	} {
		data := a.bytes()
		info, err := Inspect(data)
		require.NoError(t, err, name)
		img, err := avif.Decode(bytes.NewReader(data))
		require.NoError(t, err, name)
		require.Equal(t, image.Rect(0, 0, info.Width, info.Height), img.Bounds(), name)
		for _, p := range []image.Point{{20, 20}, {320, 240}, {600, 470}} {
			assert.Equal(t, want.At(p.X, p.Y), img.At(p.X, p.Y), "%s at %v", name, p)
			if info.Width == 1280 {
				assert.Equal(t, want.At(p.X, p.Y), img.At(p.X+640, p.Y), "%s at %v, right tile", name, p)
			}
		}
	}
}

// TestAVIFStructureAccepted: structures libavif decodes pass the check,
// with the primary item's size.
func TestAVIFStructureAccepted(t *testing.T) {
	av01, av1C := photoParts(t)
	for _, tc := range []struct {
		name string
		avif testAVIF
		w, h int
	}{
		{"single", single(av01, av1C), 640, 480},
		{"grid", grid(av01, av1C), 1280, 480},
		{"grid in idat", edit(grid(av01, av1C), func(a *testAVIF) { a.items[0].idat = true }), 1280, 480},
		{"alpha", withAlpha(single(av01, av1C), av01), 640, 480},
		{"alpha of a grid", withAlpha(grid(av01, av1C), av01), 1280, 480},
		{"alpha without ispe", edit(withAlpha(single(av01, av1C), av01), func(a *testAVIF) {
			a.items[1].props = []byte{0x80 | pAv1C, pAlpha}
		}), 640, 480},
		{"alpha of each tile", edit(grid(av01, av1C), func(a *testAVIF) {
			a.items = append(a.items,
				testItem{id: 4, typ: "av01", data: av01, props: []byte{pIspe, 0x80 | pAv1C, pAlpha}},
				testItem{id: 5, typ: "av01", data: av01, props: []byte{pIspe, 0x80 | pAv1C, pAlpha}})
			a.refs = append(a.refs, testRef{"auxl", 4, []uint32{2}}, testRef{"auxl", 5, []uint32{3}})
		}), 1280, 480},
		{"a broken item that is not read", edit(single(av01, av1C), func(a *testAVIF) {
			a.items = append(a.items, testItem{id: 2, typ: "Exif", data: []byte("exif"), extra: 1 << 20})
			a.refs = append(a.refs, testRef{"cdsc", 2, []uint32{1}})
		}), 640, 480},
		{"a broken thumbnail", edit(single(av01, av1C), func(a *testAVIF) {
			a.items = append(a.items, testItem{id: 2, typ: "av01", data: av01[:10], extra: 1 << 20})
			a.refs = append(a.refs, testRef{"thmb", 2, []uint32{1}})
		}), 640, 480},
		{"an image sequence", edit(single(av01, av1C), func(a *testAVIF) {
			a.brands = []string{"avis", "avif", "msf1", "mif1", "miaf"}
			a.moov = box("moov", box("mvhd"))
		}), 640, 480},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(tc.avif.bytes())
			require.NoError(t, err)
			assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{info.Width, info.Height})
		})
	}
}

// patch returns data with the bytes at offset at of the first box of type
// typ's content (searched for by name) replaced by b.
func patch(data []byte, typ string, at int, b ...byte) []byte {
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte(typ))
	copy(out[i+4+at:], b)
	return out
}

// TestAVIFStructureRefused: each broken structure is refused by Inspect
// as damaged, with a message that says what is wrong.
func TestAVIFStructureRefused(t *testing.T) {
	av01, av1C := photoParts(t)
	photo, err := os.ReadFile("../testdata/hostile/photo.avif")
	require.NoError(t, err)
	one, two := single(av01, av1C), grid(av01, av1C)
	sequence := edit(one, func(a *testAVIF) {
		a.brands = []string{"avis", "avif", "msf1", "mif1", "miaf"}
		a.moov = box("moov", box("mvhd"))
	})
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"cut to 2 KB", photo[:2048], "item 1's data (4217 bytes at offset 282) runs past the end of the file (2048 bytes): truncated"},
		{"cut before the end of mdat", photo[:len(photo)-1], "item 1's data (4217 bytes at offset 282) runs past the end of the file (4498 bytes): truncated"},
		{"data after the last box", patch(photo, "mdat", -8, 0, 0, 0x10, 0x77), "item 1's data (4217 bytes at offset 282) runs past the file's last box, which ends at offset 4489"},
		{"cut in meta", photo[:200], `the "meta" box at offset 32 declares 242 bytes; the file has 200 (truncated)`},
		{"no meta", slicesConcat(photo[:32], photo[274:]), "no meta box"},
		{"ftyp only", photo[:32], "no meta box"},
		{"ftyp brands of 2 bytes", slicesConcat(box("ftyp", []byte("avif"), u32(0), []byte("mi")), photo[32:]), "the ftyp box is malformed"},
		{"hdlr not pict", edit(one, func(a *testAVIF) { a.hdlr = "vide" }).bytes(), `the meta box's handler is "vide", not pict`},
		{"no pitm", edit(one, func(a *testAVIF) { a.primary = 0 }).bytes(), "no pitm box"},
		{"pitm names no item", edit(one, func(a *testAVIF) { a.primary = 7 }).bytes(), "the primary item 7 is not in iinf"},
		{"primary item not in iinf", edit(one, func(a *testAVIF) { a.items[0].typ = "" }).bytes(), "the primary item 1 is not in iinf"},
		{"primary item HEVC", edit(one, func(a *testAVIF) { a.items[0].typ = "hvc1" }).bytes(), `the primary item 1 is of type "hvc1", not av01 or grid`},
		{"primary item a thumbnail", edit(one, func(a *testAVIF) { a.refs = []testRef{{"thmb", 1, []uint32{1}}} }).bytes(), "is a thumbnail"},
		{"construction method 2", edit(one, func(a *testAVIF) { a.items[0].method = 2 }).bytes(), "item 1: iloc construction method 2 (0 or 1)"},
		{"extent past the end", edit(one, func(a *testAVIF) { a.items[0].extra = 1 }).bytes(), "item 1's data (4218 bytes at offset "},
		{"extent past the idat", edit(one, func(a *testAVIF) { a.items[0].idat, a.items[0].extra = true, 1 }).bytes(), "runs past the end of the idat box (4217 bytes)"},
		{"in idat, without idat", edit(one, func(a *testAVIF) { a.items[0].method = 1 }).bytes(), "item 1 is stored in an idat box, and meta has none"},
		{"iloc version 3", patch(one.bytes(), "iloc", 0, 3), "iloc version 3"},
		{"iloc offset size 2", patch(one.bytes(), "iloc", 4, 0x24), "iloc field size 2 (0, 4 or 8)"},
		{"no ispe", edit(one, func(a *testAVIF) { a.items[0].props = []byte{0x80 | pAv1C} }).bytes(), "item 1 has no ispe property"},
		{"ispe 0x0", edit(one, func(a *testAVIF) { a.items[0].props = []byte{pIspe0, 0x80 | pAv1C} }).bytes(), "item 1: ispe gives a size of 0x0"},
		{"no av1C", edit(one, func(a *testAVIF) { a.items[0].props = []byte{pIspe} }).bytes(), "item 1 has no av1C property"},
		{"av1C version 2", patch(one.bytes(), "av1C", 0, 0x82), "an av1C property is malformed"},
		{"property 9 of 6", edit(one, func(a *testAVIF) { a.items[0].props = []byte{pIspe, 9} }).bytes(), "item 1: property 9 of 6"},
		{"irot not essential", edit(one, func(a *testAVIF) { a.items[0].props = []byte{pIspe, 0x80 | pAv1C, pIrot} }).bytes(), "a irot property not marked essential"},
		{"grid tile not in iinf", edit(two, func(a *testAVIF) { a.items[2].typ = "" }).bytes(), "item 1: tile 3 is not in iinf"},
		{"grid of 3 tiles with 2", edit(two, func(a *testAVIF) { a.items[0].data = gridPayload(1, 3, 1280, 480) }).bytes(), "a grid of 3x1 tiles with 2 dimg references"},
		{"grid tile truncated", edit(two, func(a *testAVIF) { a.items[2].extra = 1 }).bytes(), "item 3's data (4218 bytes at offset "},
		{"grid tile without av1C", edit(two, func(a *testAVIF) { a.items[2].props = []byte{pIspe} }).bytes(), "item 3 has no av1C property"},
		{"grid tile in two grids", edit(two, func(a *testAVIF) {
			a.items = append(a.items, testItem{id: 4, typ: "grid", data: gridPayload(1, 1, 640, 480), props: []byte{pIspe}})
			a.refs = append(a.refs, testRef{"dimg", 4, []uint32{3}})
		}).bytes(), "item 3 is an input of items 1 and 4"},
		{"grid and ispe disagree", edit(two, func(a *testAVIF) { a.items[0].data = gridPayload(1, 2, 1200, 480) }).bytes(), "item 1: the grid is 1200x480, its ispe says 1280x480"},
		{"grid the tiles do not cover", edit(two, func(a *testAVIF) {
			a.items[0].data = gridPayload(1, 2, 640, 480)
			a.props[pGridIspe-1] = ispeBox(640, 480)
		}).bytes(), "item 1: 2x1 tiles of 640x480 do not make a 640x480 grid"},
		{"grid payload of 7 bytes", edit(two, func(a *testAVIF) { a.items[0].data = a.items[0].data[:7] }).bytes(), "the grid's 7-byte payload is malformed"},
		{"alpha truncated", edit(withAlpha(one, av01), func(a *testAVIF) { a.items[1].extra = 1 }).bytes(), "item 9's data (4218 bytes at offset "},
		{"alpha without av1C", edit(withAlpha(one, av01), func(a *testAVIF) { a.items[1].props = []byte{pIspe, pAlpha} }).bytes(), "item 9 has no av1C property"},
		{"sequence without moov", edit(sequence, func(a *testAVIF) { a.moov = nil }).bytes(), "brand 'avis' but no moov box"},
		{"sequence cut in mdat", edit(sequence, func(a *testAVIF) { a.items[0].extra = 0 }).bytes()[:len(sequence.bytes())-1], "(truncated)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(tc.data)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// TestAVIFBeyondTheDecoder: an image sequence without a still image, and
// an image larger than the decoder reads, are refused as unsupported,
// without the decoder.
func TestAVIFBeyondTheDecoder(t *testing.T) {
	av01, av1C := photoParts(t)
	one := single(av01, av1C)
	ftyp := box("ftyp", []byte("avis"), u32(0), []byte("avismsf1miaf"))
	_, err := Inspect(slicesConcat(ftyp, box("moov", box("mvhd")), box("mdat", av01)))
	assert.ErrorIs(t, err, ErrUnsupportedFeature)

	huge := edit(one, func(a *testAVIF) { a.props[pIspe-1] = ispeBox(40000, 480) }).bytes()
	info, err := Inspect(huge)
	require.NoError(t, err, "the caller's pixel budget speaks first")
	assert.Equal(t, 40000, info.Width)
	_, err = Decode(huge, info)
	assert.ErrorIs(t, err, ErrUnsupportedFeature)
	assert.ErrorContains(t, err, "AVIF of 40000x480: the decoder reads at most 32768 pixels a side")
}

// FuzzAVIFCheck runs the AVIF container check on arbitrary bytes: no
// panic, and an accepted file has a size; a refusal says damaged or
// unsupported.
func FuzzAVIFCheck(f *testing.F) {
	for _, data := range avifFixtures(f) {
		if len(data) <= 8<<10 { // large ones slow the fuzzer's minimisation down
			f.Add(data)
		}
	}
	av01, av1C := photoParts(f)
	av01 = av01[:64] // small seeds: the structure is what is fuzzed
	for _, a := range []testAVIF{single(av01, av1C), grid(av01, av1C), withAlpha(grid(av01, av1C), av01),
		edit(grid(av01, av1C), func(a *testAVIF) { a.items[0].idat = true })} {
		f.Add(a.bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, err := checkAVIF(data)
		if err != nil {
			if !assert.ErrorIs(t, err, ErrCorrupt) {
				assert.ErrorIs(t, err, ErrUnsupportedFeature)
			}
			return
		}
		if w < 1 || h < 1 {
			t.Fatalf("accepted with a size of %dx%d", w, h)
		}
	})
}

// BenchmarkRefuseTruncatedAVIF: what refusing photo.avif cut to 2 KB
// costs Inspect.
func BenchmarkRefuseTruncatedAVIF(b *testing.B) {
	photo, err := os.ReadFile("../testdata/hostile/photo.avif")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Inspect(photo[:2048]); err == nil {
			b.Fatal("accepted")
		}
	}
}

// avifChildEnv makes this test binary the fresh process of
// TestAVIFRefusalNeedsNoDecoder.
const avifChildEnv = "PIPELINE_AVIF_REFUSAL_CHILD"

// avifChildResult is what the child process measured.
type avifChildResult struct {
	Refused                       int
	RefuseAlloc, WarmAlloc        uint64 // bytes (TotalAlloc)
	RefuseTime, WarmTime, TwoTime time.Duration
	ExecBefore, ExecAfterRefusal  int // anonymous executable mappings (-1: unknown)
	ExecAfterWarm                 int
	RSSBefore, RSSAfterWarm       int // kB (VmRSS; -1: unknown)
	Errors                        []string
}

// TestAVIFRefusalNeedsNoDecoder proves, in a fresh process, that refusing
// truncated AVIFs (photo.avif cut to 2 KB and to one byte short, and every
// AVIF of testdata one byte short) initialises no decoder: at most 10 MB
// allocated, and no executable memory mapped (wazero's compiled code is).
// Then WarmDecoders, measured, compiles the decoder, which the mappings
// show (the control that the observable works), and a second decode costs
// little. Times are logged, not asserted.
func TestAVIFRefusalNeedsNoDecoder(t *testing.T) {
	if proctest.InChild(avifChildEnv) {
		avifRefusalChild()
		return
	}
	var res avifChildResult
	proctest.Run(t, "TestAVIFRefusalNeedsNoDecoder", avifChildEnv, &res)
	require.NotZero(t, res.Refused)
	assert.Empty(t, res.Errors)
	t.Logf("refusing %d truncated AVIFs: %v, %.2f MB allocated; executable mappings %d -> %d",
		res.Refused, res.RefuseTime, float64(res.RefuseAlloc)/1e6, res.ExecBefore, res.ExecAfterRefusal)
	t.Logf("WarmDecoders in a fresh process: %v, %.1f MB allocated, resident %.1f -> %.1f MB; executable mappings -> %d; a second decode: %v",
		res.WarmTime, float64(res.WarmAlloc)/1e6, float64(res.RSSBefore)/1e3, float64(res.RSSAfterWarm)/1e3, res.ExecAfterWarm, res.TwoTime)
	assert.LessOrEqual(t, res.RefuseAlloc, uint64(10<<20), "refusals allocate at most 10 MB")
	assert.Equal(t, res.ExecBefore, res.ExecAfterRefusal, "refusals map no executable memory (no decoder compiled)")
	if res.WarmAlloc > 50<<20 && res.ExecBefore >= 0 {
		// wazero compiled the module: the observable must have seen it.
		assert.Greater(t, res.ExecAfterWarm, res.ExecAfterRefusal, "the decoder's compilation maps executable memory")
	}
}

func avifRefusalChild() {
	var res avifChildResult
	photo, err := os.ReadFile("../testdata/hostile/photo.avif")
	if err != nil {
		panic(err)
	}
	cuts := [][]byte{photo[:2048], photo[:len(photo)-1]}
	names, _ := filepath.Glob("../testdata/*/*.avif")
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			panic(err)
		}
		cuts = append(cuts, data[:len(data)-1])
	}
	var before, after runtime.MemStats
	res.ExecBefore = proctest.ExecMappings()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i, data := range cuts {
		info, err := Inspect(data)
		if err == nil {
			res.Errors = append(res.Errors, fmt.Sprintf("cut %d accepted as %dx%d", i, info.Width, info.Height))
			continue
		}
		res.Refused++
	}
	res.RefuseTime = time.Since(start)
	runtime.ReadMemStats(&after)
	res.RefuseAlloc = after.TotalAlloc - before.TotalAlloc
	res.ExecAfterRefusal = proctest.ExecMappings()

	res.RSSBefore = proctest.ResidentKB()
	runtime.ReadMemStats(&before)
	start = time.Now()
	if err := WarmDecoders(); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	res.WarmTime = time.Since(start)
	runtime.ReadMemStats(&after)
	res.WarmAlloc = after.TotalAlloc - before.TotalAlloc
	res.ExecAfterWarm = proctest.ExecMappings()
	res.RSSAfterWarm = proctest.ResidentKB()
	start = time.Now()
	if info, err := Inspect(warmAVIF); err == nil {
		if img, err := Decode(warmAVIF, info); err == nil {
			img.Release()
		}
	}
	res.TwoTime = time.Since(start)
	proctest.Report(res)
}
