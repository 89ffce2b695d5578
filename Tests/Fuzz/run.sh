#!/usr/bin/env bash
# Builds and runs Trainyard's libFuzzer harnesses (Docs/security.md, "Fuzzing").
#
#   Tests/Fuzz/run.sh [--time SECONDS] [--build-only | --typecheck] [TARGET…]
#
# Targets: frame message json yaml tfconfig csv idx checkpoint ignore storageuri (default: all, one
# after another). Each harness is `Tests/Fuzz/fuzz-TARGET.swift` over the shared checks in
# `Tests/TrainyardCoreTests/FuzzTargets.swift` (the same functions `swift test` replays the saved
# inputs through), linked against the pure core's parsers built with -sanitize=fuzzer,address.
# It is kept out of `swift build`: SwiftPM builds only the targets Package.swift declares.
# `--typecheck` only type-checks the core's fuzzed sources on their own (seconds; CI runs it, so a core
# file that starts to need something outside that list is caught before anyone fuzzes).
#
# Inputs: the committed corpus `Tests/Fuzz/corpus/TARGET/` seeds a working copy under
# `.build/fuzz/work/TARGET/`; new inputs that add coverage are merged back into the committed corpus
# at the end (inputs are capped at 4 KiB so it stays small). A crash is written to
# `Tests/Fuzz/crashes/TARGET/`: commit it with its fix, and `swift test` replays it from then on.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
seconds=60
build_only=0
typecheck=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) seconds="$2"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        --typecheck) typecheck=1; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(frame message json yaml tfconfig csv idx checkpoint ignore storageuri)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# The toolchain: swiftc on PATH, else the one at /opt/swift.
if ! command -v swiftc >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swiftc ]; then export PATH=/opt/swift/usr/bin:$PATH; fi
command -v swiftc >/dev/null 2>&1 || { echo "run.sh: swiftc not found: put the Swift toolchain's usr/bin on PATH" >&2; exit 1; }
toolchain="$(dirname "$(dirname "$(command -v swiftc)")")"
if ! ls "$toolchain"/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 && ! ls "$toolchain"/lib/swift/clang/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
    echo "run.sh: this Swift toolchain has no libFuzzer runtime (libclang_rt.fuzzer): use a swift.org Linux toolchain" >&2; exit 1
fi
# lld links the sanitized binaries (gold warns about AddressSanitizer's exports and can fail).
if ! command -v ld.lld >/dev/null 2>&1; then
    echo "run.sh: the lld linker (ld.lld) is missing: install it with \`sudo apt-get install lld\` and run again" >&2; exit 1
fi

build="$repo/.build/fuzz"
mkdir -p "$build"
core="$repo/Sources/TrainyardCore"
# The pure parsers and codecs: they import nothing, so they build without the kernel.
sources=("$core"/Support/*.swift "$core"/JSON/*.swift "$core"/Wire/*.swift "$core"/Cluster/*.swift "$core"/Storage/*.swift
         "$core"/Data/*.swift "$core"/Checkpoint/*.swift "$core"/Model/MLPArchitecture.swift "$core"/Launch/RoleEnvironment.swift)
if [ $typecheck -eq 1 ]; then
    swiftc -parse-as-library -typecheck -module-name TrainyardCore "${sources[@]}"
    echo "run.sh: the fuzzed core sources type-check on their own"
    exit 0
fi
flags=(-parse-as-library -O -g -sanitize=fuzzer,address -use-ld=lld)

stamp="$build/libTrainyardCore.stamp"
if [ ! -f "$build/libTrainyardCore.a" ] || [ -n "$(find "${sources[@]}" -newer "$stamp" 2>/dev/null | head -1)" ]; then
    echo "== building the core for fuzzing"
    swiftc "${flags[@]}" -emit-library -static -emit-module -module-name TrainyardCore "${sources[@]}" \
        -emit-module-path "$build/TrainyardCore.swiftmodule" -o "$build/libTrainyardCore.a"
    touch "$stamp"
fi
for t in "${targets[@]}"; do
    [ -f "$here/fuzz-$t.swift" ] || { echo "run.sh: unknown target $t (expected: ${all[*]})" >&2; exit 2; }
    echo "== building fuzz-$t"
    swiftc "${flags[@]}" -module-name "Fuzz_$t" -I "$build" -L "$build" -lTrainyardCore \
        "$repo/Tests/TrainyardCoreTests/FuzzTargets.swift" "$here/fuzz-$t.swift" -o "$build/fuzz-$t"
done
[ $build_only -eq 1 ] && exit 0

# Swift's own crash backtracer would take the signal before libFuzzer could save the input.
export SWIFT_BACKTRACE=enable=no
status=0
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"; crashes="$here/crashes/$t"; work="$build/work/$t"
    mkdir -p "$corpus" "$crashes" "$work"
    echo "== fuzz-$t for ${seconds}s"
    if ! "$build/fuzz-$t" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "$corpus" 2>&1 | tee "$build/fuzz-$t.log" | grep -E "^#[0-9]+.*(INITED|DONE)|^(stat::|Done|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)"; then
        :
    fi
    if grep -qE "Test unit written|==ERROR" "$build/fuzz-$t.log"; then
        echo "!! fuzz-$t found a crash: see $build/fuzz-$t.log and $crashes/" >&2
        status=1
    fi
    # The committed corpus becomes the smallest set of inputs (seeds first) that covers what the
    # old corpus and this run reached together, so it stays small however long the run.
    merged="$build/merged/$t"; rm -rf "$merged"; mkdir -p "$merged"
    cp "$corpus"/seed-* "$merged"/ 2>/dev/null || true
    if "$build/fuzz-$t" -merge=1 -max_len=4096 "$merged" "$corpus" "$work" >"$build/fuzz-$t.merge.log" 2>&1; then
        rm -f "$corpus"/*; cp "$merged"/* "$corpus"/
    fi
    echo "   corpus: $(ls "$corpus" | wc -l) files, $(cat "$corpus"/* | wc -c) bytes"
done
exit $status
