package pictures_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

// sweepRows is an application's table of pictures, as Sweep's Recorded
// and OnProcessed see it.
type sweepRows struct {
	mu   sync.Mutex
	rows map[string]pictures.Picture
}

func (r *sweepRows) insert(_ context.Context, p pictures.Picture) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows[p.Key] = p
	return nil
}

func (r *sweepRows) update(_ context.Context, p pictures.Picture) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[p.Key]; ok {
		r.rows[p.Key] = p
	}
	return nil
}

func (r *sweepRows) recorded(_ context.Context, keys []string) ([]pictures.Picture, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []pictures.Picture
	for _, k := range keys {
		if p, ok := r.rows[k]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// keys returns every key the rows refer to, sorted.
func (r *sweepRows) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.rows {
		out = append(out, cmp.Or(p.Original, p.Key))
		out = append(out, p.Keys()...)
	}
	slices.Sort(out)
	return out
}

// newSweepField registers a small JPEG-only field over a storage.Dir,
// processing synchronously.
func newSweepField(t *testing.T, root string) (*pictures.PictureField, *sweepRows) {
	t.Helper()
	rows := &sweepRows{rows: map[string]pictures.Picture{}}
	f := &pictures.PictureField{
		Name: t.Name(), AspectRatios: []string{"", "1/1"}, ContainerWidth: 400, GridColumns: 2, PixelDensities: []int{1},
		FileTypes: []string{"JPEG"}, UploadTo: "posts/%Y/%m",
		Storage: &storage.Dir{Root: root}, Processor: pictures.Synchronous, OnProcessed: rows.update,
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	return f, rows
}

// filesOf lists every file below root, temporary ones included, sorted.
func filesOf(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	require.NoError(t, filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}))
	slices.Sort(files)
	return files
}

// age sets the modification time of every file below root to d ago.
func age(t *testing.T, root string, d time.Duration) {
	t.Helper()
	old := time.Now().Add(-d)
	for _, f := range filesOf(t, root) {
		require.NoError(t, os.Chtimes(filepath.Join(root, f), old, old))
	}
}

// TestSweep leaves what rows record, and what is younger than the grace
// period, and deletes the rest: the original of an upload whose row was
// never inserted, a variant its picture does not record, the variants of
// a picture deleted halfway, a temporary file of a write cut short. A dry
// run counts the same and deletes nothing; a second run finds nothing.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f, rows := newSweepField(t, root)
	var kept []pictures.Picture
	for i := range 2 {
		p, err := f.Save(ctx, bytes.NewReader(quadrantJPEG(t, 500+100*i, 400, 1)), "a.jpg", rows.insert)
		require.NoError(t, err)
		kept = append(kept, p)
	}
	require.NotEmpty(t, rows.keys())
	store := f.Storage
	crashed, err := f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 400, 400, 1)), "crashed.jpg") // no row
	require.NoError(t, err)
	stem := strings.TrimSuffix(kept[0].Key, ".jpeg")
	leftovers := []string{
		stem + "/1_1/999w.jpeg",        // a variant kept[0] does not record
		"posts/2020/01/gone/100w.jpeg", // a deleted picture's variants, original gone
		"posts/2020/01/gone/1_1/100w.jpeg",
	}
	for _, k := range leftovers {
		require.NoError(t, store.Put(ctx, k, strings.NewReader("x")))
	}
	tmp := path.Join(path.Dir(kept[1].Key), ".tmp-CUTSHORT")
	require.NoError(t, os.WriteFile(filepath.Join(root, tmp), []byte("half"), 0o644))
	age(t, root, 48*time.Hour)
	// Written now: younger than the grace period, kept although no row
	// refers to it (an upload whose row is being inserted).
	young, err := f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 400, 400, 1)), "young.jpg")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, path.Dir(kept[1].Key), ".tmp-INPROGRESS"), []byte("growing"), 0o644))

	before := filesOf(t, root)
	var listed []string
	dry, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: rows.recorded, DryRun: true,
		OnDelete: func(name string, _ int64, _ time.Time) { listed = append(listed, name) }})
	require.NoError(t, err)
	assert.Equal(t, before, filesOf(t, root), "a dry run deletes nothing")
	want := append([]string{crashed.Key, tmp}, leftovers...)
	slices.Sort(want)
	slices.Sort(listed)
	assert.Equal(t, want, listed)
	recorded := rows.keys()
	assert.Equal(t, pictures.SweepStats{
		Listed: len(recorded) + 1 + len(leftovers) + 1, Referenced: len(recorded), Young: 1,
		Deleted: 1 + len(leftovers), Bytes: dry.Bytes, Temp: 1, TempYoung: 1,
	}, dry)
	assert.Greater(t, dry.Bytes, int64(3), "the crashed original's size is counted")

	st, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: rows.recorded})
	require.NoError(t, err)
	assert.Equal(t, dry, st, "the real run does what the dry run said")
	wantLeft := append(slices.Clone(recorded), young.Key, path.Join(path.Dir(kept[1].Key), ".tmp-INPROGRESS"))
	slices.Sort(wantLeft)
	assert.Equal(t, wantLeft, filesOf(t, root), "exactly what the rows record, and what is young")
	_, err = os.Stat(filepath.Join(root, "posts/2020"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "folders left empty are removed")

	again, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: rows.recorded})
	require.NoError(t, err)
	assert.Zero(t, again.Deleted+again.Temp)

	// With a shorter grace period, the young ones go too.
	time.Sleep(20 * time.Millisecond)
	short, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: rows.recorded, Grace: 10 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1, short.Deleted)
	assert.Equal(t, 1, short.Temp)
	assert.Equal(t, recorded, filesOf(t, root))
}

