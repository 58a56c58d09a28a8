#!/usr/bin/env bash
# Builds avifenc.wasm.gz, the WebAssembly AVIF encoder embedded in package
# avifwasm: libavif v1.4.2 (encode side only) and libaom v3.14.1 (encoder
# only), compiled with -O3 and WebAssembly SIMD, bulk memory and
# non-trapping float-to-int conversions (all in wazero's CoreFeaturesV2),
# single-threaded, around encoder.c. aom's x86 SSE2 to SSE4.1 intrinsics
# are compiled to WebAssembly SIMD through Emscripten's x86 compatibility
# headers (system/include/compat, MIT licence); patch-aom.py drops aom's
# assembly and CPU detection, and rtcd-exclude.txt lists the SIMD
# functions that are left out (those that exist only in assembly, or call
# it), which use their C or lesser-SIMD versions. aom's SIMD functions are
# bit-exact with its C ones: the files are the same as a generic C build's.
#
# It needs Debian 12 or later and network access for the three sources:
#
#   apt-get install -y clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32 wasi-libc cmake ninja-build git perl python3
#   encoder/internal/avifwasm/build/build.sh
#
# LIBAVIF_GIT, AOM_GIT and EMSCRIPTEN_GIT may name local clones instead of
# the upstream repositories; the tags (for Emscripten, the commit) must
# resolve to the commits below. The result
# replaces ../avifenc.wasm.gz; its SHA-256 is printed and kept in
# ../avifenc.wasm.sha256 (two builds gave the same). About 1 minute on 2
# CPUs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(dirname "$HERE")
WORK=${WORK:-$(mktemp -d)}
LIBAVIF_GIT=${LIBAVIF_GIT:-https://github.com/AOMediaCodec/libavif}
AOM_GIT=${AOM_GIT:-https://aomedia.googlesource.com/aom}
LIBAVIF_TAG=v1.4.2 LIBAVIF_COMMIT=c5240fc79fe5c2407e10afd35f5505ef6333ea49
AOM_TAG=v3.14.1 AOM_COMMIT=03087864cf4bea6abb0d28f95cf7843511413d8f
EMSCRIPTEN_GIT=${EMSCRIPTEN_GIT:-https://github.com/emscripten-core/emscripten}
EMSCRIPTEN_COMMIT=a04d0beef36bfa7661cee4b8dff7d3909303dabc
X86_HEADERS="xmmintrin.h emmintrin.h pmmintrin.h tmmintrin.h smmintrin.h nmmintrin.h immintrin.h avxintrin.h avx2intrin.h fmaintrin.h"

fetch() { # fetch <git> <tag> <commit> <dir>
  local git=$1 tag=$2 commit=$3 dir=$4
  if [ -d "$git" ]; then
    test "$(git -C "$git" rev-parse "$tag^{commit}")" = "$commit"
    mkdir -p "$dir"
    git -C "$git" archive "$commit" | tar -x -C "$dir"
  else
    git clone -q --depth 1 -b "$tag" "$git" "$dir"
    test "$(git -C "$dir" rev-parse HEAD)" = "$commit"
  fi
}
SRC=$WORK/src
if [ ! -f "$SRC/.done" ]; then
  rm -rf "$SRC"
  fetch "$LIBAVIF_GIT" $LIBAVIF_TAG $LIBAVIF_COMMIT "$SRC/libavif"
  fetch "$AOM_GIT" $AOM_TAG $AOM_COMMIT "$SRC/aom"
  python3 "$HERE/patch-aom.py" "$SRC/aom"
  # Only the intrinsics headers: the rest of compat/ would shadow wasi-libc.
  mkdir -p "$SRC/x86compat"
  if [ -d "$EMSCRIPTEN_GIT" ]; then
    em=$EMSCRIPTEN_GIT
  else
    em=$SRC/emscripten
    git init -q "$em"
    git -C "$em" fetch -q --depth 1 "$EMSCRIPTEN_GIT" $EMSCRIPTEN_COMMIT
  fi
  for h in $X86_HEADERS; do
    git -C "$em" show $EMSCRIPTEN_COMMIT:system/include/compat/$h > "$SRC/x86compat/$h"
  done
  touch "$SRC/.done"
fi

# Debian's wasi-libc, without the host's /usr/include.
export WB_SYSROOT=$WORK/sysroot
mkdir -p "$WB_SYSROOT/include" "$WB_SYSROOT/lib"
ln -sfn /usr/include/wasm32-wasi "$WB_SYSROOT/include/wasm32-wasi"
ln -sfn /usr/lib/wasm32-wasi "$WB_SYSROOT/lib/wasm32-wasi"

TARGET="--target=wasm32-wasi --sysroot=$WB_SYSROOT"
COMMON="-idirafter $HERE/compat" # setjmp.h and pthread.h, which wasi-libc lacks
CFLAGS="-O3 -DNDEBUG -msimd128 -mbulk-memory -mnontrapping-fptoint"
B=$WORK/build
rm -rf "$B"
mkdir -p "$B/aom" "$B/avif"

# 1. libaom: the encoder only, x86 SSE2 to SSE4.1 intrinsics as WebAssembly
# SIMD (aom's x86 target, 32-bit), no assembly, no threads, no CPU
# detection.
X86="-I$SRC/x86compat -D__SSE__ -D__SSE2__ -D__SSE3__ -D__SSSE3__ -D__SSE4_1__ -Wno-reserved-macro-identifier"
export AOM_RTCD_EXCLUDE=$HERE/rtcd-exclude.txt
cmake -G Ninja -S "$SRC/aom" -B "$B/aom" \
  -DCMAKE_TOOLCHAIN_FILE="$HERE/toolchain.cmake" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$COMMON $X86 -msimd128 -mbulk-memory -mnontrapping-fptoint" \
  -DCMAKE_CXX_FLAGS="$COMMON $X86 -msimd128 -mbulk-memory -mnontrapping-fptoint" \
  -DBUILD_SHARED_LIBS=0 -DENABLE_DOCS=0 -DENABLE_EXAMPLES=0 -DENABLE_TESTDATA=0 \
  -DENABLE_TESTS=0 -DENABLE_TOOLS=0 -DAOM_TARGET_CPU=x86 -DAOM_WASM_SSE=1 -DENABLE_NASM=0 \
  -DENABLE_MMX=1 -DENABLE_SSE=1 -DENABLE_SSE2=1 -DENABLE_SSE3=1 -DENABLE_SSSE3=1 -DENABLE_SSE4_1=1 \
  -DENABLE_SSE4_2=0 -DENABLE_AVX=0 -DENABLE_AVX2=0 -DENABLE_AVX512=0 \
  -DCONFIG_RUNTIME_CPU_DETECT=0 -DCONFIG_MULTITHREAD=0 -DCONFIG_WEBM_IO=0 \
  -DCONFIG_AV1_DECODER=0 -DCONFIG_AV1_ENCODER=1 > "$B/aom.cmake.log"
ninja -C "$B/aom" aom > "$B/aom.ninja.log"

# 2. libavif: the sources of its encode side with aom (no libyuv, no dav1d).
objs=()
for s in alpha avif colr colrconvert diag exif gainmap io mem obu properties rawdata read \
  reformat reformat_libsharpyuv reformat_libyuv sampletransform scale stream utils write codec_aom; do
  clang-19 $TARGET $COMMON $CFLAGS -std=c11 -DAVIF_CODEC_AOM=1 -DAVIF_CODEC_AOM_ENCODE=1 \
    -I"$SRC/libavif/include" -I"$SRC/libavif/third_party/libyuv/include" -I"$SRC/aom" -I"$B/aom" \
    -c "$SRC/libavif/src/$s.c" -o "$B/avif/$s.o"
  objs+=("$B/avif/$s.o")
done

# 3. encoder.c, linked as a WASI reactor exporting malloc, free and encode.
clang-19 $TARGET $COMMON $CFLAGS -I"$SRC/libavif/include" -c "$HERE/encoder.c" -o "$B/encoder.o"
clang-19 $TARGET $CFLAGS -mexec-model=reactor -Wl,-z,stack-size=1048576 -Wl,--strip-all \
  -o "$B/avifenc.wasm" "$B/encoder.o" "${objs[@]}" "$B/aom/libaom.a" -lm
gzip -9 -n -c "$B/avifenc.wasm" > "$OUT/avifenc.wasm.gz"
(cd "$OUT" && sha256sum avifenc.wasm.gz | tee avifenc.wasm.sha256)
