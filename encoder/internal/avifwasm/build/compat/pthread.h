/* Minimal pthread.h for single-threaded wasm32-wasi (Debian's wasi-libc has none).
 * libavif only uses threads for multi-threaded YUV->RGB (decode side, maxThreads>1);
 * creation always fails here, so it is never taken. */
#ifndef WASMBUILD_COMPAT_PTHREAD_H
#define WASMBUILD_COMPAT_PTHREAD_H
#include <errno.h>
typedef unsigned long pthread_t;
typedef struct { int unused; } pthread_attr_t;
static inline int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  (void)t; (void)a; (void)fn; (void)arg;
  return ENOSYS;
}
static inline int pthread_join(pthread_t t, void **ret) { (void)t; (void)ret; return ENOSYS; }
#endif
