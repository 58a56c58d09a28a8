package pictures

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/gopictures/pictures/storage"
)

// benchDevices are the viewports of the browser checks: width, height and
// device pixel ratio.
var benchDevices = []struct {
	w, h int
	dpr  float64
}{
	{320, 640, 1}, {360, 800, 2}, {390, 844, 3}, {412, 915, 2.625}, {768, 1024, 2},
	{1280, 800, 1.5}, {1440, 900, 1}, {1920, 1080, 1}, {2560, 1440, 2},
}

// BenchmarkLadder compares, for the example app's post field and the
// 12-megapixel photo, django-pictures' ladder (today's for fields without
// layouts) with the ladder derived from the app's layouts: the variants
// generated, their encoded pixels and stored bytes, and the image bytes
// each device downloads per page (a feed page of 12 posts, an explore page
// of 24 tiles, a post page), by the browsers' selection rule (the
// narrowest candidate at least the painted width times the pixel ratio).
//
//	go test -run '^$' -bench '^BenchmarkLadder$' -benchtime 1x .
func BenchmarkLadder(b *testing.B) {
	data, err := os.ReadFile(jobPhoto(b))
	if err != nil {
		b.Fatal(err)
	}
	type page struct {
		name   string
		n      int    // pictures on the page
		ratio  string // the crop shown, for the django-pictures field
		layout string // the declared layout
		cols   map[string]int
	}
	pages := []page{
		{"feed", 12, "", "feed", map[string]int{"xs": 3, "s": 2}},
		{"explore", 24, "1/1", "tile", map[string]int{"xs": 1}},
		{"post", 1, "", "post", map[string]int{"xs": 3, "s": 2}},
	}
	type result struct {
		variants, pixels int
		bytes            int64
		page             map[string][]int64 // per page, per device
	}
	run := func(b *testing.B, f *PictureField) result {
		mem := &storage.Memory{}
		f.Storage, f.Processor = mem, Synchronous
		f.Name = b.Name() + fmt.Sprint(len(f.Layouts))
		if err := Register(f); err != nil {
			b.Fatal(err)
		}
		defer Unregister(f)
		ctx := context.Background()
		p, err := f.Upload(ctx, bytes.NewReader(data), "photo.jpeg")
		if err != nil {
			b.Fatal(err)
		}
		if p, err = f.Process(ctx, p); err != nil {
			b.Fatal(err)
		}
		size := func(r Ratio, w int, ext string) int64 {
			rc, err := mem.Open(ctx, VariantKey(p.Key, r, w, ext))
			if err != nil {
				b.Fatal(err)
			}
			defer rc.Close()
			n, _ := io.Copy(io.Discard, rc)
			return n
		}
		res := result{page: map[string][]int64{}}
		for _, v := range p.Variants {
			r, _ := ParseRatio(v.Ratio)
			t, _ := lookupFileType(v.Type)
			for _, w := range v.Widths {
				res.variants++
				res.pixels += w * r.Height(w, p.Width, p.Height)
				res.bytes += size(r, w, t.Ext)
			}
		}
		for _, pg := range pages {
			for _, d := range benchDevices {
				var sizes string
				ratio := pg.ratio
				if f.Layouts != nil {
					sizes, _ = f.LayoutSizes(pg.layout)
					if l := f.Layouts[pg.layout]; len(l.Ratios) > 0 {
						ratio = l.Ratios["xs"]
						if s, ok := l.Ratios["s"]; ok && d.w >= 768 {
							ratio = s
						}
					}
				} else {
					sizes, _ = f.Sizes(Layout{Columns: pg.cols})
				}
				r, _ := ParseRatio(ratio)
				ws := p.widths(r, "AVIF")
				need := evalSizes(b, sizes, float64(d.w)) * d.dpr
				i, _ := slices.BinarySearchFunc(ws, need, func(w int, n float64) int { return cmpFloat(float64(w), n) })
				i = min(i, len(ws)-1)
				res.page[pg.name] = append(res.page[pg.name], int64(pg.n)*size(r, ws[i], "avif"))
			}
		}
		return res
	}
	for b.Loop() {
		django := run(b, &PictureField{AspectRatios: []string{"", "1/1", "4/5"}, ContainerWidth: 935, GridColumns: 3, PixelDensities: []int{1, 2, 3}})
		layouts := run(b, &PictureField{AspectRatios: []string{"", "1/1", "4/5"}, ContainerWidth: 935, GridColumns: 3, PixelDensities: []int{1, 2, 3}, Layouts: appPostLayouts})
		fmt.Printf("ladder django-pictures: variants=%d encoded_mpx=%.1f stored_kb=%d\n", django.variants, float64(django.pixels)/1e6, django.bytes>>10)
		fmt.Printf("ladder layouts:         variants=%d encoded_mpx=%.1f stored_kb=%d\n", layouts.variants, float64(layouts.pixels)/1e6, layouts.bytes>>10)
		fmt.Printf("%-16s", "page KB")
		for _, d := range benchDevices {
			fmt.Printf(" %11s", fmt.Sprintf("%dx%d@%g", d.w, d.h, d.dpr))
		}
		fmt.Println()
		for _, pg := range pages {
			for _, side := range []struct {
				name string
				r    result
			}{{"django", django}, {"layouts", layouts}} {
				fmt.Printf("%-16s", pg.name+" "+side.name)
				for _, n := range side.r.page[pg.name] {
					fmt.Printf(" %11d", n>>10)
				}
				fmt.Println()
			}
		}
	}
}
