package pictures_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gen2brain/avif"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/imagetest"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/processor"
	"github.com/gopictures/pictures/storage"
)

// recorder wraps a storage and counts writes and deletes.
type recorder struct {
	pictures.Storage
	mu      sync.Mutex
	puts    []string
	deletes []string
}

func (r *recorder) Put(ctx context.Context, key string, body io.Reader) error {
	r.mu.Lock()
	r.puts = append(r.puts, key)
	r.mu.Unlock()
	return r.Storage.Put(ctx, key, body)
}

func (r *recorder) Delete(ctx context.Context, key string) error {
	r.mu.Lock()
	r.deletes = append(r.deletes, key)
	r.mu.Unlock()
	return r.Storage.Delete(ctx, key)
}

func (r *recorder) reset() (puts, deletes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	puts, deletes = r.puts, r.deletes
	r.puts, r.deletes = nil, nil
	return puts, deletes
}

// harness is a registered field with its storage, a worker pool and the
// Pictures OnProcessed reported (as an application's rows would hold).
type harness struct {
	field *pictures.PictureField
	store *recorder
	pool  *processor.Pool[pictures.Job]

	mu   sync.Mutex
	rows map[string]pictures.Picture
	done chan pictures.Picture
}

func newHarness(t *testing.T, f pictures.PictureField) *harness {
	t.Helper()
	h := &harness{store: &recorder{Storage: &storage.Dir{Root: t.TempDir()}}, rows: map[string]pictures.Picture{}, done: make(chan pictures.Picture, 64)}
	h.pool = processor.New(processor.Config{Workers: 2, Backoff: 10 * time.Millisecond}, pictures.Run)
	f.Name = t.Name()
	f.Storage = h.store
	f.Processor = h.pool
	f.OnProcessed = func(ctx context.Context, p pictures.Picture) error {
		// As an application's UPDATE ... WHERE key = ?: a row that was
		// never inserted is not updated.
		h.mu.Lock()
		_, ok := h.rows[p.Key]
		if ok {
			h.rows[p.Key] = p
		}
		h.mu.Unlock()
		if ok && f.Current(p) {
			h.done <- p
		}
		return nil
	}
	h.field = &f
	require.NoError(t, pictures.Register(h.field))
	t.Cleanup(func() {
		h.pool.Shutdown(context.Background())
		pictures.Unregister(h.field)
	})
	return h
}

// insert is the store function of Save: the application's INSERT.
func (h *harness) insert(ctx context.Context, p pictures.Picture) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rows[p.Key] = p
	return nil
}

