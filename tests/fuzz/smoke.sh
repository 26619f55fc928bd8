#!/bin/sh
# tests/fuzz/smoke.sh [SECONDS] [RUNS] [TARGET...]
#
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS
# (default 30), or for RUNS executions when RUNS is given (SECONDS is then ignored; pass 0).
# TARGETs (e.g. fuzz_wire) limit the run to those; the default is every target. Fails on
# any crash, leak, sanitizer report, timeout or allocation over the RSS limit. Seeds come
# from tests/fuzz/corpus/NAME/; the run works on a copy, so the committed seeds stay as
# they are. The build directory is build-fuzz/, or $CT_FUZZ_BUILD.
#
#   tests/fuzz/smoke.sh 0 10000000 fuzz_wire    # the 10-million-execution acceptance run
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-30}
runs=${2:-}
if [ $# -gt 2 ]; then
    shift 2
else
    set --
fi
build=${CT_FUZZ_BUILD:-build-fuzz}

CC=clang cmake -S . -B "$build" -DCITYTALLY_FUZZ=ON -DCITYTALLY_TESTS=OFF \
    -DCITYTALLY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

if [ $# -eq 0 ]; then
    for target in "$build"/bin/fuzz_*; do
        if [ -e "$target" ]; then set -- "$@" "${target##*/}"; fi
    done
fi
for name in "$@"; do
    target="$build/bin/$name"
    [ -x "$target" ] || { echo "fuzz: no target $target" >&2; exit 1; }
    work=$(mktemp -d)
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -r "tests/fuzz/corpus/$name/." "$work/"
    fi
    if [ -n "$runs" ]; then
        limit="-runs=$runs"
    else
        limit="-max_total_time=$seconds"
    fi
    echo "fuzz: $name ($limit, $(find "$work" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l) seeds)"
    started=$(date +%s)
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
        "$target" "$limit" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$work" \
        2>"$work.log" || {
        tail -n 60 "$work.log" >&2
        rm -rf "$work" "$work.log"
        exit 1
    }
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs" "$work.log" || true
    echo "fuzz: $name clean after $(($(date +%s) - started)) s"
    rm -rf "$work" "$work.log"
done