// TestSweepDuringUploads sweeps again and again, with a short grace
// period, while pictures are uploaded, recorded and processed: no file a
// row refers to is ever deleted, and the sweeps did see files no row
// referred to yet (originals before their insert, variants before the job
// recorded them), which the grace period kept.
func TestSweepDuringUploads(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f, rows := newSweepField(t, root)
	var uploads sync.WaitGroup
	slowInsert := func(ctx context.Context, p pictures.Picture) error {
		time.Sleep(30 * time.Millisecond) // the row arrives after the original
		return rows.insert(ctx, p)
	}
	stop := make(chan struct{})
	var young, deleted int
	var sweeps int
	var sweepErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: rows.recorded, Grace: 30 * time.Second})
			if err != nil {
				sweepErr = err
				return
			}
			sweeps++
			young += st.Young + st.TempYoung
			deleted += st.Deleted + st.Temp
		}
	}()
	for i := range 12 {
		uploads.Add(1)
		go func() {
			defer uploads.Done()
			_, err := f.Save(ctx, bytes.NewReader(quadrantJPEG(t, 480+40*i, 400, 1)), "a.jpg", slowInsert)
			assert.NoError(t, err)
		}()
	}
	uploads.Wait()
	close(stop)
	<-done
	require.NoError(t, sweepErr)
	assert.Greater(t, sweeps, 1)
	assert.Positive(t, young, "the sweeps saw files not yet recorded")
	assert.Zero(t, deleted, "no file was deleted")
	rows.mu.Lock()
	require.Len(t, rows.rows, 12)
	for _, p := range rows.rows {
		assert.True(t, f.Current(p), "picture %s processed", p.Key)
	}
	rows.mu.Unlock()
	assert.Equal(t, rows.keys(), filesOf(t, root), "every file the rows refer to exists, and nothing else")
}

// TestSweepOwnerKeys checks that every variant key VariantKey makes is
// swept as its original's: the original is among the keys Sweep looks up
// for it, so a recorded picture's variants are never taken for leftovers.
func TestSweepOwnerKeys(t *testing.T) {
	ctx := context.Background()
	originals := []string{
		"posts/2026/05/k3jxq7.jpeg", "posts/a.png", "posts/a.b.gif", "x/1_1.webp", "x/16_9/y.avif", "top.jpeg",
	}
	for _, orig := range originals {
		for _, r := range []pictures.Ratio{{}, {W: 1, H: 1}, {W: 16, H: 9}} {
			for _, ext := range []string{"avif", "jpeg", "png"} {
				key := pictures.VariantKey(orig, r, 320, ext)
				var asked []string
				f := &pictures.PictureField{Storage: &listAll{}}
				_, err := f.Sweep(ctx, pictures.SweepOptions{Prefix: key, Grace: time.Hour, Recorded: func(_ context.Context, keys []string) ([]pictures.Picture, error) {
					asked = append(asked, keys...)
					return nil, nil
				}, DryRun: true})
				require.NoError(t, err)
				assert.Contains(t, asked, orig, "variant %s looks up its original", key)
			}
		}
	}
}

