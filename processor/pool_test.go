package processor_test

import (
	"context"
	"errors"
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
