#!/usr/bin/env python3
# Patches an aom v3.14.1 source tree so that AOM_TARGET_CPU=x86 with
# -DAOM_WASM_SSE=1 builds the SSE2..SSE4.1 intrinsics as wasm32 SIMD128
# (Emscripten's x86 compat headers) and no assembly.
import sys, re
root = sys.argv[1]
def sub(path, old, new, count=1):
    p = root + '/' + path
    s = open(p).read()
    if old not in s:
        sys.exit('patch-aom: %r not found in %s' % (old, path))
    s = s.replace(old, new, count)
    open(p, 'w').write(s)

# No nasm/yasm.
sub('cmake/aom_configure.cmake',
    'if(AOM_TARGET_CPU STREQUAL "x86" OR AOM_TARGET_CPU STREQUAL "x86_64")\n  find_program(CMAKE_ASM_NASM_COMPILER',
    'if(NOT AOM_WASM_SSE AND (AOM_TARGET_CPU STREQUAL "x86" OR AOM_TARGET_CPU STREQUAL "x86_64"))\n  find_program(CMAKE_ASM_NASM_COMPILER')
# No assembly sources; no -msse* flags (the compat headers key on __SSE*__).
sub('cmake/aom_optimization.cmake',
    'function(add_asm_library lib_name asm_sources)\n',
    'function(add_asm_library lib_name asm_sources)\n  if(AOM_WASM_SSE)\n    return()\n  endif()\n')
sub('cmake/aom_optimization.cmake',
    'function(add_intrinsics_object_library flag opt_name target_to_update sources)\n',
    'function(add_intrinsics_object_library flag opt_name target_to_update sources)\n  if(AOM_WASM_SSE)\n    set(flag "")\n  endif()\n')
sub('cmake/aom_optimization.cmake',
    'function(add_intrinsics_source_to_target flag target sources)\n',
    'function(add_intrinsics_source_to_target flag target sources)\n  if(AOM_WASM_SSE)\n    set(flag "")\n  endif()\n')
# No x87 control word on wasm.
sub('aom/src/aom_encoder.c',
    '#if AOM_ARCH_X86 || AOM_ARCH_X86_64\n/* On X86',
    '#if (AOM_ARCH_X86 || AOM_ARCH_X86_64) && !defined(__wasm__)\n/* On X86')
# rtcd.pl: no cpuid (static dispatch only), and skip the specializations
# named one per line in $AOM_RTCD_EXCLUDE (those that exist only in assembly
# or are not wanted).
sub('cmake/rtcd.pl',
    'my %disabled = ();\n',
    'my %disabled = ();\nmy %excluded = ();\n'
    'if ($ENV{AOM_RTCD_EXCLUDE}) {\n'
    '  open(my $xf, "<", $ENV{AOM_RTCD_EXCLUDE}) or die "AOM_RTCD_EXCLUDE: $!";\n'
    '  while (<$xf>) { s/#.*//; s/\\s+//g; $excluded{$_} = 1 if $_ ne ""; }\n'
    '  close($xf);\n'
    '}\n')
sub('cmake/rtcd.pl',
    '  foreach my $opt (@_) {\n    eval "\\$${fn}_${opt}=${fn}_${opt}";',
    '  foreach my $opt (@_) {\n    next if $excluded{"${fn}_${opt}"};\n    eval "\\$${fn}_${opt}=${fn}_${opt}";')
sub('cmake/rtcd.pl',
    '#include "aom_ports/x86.h"\nstatic void setup_rtcd_internal(void)\n{\n    int flags = x86_simd_caps();',
    'static void setup_rtcd_internal(void)\n{\n    int flags = 0;')
# The -msse* flags are not checked (wasm32 clang has none).
sub('cmake/compiler_flags.cmake',
    'function(require_compiler_flag_nomsvc flag update_cmake_flags)\n',
    'function(require_compiler_flag_nomsvc flag update_cmake_flags)\n  if(AOM_WASM_SSE AND "${flag}" MATCHES "^-m(mmx|sse|ssse|avx)")\n    return()\n  endif()\n')