// wait returns the first complete Picture OnProcessed reports.
func (h *harness) wait(t *testing.T) pictures.Picture {
	t.Helper()
	select {
	case p := <-h.done:
		return p
	case <-time.After(3 * time.Minute):
		t.Fatal("variants were not generated in time")
	}
	return pictures.Picture{}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

func get(t *testing.T, s pictures.Storage, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	require.NoError(t, err, key)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

func decodeVariant(t *testing.T, key string, data []byte) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch {
	case strings.HasSuffix(key, ".avif"):
		img, err = avif.Decode(bytes.NewReader(data))
	case strings.HasSuffix(key, ".jpeg"):
		img, err = jpeg.Decode(bytes.NewReader(data))
	case strings.HasSuffix(key, ".png"):
		img, err = png.Decode(bytes.NewReader(data))
	default:
		t.Fatalf("unexpected variant %s", key)
	}
	require.NoError(t, err, key)
	return img
}

func psnr(a, b image.Image) float64 {
	var sum float64
	bd := a.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(bd.Dx()*bd.Dy()*3)
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}

// TestSaveProcessesRealPhoto is the end to end check: a real photograph
// saved through a field comes out as every declared variant, in storage,
// at the right size, decodable, the right way round and metadata-free, and
// renders.
func TestSaveProcessesRealPhoto(t *testing.T) {
	h := newHarness(t, pictures.PictureField{
		AspectRatios:   []string{"", "1/1", "4/5"},
		ContainerWidth: 935,
		GridColumns:    3,
		PixelDensities: []int{1, 2},
		UploadTo:       "posts/%Y/%m",
	})
	data := readFile(t, "testdata/photos/dandelion-1600.jpg")
	p, err := h.field.Save(context.Background(), bytes.NewReader(data), "IMG_0042.JPG", h.insert)
	require.NoError(t, err)
	assert.Equal(t, 1600, p.Width)
	assert.Equal(t, 900, p.Height)
	assert.Regexp(t, `^posts/\d{4}/\d{2}/[a-z2-7]{26}\.jpeg$`, p.Key, "a random name and the sniffed extension")
	assert.True(t, strings.HasPrefix(p.Preview, "data:image/jpeg;base64,"))
	assert.Empty(t, p.Variants, "nothing is rendered before it exists")

	done := h.wait(t)
	assert.True(t, h.field.Current(done))
	want, err := h.field.Variants(1600, 900)
	require.NoError(t, err)
	assert.Equal(t, want, done.Variants)

	src, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	n := 0
	for _, vs := range done.Variants {
		r, err := pictures.ParseRatio(vs.Ratio)
		require.NoError(t, err)
		ext := map[string]string{"AVIF": "avif", "JPEG": "jpeg"}[vs.Type]
		for _, w := range vs.Widths {
			key := pictures.VariantKey(p.Key, r, w, ext)
			body := get(t, h.store, key)
			for _, marker := range []string{"Exif", "ICC_PROFILE", "http://ns.adobe.com/xap"} {
				assert.NotContains(t, string(body), marker, key)
			}
			img := decodeVariant(t, key, body)
			wantH := r.Height(w, p.Width, p.Height)
			require.Equal(t, image.Rect(0, 0, w, wantH), img.Bounds(), key)
			// The content is the centred crop of the photo, resized.
			cw, ch := r.CropSize(p.Width, p.Height)
			crop := image.Rect((p.Width-cw)/2, (p.Height-ch)/2, (p.Width-cw)/2+cw, (p.Height-ch)/2+ch)
			ref := image.NewRGBA(image.Rect(0, 0, w, wantH))
			draw.CatmullRom.Scale(ref, ref.Bounds(), src, crop, draw.Src, nil)
			assert.Greater(t, psnr(img, ref), 30.0, "%s looks like the photo", key)
			n++
		}
	}
	assert.Equal(t, 14, n, "11 AVIF variants and 3 JPEG fallbacks")

	html, err := pictures.Render(done, "alt", "Dandelion", "ratio", "4/5")
	require.NoError(t, err)
	assert.Contains(t, string(html), `type="image/avif"`)
	assert.Contains(t, string(html), `/4_5/720w.avif 720w`)
	assert.Contains(t, string(html), `width="720" height="900"`)

	// Deleting removes every file: variants and original.
	require.NoError(t, h.field.Delete(context.Background(), done))
	keys, err := h.store.List(context.Background(), "")
	require.NoError(t, err)
	assert.Empty(t, keys)
}

// quadrantJPEG is imagetest.Quadrants(w, h) stored as a camera in EXIF
// orientation o stores it, tagged with o.
func quadrantJPEG(t *testing.T, w, h, o int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, imagetest.Stored(imagetest.Quadrants(w, h), o), &jpeg.Options{Quality: 95}))
	return imagetest.WithJPEGEXIF(buf.Bytes(), imagetest.TIFFOrientation(o, binary.BigEndian))
}

func TestSaveAppliesOrientation(t *testing.T) {
	h := newHarness(t, pictures.PictureField{AspectRatios: []string{"", "1/1"}, ContainerWidth: 400, GridColumns: 1, PixelDensities: []int{1}})
	for _, o := range []int{1, 3, 6, 8} {
		p, err := h.field.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 480, 320, o)), "rotated.jpg", h.insert)
		require.NoError(t, err)
		assert.Equal(t, [2]int{480, 320}, [2]int{p.Width, p.Height}, "stored size is upright for orientation %d", o)
		done := h.wait(t)
		for _, key := range done.Keys() {
			img := decodeVariant(t, key, get(t, h.store, key))
			assert.NoError(t, imagetest.Upright(img), "orientation %d, %s", o, key)
		}
	}
}

