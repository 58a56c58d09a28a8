package pictures_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

// TestJobTimeoutFollowsPixels: a job's timeout is JobTimeoutMargin times
// the estimate a dry-run reconcile gives for the same picture, so it
// grows with the picture's variants and its original; MaxJobTimeout
// bounds every picture the field admits.
func TestJobTimeoutFollowsPixels(t *testing.T) {
	defer pictures.SetJobTimeoutFloor(0)()
	f := &pictures.PictureField{
		Name: t.Name(), AspectRatios: []string{"", "1/1", "4/5"}, ContainerWidth: 935, GridColumns: 3,
		PixelDensities: []int{1, 2, 3}, FileTypes: []string{"AVIF"}, Storage: &storage.Memory{},
		MaxWidth: 8192, MaxHeight: 8192, MaxPixels: 50_000_000, Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	maxTimeout, err := f.MaxJobTimeout()
	require.NoError(t, err)
	var last time.Duration
	for _, size := range [][2]int{{640, 480}, {1632, 1224}, {4032, 3024}, {8064, 6048}} {
		got, err := f.JobTimeout(size[0], size[1])
		require.NoError(t, err)
		var st pictures.ReconcileStats
		p := pictures.Picture{Field: f.Name, Key: "a.jpeg", Width: size[0], Height: size[1]}
		require.NoError(t, f.Reconcile(context.Background(), []pictures.Picture{p}, pictures.ReconcileOptions{
			DryRun: true, Stats: func(s pictures.ReconcileStats) { st = s }}))
		assert.InDelta(t, float64(pictures.JobTimeoutMargin*st.EncodeTime), float64(got), float64(time.Second/2), "%v", size)
		assert.Equal(t, got, pictures.Job{Picture: p}.Timeout(), "Job.Timeout is the field's JobTimeout")
		assert.Greater(t, got, last, "%v: a larger picture has a longer timeout", size)
		assert.LessOrEqual(t, got, maxTimeout, "%v", size)
		last = got
	}
	// A tall narrow picture makes tall variants, many of them small (the
	// slower AVIF speed): longer than any 4:3 one, still within the max.
	for _, size := range [][2]int{{640, 8192}, {8192, 640}, {2000, 8192}, {4608, 8192}} {
		got, err := f.JobTimeout(size[0], size[1])
		require.NoError(t, err)
		assert.LessOrEqual(t, got, maxTimeout, "%v", size)
	}
	_, err = f.JobTimeout(0, 10)
	assert.ErrorIs(t, err, pictures.ErrInvalidArgument)
	assert.Equal(t, time.Duration(0), pictures.Job{Picture: pictures.Picture{Field: "not registered"}}.Timeout())

	restore := pictures.SetJobTimeoutFloor(pictures.MinJobTimeout)
	got, err := f.JobTimeout(640, 480)
	restore()
	require.NoError(t, err)
	assert.Equal(t, pictures.MinJobTimeout, got, "a small picture gets the floor")
}

// stallingStore stalls every Put of a variant until its context ends.
type stallingStore struct {
	*storage.Memory
	stall bool
}

func (s *stallingStore) Put(ctx context.Context, key string, r io.Reader) error {
	if s.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Memory.Put(ctx, key, r)
}

// TestProcessingTimesOut: processing that outlasts its job's timeout is
// canceled with ErrJobTimeout; the wait for the pixel budget before it
// does not count.
func TestProcessingTimesOut(t *testing.T) {
	defer pictures.SetJobTimeoutFloor(300 * time.Millisecond)()
	store := &stallingStore{Memory: &storage.Memory{}}
	f := &pictures.PictureField{
		Name: t.Name(), FileTypes: []string{"JPEG"}, Storage: store,
		Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	ctx := context.Background()
	p, err := f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "a.jpg")
	require.NoError(t, err)
	timeout, err := f.JobTimeout(p.Width, p.Height)
	require.NoError(t, err)
	require.Less(t, timeout, 5*time.Second)

	store.stall = true
	start := time.Now()
	_, err = f.Process(ctx, p)
	took := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, pictures.ErrJobTimeout)
	assert.Contains(t, err.Error(), p.Key, "the error names the picture")
	assert.Contains(t, err.Error(), timeout.String(), "and the timeout")
	assert.GreaterOrEqual(t, took, timeout)
	assert.Less(t, took, 10*time.Second)

	// Waiting for pixels longer than the timeout is no failure.
	store.stall = false
	release, err := pictures.AcquireJobPixels(ctx, pictures.DefaultPixelBudget)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := f.Process(ctx, p)
		done <- err
	}()
	time.Sleep(3 * timeout)
	release()
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.False(t, errors.Is(err, pictures.ErrJobTimeout))
	case <-time.After(time.Minute):
		t.Fatal("the job did not finish")
	}
}

// TestProcessingTimeoutSetting: the field's ProcessingTimeout replaces
// the estimate's timeout, and a negative one turns it off.
func TestProcessingTimeoutSetting(t *testing.T) {
	for _, c := range []struct {
		set, want time.Duration
	}{{0, pictures.MinJobTimeout}, {30 * time.Minute, 30 * time.Minute}, {-1, 0}} {
		f := &pictures.PictureField{Name: t.Name(), FileTypes: []string{"JPEG"}, Storage: &storage.Memory{}, ProcessingTimeout: c.set,
			Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil })}
		got, err := f.JobTimeout(640, 480)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "ProcessingTimeout %v", c.set)
		longest, err := f.MaxJobTimeout()
		require.NoError(t, err)
		if c.set != 0 {
			assert.Equal(t, c.want, longest, "ProcessingTimeout %v", c.set)
		}
	}
}
