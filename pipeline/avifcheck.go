package pipeline

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// checkAVIF reads an AVIF's container (ISO/IEC 14496-12 ISOBMFF, 23008-12
// HEIF, the AV1 Image File Format) without the decoder, and refuses, as
// ErrCorrupt, what the decoder (libavif 1.4, inside
// github.com/gen2brain/avif) would refuse for its structure, and what
// would not decode whole: a truncated file. It returns the primary item's
// size, from its ispe property.
//
// It checks the ftyp box; the meta box, complete, with hdlr 'pict' first,
// its unique boxes once, pitm, iinf, iloc (construction methods 0 and 1
// only), iprp (ipco then ipma) and iref as libavif parses them; a primary
// item that is an 'av01' or 'grid' image with data, an ispe (not 0x0) and,
// for av01, an av1C; a grid's payload, its tiles (iref 'dimg') and their
// number, size and properties; the alpha auxiliary image of the primary
// item (or of its tiles), if any; and that every extent of these items
// lies within the file's top-level boxes (Trim drops what follows them),
// or, for construction method 1, within the idat box. Items the decode
// does not read (Exif, XMP, thumbnails, other auxiliary images) are not
// checked, as libavif does not read them. An image sequence decoded from
// its track (major brand 'avis') must also have its moov box, and its mdat
// box must not run past the end of the file (its sample table is not
// read); a sequence without a meta box is refused as ErrUnsupportedFeature,
// since its size is in no header read here.
//
// Nothing is allocated in proportion to a declared size or count: every
// loop consumes the bytes it reads, and the items and properties kept are
// those present, at most maxAVIFItems and maxAVIFProperties. An ispe
// beyond the decoder's limits is left to Decode, so that the caller's
// pixel budget refuses such a file first.
func checkAVIF(data []byte) (w, h int, err error) {
	f := avifFile{data: data, end: len(data)}
	if n := isobmffEnd(data); n > 0 {
		f.end = n // Trim drops what follows the last box: no item may need it
	}
	if err := f.parseTop(); err != nil {
		return 0, 0, err
	}
	if err := f.parseMeta(); err != nil {
		return 0, 0, err
	}
	return f.checkPrimary()
}

const (
	// maxAVIFItems bounds the items kept from iinf: a file declaring more
	// is refused (ErrUnsupportedFeature). A grid of 4,000 tiles with an
	// alpha grid of as many fits.
	maxAVIFItems = 1 << 13
	// maxAVIFProperties is the largest property index ipma can hold.
	maxAVIFProperties = 1<<15 - 1
	// The decoder's limits (libavif's defaults): larger images are refused.
	avifMaxSide   = 32768
	avifMaxPixels = 16384 * 16384
)

// The URNs of an alpha auxiliary image (auxC).
const (
	alphaURN     = "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"
	alphaURNHEVC = "urn:mpeg:hevc:2015:auxid:1"
)

// avifFile is what checkAVIF has read of a file.
type avifFile struct {
	data    []byte
	end     int    // where the last top-level box ends (see Trim)
	brands  []byte // ftyp content: major brand, minor version, compatible brands
	meta    []byte // meta content, past its version and flags
	idat    []byte
	hasIdat bool
	primary uint32
	items   []avifItem // in increasing id order
	props   []avifProp // ipco's, in order (property index i is props[i-1])
	// iloc's field sizes, in bytes, for reading an item's extents.
	offsetSize, lengthSize, indexSize int
}

type avifProp struct {
	typ  [4]byte
	body []byte
}

// avifItem is an item declared by iinf, with what iloc, ipma and iref say
// of it.
type avifItem struct {
	id  uint32
	typ [4]byte
	// iloc
	located  bool
	inIdat   bool   // construction method 1
	base     uint64 // base offset
	extents  []byte // the extents' fields, raw
	nExtents int
	size     uint64 // the extents' total length
	// ipma
	associated bool
	assoc      []byte // property associations, raw
	wideAssoc  bool   // 15-bit property indices
	// iref
	thumbFor, auxFor, dimgFor uint32 // last reference of each type
	hasDimg                   bool
	dimg                      []byte // the items this one is derived from (its grid tiles), raw
	dimgWide                  bool   // 32-bit item IDs
}