func TestSaveRefusals(t *testing.T) {
	h := newHarness(t, pictures.PictureField{
		MinWidth: 320, MinHeight: 320, MaxWidth: 2000, MaxHeight: 2000,
		MaxBytes: 200 << 10, MaxPixels: 3_000_000,
	})
	jpg := func(w, hh int) []byte {
		var buf bytes.Buffer
		require.NoError(t, jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, hh)), nil))
		return buf.Bytes()
	}
	bigPNG := readFile(t, "testdata/hostile/header-50000x50000.png")
	tests := []struct {
		name, filename string
		data           []byte
		is             error
		msg            string
	}{
		{"empty", "empty.jpg", nil, pictures.ErrNotImage, `"empty.jpg" is empty.`},
		{"text", "notes.jpg", []byte("just some text, named like a photo"), pictures.ErrNotImage,
			`"notes.jpg" is not an image we can read (JPEG, PNG, GIF, WebP or AVIF).`},
		{"too small", "tiny.jpg", jpg(300, 400), pictures.ErrImageTooSmall, `"tiny.jpg" is 300×400 pixels; it must be at least 320×320.`},
		{"too big", "wide.jpg", jpg(2400, 500), pictures.ErrImageTooBig, `"wide.jpg" is 2400×500 pixels; it must be at most 2000×2000.`},
		{"too many bytes", "huge.bin", bytes.Repeat([]byte{0xFF}, 300<<10), pictures.ErrTooLarge, `"huge.bin" is larger than 200 KB.`},
		{"too many pixels", "bomb.png", bigPNG, pictures.ErrTooManyPixels, `"bomb.png" is 50000×50000 pixels; the limit is 3 megapixels.`},
		{"truncated", "cut.jpg", jpg(800, 600)[:400], pictures.ErrDamaged, `"cut.jpg" is damaged or incomplete and cannot be read.`},
		{"path in name", `C:\Users\me\..\secret<b>.jpg`, []byte("x"), pictures.ErrNotImage,
			`"secret<b>.jpg" is not an image we can read (JPEG, PNG, GIF, WebP or AVIF).`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.field.Save(context.Background(), bytes.NewReader(tt.data), tt.filename, h.insert)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			var ue *pictures.UploadError
			require.True(t, errors.As(err, &ue))
			assert.Equal(t, tt.msg, ue.Message)
			keys, err := h.store.List(context.Background(), "")
			require.NoError(t, err)
			assert.Empty(t, keys, "a refused upload leaves nothing in storage")
		})
	}
}

// TestReconcile changes a field's configuration and checks that
// reconciling generates what is new, deletes what was dropped, keeps the
// rest, reports progress, and does nothing the second time.
func TestReconcile(t *testing.T) {
	h := newHarness(t, pictures.PictureField{AspectRatios: []string{"", "4/5"}, ContainerWidth: 600, GridColumns: 2, PixelDensities: []int{1}})
	var saved []pictures.Picture
	for i := range 2 {
		p, err := h.field.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 900+i*100, 700, 1)), "a.jpg", h.insert)
		require.NoError(t, err)
		saved = append(saved, p)
	}
	for range saved {
		h.wait(t)
	}
	h.store.reset()
	stored := func() []pictures.Picture {
		h.mu.Lock()
		defer h.mu.Unlock()
		var out []pictures.Picture
		for _, p := range saved {
			out = append(out, h.rows[p.Key])
		}
		return out
	}
	before := stored()
	oldKeys := before[0].Keys()

	// The new configuration drops 4/5, adds 1/1 and keeps the original ratio.
	pictures.Unregister(h.field)
	next := *h.field
	next.AspectRatios = []string{"", "1/1"}
	require.NoError(t, pictures.Register(&next))
	t.Cleanup(func() { pictures.Unregister(&next) })
	for _, p := range before {
		assert.False(t, next.Current(p))
	}

	var progress []string
	err := next.Reconcile(context.Background(), before, pictures.ReconcileOptions{
		Progress: func(done, total int, p pictures.Picture, err error) {
			progress = append(progress, fmt.Sprintf("%d/%d %v", done, total, err))
		},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"1/2 <nil>", "2/2 <nil>"}, progress)
	after := stored()
	puts, deletes := h.store.reset()
	for i, p := range after {
		assert.True(t, next.Current(p), "picture %d is current", i)
		for _, k := range p.Keys() {
			assert.Contains(t, k, "/", k)
		}
	}
	for _, k := range puts {
		assert.Contains(t, k, "/1_1/", "only the new ratio is generated: %s", k)
	}
	for _, k := range oldKeys {
		if strings.Contains(k, "/4_5/") {
			assert.Contains(t, deletes, k, "dropped variants are deleted")
			_, err := h.store.Open(context.Background(), k)
			assert.Error(t, err)
		} else {
			assert.NotContains(t, deletes, k, "kept variants are not touched")
			assert.NotContains(t, puts, k, "kept variants are not rewritten")
		}
	}

	// Idempotent: nothing to do the second time.
	require.NoError(t, next.Reconcile(context.Background(), after, pictures.ReconcileOptions{}))
	puts, deletes = h.store.reset()
	assert.Empty(t, puts)
	assert.Empty(t, deletes)

	// New encoder settings make every variant stale.
	pictures.Unregister(&next)
	third := next
	third.Encoding = pipeline.Encoding{AVIFQuality: 50}
	require.NoError(t, pictures.Register(&third))
	t.Cleanup(func() { pictures.Unregister(&third) })
	require.NoError(t, third.Reconcile(context.Background(), after[:1], pictures.ReconcileOptions{}))
	puts, _ = h.store.reset()
	slices.Sort(puts)
	assert.Equal(t, sortedKeys(after[0].Keys()), puts, "every variant is regenerated in place")
}

