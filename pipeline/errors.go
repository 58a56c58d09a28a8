package pipeline

import "errors"

// Errors of inspection and decoding.
var (
	// ErrUnsupported reports content that is not an image of an accepted
	// format.
	ErrUnsupported = errors.New("pipeline: not a JPEG, PNG, GIF, WebP or AVIF image")
	// ErrHEIC reports an HEIC/HEIF image, which browsers cannot show and
	// the pipeline does not decode.
	ErrHEIC = errors.New("pipeline: HEIC/HEIF images are not supported")
	// ErrAnimated reports an animated WebP, which the decoder does not
	// read. (Animated GIFs give their first frame.)
	ErrAnimated = errors.New("pipeline: animated WebP images are not supported")
	// ErrUnsupportedFeature reports an image of an accepted format that
	// uses a feature the decoder lacks, such as arithmetic-coded JPEG.
	ErrUnsupportedFeature = errors.New("pipeline: unsupported image feature")
	// ErrCorrupt reports an image of an accepted format that cannot be
	// decoded: truncated, damaged, or using a feature the decoder lacks.
	ErrCorrupt = errors.New("pipeline: damaged or unreadable image")
)

// errUnsupportedProfile reports a profile the converter cannot apply.
var errUnsupportedProfile = errors.New("unsupported ICC profile")
