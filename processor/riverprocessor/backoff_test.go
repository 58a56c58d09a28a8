package riverprocessor

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
)

// TestBackoff checks the retry policy against Config's documentation: the
// wait starts at Backoff, doubles with each attempt up to MaxBackoff, with
// +-25% jitter, as processor.Pool's does.
func TestBackoff(t *testing.T) {
	cfg := Config{Backoff: time.Second, MaxBackoff: 10 * time.Second}.withDefaults()
	b := backoff{cfg.Backoff, cfg.MaxBackoff}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {40, 10 * time.Second}} {
		for range 20 {
			got := time.Until(b.NextRetry(&rivertype.JobRow{Attempt: tc.attempt}))
			assert.InDelta(t, tc.want, got, float64(tc.want)/4+float64(50*time.Millisecond), "attempt %d", tc.attempt)
		}
	}
	d := Config{}.withDefaults()
	assert.Equal(t, 5*time.Second, d.Backoff)
	assert.Equal(t, time.Hour, d.MaxBackoff)
}
