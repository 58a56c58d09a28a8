package processor_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gopictures/pictures/processor"
)

// A Pool runs jobs of any type; a *processor.Pool[pictures.Job] running
// pictures.Run is a pictures.Processor (pictures.DefaultProcessor is one).
// A failing job is retried, up to MaxAttempts, unless its error is
// Permanent.
func ExamplePool() {
	var (
		mu       sync.Mutex
		done     []string
		attempts = map[string]int{}
	)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelError,
		// Leave out the time, so that the output is the same every run.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	pool := processor.New(processor.Config{
		Workers:     2,
		MaxAttempts: 3,
		Backoff:     time.Millisecond,
		JobTimeout:  time.Minute,
		Logger:      logger,
	}, func(ctx context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[key]++
		switch {
		case key == "damaged.jpeg":
			return processor.Permanent(errors.New("not an image"))
		case key == "flaky.jpeg" && attempts[key] < 3:
			return errors.New("storage unreachable")
		}
		done = append(done, key)
		return nil
	})

	ctx := context.Background()
	for _, key := range []string{"a.jpeg", "flaky.jpeg", "damaged.jpeg"} {
		if err := pool.Enqueue(ctx, key); err != nil {
			log.Fatal(err)
		}
	}
	// Shutdown waits for every job, retries included.
	if err := pool.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	slices.Sort(done)
	fmt.Println(done, attempts)
	// Output:
	// level=ERROR msg="processor: job failed" job=damaged.jpeg attempt=1 err="not an image"
	// [a.jpeg flaky.jpeg] map[a.jpeg:1 damaged.jpeg:1 flaky.jpeg:3]
}

// upload is a job with a priority, as pictures.Job is.
type upload struct {
	key      string
	priority processor.Priority
}

func (u upload) JobPriority() processor.Priority { return u.priority }

// Jobs that tell their Priority (pictures.Job does) run Fresh first: an
// upload queued behind backlog work starts as soon as a worker is free,
// and each priority keeps its order.
func ExamplePool_priorities() {
	started, release := make(chan struct{}), make(chan struct{})
	var order []string
	pool := processor.New(processor.Config{Workers: 1}, func(ctx context.Context, u upload) error {
		if u.key == "running.jpeg" {
			close(started)
			<-release
		}
		order = append(order, u.key) // one worker: no lock needed
		return nil
	})
	ctx := context.Background()
	pool.Enqueue(ctx, upload{"running.jpeg", processor.Backlog})
	<-started // the worker is busy; what follows waits
	for _, u := range []upload{
		{"old-1.jpeg", processor.Backlog},
		{"old-2.jpeg", processor.Backlog},
		{"new.jpeg", processor.Fresh},
		{"old-3.jpeg", processor.Backlog},
	} {
		if err := pool.Enqueue(ctx, u); err != nil {
			log.Fatal(err)
		}
	}
	close(release)
	if err := pool.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(order)
	// Output:
	// [running.jpeg new.jpeg old-1.jpeg old-2.jpeg old-3.jpeg]
}
