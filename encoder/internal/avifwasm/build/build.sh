#!/usr/bin/env bash
# Builds avifenc.wasm.gz, the WebAssembly AVIF encoder embedded in package
# avifwasm: libavif v1.4.2 (encode side only) and libaom v3.14.1 (encoder
# only), compiled with -O3 and WebAssembly SIMD, bulk memory and
# non-trapping float-to-int conversions (all in wazero's CoreFeaturesV2),
# generic C, single-threaded, around encoder.c.
#
# It needs Debian 12 or later and network access for the two sources:
#
#   apt-get install -y clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32 wasi-libc cmake ninja-build git
#   encoder/internal/avifwasm/build/build.sh
#
# LIBAVIF_GIT and AOM_GIT may name local clones instead of the upstream
# repositories; the tags must resolve to the commits below. The result
# replaces ../avifenc.wasm.gz; its SHA-256 is printed and kept in
# ../avifenc.wasm.sha256. About 2 minutes on 2 CPUs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(dirname "$HERE")
WORK=${WORK:-$(mktemp -d)}
LIBAVIF_GIT=${LIBAVIF_GIT:-https://github.com/AOMediaCodec/libavif}
AOM_GIT=${AOM_GIT:-https://aomedia.googlesource.com/aom}
LIBAVIF_TAG=v1.4.2 LIBAVIF_COMMIT=c5240fc79fe5c2407e10afd35f5505ef6333ea49
AOM_TAG=v3.14.1 AOM_COMMIT=03087864cf4bea6abb0d28f95cf7843511413d8f

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

# 1. libaom: the encoder only, generic C, no threads, no CPU detection.
cmake -G Ninja -S "$SRC/aom" -B "$B/aom" \
  -DCMAKE_TOOLCHAIN_FILE="$HERE/toolchain.cmake" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$COMMON -msimd128 -mbulk-memory -mnontrapping-fptoint" \
  -DCMAKE_CXX_FLAGS="$COMMON -msimd128 -mbulk-memory -mnontrapping-fptoint" \
  -DBUILD_SHARED_LIBS=0 -DENABLE_DOCS=0 -DENABLE_EXAMPLES=0 -DENABLE_TESTDATA=0 \
  -DENABLE_TESTS=0 -DENABLE_TOOLS=0 -DAOM_TARGET_CPU=generic \
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
