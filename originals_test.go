package pictures_test

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

// originalsField is a small JPEG-only field over two directories, the
// variants' and (if originals is not "") the originals', processing
// synchronously, registered under the test's name until unregister is
// called (so that a test can make two fields of one name, before and
// after Originals is set) or the test ends.
func originalsField(t *testing.T, media, originals string, rows *sweepRows) (f *pictures.PictureField, store *recorder, unregister func()) {
	t.Helper()
	store = &recorder{Storage: &storage.Dir{Root: media, BaseURL: "/media/"}}
	f = &pictures.PictureField{
		Name: t.Name(), AspectRatios: []string{"", "1/1"}, ContainerWidth: 400, GridColumns: 2, PixelDensities: []int{1},
		FileTypes: []string{"JPEG"}, UploadTo: "posts/%Y/%m",
		Storage: store, Processor: pictures.Synchronous, OnProcessed: rows.update,
	}
	if originals != "" {
		f.Originals = &storage.Dir{Root: originals}
	}
	require.NoError(t, pictures.Register(f))
	unregister = func() { pictures.Unregister(f) }
	t.Cleanup(unregister)
	return f, store, unregister
}

// TestOriginalsApart: with Originals set, uploads store the original there
// and nothing else; variants go to Storage, whose handler and URLs never
// reach the original; Delete removes both.
func TestOriginalsApart(t *testing.T) {
	ctx := context.Background()
	media, originals := t.TempDir(), t.TempDir()
	rows := &sweepRows{rows: map[string]pictures.Picture{}}
	f, _, _ := originalsField(t, media, originals, rows)
	p, err := f.Save(ctx, bytes.NewReader(quadrantJPEG(t, 600, 400, 1)), "a.jpg", rows.insert)
	require.NoError(t, err)
	p = rows.rows[p.Key]
	require.True(t, f.Current(p))
	assert.True(t, strings.HasSuffix(p.Version, "+originals"), p.Version)

	assert.Equal(t, []string{p.Original}, filesOf(t, originals), "the original, alone")
	stem := strings.TrimSuffix(p.Key, ".jpeg")
	assert.Regexp(t, `^`+regexp.QuoteMeta(stem)+`-[a-z2-7]{26}\.jpeg$`, p.Original, "a name no variant tells")
	got := filesOf(t, media)
	want := p.Keys()
	slices.Sort(want)
	assert.Equal(t, want, got, "the variants, and not the original")
	assert.NotContains(t, got, p.Key)
	for _, k := range want {
		assert.NotContains(t, k, p.Original[len(stem):len(stem)+27], "a variant key holds the original's random part")
	}

	require.NoError(t, f.Delete(ctx, p))
	assert.Empty(t, filesOf(t, originals))
	assert.Empty(t, filesOf(t, media))
}

// TestOriginalsMoved: setting Originals on a field with pictures makes
// them not current; processing moves each original from Storage to
// Originals and writes no variant again.
func TestOriginalsMoved(t *testing.T) {
	ctx := context.Background()
	media, originals := t.TempDir(), t.TempDir()
	rows := &sweepRows{rows: map[string]pictures.Picture{}}
	before, _, unregister := originalsField(t, media, "", rows)
	p, err := before.Save(ctx, bytes.NewReader(quadrantJPEG(t, 600, 400, 1)), "a.jpg", rows.insert)
	require.NoError(t, err)
	p = rows.rows[p.Key]
	require.True(t, before.Current(p))
	require.Contains(t, filesOf(t, media), p.Key, "the original among the variants")
	variants := p.Keys()
	slices.Sort(variants)

	unregister()
	after, store, _ := originalsField(t, media, originals, rows)
	assert.False(t, after.Current(p), "an original still in Storage")
	assert.NotEqual(t, before.Fingerprint(), after.Fingerprint())
	page := func(_ context.Context, after string, _ int) ([]pictures.Picture, error) {
		if after != "" {
			return nil, nil
		}
		return []pictures.Picture{p}, nil
	}
	st, err := after.ReconcileAll(ctx, page, pictures.ReconcileOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Stale, "%+v", st)
	assert.Zero(t, st.Added, "nothing to encode: %+v", st)
	require.NoError(t, after.Reconcile(ctx, []pictures.Picture{p}, pictures.ReconcileOptions{}))
	p = rows.rows[p.Key]
	assert.True(t, after.Current(p))
	puts, deletes := store.reset()
	assert.Empty(t, puts, "no variant written again")
	assert.Equal(t, []string{p.Key}, deletes, "the original removed from Storage")
	require.NotEmpty(t, p.Original, "the row records where the original went")
	assert.Equal(t, []string{p.Original}, filesOf(t, originals))
	assert.Equal(t, variants, filesOf(t, media))

	// The field without Originals, as a process of the old version is:
	// the picture is not current for it (it would look in Storage).
	assert.False(t, before.Current(p))
}

// TestOriginalsSameStorage: Originals set to the field's Storage itself
// keeps originals where they are, with the Fingerprint of a field without.
func TestOriginalsSameStorage(t *testing.T) {
	store := &storage.Dir{Root: t.TempDir()}
	a := &pictures.PictureField{Name: "a", AspectRatios: []string{""}, ContainerWidth: 400, FileTypes: []string{"JPEG"}, Storage: store}
	b := *a
	b.Originals = store
	assert.Equal(t, a.Fingerprint(), b.Fingerprint())
}

// TestSweepOriginalsApart: Sweep lists Originals too, keeps the recorded
// originals and deletes an old one no row records.
func TestSweepOriginalsApart(t *testing.T) {
	ctx := context.Background()
	media, originals := t.TempDir(), t.TempDir()
	rows := &sweepRows{rows: map[string]pictures.Picture{}}
	f, _, _ := originalsField(t, media, originals, rows)
	kept, err := f.Save(ctx, bytes.NewReader(quadrantJPEG(t, 500, 400, 1)), "a.jpg", rows.insert)
	require.NoError(t, err)
	crashed, err := f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 400, 400, 1)), "crashed.jpg") // no row
	require.NoError(t, err)
	age(t, originals, 48*time.Hour)
	age(t, media, 48*time.Hour)
	var fromMedia, fromOriginals []string
	st, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: rows.recorded,
		OnDelete:         func(name string, _ int64, _ time.Time) { fromMedia = append(fromMedia, name) },
		OnDeleteOriginal: func(name string, _ int64, _ time.Time) { fromOriginals = append(fromOriginals, name) },
	})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Deleted, "%+v", st)
	assert.Empty(t, fromMedia)
	assert.Equal(t, []string{crashed.Original}, fromOriginals, "reported as a file of the originals' store")
	assert.Equal(t, []string{kept.Original}, filesOf(t, originals))
	assert.NotContains(t, filesOf(t, originals), crashed.Original)
	assert.Equal(t, len(rows.keys()), st.Referenced)
	assert.FileExists(t, filepath.Join(originals, kept.Original))
}