// listAll lists the prefix it is given as if it were a stored key, and
// opens nothing.
type listAll struct{ storage.Memory }

func (l *listAll) List(_ context.Context, prefix string) ([]string, error) {
	return []string{prefix}, nil
}

func (l *listAll) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, fs.ErrNotExist
}

// noTimes is a storage whose objects say nothing of their age.
type noTimes struct{ storage.Memory }

func (n *noTimes) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := n.Memory.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(rc), nil
}

func TestSweepRefusals(t *testing.T) {
	ctx := context.Background()
	none := func(context.Context, []string) ([]pictures.Picture, error) { return nil, nil }
	for _, tc := range []struct {
		name  string
		field pictures.PictureField
		opts  pictures.SweepOptions
		want  string
	}{
		{"no Recorded", pictures.PictureField{Storage: &storage.Memory{}}, pictures.SweepOptions{}, "needs SweepOptions.Recorded"},
		{"negative grace", pictures.PictureField{Storage: &storage.Memory{}}, pictures.SweepOptions{Recorded: none, Grace: -time.Second}, "Grace -1s is negative"},
		{"placeholder first", pictures.PictureField{Name: "f", UploadTo: "%Y/%m", Storage: &storage.Memory{}}, pictures.SweepOptions{Recorded: none}, `UploadTo "%Y/%m", which starts with a placeholder`},
		{"bad prefix", pictures.PictureField{Storage: &storage.Memory{}}, pictures.SweepOptions{Recorded: none, Prefix: "../x"}, `Prefix "../x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.field.Sweep(ctx, tc.opts)
			assert.ErrorIs(t, err, pictures.ErrInvalidArgument)
			assert.ErrorContains(t, err, tc.want)
		})
	}

	// A storage that gives no modification times: nothing is deleted.
	s := &noTimes{}
	require.NoError(t, s.Put(ctx, "pictures/orphan.jpeg", strings.NewReader("x")))
	f := pictures.PictureField{Storage: s}
	_, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: none, Grace: time.Nanosecond})
	assert.ErrorContains(t, err, "gives no modification time of pictures/orphan.jpeg")
	assert.Equal(t, 1, s.Len())
}

// Sweep deletes what no recorded picture refers to, once it is older
// than the grace period.
func ExamplePictureField_Sweep() {
	ctx := context.Background()
	media := &storage.Memory{}
	field := &pictures.PictureField{Storage: media, UploadTo: "posts/%Y"}
	// The application's rows: one picture, without variants yet.
	rows := map[string]pictures.Picture{"posts/2026/kept.jpeg": {Key: "posts/2026/kept.jpeg", Width: 10, Height: 10}}
	for _, key := range []string{"posts/2026/kept.jpeg", "posts/2026/crashed.jpeg", "posts/2026/kept/1_1/320w.avif"} {
		if err := media.Put(ctx, key, strings.NewReader("...")); err != nil {
			fmt.Println(err)
		}
	}
	time.Sleep(time.Millisecond)
	st, err := field.Sweep(ctx, pictures.SweepOptions{
		Grace: time.Millisecond, // in production, hours or days (the default is 24 hours)
		Recorded: func(ctx context.Context, keys []string) ([]pictures.Picture, error) {
			var out []pictures.Picture
			for _, k := range keys {
				if p, ok := rows[k]; ok {
					out = append(out, p)
				}
			}
			return out, nil
		},
		OnDelete: func(key string, size int64, _ time.Time) { fmt.Println("deleted", key) },
	})
	if err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%d listed, %d referenced, %d deleted\n", st.Listed, st.Referenced, st.Deleted)
	// Output:
	// deleted posts/2026/crashed.jpeg
	// deleted posts/2026/kept/1_1/320w.avif
	// 3 listed, 1 referenced, 2 deleted
}
