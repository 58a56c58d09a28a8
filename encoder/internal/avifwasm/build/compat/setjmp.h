/* Minimal setjmp.h for wasm32-wasi without exception handling (Debian's
 * wasi-libc ships none). libaom only reaches longjmp on an internal error;
 * we make that a trap instead of pretending to return. */
#ifndef WASMBUILD_COMPAT_SETJMP_H
#define WASMBUILD_COMPAT_SETJMP_H
typedef long long jmp_buf[8];
#define setjmp(env) ((void)(env), 0)
static inline _Noreturn void longjmp(jmp_buf env, int val) {
  (void)env; (void)val;
  __builtin_trap();
}
#endif
