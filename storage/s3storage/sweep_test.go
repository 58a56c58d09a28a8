package s3storage_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage/s3storage"
	"github.com/gopictures/pictures/storage/s3storage/s3test"
)

// The optional upgrades package pictures' Sweep uses.
var (
	_ pictures.Walker = (*s3storage.Storage)(nil)
	_ pictures.Stater = (*s3storage.Storage)(nil)
)

// TestSweep walks and stats a bucket, and sweeps a field on it: what no
// row records goes once older than the grace period.
func TestSweep(t *testing.T) {
	srv := s3test.Start(t)
	s := &s3storage.Storage{Client: srv.Client(), Bucket: srv.Bucket(t), Prefix: "media/"}
	ctx := context.Background()
	keys := []string{"posts/a.jpeg", "posts/a/100w.avif", "posts/orphan.jpeg", "other/x.jpeg"}
	for _, k := range keys {
		require.NoError(t, s.Put(ctx, k, strings.NewReader("bytes of "+k)))
	}
	var walked []string
	require.NoError(t, s.Walk(ctx, "posts/", func(k string) error { walked = append(walked, k); return nil }))
	assert.Equal(t, []string{"posts/a.jpeg", "posts/a/100w.avif", "posts/orphan.jpeg"}, walked)

	info, err := s.Stat(ctx, "posts/a.jpeg")
	require.NoError(t, err)
	assert.Equal(t, int64(len("bytes of posts/a.jpeg")), info.Size())
	assert.WithinDuration(t, time.Now(), info.ModTime(), time.Minute)
	_, err = s.Stat(ctx, "posts/missing.jpeg")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	f := &pictures.PictureField{Storage: s, UploadTo: "posts"}
	rows := map[string]pictures.Picture{"posts/a.jpeg": {Key: "posts/a.jpeg", Width: 10, Height: 10,
		Variants: []pictures.VariantSet{{Type: "AVIF", Widths: []int{100}}}}}
	recorded := func(_ context.Context, keys []string) ([]pictures.Picture, error) {
		var out []pictures.Picture
		for _, k := range keys {
			if p, ok := rows[k]; ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
	st, err := f.Sweep(ctx, pictures.SweepOptions{Recorded: recorded})
	require.NoError(t, err)
	assert.Equal(t, pictures.SweepStats{Listed: 3, Referenced: 2, Young: 1}, st, "the orphan is younger than a day")
	time.Sleep(1100 * time.Millisecond) // S3 times have whole seconds
	st, err = f.Sweep(ctx, pictures.SweepOptions{Recorded: recorded, Grace: time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Deleted)
	left, err := s.List(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"other/x.jpeg", "posts/a.jpeg", "posts/a/100w.avif"}, left)
}
