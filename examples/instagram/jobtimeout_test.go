package main

import (
	"bytes"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor/riverprocessor"
)

// TestJobTimeoutDefault: without -job-timeout, a scaled-out deployment's
// jobs get twice the timeout of the largest photo the fields admit,
// estimated with the WebAssembly encoder (the same in every process, so
// that the rescue delay any of them applies holds for all), well above
// what a 48-megapixel photo takes (17 s with that encoder on the
// development machine: BenchmarkJobSizes); -help says the value.
func TestJobTimeoutDefault(t *testing.T) {
	post, avatar := newPostImage(), newUserAvatar()
	d, err := defaultJobTimeout(post, avatar)
	require.NoError(t, err)
	longest, err := post.MaxJobTimeout()
	require.NoError(t, err)
	assert.Equal(t, 2*longest, d, "the photos' field has the longest jobs")
	assert.Greater(t, d, 5*time.Minute)
	assert.Less(t, d, 15*time.Minute)
	phone48, err := post.JobTimeout(8064, 6048)
	require.NoError(t, err)
	assert.LessOrEqual(t, phone48, longest)
	assert.GreaterOrEqual(t, phone48, 2*time.Minute)

	var help bytes.Buffer
	_, err = parseConfig([]string{"-help"}, func(string) string { return "" }, func(fs *flag.FlagSet) { fs.SetOutput(&help) })
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, help.String(), "default "+d.String()+":", "-help gives the default job timeout")

	for _, c := range []struct{ jobTimeout, rescueAfter, want time.Duration }{
		{0, 0, d},                             // the default
		{time.Minute, 0, time.Minute},         // -job-timeout
		{0, 5 * time.Minute, 4 * time.Minute}, // -rescue-after alone: a minute less
		{0, time.Hour, d},                     // but never more than the default
		{2 * time.Minute, 3 * time.Minute, 2 * time.Minute},
	} {
		rc, err := withJobTimeout(riverprocessor.Config{JobTimeout: c.jobTimeout, RescueAfter: c.rescueAfter}, post, avatar)
		require.NoError(t, err)
		assert.Equal(t, c.want, rc.JobTimeout, "-job-timeout %v -rescue-after %v", c.jobTimeout, c.rescueAfter)
	}
}

// TestBadFieldConfigIsAnError: a field configuration the library refuses
// (here a ratio no layout shows, as a configuration change may add) is an
// error that names it, from the app's start, not a panic.
func TestBadFieldConfigIsAnError(t *testing.T) {
	post := newPostImage()
	post.AspectRatios = append(post.AspectRatios, "16/9")
	_, err := defaultJobTimeout(post, newUserAvatar())
	require.Error(t, err)
	assert.ErrorIs(t, err, pictures.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `"16/9"`)
	assert.NotPanics(t, func() { jobTimeoutUsage() })
}
