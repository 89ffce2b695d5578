#!/bin/sh
# Checks the code the kernel builds compile to (Docs/kernel.md, "Checking the code"):
#
#   1. objdump of each build's micro-kernel: the AVX-512 build's has 24 `vfmadd231ps` on zmm
#      registers (12×32 tile), the AVX2 build's 12 on ymm (6×16), the portable build's no FMA and
#      no ymm/zmm register at all;
#   2. the AVX-512 build's GEMM driver (12×32 tile, its packing, KC/MC blocks) run on this CPU:
#      the same sources compiled with its define but `-target-cpu haswell`, each SIMD16 as two ymm,
#      against a double-precision reference (Tests/KernelCode/main.swift). Needs AVX2 and FMA.
#
# Usage (from the repository root, x86-64 Linux): Tests/KernelCode/check-kernel-code.sh
# The objects are compiled here with the flags Package.swift gives each kernel target
# (release: -Ounchecked, whole module). Exit status 0 when every check passes.
set -eu
S=Sources/TrainyardKernelPortable
[ -f "$S/Gemm.swift" ] || { echo "run from the repository root (no $S/Gemm.swift here)" >&2; exit 2; }
SWIFTC=${SWIFTC:-swiftc}
command -v "$SWIFTC" >/dev/null || { echo "swiftc not on PATH (export PATH=/opt/swift/usr/bin:\$PATH)" >&2; exit 2; }
command -v objdump >/dev/null || { echo "objdump not on PATH (binutils)" >&2; exit 2; }
OUT=$(mktemp -d "${TMPDIR:-/tmp}/kernel-code.XXXXXX")
trap 'rm -rf "$OUT"' EXIT INT TERM
SOURCES="$S/Gemm.swift $S/Elementwise.swift $S/Optimizers.swift"
status=0

compile() { # name, flags...
    name=$1; shift
    # shellcheck disable=SC2086
    "$SWIFTC" -Ounchecked -wmo -parse-as-library -module-name "K$name" "$@" -c $SOURCES -o "$OUT/$name.o"
    # The micro-kernel's body: from its symbol to the next symbol.
    objdump -d --no-show-raw-insn "$OUT/$name.o" |
        awk '/^[0-9a-f]+ <.*microKernel.*>:$/ { on = 1; next } /^[0-9a-f]+ <.*>:$/ { on = 0 } on' > "$OUT/$name.mk"
    [ -s "$OUT/$name.mk" ] || { echo "FAIL $name: no microKernel symbol in the object"; status=1; }
}

expect() { # name, what, count, pattern
    got=$(grep -c -E "$4" "$OUT/$1.mk" || true)
    if [ "$got" -eq "$3" ]; then echo "ok   $1: $got $2"; else echo "FAIL $1: $got $2, expected $3"; status=1; fi
}

compile avx512 -target-cpu skylake-avx512 -D TRAINYARD_FMA -D TRAINYARD_AVX512
expect avx512 "vfmadd231ps on zmm in the micro-kernel" 24 'vfmadd231ps .*zmm'
expect avx512 "FMAs on ymm/xmm in the micro-kernel" 0 'vfmadd[0-9]+ps .*[xy]mm'

compile avx2 -target-cpu haswell -D TRAINYARD_FMA
expect avx2 "vfmadd231ps on ymm in the micro-kernel" 12 'vfmadd231ps .*ymm'
expect avx2 "zmm registers in the micro-kernel" 0 'zmm'

compile portable
expect portable "FMA instructions in the micro-kernel" 0 'vfmadd'
expect portable "ymm/zmm registers in the micro-kernel" 0 '[yz]mm'

if grep -q -w avx2 /proc/cpuinfo && grep -q -w fma /proc/cpuinfo; then
    "$SWIFTC" -Ounchecked -wmo -module-name Emulated -target-cpu haswell -D TRAINYARD_FMA -D TRAINYARD_AVX512 \
        $SOURCES Tests/KernelCode/main.swift -o "$OUT/emulated"
    if "$OUT/emulated"; then echo "ok   avx512 driver emulated in AVX2"; else echo "FAIL avx512 driver emulated in AVX2"; status=1; fi
else
    echo "skip avx512 driver emulation: this CPU has no AVX2 and FMA"
fi
exit $status