func sortedKeys(k []string) []string {
	k = slices.Clone(k)
	slices.Sort(k)
	return k
}

func TestProcessFailures(t *testing.T) {
	h := newHarness(t, pictures.PictureField{})
	p, err := h.field.Upload(context.Background(), bytes.NewReader(quadrantJPEG(t, 200, 100, 1)), "a.jpg")
	require.NoError(t, err)

	// A missing original is permanent: retrying cannot help.
	missing := p
	missing.Key = "pictures/none.jpeg"
	err = pictures.Run(context.Background(), pictures.Job{Picture: missing})
	assert.True(t, processor.IsPermanent(err), "%v", err)

	// An unregistered field too.
	stray := p
	stray.Field = "nobody"
	err = pictures.Run(context.Background(), pictures.Job{Picture: stray})
	assert.True(t, processor.IsPermanent(err))
	assert.ErrorIs(t, err, pictures.ErrNotRegistered)

	// A failing OnProcessed is not permanent: the application may be back.
	h.field.OnProcessed = func(context.Context, pictures.Picture) error { return errors.New("database is restarting") }
	err = pictures.Run(context.Background(), pictures.Job{Picture: p})
	assert.Error(t, err)
	assert.False(t, processor.IsPermanent(err))
}

func TestJobJSON(t *testing.T) {
	p := pictures.Picture{Field: "post.image", Key: "a/b.jpeg", Width: 10, Height: 20, Variants: []pictures.VariantSet{{Ratio: "1/1", Type: "AVIF", Widths: []int{10}}}}
	b, err := (pictures.Job{Picture: p}).MarshalJSON()
	require.NoError(t, err)
	var back pictures.Job
	require.NoError(t, back.UnmarshalJSON(b))
	assert.Equal(t, p, back.Picture)
}

// TestFocalPoint checks that crops keep the Picture's focus in view.
func TestFocalPoint(t *testing.T) {
	h := newHarness(t, pictures.PictureField{AspectRatios: []string{"1/1"}, ContainerWidth: 320, GridColumns: 1, PixelDensities: []int{1}})
	p, err := h.field.Upload(context.Background(), bytes.NewReader(quadrantJPEG(t, 480, 320, 1)), "q.jpg")
	require.NoError(t, err)
	// The square crop of a 480x320 picture is 320 wide: at 40% of its
	// width it shows red (x < 240) when it starts at x=0, green when it
	// starts at x=160.
	for _, tc := range []struct {
		focus pictures.FocalPoint
		red   bool
	}{{pictures.FocalPoint{X: 0, Y: 0.5}, true}, {pictures.FocalPoint{X: 1, Y: 0.5}, false}} {
		p.Focus = &tc.focus
		p.Version = "" // a new focus regenerates every variant
		done, err := h.field.Process(context.Background(), p)
		require.NoError(t, err)
		key := done.Keys()[0]
		img := decodeVariant(t, key, get(t, h.store, key))
		r, g, _, _ := img.At(int(0.4*float64(img.Bounds().Dx())), 40).RGBA()
		if tc.red {
			assert.True(t, r>>8 > 180 && g>>8 < 90, "focus %v: want red, got r=%d g=%d", tc.focus, r>>8, g>>8)
		} else {
			assert.True(t, g>>8 > 180 && r>>8 < 90, "focus %v: want green, got r=%d g=%d", tc.focus, r>>8, g>>8)
		}
	}
}

