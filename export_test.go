package pictures

import "time"

// AcquirePixels and AcquireJobPixels let tests hold the pixel budgets.
var (
	AcquirePixels    = acquirePixels
	AcquireJobPixels = jobPixels.acquire
)

// SetJobTimeoutFloor replaces MinJobTimeout until the returned function
// is called.
func SetJobTimeoutFloor(d time.Duration) (restore func()) {
	old := jobTimeoutFloor
	jobTimeoutFloor = d
	return func() { jobTimeoutFloor = old }
}
