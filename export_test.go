package pictures

// AcquirePixels and AcquireJobPixels let tests hold the pixel budgets.
var (
	AcquirePixels    = acquirePixels
	AcquireJobPixels = jobPixels.acquire
)
