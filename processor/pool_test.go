package processor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/processor"
)

func quiet(buf *syncbuf.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func TestPoolRunsEveryJob(t *testing.T) {
	var sum atomic.Int64
	p := processor.New(processor.Config{Workers: 3}, func(ctx context.Context, n int) error {
		sum.Add(int64(n))
		return nil
	})
	for i := 1; i <= 100; i++ {
		require.NoError(t, p.Enqueue(context.Background(), i))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, int64(5050), sum.Load())
	assert.ErrorIs(t, p.Enqueue(context.Background(), 1), processor.ErrClosed)
}

func TestPoolBoundsConcurrency(t *testing.T) {
	var running, peak atomic.Int32
	p := processor.New(processor.Config{Workers: 2}, func(ctx context.Context, _ int) error {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return nil
	})
	for i := range 20 {
		require.NoError(t, p.Enqueue(context.Background(), i))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, int32(2), peak.Load())
}

func TestPoolRetriesWithBackoff(t *testing.T) {
	var logs syncbuf.Buffer
	var calls atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	p := processor.New(processor.Config{Workers: 1, MaxAttempts: 3, Backoff: 20 * time.Millisecond, Logger: quiet(&logs)},
		func(ctx context.Context, key string) error {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			if calls.Add(1) < 3 {
				return errors.New("storage unreachable")
			}
			return nil
		})
	require.NoError(t, p.Enqueue(context.Background(), "pictures/a.jpeg"))
	require.NoError(t, p.Wait(context.Background()))
	assert.Equal(t, int32(3), calls.Load())
	require.Len(t, times, 3)
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 15*time.Millisecond, "first retry waits about Backoff")
	assert.GreaterOrEqual(t, times[2].Sub(times[1]), 30*time.Millisecond, "the wait doubles")
	assert.Equal(t, 2, strings.Count(logs.String(), "will retry"))
	assert.Contains(t, logs.String(), "job=pictures/a.jpeg", "failures name the job")
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestPoolGivesUpAndLogs(t *testing.T) {
	var logs syncbuf.Buffer
	var calls atomic.Int32
	p := processor.New(processor.Config{MaxAttempts: 2, Backoff: time.Millisecond, Logger: quiet(&logs)},
		func(ctx context.Context, key string) error {
			calls.Add(1)
			return errors.New("disk full")
		})
	require.NoError(t, p.Enqueue(context.Background(), "k1"))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, int32(2), calls.Load())
	assert.Contains(t, logs.String(), `level=ERROR msg="processor: job failed" job=k1 attempt=2 err="disk full"`)
}

func TestPoolPermanentErrorsAreNotRetried(t *testing.T) {
	var logs syncbuf.Buffer
	var calls atomic.Int32
	p := processor.New(processor.Config{Backoff: time.Millisecond, Logger: quiet(&logs)},
		func(ctx context.Context, key string) error {
			calls.Add(1)
			return processor.Permanent(errors.New("original is damaged"))
		})
	require.NoError(t, p.Enqueue(context.Background(), "k"))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, int32(1), calls.Load())
	assert.Contains(t, logs.String(), "original is damaged")
	assert.True(t, processor.IsPermanent(processor.Permanent(errors.New("x"))))
	assert.False(t, processor.IsPermanent(errors.New("x")))
	assert.Nil(t, processor.Permanent(nil))
}

func TestPoolRecoversPanics(t *testing.T) {
	var logs syncbuf.Buffer
	p := processor.New(processor.Config{Logger: quiet(&logs)}, func(ctx context.Context, key string) error {
		panic("nil map")
	})
	require.NoError(t, p.Enqueue(context.Background(), "k"))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Contains(t, logs.String(), "job panicked: nil map")
}

