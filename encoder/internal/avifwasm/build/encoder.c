/* The encoder's entry points, for a wasm32-wasi reactor module built with
 * build.sh: premultiplied RGBA8 in, AVIF out (4:2:0, 8 bits), through
 * libavif and libaom. The module is single-threaded and holds no state
 * between calls. */
#include <stdint.h>
#include <stdlib.h>
#include "avif/avif.h"

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("malloc") void *pictures_malloc(size_t n) { return malloc(n); }
EXPORT("free") void pictures_free(void *p) { free(p); }

/* encode encodes width x height pixels of premultiplied RGBA at rgba (rows
 * of width*4 bytes) at quality 1 to 100 and aom speed 0 to 10; opaque says
 * every alpha is 255 (no alpha plane is made). It returns an avifResult,
 * AVIF_RESULT_OK (0) on success: then *out and *outSize describe a buffer
 * from malloc, which the caller frees. */
EXPORT("encode")
int pictures_encode(const uint8_t *rgba, uint32_t width, uint32_t height,
                    int quality, int speed, int opaque,
                    uint8_t **out, uint32_t *outSize) {
  *out = NULL;
  *outSize = 0;
  avifImage *image = avifImageCreate(width, height, 8, AVIF_PIXEL_FORMAT_YUV420);
  if (!image) return AVIF_RESULT_OUT_OF_MEMORY;

  avifRGBImage rgb;
  avifRGBImageSetDefaults(&rgb, image);
  rgb.format = AVIF_RGB_FORMAT_RGBA;
  rgb.depth = 8;
  rgb.ignoreAlpha = opaque ? AVIF_TRUE : AVIF_FALSE;
  rgb.alphaPremultiplied = AVIF_TRUE;
  rgb.maxThreads = 1;
  rgb.pixels = (uint8_t *)rgba;
  rgb.rowBytes = width * 4;

  avifResult r = avifImageRGBToYUV(image, &rgb);
  if (r != AVIF_RESULT_OK) {
    avifImageDestroy(image);
    return r;
  }
  avifEncoder *enc = avifEncoderCreate();
  if (!enc) {
    avifImageDestroy(image);
    return AVIF_RESULT_OUT_OF_MEMORY;
  }
  enc->maxThreads = 1;
  enc->quality = quality;
  enc->qualityAlpha = quality;
  enc->speed = speed;

  avifRWData data = AVIF_DATA_EMPTY;
  r = avifEncoderWrite(enc, image, &data);
  avifEncoderDestroy(enc);
  avifImageDestroy(image);
  if (r != AVIF_RESULT_OK) {
    avifRWDataFree(&data);
    return r;
  }
  *out = data.data; /* from avifAlloc, which is malloc */
  *outSize = (uint32_t)data.size;
  return AVIF_RESULT_OK;
}