// TestSaveConvertsColourToSRGB uploads the Display P3 chart and checks that
// every variant (AVIF and JPEG) holds its colours converted to sRGB, as
// littleCMS converts them; and that a picture whose profile cannot be
// applied is processed all the same, as sRGB, with a warning that names
// its key.
func TestSaveConvertsColourToSRGB(t *testing.T) {
	var logs syncbuf.Buffer
	h := newHarness(t, pictures.PictureField{
		AspectRatios: []string{""}, ContainerWidth: 128, GridColumns: 1, PixelDensities: []int{1},
		FileTypes: []string{"AVIF", "JPEG"}, Encoding: pipeline.Encoding{AVIFQuality: 95, JPEGQuality: 95},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	var expected map[string][][3]int
	require.NoError(t, json.Unmarshal(readFile(t, "testdata/color/expected.json"), &expected))

	p, err := h.field.Save(context.Background(), bytes.NewReader(readFile(t, "testdata/color/display-p3-v4.png")), "p3.png", h.insert)
	require.NoError(t, err)
	done := h.wait(t)
	require.NotEmpty(t, done.Keys())
	for _, key := range done.Keys() {
		img := decodeVariant(t, key, get(t, h.store, key))
		b := img.Bounds()
		for i, want := range expected["display-p3-v4"] {
			// The middle of patch i of the 4x4 chart, at the variant's size.
			x, y := b.Min.X+(i%4*2+1)*b.Dx()/8, b.Min.Y+(i/4*2+1)*b.Dy()/8
			r, g, bl, _ := img.At(x, y).RGBA()
			for ch, v := range []uint32{r >> 8, g >> 8, bl >> 8} {
				assert.InDelta(t, want[ch], int(v), 6, "%s: patch %d channel %d", key, i, ch)
			}
		}
	}
	assert.NotContains(t, logs.String(), "colour profile not applied")

	p, err = h.field.Save(context.Background(), bytes.NewReader(readFile(t, "testdata/color/unsupported-profile.jpeg")), "named.jpeg", h.insert)
	require.NoError(t, err, "an unsupported profile never fails the upload")
	done = h.wait(t)
	assert.Equal(t, p.Key, done.Key)
	assert.NotEmpty(t, done.Keys())
	assert.Contains(t, logs.String(), "colour profile not applied")
	assert.Contains(t, logs.String(), "key="+p.Key)
	assert.Contains(t, logs.String(), "Named colours")
}

// noRow is the store function of tests that keep no rows.
func noRow(context.Context, pictures.Picture) error { return nil }

// TestSaveSchedulesAfterStore proves that Save cannot lose an update: its
// processor runs each job inside Enqueue, so the job finishes before Save
// returns, and OnProcessed updates only rows that exist (as an SQL UPDATE
// does). The row the store function inserted must end up current.
func TestSaveSchedulesAfterStore(t *testing.T) {
	mem := &storage.Memory{}
	rows := map[string]pictures.Picture{}
	var order []string
	f := &pictures.PictureField{
		Name: t.Name(), AspectRatios: []string{"", "1/1"}, ContainerWidth: 320, GridColumns: 2,
		PixelDensities: []int{1}, FileTypes: []string{"JPEG"}, Storage: mem,
		Processor: pictures.ProcessorFunc(func(ctx context.Context, job pictures.Job) error {
			order = append(order, "job")
			return pictures.Run(ctx, job)
		}),
		OnProcessed: func(ctx context.Context, p pictures.Picture) error {
			if _, ok := rows[p.Key]; ok {
				rows[p.Key] = p
			}
			return nil
		},
	}
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	insert := func(ctx context.Context, p pictures.Picture) error {
		order = append(order, "insert")
		rows[p.Key] = p
		return nil
	}

	p, err := f.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "a.jpg", insert)
	require.NoError(t, err)
	assert.Equal(t, []string{"insert", "job"}, order, "the job is scheduled after the row is stored")
	assert.True(t, f.Current(rows[p.Key]), "the job's update reached the stored row: %+v", rows[p.Key])

	t.Run("store fails", func(t *testing.T) {
		order = nil
		before := mem.Len()
		boom := errors.New("insert failed")
		_, err := f.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "b.jpg",
			func(context.Context, pictures.Picture) error { return boom })
		assert.ErrorIs(t, err, boom)
		assert.Empty(t, order, "nothing is scheduled for a row that was not stored")
		assert.Equal(t, before, mem.Len(), "the original is deleted again")
	})

	t.Run("nil store", func(t *testing.T) {
		_, err := f.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "c.jpg", nil)
		assert.ErrorIs(t, err, pictures.ErrInvalidArgument)
	})

	t.Run("scheduling fails", func(t *testing.T) {
		full := errors.New("queue full")
		g := &pictures.PictureField{Name: t.Name(), FileTypes: []string{"JPEG"}, Storage: mem,
			Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return full })}
		require.NoError(t, pictures.Register(g))
		defer pictures.Unregister(g)
		var row pictures.Picture
		p, err := g.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "d.jpg",
			func(_ context.Context, p pictures.Picture) error { row = p; return nil })
		assert.ErrorIs(t, err, pictures.ErrNotScheduled)
		assert.ErrorIs(t, err, full)
		assert.Equal(t, row, p, "the stored Picture is returned")
		rc, err := mem.Open(context.Background(), p.Key)
		require.NoError(t, err, "the original the row refers to is kept")
		rc.Close()
	})
}