func TestPoolBackPressure(t *testing.T) {
	release := make(chan struct{})
	p := processor.New(processor.Config{Workers: 1, QueueSize: 1}, func(ctx context.Context, _ int) error {
		<-release
		return nil
	})
	require.NoError(t, p.Enqueue(context.Background(), 1)) // running
	require.NoError(t, p.Enqueue(context.Background(), 2)) // queued
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	deadline := time.Now()
	for p.Len() < 2 && time.Since(deadline) < time.Second {
		time.Sleep(time.Millisecond)
	}
	// The worker may not have taken job 1 yet; fill until Enqueue blocks.
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		err = p.Enqueue(ctx, 3)
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a full queue makes Enqueue wait for its context")
	close(release)
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestPoolShutdownDrains(t *testing.T) {
	var done atomic.Int32
	p := processor.New(processor.Config{Workers: 2}, func(ctx context.Context, _ int) error {
		time.Sleep(10 * time.Millisecond)
		done.Add(1)
		return nil
	})
	for i := range 10 {
		require.NoError(t, p.Enqueue(context.Background(), i))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, int32(10), done.Load(), "Shutdown waits for queued jobs")
}

func TestPoolShutdownDeadlineCancelsJobs(t *testing.T) {
	var logs syncbuf.Buffer
	var canceled atomic.Int32
	p := processor.New(processor.Config{Workers: 1, MaxAttempts: 10, Backoff: time.Hour, Logger: quiet(&logs)},
		func(ctx context.Context, n int) error {
			if n == 0 {
				return errors.New("retry me in an hour")
			}
			<-ctx.Done()
			canceled.Add(1)
			return ctx.Err()
		})
	require.NoError(t, p.Enqueue(context.Background(), 0))
	require.NoError(t, p.Enqueue(context.Background(), 1))
	require.NoError(t, p.Enqueue(context.Background(), 2))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "waiting retries do not hold up a forced shutdown")
	assert.Equal(t, int32(1), canceled.Load(), "the running job sees its context canceled")
	assert.Equal(t, 0, p.Len())
	assert.Contains(t, logs.String(), "job dropped at shutdown")
}

// job is a test job with a priority.
type job struct {
	name     string
	priority processor.Priority
}

func (j job) JobPriority() processor.Priority { return j.priority }

// TestPoolPriorities queues a fresh job behind many backlog jobs while the
// only worker is busy: it starts next, and each priority keeps its order.
func TestPoolPriorities(t *testing.T) {
	tests := []struct {
		name    string
		enqueue []job
		want    []string
	}{
		{
			name:    "a fresh job passes the backlog",
			enqueue: []job{{"b1", processor.Backlog}, {"b2", processor.Backlog}, {"b3", processor.Backlog}, {"fresh", processor.Fresh}},
			want:    []string{"fresh", "b1", "b2", "b3"},
		},
		{
			name: "first in, first out within a priority",
			enqueue: []job{{"b1", processor.Backlog}, {"f1", processor.Fresh}, {"b2", processor.Backlog},
				{"f2", processor.Fresh}, {"low", processor.LowestPriority}, {"f3", processor.Fresh}},
			want: []string{"f1", "f2", "f3", "b1", "b2", "low"},
		},
		{
			name:    "out-of-range priorities take the nearest bound",
			enqueue: []job{{"below", processor.LowestPriority + 5}, {"low", processor.LowestPriority}, {"neg", -3}, {"fresh", processor.Fresh}},
			want:    []string{"neg", "fresh", "below", "low"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			release := make(chan struct{})
			var mu sync.Mutex
			var order []string
			p := processor.New(processor.Config{Workers: 1}, func(ctx context.Context, j job) error {
				if j.name == "blocker" {
					close(started)
					<-release
					return nil
				}
				mu.Lock()
				order = append(order, j.name)
				mu.Unlock()
				return nil
			})
			require.NoError(t, p.Enqueue(context.Background(), job{"blocker", processor.Backlog}))
			<-started // the worker is busy: everything below waits
			for _, j := range tt.enqueue {
				require.NoError(t, p.Enqueue(context.Background(), j))
			}
			close(release)
			require.NoError(t, p.Shutdown(context.Background()))
			assert.Equal(t, tt.want, order)
		})
	}
}

