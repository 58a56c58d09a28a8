package avifwasm

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/gen2brain/avif"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"
)

// frame is a w x h frame of the test photo, as a job encodes.
func frame(t testing.TB, w, h int) *image.RGBA {
	t.Helper()
	f, err := os.Open("../../../testdata/photos/dandelion-1600.jpg")
	require.NoError(t, err)
	defer f.Close()
	src, err := jpeg.Decode(f)
	require.NoError(t, err)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(img, img.Bounds(), src, src.Bounds(), draw.Src, nil)
	return img
}

// TestSameFilesAsGen2brain: the same libavif and libaom with the same
// settings make the same file as gen2brain/avif's WebAssembly build.
func TestSameFilesAsGen2brain(t *testing.T) {
	if avif.Dynamic() == nil {
		t.Skip("gen2brain/avif uses a system libavif here, whose libaom differs")
	}
	img := frame(t, 600, 400)
	for _, speed := range []int{6, 9} {
		ours, err := Encode(img, 60, speed)
		require.NoError(t, err)
		var theirs bytes.Buffer
		require.NoError(t, avif.Encode(&theirs, img, avif.Options{Quality: 60, QualityAlpha: 60, Speed: speed, ChromaSubsampling: image.YCbCrSubsampleRatio420}))
		assert.True(t, bytes.Equal(ours, theirs.Bytes()), "speed %d: %d bytes against gen2brain/avif's %d", speed, len(ours), theirs.Len())
	}
}

// TestAlpha: a picture with transparency keeps it (premultiplied in,
// straight in the file); an opaque one has no alpha plane.
func TestAlpha(t *testing.T) {
	img := frame(t, 64, 48)
	opaque, err := Encode(img, 80, 9)
	require.NoError(t, err)
	for y := range 48 {
		for x := range 32 { // the left half is half transparent
			c := img.RGBAAt(x, y)
			img.SetRGBA(x, y, color.RGBA{c.R / 2, c.G / 2, c.B / 2, 128})
		}
	}
	data, err := Encode(img, 80, 9)
	require.NoError(t, err)
	assert.Greater(t, len(data), len(opaque), "the alpha plane")
	dec, err := avif.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	_, _, _, a := dec.At(10, 10).RGBA()
	assert.InDelta(t, 128, a>>8, 3)
	_, _, _, a = dec.At(50, 10).RGBA()
	assert.Equal(t, uint32(255), a>>8)
	r, _, _, _ := dec.At(10, 10).RGBA() // premultiplied again by image/color
	want, _, _, _ := img.At(10, 10).RGBA()
	assert.InDelta(t, want>>8, r>>8, 12)
}

// TestMemoryOffTheHeap: an encode's linear memory is not on the Go heap.
func TestMemoryOffTheHeap(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the memory is reserved with mmap on Linux only")
	}
	require.NoError(t, Compile())
	img := frame(t, 1400, 1750)
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	_, err := Encode(img, 60, 9)
	require.NoError(t, err)
	goruntime.ReadMemStats(&after)
	// gen2brain/avif's build allocates 339 MB on the heap for this encode.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "Go allocations of one 1400x1750 encode")
}

// TestConcurrentEncodes: instances are independent.
func TestConcurrentEncodes(t *testing.T) {
	img := frame(t, 300, 200)
	want, err := Encode(img, 60, 9)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := Encode(img, 60, 9)
			assert.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	wg.Wait()
}

// TestTooLarge: an encode whose memory would pass the bound fails with
// ErrEncode, and the next one works.
func TestTooLarge(t *testing.T) {
	defer func(m uint64) { maxMemory = m }(maxMemory)
	maxMemory = 64 << 20
	big := frame(t, 2000, 2000) // 16 MB of pixels, and libaom's frames
	_, err := Encode(big, 60, 9)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrEncode), "%v", err)
	_, err = Encode(frame(t, 32, 32), 60, 9)
	assert.NoError(t, err)
}

func TestSmallestAndChecks(t *testing.T) {
	_, err := Encode(image.NewRGBA(image.Rect(0, 0, 0, 5)), 60, 9)
	assert.EqualError(t, err, "avifwasm: cannot encode a 0x5 image")
	data, err := Encode(image.NewRGBA(image.Rect(0, 0, 1, 1)), 60, 9)
	require.NoError(t, err)
	cfg, err := avif.DecodeConfig(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, 1, cfg.Width)
}

// TestFrame: pixels written into a Frame's memory encode as Encode's, a
// Frame encodes once, and Close may be called again.
func TestFrame(t *testing.T) {
	img := frame(t, 120, 80)
	want, err := Encode(img, 60, 9)
	require.NoError(t, err)
	f, err := NewFrame(120, 80)
	require.NoError(t, err)
	require.Len(t, f.Pix(), 120*80*4)
	copy(f.Pix(), img.Pix)
	got, err := f.Encode(60, 9)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = f.Encode(60, 9)
	assert.EqualError(t, err, "avifwasm: Encode on a closed or encoded Frame")
	f.Close()
	f.Close()
	_, err = NewFrame(0, 1)
	assert.EqualError(t, err, "avifwasm: cannot encode a 0x1 image")
}
