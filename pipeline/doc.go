// Package pipeline turns an uploaded image into the variants of a picture.
// It does not know about fields or storage; package pictures drives it, and
// any program can use it alone (see the example).
//
// # Inspect, then decode
//
// Inspect recognises the format from content, never from a file name, and
// reads the size, the orientation and the colour profile from the headers
// only, so that the caller can refuse an image before the memory of its
// pixels is spent: check Info's Width*Height against a pixel budget. The
// accepted formats are JPEG, PNG, GIF (its first frame), WebP (not
// animated) and AVIF; the Err variables say why anything else is refused.
//
// Decode then decodes once to an upright Image: the EXIF orientation (or
// AVIF's irot and imir) is applied, and colours are converted to sRGB from
// the embedded ICC profile (or AVIF's CICP codes) as pixels are read;
// Image.Warning says when a profile could not be applied. A JPEG stays in
// its YCbCr planes, 1.5 bytes a pixel.
//
// # Crop and resize
//
// CropRect places a crop of a given size around a focal point, and
// Image.Crop takes it without copying. A Resizer makes every size of one
// source with a high-quality filter (Catmull-Rom, from a pyramid of
// halvings shared by all sizes, on every CPU); Recycle gives its outputs
// back for reuse once they are encoded.
//
// # Encode
//
// Encode writes AVIF, WebP, JPEG or PNG without any metadata (no EXIF, XMP,
// ICC profile or text), at the quality and speed of an Encoding. AVIF and
// WebP go through package encoder, which runs them in encoder processes
// when the program calls encoder.Init first in main, and in the calling
// process otherwise. Preview makes the tiny, blurry JPEG data: URL shown while the
// variants are being made.
package pipeline