// TestPoolFreshBehindManyBacklogJobs: with 200 backlog jobs waiting, a
// fresh one is the next to start, and the backlog still runs in order.
func TestPoolFreshBehindManyBacklogJobs(t *testing.T) {
	const backlog = 200
	started := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	p := processor.New(processor.Config{Workers: 1, QueueSize: backlog + 1}, func(ctx context.Context, j job) error {
		if j.name == "blocker" {
			close(started)
			<-release
		}
		mu.Lock()
		order = append(order, j.name)
		mu.Unlock()
		return nil
	})
	require.NoError(t, p.Enqueue(context.Background(), job{"blocker", processor.Backlog}))
	<-started
	var want []string
	for i := range backlog {
		name := fmt.Sprintf("backlog-%03d", i)
		want = append(want, name)
		require.NoError(t, p.Enqueue(context.Background(), job{name, processor.Backlog}))
	}
	require.NoError(t, p.Enqueue(context.Background(), job{"upload", processor.Fresh}))
	assert.Equal(t, backlog+2, p.Len())
	close(release)
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, order, backlog+2)
	assert.Equal(t, []string{"blocker", "upload"}, order[:2], "the fresh job starts next")
	assert.Equal(t, want, order[2:], "the backlog keeps its order")
}

// TestPoolRetryKeepsPriority: a failed backlog job comes back behind the
// fresh jobs queued meanwhile.
func TestPoolRetryKeepsPriority(t *testing.T) {
	var mu sync.Mutex
	var order []string
	failed := make(chan struct{})
	p := processor.New(processor.Config{Workers: 1, Backoff: 30 * time.Millisecond, MaxBackoff: 30 * time.Millisecond, Logger: quiet(&syncbuf.Buffer{})},
		func(ctx context.Context, j job) error {
			mu.Lock()
			order = append(order, j.name)
			n := len(order)
			mu.Unlock()
			if j.name == "flaky" && n == 1 {
				close(failed)
				return errors.New("storage unreachable")
			}
			if j.name == "slow" {
				time.Sleep(100 * time.Millisecond) // the retry comes due meanwhile
			}
			return nil
		})
	require.NoError(t, p.Enqueue(context.Background(), job{"flaky", processor.Backlog}))
	<-failed
	require.NoError(t, p.Enqueue(context.Background(), job{"slow", processor.Fresh}))
	require.NoError(t, p.Enqueue(context.Background(), job{"b", processor.Backlog}))
	require.NoError(t, p.Enqueue(context.Background(), job{"f", processor.Fresh}))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, []string{"flaky", "slow", "f", "b", "flaky"}, order)
}

// TestPoolKeepsWorkersForFresh: by default one of the workers runs no
// backlog job, so a fresh job starts while the backlog runs; with
// BacklogWorkers = Workers the backlog takes every worker.
func TestPoolKeepsWorkersForFresh(t *testing.T) {
	tests := []struct {
		name           string
		backlogWorkers int
		wantPeak       int32
	}{
		{"default: Workers-1", 0, 2},
		{"BacklogWorkers = Workers", 3, 3},
		{"above Workers: Workers", 9, 3},
		{"one", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, peak atomic.Int32
			release := make(chan struct{})
			freshRan := make(chan struct{})
			p := processor.New(processor.Config{Workers: 3, BacklogWorkers: tt.backlogWorkers}, func(ctx context.Context, j job) error {
				if j.priority == processor.Fresh {
					close(freshRan)
					return nil
				}
				n := running.Add(1)
				defer running.Add(-1)
				for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
				}
				<-release
				return nil
			})
			for i := range 10 {
				require.NoError(t, p.Enqueue(context.Background(), job{fmt.Sprint(i), processor.Backlog}))
			}
			require.Eventually(t, func() bool { return running.Load() == tt.wantPeak }, 5*time.Second, time.Millisecond)
			require.NoError(t, p.Enqueue(context.Background(), job{"upload", processor.Fresh}))
			if tt.wantPeak < 3 {
				select {
				case <-freshRan: // while every backlog job still waits for release
				case <-time.After(5 * time.Second):
					t.Fatal("the fresh job waited for the backlog")
				}
			}
			close(release)
			require.NoError(t, p.Shutdown(context.Background()))
			assert.Equal(t, tt.wantPeak, peak.Load(), "backlog jobs at once")
			select {
			case <-freshRan:
			default:
				t.Fatal("the fresh job never ran")
			}
		})
	}
}