// midwayDelete deletes the picture being processed from inside its
// storage's Put of the n-th variant, as a user deleting a post while its
// job runs; with failPuts, every Put after that fails, as a store that
// refuses writes into a folder the deletion removed.
type midwayDelete struct {
	pictures.Storage
	mu       sync.Mutex
	n        int
	del      func()
	deleted  bool
	failPuts bool
}

func (m *midwayDelete) Put(ctx context.Context, key string, body io.Reader) error {
	m.mu.Lock()
	m.n--
	fire := m.n == 0
	m.mu.Unlock()
	if fire {
		m.del()
		m.mu.Lock()
		m.deleted = true
		m.mu.Unlock()
	}
	m.mu.Lock()
	fail := m.deleted && m.failPuts
	m.mu.Unlock()
	if fail {
		return fmt.Errorf("put %s: %w", key, fs.ErrNotExist)
	}
	return m.Storage.Put(ctx, key, body)
}

// TestDeletedWhileProcessing: a picture deleted while its job writes
// variants leaves no file behind, whether the job's remaining writes
// succeed or fail, and the job ends with a permanent error.
func TestDeletedWhileProcessing(t *testing.T) {
	for _, failPuts := range []bool{false, true} {
		t.Run(fmt.Sprintf("failPuts=%v", failPuts), func(t *testing.T) {
			ctx := context.Background()
			dir := &storage.Dir{Root: t.TempDir()}
			m := &midwayDelete{Storage: dir, n: 3, failPuts: failPuts}
			f := &pictures.PictureField{Name: t.Name(), Storage: m, AspectRatios: []string{"1/1", "4/3"}}
			require.NoError(t, pictures.Register(f))
			t.Cleanup(func() { pictures.Unregister(f) })
			p, err := f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 1200, 900, 1)), "a.jpg")
			require.NoError(t, err)
			m.del = func() { require.NoError(t, f.Delete(ctx, p)) }

			_, err = f.Process(ctx, p)
			require.Error(t, err)
			assert.True(t, processor.IsPermanent(err), "%v", err)
			assert.Contains(t, err.Error(), "deleted while it was processed")
			left, err := dir.List(ctx, "")
			require.NoError(t, err)
			assert.Empty(t, left, "files of a deleted picture")
		})
	}
}

// pagesOf is the PageFunc of a table of pictures, ordered by key, that
// records the calls it answers.
func pagesOf(all func() []pictures.Picture, calls *[]string) pictures.PageFunc {
	return func(_ context.Context, after string, limit int) ([]pictures.Picture, error) {
		*calls = append(*calls, fmt.Sprintf("%q %d", after, limit))
		ps := all()
		slices.SortFunc(ps, func(a, b pictures.Picture) int { return strings.Compare(a.Key, b.Key) })
		i, _ := slices.BinarySearchFunc(ps, after, func(p pictures.Picture, k string) int { return strings.Compare(p.Key, k) })
		if i < len(ps) && ps[i].Key == after {
			i++
		}
		return slices.Clone(ps[i:min(i+limit, len(ps))]), nil
	}
}

