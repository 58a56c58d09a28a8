package pictures_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
)

// TestBudgetChargesJobs: a job decodes under the process-wide pixel
// budget of jobs, so it waits while that is spent, and gives up when its
// context ends; uploads, with a budget of their own, do not wait for it.
func TestBudgetChargesJobs(t *testing.T) {
	pictures.SetPixelBudget(1_000_000)
	t.Cleanup(func() { pictures.SetPixelBudget(pictures.DefaultPixelBudget) })
	f := &pictures.PictureField{
		Name: t.Name(), AspectRatios: []string{""}, ContainerWidth: 320, GridColumns: 1,
		PixelDensities: []int{1}, FileTypes: []string{"JPEG"}, Storage: &storage.Memory{},
		Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	ctx := context.Background()
	p, err := f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "a.jpg")
	require.NoError(t, err)

	release, err := pictures.AcquireJobPixels(ctx, 1_000_000) // all of it: another job's original
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := f.Process(ctx, p)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the job ran while the budget was spent (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("the job did not run once the budget was free")
	}

	// Uploads have a budget of their own: one proceeds while jobs hold
	// theirs.
	release, err = pictures.AcquireJobPixels(ctx, 1_000_000)
	require.NoError(t, err)
	defer release()
	_, err = f.Upload(ctx, bytes.NewReader(quadrantJPEG(t, 640, 480, 1)), "b.jpg")
	require.NoError(t, err, "an upload does not wait behind jobs")
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = f.Process(ctx, pictures.Picture{Field: p.Field, Key: p.Key, Width: p.Width, Height: p.Height})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a waiting job ends with its context")
}

// TestSaveStoresOnlyTheImage: an upload followed by 1 MB of junk is
// stored without the junk.
func TestSaveStoresOnlyTheImage(t *testing.T) {
	mem := &storage.Memory{}
	f := &pictures.PictureField{
		Name: t.Name(), FileTypes: []string{"JPEG"}, Storage: mem,
		Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	require.NoError(t, pictures.Register(f))
	t.Cleanup(func() { pictures.Unregister(f) })
	img := quadrantJPEG(t, 640, 480, 6)
	junk := bytes.Repeat([]byte("\xFF\xD9 not an image "), 1<<16) // 1 MB
	p, err := f.Save(context.Background(), bytes.NewReader(append(append([]byte{}, img...), junk...)), "a.jpg", noRow)
	require.NoError(t, err)
	assert.Equal(t, [2]int{640, 480}, [2]int{p.Width, p.Height}, "the image is read whole, with its orientation")
	rc, err := mem.Open(context.Background(), p.Key)
	require.NoError(t, err)
	defer rc.Close()
	stored, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, len(img), len(stored), "the original is stored without the junk")
	assert.Equal(t, img, stored)
}
