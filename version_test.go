package pictures_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/processor"
	"github.com/gopictures/pictures/storage"
)

// countingStore counts a storage's calls.
type countingStore struct {
	pictures.Storage
	mu    sync.Mutex
	calls int
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *countingStore) add() {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
}

func (s *countingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.add()
	return s.Storage.Open(ctx, key)
}

func (s *countingStore) Put(ctx context.Context, key string, r io.Reader) error {
	s.add()
	return s.Storage.Put(ctx, key, r)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.add()
	return s.Storage.Delete(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string) ([]string, error) {
	s.add()
	return s.Storage.List(ctx, prefix)
}

func smallJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

// configField is one configuration of the field "versions": the original
// ratio, plus 16/9 in the newer configuration; JPEG only, for speed.
func configField(store pictures.Storage, revision int, newer bool, record func(context.Context, pictures.Picture) error) *pictures.PictureField {
	f := &pictures.PictureField{
		Name: "versions", ContainerWidth: 400, GridColumns: 1, PixelDensities: []int{1},
		FileTypes: []string{"JPEG"}, Storage: store, Revision: revision, OnProcessed: record,
		Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	if newer {
		f.AspectRatios = []string{"", "16/9"}
	}
	return f
}

func TestJobJSONFields(t *testing.T) {
	p := pictures.Picture{Field: "post.image", Key: "posts/a.jpeg", Width: 40, Height: 30}
	tests := []struct {
		name string
		job  pictures.Job
		json string
	}{
		{"a job as older versions wrote it", pictures.Job{Picture: p},
			`{"picture":{"field":"post.image","key":"posts/a.jpeg","width":40,"height":30}}`},
		{"every field", pictures.Job{Picture: p, Priority: processor.Backlog, Config: "0123456789ab", Revision: 7},
			`{"picture":{"field":"post.image","key":"posts/a.jpeg","width":40,"height":30},"priority":1,"config":"0123456789ab","revision":7}`},
		{"no picture", pictures.Job{Priority: processor.Backlog}, `{"picture":null,"priority":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.job)
			require.NoError(t, err)
			assert.JSONEq(t, tt.json, string(b))
			var back pictures.Job
			require.NoError(t, json.Unmarshal([]byte(tt.json), &back))
			assert.Equal(t, tt.job, back)
		})
	}
	var j pictures.Job
	assert.Error(t, json.Unmarshal([]byte(`{"picture":{},"revision":"x"}`), &j))
}

// TestScheduleStampsJobs: Schedule enqueues a Fresh job, ScheduleBacklog a
// Backlog one, both stamped with the configuration; a newer configuration
// stamps another Config, and Stamped fills in jobs built by hand.
func TestScheduleStampsJobs(t *testing.T) {
	ctx := context.Background()
	store := &storage.Memory{}
	var jobs []pictures.Job
	f := configField(store, 1, false, nil)
	f.Processor = pictures.ProcessorFunc(func(_ context.Context, j pictures.Job) error {
		jobs = append(jobs, j)
		return nil
	})
	require.NoError(t, pictures.Register(f))
	p, err := f.Upload(ctx, bytes.NewReader(smallJPEG(t, 200, 150)), "a.jpg")
	require.NoError(t, err)
	require.NoError(t, f.Schedule(ctx, p))
	require.NoError(t, f.ScheduleBacklog(ctx, p))
	require.Len(t, jobs, 2)
	assert.Equal(t, processor.Fresh, jobs[0].Priority)
	assert.Equal(t, processor.Backlog, jobs[1].Priority)
	assert.Equal(t, processor.Backlog, jobs[1].JobPriority())
	assert.Len(t, jobs[0].Config, 12)
	assert.Equal(t, jobs[0].Config, jobs[1].Config)
	assert.Equal(t, 1, jobs[0].Revision)
	assert.Equal(t, jobs[0], pictures.Job{Picture: p}.Stamped(), "Stamped is what Schedule enqueues")
	assert.Equal(t, pictures.Job{Picture: p, Config: "x"}, pictures.Job{Picture: p, Config: "x"}.Stamped(), "a stamped job keeps its Config")
	unknown := pictures.Job{Picture: pictures.Picture{Field: "nobody", Key: "k"}}
	assert.Equal(t, unknown, unknown.Stamped(), "an unregistered field stamps nothing")
	pictures.Unregister(f)

	g := configField(store, 2, true, nil)
	g.Processor = f.Processor
	require.NoError(t, pictures.Register(g))
	defer pictures.Unregister(g)
	require.NoError(t, g.Schedule(ctx, p))
	require.Len(t, jobs, 3)
	assert.NotEqual(t, jobs[0].Config, jobs[2].Config, "a new ratio is a new configuration")
	assert.Equal(t, 2, jobs[2].Revision)

	assert.ErrorIs(t, (&pictures.PictureField{Name: "neg", Revision: -1}).Validate(), pictures.ErrInvalidConfig)
	assert.ErrorContains(t, (&pictures.PictureField{Name: "neg", Revision: -1}).Validate(), "Revision: revision -1 is negative")
}

// TestRunWithAnotherConfiguration enqueues a job under one configuration
// of a field and runs it under another, as a process of the other side of
// a deploy does: by the revisions, it is handed back (no I/O, nothing
// recorded) or done with the running configuration, and what is recorded
// is current for the configuration that recorded it.
func TestRunWithAnotherConfiguration(t *testing.T) {
	const (
		done       = "done"        // the job's own configuration
		newerWork  = "newer work"  // done with the running, newer configuration
		handedBack = "handed back" // a *ConfigMismatchError
	)
	tests := []struct {
		name               string
		jobNewer, runNewer bool // the configuration has the 16/9 ratio
		jobRev, runRev     int
		want               string
	}{
		{"same configuration", true, true, 2, 2, done},
		{"same configuration, other revision", true, true, 2, 5, done},
		{"an old process gets a new job", true, false, 2, 1, handedBack},
		{"a new process gets an old job", false, true, 1, 2, newerWork},
		{"neither can tell, old process", true, false, 0, 0, handedBack},
		{"neither can tell, new process", false, true, 3, 3, handedBack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			mem := &storage.Memory{}
			var recorded []pictures.Picture
			record := func(_ context.Context, p pictures.Picture) error {
				recorded = append(recorded, p)
				return nil
			}
			// The enqueuing process: the picture is uploaded and processed
			// under the old configuration, then its job stamped under the
			// job's.
			old := configField(mem, 0, false, record)
			require.NoError(t, pictures.Register(old))
			p, err := old.Upload(ctx, bytes.NewReader(smallJPEG(t, 320, 240)), "a.jpg")
			require.NoError(t, err)
			p, err = old.Process(ctx, p)
			require.NoError(t, err)
			pictures.Unregister(old)
			enq := configField(mem, tt.jobRev, tt.jobNewer, record)
			require.NoError(t, pictures.Register(enq))
			job := pictures.Job{Picture: p}.Stamped()
			pictures.Unregister(enq)

			// The running process.
			var logs syncbuf.Buffer
			store := &countingStore{Storage: mem}
			run := configField(store, tt.runRev, tt.runNewer, record)
			run.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			require.NoError(t, pictures.Register(run))
			defer pictures.Unregister(run)
			recorded = nil
			err = pictures.Run(ctx, job)
			if tt.want == handedBack {
				var mismatch *pictures.ConfigMismatchError
				require.ErrorAs(t, err, &mismatch)
				assert.ErrorIs(t, err, pictures.ErrOtherConfig)
				assert.False(t, processor.IsPermanent(err), "a handed-back job is retried")
				assert.Equal(t, job.Config, mismatch.JobConfig)
				assert.Equal(t, tt.jobRev, mismatch.JobRevision)
				assert.Equal(t, tt.runRev, mismatch.Revision)
				assert.Contains(t, err.Error(), "handed back for a process that has it")
				assert.Zero(t, store.count(), "handing back costs no storage I/O")
				assert.Empty(t, recorded, "nothing is reported done")
				return
			}
			require.NoError(t, err)
			if tt.jobNewer {
				require.NotEmpty(t, recorded, "the new ratio was made and recorded")
			}
			if len(recorded) > 0 {
				p = recorded[len(recorded)-1]
			}
			assert.True(t, run.Current(p), "the picture ends current for the configuration that did the job")
			if tt.want == newerWork {
				assert.Contains(t, logs.String(), "job enqueued for an older configuration")
				require.NotEmpty(t, recorded)
				assert.False(t, enq.Current(p), "the older configuration's variants are not what is recorded")
			}
		})
	}
}

// TestRunUnstampedJob: a job without a Config (queued by an older version)
// is done with the running configuration.
func TestRunUnstampedJob(t *testing.T) {
	ctx := context.Background()
	var recorded []pictures.Picture
	f := configField(&storage.Memory{}, 4, true, func(_ context.Context, p pictures.Picture) error {
		recorded = append(recorded, p)
		return nil
	})
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	p, err := f.Upload(ctx, bytes.NewReader(smallJPEG(t, 320, 240)), "a.jpg")
	require.NoError(t, err)
	require.NoError(t, pictures.Run(ctx, pictures.Job{Picture: p}))
	require.NotEmpty(t, recorded)
	assert.True(t, f.Current(recorded[len(recorded)-1]))
}

// TestPoolRunsFreshUploadsFirst: on the in-process pool, the upload of a
// person waits for the job running, not for the backlog queued before it.
func TestPoolRunsFreshUploadsFirst(t *testing.T) {
	ctx := context.Background()
	mem := &storage.Memory{}
	var mu sync.Mutex
	var order []string
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	pool := processor.New(processor.Config{Workers: 1}, func(ctx context.Context, j pictures.Job) error {
		once.Do(func() { close(started); <-release })
		mu.Lock()
		order = append(order, j.Picture.Key)
		mu.Unlock()
		return pictures.Run(ctx, j)
	})
	f := configField(mem, 0, false, nil)
	f.Processor = pool
	require.NoError(t, pictures.Register(f))
	defer pictures.Unregister(f)
	data := smallJPEG(t, 64, 48)
	var backlog []string
	for i := range 20 {
		p, err := f.Upload(ctx, bytes.NewReader(data), "old.jpg")
		require.NoError(t, err)
		require.NoError(t, f.ScheduleBacklog(ctx, p))
		if i == 0 {
			<-started
		} else {
			backlog = append(backlog, p.Key)
		}
	}
	fresh, err := f.Save(ctx, bytes.NewReader(data), "new.jpg", func(context.Context, pictures.Picture) error { return nil })
	require.NoError(t, err)
	close(release)
	require.NoError(t, pool.Shutdown(ctx))
	require.Len(t, order, 21)
	assert.Equal(t, fresh.Key, order[1], "the upload starts right after the job that was running")
	assert.Equal(t, backlog, order[2:])
}