// TestReconcileAllDryRun counts, page by page, the variants a changed
// configuration adds and deletes, with the estimates made at the given
// rates, and touches nothing.
func TestReconcileAllDryRun(t *testing.T) {
	f := &pictures.PictureField{Name: t.Name(), AspectRatios: []string{"", "1/1"}, ContainerWidth: 400, GridColumns: 1,
		PixelDensities: []int{1}, FileTypes: []string{"JPEG"}, Storage: &storage.Memory{}}
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	plan, err := f.Variants(800, 600)
	require.NoError(t, err)
	current := pictures.Picture{Field: f.Name, Width: 800, Height: 600, Preview: "data:,", Variants: plan, Version: f.Fingerprint()}
	var ps []pictures.Picture
	for i, edit := range []func(*pictures.Picture){
		func(*pictures.Picture) {},                   // current
		func(p *pictures.Picture) { p.Version = "" }, // other encoder settings: all again
		func(p *pictures.Picture) {
			p.Variants = append(slices.Clone(plan), pictures.VariantSet{Ratio: "4/5", Type: "JPEG", Widths: []int{100, 200}})
		}, // 4/5 dropped
		func(p *pictures.Picture) { p.Variants = plan[:1] }, // 1/1 added
		func(*pictures.Picture) {},
	} {
		p := current
		p.Key = fmt.Sprintf("pictures/%d.jpeg", i)
		edit(&p)
		ps = append(ps, p)
	}
	var calls []string
	var progress []string
	st, err := f.ReconcileAll(context.Background(), pagesOf(func() []pictures.Picture { return ps }, &calls), pictures.ReconcileOptions{
		DryRun: true, PageSize: 2, Total: len(ps),
		Rates: map[string]pictures.EncodeRate{"JPEG": {BytesPerPixel: 0.5, PixelsPerSecond: 1e6}},
		Progress: func(done, total int, p pictures.Picture, err error) {
			progress = append(progress, fmt.Sprintf("%d/%d", done, total))
		},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{`"" 2`, `"pictures/1.jpeg" 2`, `"pictures/3.jpeg" 2`}, calls, "keyset pages, until a short one")
	assert.Equal(t, []string{"1/5", "2/5", "3/5", "4/5", "5/5"}, progress)

	pixels := func(vs []pictures.VariantSet) (n, px int64) {
		for _, v := range vs {
			r, err := pictures.ParseRatio(v.Ratio)
			require.NoError(t, err)
			for _, w := range v.Widths {
				n++
				px += int64(w) * int64(r.Height(w, 800, 600))
			}
		}
		return n, px
	}
	all, allPx := pixels(plan)
	square, squarePx := pixels(plan[1:])
	dropped, droppedPx := pixels([]pictures.VariantSet{{Ratio: "4/5", Type: "JPEG", Widths: []int{100, 200}}})
	require.Positive(t, square)
	assert.Equal(t, pictures.ReconcileStats{
		Pictures: 5, Current: 2, Stale: 3,
		Added: int(all + square), Deleted: int(dropped),
		AddedPixels: allPx + squarePx, AddedBytes: (allPx + squarePx) / 2, DeletedBytes: droppedPx / 2,
		// and the two originals decoded (the third picture's job only deletes)
		EncodeTime: time.Duration((float64(allPx+squarePx)/1e6 + 2*800*600/pictures.DecodePixelsPerSecond) * float64(time.Second)),
	}, st)

	_, err = f.ReconcileAll(context.Background(), nil, pictures.ReconcileOptions{})
	assert.ErrorIs(t, err, pictures.ErrInvalidArgument)
	_, err = f.ReconcileAll(context.Background(), pagesOf(func() []pictures.Picture { return ps }, &calls), pictures.ReconcileOptions{PageSize: -1})
	assert.ErrorIs(t, err, pictures.ErrInvalidArgument)
}

// TestReconcileAllResumes reconciles a changed configuration page by
// page, is killed (its context canceled) after the first picture, and run
// again: the second run does only what is left, the third nothing. Then
// a run with Schedule hands the work to the field's Processor.
func TestReconcileAllResumes(t *testing.T) {
	h := newHarness(t, pictures.PictureField{AspectRatios: []string{""}, ContainerWidth: 400, GridColumns: 1, PixelDensities: []int{1}, FileTypes: []string{"JPEG"}})
	for i := range 3 {
		_, err := h.field.Save(context.Background(), bytes.NewReader(quadrantJPEG(t, 500+50*i, 400, 1)), "a.jpg", h.insert)
		require.NoError(t, err)
	}
	for range 3 {
		h.wait(t)
	}
	h.store.reset()
	rows := func() []pictures.Picture {
		h.mu.Lock()
		defer h.mu.Unlock()
		var out []pictures.Picture
		for _, p := range h.rows {
			out = append(out, p)
		}
		return out
	}
	change := func(ratios ...string) *pictures.PictureField {
		pictures.Unregister(h.field)
		next := *h.field
		next.AspectRatios = ratios
		require.NoError(t, pictures.Register(&next))
		h.field = &next
		return &next
	}
	next := change("", "1/1")
	var calls []string
	ctx, cancel := context.WithCancel(context.Background())
	st, err := next.ReconcileAll(ctx, pagesOf(rows, &calls), pictures.ReconcileOptions{
		PageSize: 1,
		Stats:    func(pictures.ReconcileStats) { cancel() }, // killed after its first picture
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, st.Stale)
	puts, _ := h.store.reset()
	assert.NotEmpty(t, puts)
	currentNow := 0
	for _, p := range rows() {
		if next.Current(p) {
			currentNow++
		}
	}
	assert.Equal(t, 1, currentNow)

	st, err = next.ReconcileAll(context.Background(), pagesOf(rows, &calls), pictures.ReconcileOptions{PageSize: 2})
	require.NoError(t, err)
	assert.Equal(t, pictures.ReconcileStats{Pictures: 3, Current: 1, Stale: 2, Added: st.Added, AddedPixels: st.AddedPixels,
		AddedBytes: st.AddedBytes, EncodeTime: st.EncodeTime}, st)
	puts2, _ := h.store.reset()
	assert.Len(t, puts2, len(puts)*2, "the second run makes only what the first did not")
	for _, p := range rows() {
		assert.True(t, next.Current(p))
	}
	st, err = next.ReconcileAll(context.Background(), pagesOf(rows, &calls), pictures.ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, pictures.ReconcileStats{Pictures: 3, Current: 3}, st)
	puts, deletes := h.store.reset()
	assert.Empty(t, puts)
	assert.Empty(t, deletes)

	// Scheduled: the pool does the work.
	third := change("1/1")
	st, err = third.ReconcileAll(context.Background(), pagesOf(rows, &calls), pictures.ReconcileOptions{Schedule: true})
	require.NoError(t, err)
	assert.Equal(t, 3, st.Stale)
	require.Eventually(t, func() bool {
		for _, p := range rows() {
			if !third.Current(p) {
				return false
			}
		}
		return true
	}, 2*time.Minute, 20*time.Millisecond)
	_, deletes = h.store.reset()
	assert.Len(t, deletes, 3, "each picture's original-ratio variant is deleted")
}

// TestReconcileAllFlatMemory pages through 100,000 pictures: the heap
// stays that of one page, as with 1,000.
func TestReconcileAllFlatMemory(t *testing.T) {
	f := &pictures.PictureField{Name: t.Name(), FileTypes: []string{"JPEG"}, Storage: &storage.Memory{}}
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	plan, err := f.Variants(4000, 3000)
	require.NoError(t, err)
	peak := func(n int) uint64 {
		var top uint64
		page := func(_ context.Context, after string, limit int) ([]pictures.Picture, error) {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapAlloc)
			start := 0
			if after != "" {
				start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(after, "p/"), ".jpeg"))
				start++
			}
			var ps []pictures.Picture
			for i := start; i < min(start+limit, n); i++ {
				ps = append(ps, pictures.Picture{Field: f.Name, Key: fmt.Sprintf("p/%09d.jpeg", i), Width: 4000, Height: 3000,
					Preview: strings.Repeat("x", 300), Variants: slices.Clone(plan)[:1]})
			}
			return ps, nil
		}
		st, err := f.ReconcileAll(context.Background(), page, pictures.ReconcileOptions{DryRun: true})
		require.NoError(t, err)
		require.Equal(t, n, st.Stale)
		return top
	}
	small, large := peak(1_000), peak(100_000)
	t.Logf("peak heap: %d kB with 1,000 pictures, %d kB with 100,000", small>>10, large>>10)
	assert.Less(t, large, small+2<<20, "100,000 pictures hold at most 2 MB more than 1,000 (holding them all would take over 40 MB)")
}