func (it *avifItem) is(typ string) bool { return string(it.typ[:]) == typ }

// usable reports whether libavif takes the item as an image: it has data,
// is an AV1 image or a grid, and is no thumbnail.
func (it *avifItem) usable() bool {
	return it.located && it.size > 0 && (it.is("av01") || it.is("grid")) && it.thumbFor == 0
}

func avifCorrupt(format string, args ...any) error {
	return fmt.Errorf("%w: AVIF: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// parseTop walks the top-level boxes as libavif does, until it has what
// the file's brands require, and keeps the meta box.
func (f *avifFile) parseTop() error {
	typ, ftyp, rest, ok := nextBox(f.data)
	if !ok || typ != "ftyp" || len(ftyp) < 8 || len(ftyp)%4 != 0 {
		return avifCorrupt("the ftyp box is malformed")
	}
	f.brands = ftyp
	needMoov := f.hasBrand("avis")
	var meta []byte
	var metaSeen, moovSeen bool
	var stopped error // the walk met a box it cannot read
	for len(rest) > 0 && !(metaSeen && (moovSeen || !needMoov)) {
		typ, content, next, ok := nextBox(rest)
		if !ok {
			stopped = f.truncatedBox(rest)
			break
		}
		switch typ {
		case "ftyp":
			return avifCorrupt("a second ftyp box at offset %d", len(f.data)-len(rest))
		case "meta":
			meta, metaSeen = content, true
		case "moov":
			moovSeen = true
		}
		rest = next
	}
	// The major brand chooses the source; without either, libavif prefers
	// a track if it saw one.
	tracks := moovSeen && string(f.brands[:4]) != "avif"
	switch {
	case !metaSeen && moovSeen:
		return fmt.Errorf("%w: AVIF: an image sequence without a meta box (no still image)", ErrUnsupportedFeature)
	case stopped != nil:
		return stopped
	case !metaSeen:
		return avifCorrupt("no meta box")
	case needMoov && !moovSeen:
		return avifCorrupt("brand 'avis' but no moov box")
	case len(meta) < 4 || meta[0] != 0:
		return avifCorrupt("the meta box is malformed")
	}
	f.meta = meta[4:]
	if tracks {
		// The frames are read through the track's sample table, which is
		// not parsed here: the media data, at least, must be whole.
		for len(rest) > 0 {
			_, _, next, ok := nextBox(rest)
			if !ok {
				if len(rest) >= 8 && (string(rest[4:8]) == "mdat" || string(rest[4:8]) == "moov") {
					return f.truncatedBox(rest)
				}
				break // what follows the image
			}
			rest = next
		}
	}
	return nil
}

func (f *avifFile) hasBrand(b string) bool {
	if string(f.brands[:4]) == b {
		return true
	}
	for i := 8; i+4 <= len(f.brands); i += 4 {
		if string(f.brands[i:i+4]) == b {
			return true
		}
	}
	return false
}

// truncatedBox describes the top-level box at the start of rest, which
// nextBox could not read.
func (f *avifFile) truncatedBox(rest []byte) error {
	at := len(f.data) - len(rest)
	if len(rest) < 8 {
		return avifCorrupt("%d stray bytes at offset %d, where a box should start", len(rest), at)
	}
	size, header := uint64(binary.BigEndian.Uint32(rest)), uint64(8)
	if size == 1 {
		if len(rest) < 16 {
			return avifCorrupt("the %q box at offset %d is cut short in its header (truncated)", rest[4:8], at)
		}
		size, header = binary.BigEndian.Uint64(rest[8:]), 16
	}
	if size < header {
		return avifCorrupt("the %q box at offset %d declares %d bytes, less than its header", rest[4:8], at, size)
	}
	return avifCorrupt("the %q box at offset %d declares %d bytes; the file has %d (truncated)", rest[4:8], at, size, len(f.data))
}

// The unique boxes of meta.
const (
	seenIloc = 1 << iota
	seenPitm
	seenIdat
	seenIprp
	seenIinf
	seenIref
)

func (f *avifFile) parseMeta() error {
	var pitm, iloc, iinf, iprp, iref []byte
	var seen int
	first := true
	for rest := f.meta; len(rest) > 0; {
		typ, content, next, ok := nextBox(rest)
		if !ok {
			return avifCorrupt("a box in meta at offset %d runs past the meta box's end", len(f.data)-len(rest))
		}
		rest = next
		if first {
			if typ != "hdlr" {
				return avifCorrupt("the meta box begins with %q, not hdlr", typ)
			}
			if err := checkHdlr(content); err != nil {
				return err
			}
			first = false
			continue
		}
		var bit int
		switch typ {
		case "hdlr":
			return avifCorrupt("a second hdlr box in meta")
		case "iloc":
			bit, iloc = seenIloc, content
		case "pitm":
			bit, pitm = seenPitm, content
		case "idat":
			bit, f.idat, f.hasIdat = seenIdat, content, true
		case "iprp":
			bit, iprp = seenIprp, content
		case "iinf":
			bit, iinf = seenIinf, content
		case "iref":
			bit, iref = seenIref, content
		default:
			continue
		}
		if seen&bit != 0 {
			return avifCorrupt("a second %s box in meta", typ)
		}
		seen |= bit
	}
	switch {
	case first:
		return avifCorrupt("the meta box is empty")
	case seen&seenPitm == 0:
		return avifCorrupt("no pitm box (primary item)")
	case seen&seenIinf == 0:
		return avifCorrupt("no iinf box (item types)")
	case seen&seenIloc == 0:
		return avifCorrupt("no iloc box (item locations)")
	case seen&seenIprp == 0:
		return avifCorrupt("no iprp box (item properties)")
	case f.hasIdat && len(f.idat) == 0:
		return avifCorrupt("an empty idat box")
	}
	r := reader(pitm)
	version := r.u8()
	r.next(3)
	f.primary = r.id(version == 0)
	if !r.ok || f.primary == 0 {
		return avifCorrupt("the pitm box is malformed")
	}
	if err := f.parseIinf(iinf); err != nil {
		return err
	}
	if err := f.parseIloc(iloc); err != nil {
		return err
	}
	if err := f.parseIprp(iprp); err != nil {
		return err
	}
	if err := f.parseIref(iref); err != nil {
		return err
	}
	if f.hasBrand("tmap") && !slices.ContainsFunc(f.items, func(it avifItem) bool { return it.is("tmap") }) {
		return avifCorrupt("brand 'tmap' but no tmap item")
	}
	return nil
}

func checkHdlr(b []byte) error {
	r := reader(b)
	version := r.u8()
	r.next(3)
	predefined := r.u32()
	handler := r.next(4)
	r.next(12)
	r.cstring() // name
	switch {
	case !r.ok || version != 0 || predefined != 0:
		return avifCorrupt("the hdlr box is malformed")
	case string(handler) != "pict":
		return avifCorrupt("the meta box's handler is %q, not pict", handler)
	}
	return nil
}

func (f *avifFile) parseIinf(b []byte) error {
	r := reader(b)
	version := r.u8()
	r.next(3)
	var count uint32
	switch version {
	case 0:
		count = uint32(r.u16())
	case 1:
		count = r.u32()
	default:
		return avifCorrupt("iinf version %d", version)
	}
	if !r.ok {
		return avifCorrupt("the iinf box is malformed")
	}
	// An infe box has 21 bytes at least.
	f.items = make([]avifItem, 0, min(int64(count), int64(len(r.b)/21), maxAVIFItems))
	for i := uint32(0); i < count; i++ {
		typ, content, next, ok := nextBox(r.b)
		if !ok {
			return avifCorrupt("iinf declares %d items and holds %d", count, i)
		}
		r.b = next
		if typ != "infe" {
			return avifCorrupt("a %q box in iinf", typ)
		}
		e := reader(content)
		v := e.u8()
		e.next(3)
		if v != 2 && v != 3 {
			return avifCorrupt("infe version %d (2 or 3 declare an item type)", v)
		}
		var it avifItem
		it.id = e.id(v == 2)
		e.u16() // item_protection_index
		copy(it.typ[:], e.next(4))
		e.cstring() // item_name
		if it.is("mime") {
			e.cstring() // content_type
		}
		if !e.ok || it.id == 0 {
			return avifCorrupt("an infe box is malformed")
		}
		if len(f.items) == maxAVIFItems {
			return fmt.Errorf("%w: AVIF: more than %d items", ErrUnsupportedFeature, maxAVIFItems)
		}
		f.items = append(f.items, it)
	}
	// A later infe of the same item replaces an earlier one, as in libavif.
	slices.SortStableFunc(f.items, func(a, b avifItem) int { return cmp.Compare(a.id, b.id) })
	kept := f.items[:0]
	for i, it := range f.items {
		if i+1 < len(f.items) && f.items[i+1].id == it.id {
			continue
		}
		kept = append(kept, it)
	}
	f.items = kept
	return nil
}

// item returns the item of the given ID, or nil if iinf declares none.
func (f *avifFile) item(id uint32) *avifItem {
	i, ok := slices.BinarySearchFunc(f.items, id, func(it avifItem, id uint32) int { return cmp.Compare(it.id, id) })
	if !ok {
		return nil
	}
	return &f.items[i]
}

func (f *avifFile) parseIloc(b []byte) error {
	r := reader(b)
	version := r.u8()
	r.next(3)
	if version > 2 {
		return avifCorrupt("iloc version %d", version)
	}
	sizes := r.u16()
	offsetSize, lengthSize, baseSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15)
	indexSize := 0
	if version > 0 {
		indexSize = int(sizes & 15)
	}
	for _, s := range []int{offsetSize, lengthSize, baseSize, indexSize} {
		if s != 0 && s != 4 && s != 8 {
			return avifCorrupt("iloc field size %d (0, 4 or 8)", s)
		}
	}
	f.offsetSize, f.lengthSize, f.indexSize = offsetSize, lengthSize, indexSize
	extentSize := indexSize + offsetSize + lengthSize
	var count uint32
	if version < 2 {
		count = uint32(r.u16())
	} else {
		count = r.u32()
	}
	for i := uint32(0); i < count && r.ok; i++ {
		id := r.id(version < 2)
		method := uint16(0)
		if version > 0 {
			method = r.u16() // 12 reserved bits, construction_method
			switch {
			case method>>4 != 0:
				return avifCorrupt("item %d: iloc's reserved bits are set", id)
			case method > 1:
				return avifCorrupt("item %d: iloc construction method %d (0 or 1)", id, method)
			}
		}
		r.u16() // data_reference_index
		base := r.uint(baseSize)
		n := int(r.u16())
		extents := r.next(n * extentSize)
		if !r.ok {
			break
		}
		if id == 0 {
			return avifCorrupt("iloc gives item ID 0")
		}
		size := uint64(0)
		e := reader(extents)
		for range n {
			if extentSize == 0 {
				break // every extent is 0 bytes at the base offset
			}
			e.uint(indexSize)
			offset, length := e.uint(offsetSize), e.uint(lengthSize)
			if offset > math.MaxUint64-base || length > math.MaxUint64-size {
				return avifCorrupt("item %d: iloc extent overflows (base %d, offset %d, length %d)", id, base, offset, length)
			}
			size += length
		}
		it := f.item(id)
		if it == nil {
			continue // an item without a type, which libavif skips
		}
		if it.located && it.nExtents > 0 {
			return avifCorrupt("item %d has two iloc entries", id)
		}
		it.located, it.inIdat, it.base, it.extents, it.nExtents, it.size = true, method == 1, base, extents, n, size
	}
	if !r.ok {
		return avifCorrupt("the iloc box is malformed or truncated")
	}
	return nil
}

// checkExtents reports an extent of it that lies outside the file (or
// outside the idat box, for construction method 1), or after the file's
// last box, which Trim drops.
func (f *avifFile) checkExtents(it *avifItem) error {
	limit, where := uint64(len(f.data)), "the file"
	if it.inIdat {
		if !f.hasIdat {
			return avifCorrupt("item %d is stored in an idat box, and meta has none", it.id)
		}
		limit, where = uint64(len(f.idat)), "the idat box"
	}
	if f.indexSize+f.offsetSize+f.lengthSize == 0 {
		if it.base > limit {
			return avifCorrupt("item %d's data starts at offset %d, past the end of %s (%d bytes)", it.id, it.base, where, limit)
		}
		return nil
	}
	e := reader(it.extents)
	for range it.nExtents {
		e.uint(f.indexSize)
		start, length := it.base+e.uint(f.offsetSize), e.uint(f.lengthSize)
		switch {
		case start > limit || length > limit-start:
			return avifCorrupt("item %d's data (%d bytes at offset %d) runs past the end of %s (%d bytes): truncated", it.id, length, start, where, limit)
		case !it.inIdat && start+length > uint64(f.end):
			if rest := f.data[f.end:]; len(rest) >= 8 && boxType(rest[4:8]) {
				return f.truncatedBox(rest) // the item's data is in it
			}
			return avifCorrupt("item %d's data (%d bytes at offset %d) runs past the file's last box, which ends at offset %d", it.id, length, start, f.end)
		}
	}
	return nil
}

// readItem copies the start of the item's data (whose extents checkExtents
// accepted) into buf, and returns how many bytes it copied.
func (f *avifFile) readItem(it *avifItem, buf []byte) int {
	src := f.data
	if it.inIdat {
		src = f.idat
	}
	n := 0
	e := reader(it.extents)
	for i := 0; i < it.nExtents && n < len(buf); i++ {
		e.uint(f.indexSize)
		start, length := it.base+e.uint(f.offsetSize), e.uint(f.lengthSize)
		n += copy(buf[n:], src[start:start+length])
	}
	return n
}

func (f *avifFile) parseIprp(b []byte) error {
	typ, ipco, rest, ok := nextBox(b)
	if !ok || typ != "ipco" {
		return avifCorrupt("iprp does not begin with an ipco box")
	}
	for len(ipco) > 0 {
		typ, body, next, ok := nextBox(ipco)
		if !ok {
			return avifCorrupt("a property in ipco runs past the ipco box's end")
		}
		ipco = next
		// libavif refuses the file for a malformed property it reads.
		switch r := reader(body); typ {
		case "ispe":
			if r.u8() != 0 || len(body) < 12 {
				return avifCorrupt("an ispe property is malformed")
			}
		case "av1C":
			if len(body) < 4 || body[0] != 0x81 { // marker 1, version 1
				return avifCorrupt("an av1C property is malformed")
			}
		case "auxC":
			r.u8()
			r.next(3)
			r.cstring()
			if !r.ok || body[0] != 0 {
				return avifCorrupt("an auxC property is malformed")
			}
		}
		if len(f.props) < maxAVIFProperties {
			var p avifProp
			copy(p.typ[:], typ)
			p.body = body
			f.props = append(f.props, p)
		}
	}
	var versionsAndFlags []uint32
	for len(rest) > 0 {
		typ, ipma, next, ok := nextBox(rest)
		if !ok || typ != "ipma" {
			return avifCorrupt("iprp holds a box that is not ipma, or one that runs past its end")
		}
		rest = next
		if len(ipma) >= 4 {
			vf := binary.BigEndian.Uint32(ipma)
			switch {
			case slices.Contains(versionsAndFlags, vf):
				return avifCorrupt("two ipma boxes of the same version and flags")
			case len(versionsAndFlags) == 4: // as many as versions 0 and 1, flags 0 and 1
				return avifCorrupt("more than 4 ipma boxes")
			}
			versionsAndFlags = append(versionsAndFlags, vf)
		}
		if err := f.parseIpma(ipma); err != nil {
			return err
		}
	}
	return nil
}

func (f *avifFile) parseIpma(b []byte) error {
	r := reader(b)
	version := r.u8()
	r.next(2)
	wide := r.u8()&1 != 0
	count := r.u32()
	step := 1
	if wide {
		step = 2
	}
	prev := uint32(0)
	for i := uint32(0); i < count && r.ok; i++ {
		id := r.id(version < 1)
		n := int(r.u8())
		assoc := r.next(n * step)
		if !r.ok {
			break
		}
		if id == 0 {
			return avifCorrupt("ipma gives item ID 0")
		}
		if id <= prev {
			return avifCorrupt("ipma item IDs are not in increasing order (%d after %d)", id, prev)
		}
		prev = id
		for j := 0; j < len(assoc); j += step {
			essential, index := assoc[j]&0x80 != 0, int(assoc[j]&0x7F)
			if wide {
				index = int(binary.BigEndian.Uint16(assoc[j:]) & 0x7FFF)
			}
			if index == 0 {
				if essential {
					return avifCorrupt("item %d: an essential association with property 0", id)
				}
				continue
			}
			if index > len(f.props) {
				return avifCorrupt("item %d: property %d of %d", id, index, len(f.props))
			}
			switch string(f.props[index-1].typ[:]) {
			case "a1lx":
				if essential {
					return avifCorrupt("item %d: an a1lx property marked essential", id)
				}
			case "a1op", "lsel", "clap", "irot", "imir":
				if !essential {
					return avifCorrupt("item %d: a %s property not marked essential", id, f.props[index-1].typ[:])
				}
			}
		}
		it := f.item(id)
		if it == nil {
			continue
		}
		if it.associated {
			return avifCorrupt("item %d has two ipma entries", id)
		}
		it.associated, it.assoc, it.wideAssoc = true, assoc, wide
	}
	if !r.ok {
		return avifCorrupt("the ipma box is malformed or truncated")
	}
	return nil
}

func (f *avifFile) parseIref(b []byte) error {
	if b == nil {
		return nil
	}
	r := reader(b)
	version := r.u8()
	r.next(3)
	if !r.ok {
		return avifCorrupt("the iref box is malformed")
	}
	if version > 1 {
		return nil // libavif ignores it
	}
	idSize := 2 << version
	for len(r.b) > 0 {
		typ, content, next, ok := nextBox(r.b)
		if !ok {
			return avifCorrupt("a reference in iref runs past the iref box's end")
		}
		r.b = next
		e := reader(content)
		from := e.id(version == 0)
		refs := e.next(int(e.u16()) * idSize)
		if !e.ok || from == 0 {
			return avifCorrupt("a %q reference in iref is malformed", typ)
		}
		it := f.item(from)
		if typ == "dimg" && it != nil {
			if it.hasDimg {
				return avifCorrupt("item %d has two dimg references", from)
			}
			it.hasDimg, it.dimg, it.dimgWide = true, refs, version == 1
		}
		for i := 0; i < len(refs); i += idSize {
			to := refID(refs[i:], version == 1)
			if to == 0 {
				return avifCorrupt("a %q reference to item 0", typ)
			}
			switch {
			case typ == "dimg":
				if tile := f.item(to); tile != nil {
					if tile.dimgFor != 0 {
						return avifCorrupt("item %d is an input of items %d and %d", to, tile.dimgFor, from)
					}
					tile.dimgFor = from
				}
			case it == nil:
			case typ == "thmb":
				it.thumbFor = to
			case typ == "auxl":
				it.auxFor = to
			}
		}
	}
	return nil
}

func refID(b []byte, wide bool) uint32 {
	if wide {
		return binary.BigEndian.Uint32(b)
	}
	return uint32(binary.BigEndian.Uint16(b))
}

// property returns the body of the item's first property of the given type.
func (f *avifFile) property(it *avifItem, typ string) ([]byte, bool) {
	step := 1
	if it.wideAssoc {
		step = 2
	}
	for j := 0; j < len(it.assoc); j += step {
		index := int(it.assoc[j] & 0x7F)
		if it.wideAssoc {
			index = int(binary.BigEndian.Uint16(it.assoc[j:]) & 0x7FFF)
		}
		if index > 0 && string(f.props[index-1].typ[:]) == typ {
			return f.props[index-1].body, true
		}
	}
	return nil, false
}

// isAlpha reports whether it is an alpha auxiliary image (by its auxC).
func (f *avifFile) isAlpha(it *avifItem) bool {
	body, ok := f.property(it, "auxC")
	if !ok {
		return false
	}
	urn, _, _ := bytes.Cut(body[4:], []byte{0}) // parseIprp checked the NUL
	return string(urn) == alphaURN || string(urn) == alphaURNHEVC
}

// checkPrimary checks the primary item and what its decode reads, and
// returns its size.
func (f *avifFile) checkPrimary() (w, h int, err error) {
	p := f.item(f.primary)
	switch {
	case p == nil:
		return 0, 0, avifCorrupt("the primary item %d is not in iinf", f.primary)
	case !p.is("av01") && !p.is("grid"):
		return 0, 0, avifCorrupt("the primary item %d is of type %q, not av01 or grid", p.id, p.typ[:])
	case !p.usable():
		return 0, 0, avifCorrupt("the primary item %d has no data, or is a thumbnail", p.id)
	}
	w, h, err = f.checkImage(p, 0)
	if err != nil {
		return 0, 0, err
	}
	// The alpha auxiliary image: of the primary item or, for a grid
	// without one, of each of its tiles.
	var tileAlpha []*avifItem
	for i := range f.items {
		a := &f.items[i]
		if a.auxFor == 0 || !a.usable() || !f.isAlpha(a) {
			continue
		}
		if a.auxFor == p.id {
			if _, _, err := f.checkImage(a, 0); err != nil {
				return 0, 0, err
			}
			return w, h, nil
		}
		if t := f.item(a.auxFor); t != nil && t.dimgFor == p.id && p.is("grid") {
			tileAlpha = append(tileAlpha, a)
		}
	}
	for _, a := range tileAlpha {
		if !a.is("av01") {
			return 0, 0, avifCorrupt("item %d, the alpha of a tile, is a grid", a.id)
		}
		if _, _, err := f.checkImage(a, 0); err != nil {
			return 0, 0, err
		}
	}
	return w, h, nil
}

// checkImage checks an image item that the decode reads (depth 0 for a
// main image, 1 for a grid's tile), and returns its ispe size, or 0x0 if
// it has none (allowed for an alpha image).
func (f *avifFile) checkImage(it *avifItem, depth int) (w, h int, err error) {
	if err := f.checkExtents(it); err != nil {
		return 0, 0, err
	}
	if ispe, ok := f.property(it, "ispe"); ok {
		w, h = int(binary.BigEndian.Uint32(ispe[4:])), int(binary.BigEndian.Uint32(ispe[8:]))
		if w == 0 || h == 0 {
			return 0, 0, avifCorrupt("item %d: ispe gives a size of %dx%d", it.id, w, h)
		}
	} else if !f.isAlpha(it) {
		return 0, 0, avifCorrupt("item %d has no ispe property (its size)", it.id)
	}
	if it.is("av01") {
		if _, ok := f.property(it, "av1C"); !ok {
			return 0, 0, avifCorrupt("item %d has no av1C property (its AV1 configuration)", it.id)
		}
		return w, h, nil
	}
	if depth > 0 {
		return 0, 0, avifCorrupt("item %d, a tile of a grid, is a grid", it.id)
	}
	return w, h, f.checkGrid(it, w, h)
}

// checkGrid checks a grid item's payload (ImageGrid) against its size
// (w x h, from its ispe, 0x0 if it has none) and its tiles.
func (f *avifFile) checkGrid(g *avifItem, w, h int) error {
	var buf [12]byte
	n := f.readItem(g, buf[:])
	if uint64(n) != g.size || n < 8 || buf[0] != 0 {
		return avifCorrupt("item %d: the grid's %d-byte payload is malformed", g.id, g.size)
	}
	rows, cols := int(buf[2])+1, int(buf[3])+1
	outW, outH := int(binary.BigEndian.Uint16(buf[4:])), int(binary.BigEndian.Uint16(buf[6:]))
	if buf[1]&1 != 0 {
		if n != 12 {
			return avifCorrupt("item %d: the grid's %d-byte payload is malformed", g.id, g.size)
		}
		outW, outH = int(binary.BigEndian.Uint32(buf[4:])), int(binary.BigEndian.Uint32(buf[8:]))
	} else if n != 8 {
		return avifCorrupt("item %d: the grid's %d-byte payload is malformed", g.id, g.size)
	}
	switch {
	case outW == 0 || outH == 0:
		return avifCorrupt("item %d: the grid's size is %dx%d", g.id, outW, outH)
	case w != 0 && (w != outW || h != outH):
		return avifCorrupt("item %d: the grid is %dx%d, its ispe says %dx%d", g.id, outW, outH, w, h)
	}
	idSize := 2
	if g.dimgWide {
		idSize = 4
	}
	if len(g.dimg)/idSize != rows*cols {
		return avifCorrupt("item %d: a grid of %dx%d tiles with %d dimg references", g.id, cols, rows, len(g.dimg)/idSize)
	}
	var tileW, tileH int
	for i := 0; i < len(g.dimg); i += idSize {
		id := refID(g.dimg[i:], g.dimgWide)
		tile := f.item(id)
		switch {
		case tile == nil:
			return avifCorrupt("item %d: tile %d is not in iinf", g.id, id)
		case !tile.is("av01"):
			return avifCorrupt("item %d: tile %d is of type %q, not av01", g.id, id, tile.typ[:])
		case !tile.usable():
			return avifCorrupt("item %d: tile %d has no data, or is a thumbnail", g.id, id)
		}
		tw, th, err := f.checkImage(tile, 1)
		if err != nil {
			return err
		}
		if i == 0 {
			tileW, tileH = tw, th
		}
	}
	// The tiles cover the grid, and the last row and column overlap it
	// (MIAF 7.3.11.4.2), tiles of 64x64 at least.
	switch {
	case tileW == 0:
		// an alpha tile without ispe: the decoder takes the colour's size
	case tileW < 64 || tileH < 64:
		return avifCorrupt("item %d: tiles of %dx%d (64x64 at least)", g.id, tileW, tileH)
	case tileW*cols < outW || tileH*rows < outH || tileW*(cols-1) >= outW || tileH*(rows-1) >= outH:
		return avifCorrupt("item %d: %dx%d tiles of %dx%d do not make a %dx%d grid", g.id, cols, rows, tileW, tileH, outW, outH)
	}
	return nil
}

// bmff reads big-endian fields; once a read runs past the end, ok is
// false and every later read gives zero.
type bmff struct {
	b  []byte
	ok bool
}

func reader(b []byte) bmff { return bmff{b: b, ok: true} }

func (r *bmff) next(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *bmff) u8() uint8 {
	if p := r.next(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *bmff) u16() uint16 {
	if p := r.next(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *bmff) u32() uint32 {
	if p := r.next(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

// uint reads an unsigned field of size bytes: 0, 4 or 8.
func (r *bmff) uint(size int) uint64 {
	switch size {
	case 4:
		return uint64(r.u32())
	case 8:
		if p := r.next(8); p != nil {
			return binary.BigEndian.Uint64(p)
		}
	}
	return 0
}

// id reads an item ID: 16 bits if short, else 32.
func (r *bmff) id(short bool) uint32 {
	if short {
		return uint32(r.u16())
	}
	return r.u32()
}

// cstring skips a NUL-terminated string.
func (r *bmff) cstring() {
	i := bytes.IndexByte(r.b, 0)
	if i < 0 {
		r.ok = false
		return
	}
	r.next(i + 1)
}
