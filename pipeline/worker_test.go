package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// children lists the worker processes of this test process.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}

func withWorkers(t *testing.T, n int) {
	old := AVIFWorkers()
	SetAVIFWorkers(n)
	t.Cleanup(func() { SetAVIFWorkers(old) })
}

func TestWorkerEncodesAsInProcess(t *testing.T) {
	img := photo(200, 150)
	withWorkers(t, 0)
	var local bytes.Buffer
	require.NoError(t, EncodeContext(context.Background(), &local, "AVIF", img, Options{}))
	withWorkers(t, 1)
	var remote bytes.Buffer
	require.NoError(t, EncodeContext(context.Background(), &remote, "AVIF", img, Options{}))
	assert.Equal(t, local.Bytes(), remote.Bytes(), "a worker encodes exactly as this process does")
	assert.NotEmpty(t, children(t), "the encode ran in a worker process")
}

func TestWorkerDeathIsRetried(t *testing.T) {
	withWorkers(t, 1)
	img := photo(64, 48)
	require.NoError(t, EncodeContext(context.Background(), &bytes.Buffer{}, "AVIF", img, Options{}))
	pids := children(t)
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	time.Sleep(50 * time.Millisecond)
	var out bytes.Buffer
	require.NoError(t, EncodeContext(context.Background(), &out, "AVIF", img, Options{}), "a new worker takes over")
	info, err := Inspect(out.Bytes())
	require.NoError(t, err)
	assert.Equal(t, 64, info.Width)
}

func TestWorkerCanceledRequestKillsIt(t *testing.T) {
	withWorkers(t, 1)
	img := photo(1600, 1600)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := EncodeContext(ctx, &bytes.Buffer{}, "AVIF", img, Options{AVIFSpeed: 0})
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Less(t, time.Since(start), 3*time.Second, "an encode that takes many seconds is abandoned at once")
	require.NoError(t, EncodeContext(context.Background(), &bytes.Buffer{}, "AVIF", photo(32, 32), Options{}), "the pool recovers")
}

func TestWorkerBackPressure(t *testing.T) {
	withWorkers(t, 1)
	var wg sync.WaitGroup
	var peak int
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				n := len(children(t))
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
		}
	}()
	for range 4 {
		wg.Go(func() {
			assert.NoError(t, EncodeContext(context.Background(), &bytes.Buffer{}, "AVIF", photo(400, 300), Options{}))
		})
	}
	wg.Wait()
	close(done)
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, peak, 1, "four encodes at once run one after the other in the one worker")
}

func TestStartAVIFWorkers(t *testing.T) {
	withWorkers(t, 2)
	require.NoError(t, StartAVIFWorkers(context.Background()))
	assert.GreaterOrEqual(t, len(children(t)), 2)
	withWorkers(t, 0)
	require.NoError(t, StartAVIFWorkers(context.Background()), "nothing to start in-process")
	assert.Empty(t, children(t), "setting 0 workers stops the idle ones")
}
