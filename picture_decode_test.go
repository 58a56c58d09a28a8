package pictures

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzPictureScan checks the fast decoder against encoding/json: whenever
// it accepts an input, encoding/json accepts it too and decodes the same
// value.
func FuzzPictureScan(f *testing.F) {
	p := Picture{Field: "post.image", Key: "posts/a b/c.jpeg", Width: 4032, Height: 3024,
		Focus: &FocalPoint{X: 0.25, Y: 1e-3}, Version: "abc", Preview: "data:image/jpeg;base64,/9j/",
		Variants: []VariantSet{{Ratio: "", Type: "AVIF", Widths: []int{311, 623}}, {Ratio: "4/5", Type: "JPEG", Widths: []int{935}}}}
	v, _ := p.Value()
	f.Add([]byte(v.(string)))
	f.Add([]byte(`{"field":"x","key":"k.jpeg","width":1,"height":1}`))
	f.Add([]byte(` { "key" : "k" , "width" : -0 , "focus" : { } , "variants" : [ { } ] } `))
	f.Add([]byte(`{"key":"caf\u00e9","width":1.5}`))
	f.Add([]byte(`{"key":"k","focus":{"X":.5}}`))
	f.Add([]byte(`{"key":"k","width":5,"width":7,"variants":[],"variants":[{"widths":[1,2]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast stored
		if !decodeStored(b, &fast) {
			return
		}
		var slow stored
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast decoder accepted %q, encoding/json refuses it: %v", b, err)
		}
		if diff := cmp.Diff(slow, fast); diff != "" {
			t.Fatalf("decoders disagree on %q (-json +fast):\n%s", b, diff)
		}
	})
}

func TestPictureScanFastPathIsTaken(t *testing.T) {
	f := PictureField{Name: "x", AspectRatios: []string{"", "1/1", "4/5"}}
	vs, err := f.Variants(4032, 3024)
	if err != nil {
		t.Fatal(err)
	}
	p := Picture{Field: "post.image", Key: "posts/k.jpeg", Width: 4032, Height: 3024, Variants: vs, Focus: &FocalPoint{X: 0.5, Y: 0.25}, Version: "v", Preview: "data:x"}
	v, _ := p.Value()
	var s stored
	if !decodeStored([]byte(v.(string)), &s) {
		t.Fatal("the fast decoder refuses what Value writes")
	}
}
