#!/bin/sh
# tests/fuzz/smoke.sh [SECONDS] [RUNS]
#
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for
# SECONDS (default 30), or for RUNS executions when RUNS is given. Fails on any crash,
# leak or sanitizer report. Seeds come from tests/fuzz/corpus/NAME/.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-30}
runs=${2:-}

CC=clang cmake -S . -B build-fuzz -DCITYTALLY_FUZZ=ON -DCITYTALLY_TESTS=OFF \
    -DCITYTALLY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"

for target in build-fuzz/bin/fuzz_*; do
    [ -x "$target" ] || continue
    name=$(basename "$target")
    work=$(mktemp -d)
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -r "tests/fuzz/corpus/$name/." "$work/"
    fi
    if [ -n "$runs" ]; then
        limit="-runs=$runs"
    else
        limit="-max_total_time=$seconds"
    fi
    echo "fuzz: $name ($limit)"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$target" "$limit" -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>"$work.log" || {
        tail -n 60 "$work.log" >&2
        rm -rf "$work" "$work.log"
        exit 1
    }
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work.log" || true
    rm -rf "$work" "$work.log"
done
