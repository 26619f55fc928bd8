#!/bin/sh
# tests/run.sh [--sanitize] [ctest args...]
#
# Builds citytally with -Werror and runs the whole test suite: unit tests, and integration
# tests against a throwaway PostgreSQL cluster and real sockets. --sanitize builds a
# separate AddressSanitizer + UndefinedBehaviorSanitizer variant and runs the suite on it.
# Missing Debian packages are installed first (deploy/install-deps.sh; needs root or sudo).
set -eu
cd "$(dirname "$0")/.."

build=build
flags="-DCITYTALLY_WERROR=ON"
if [ "${1:-}" = "--sanitize" ]; then
    shift
    build="build-asan" # quoted: unquoted, shellcheck reads it as $build minus asan
    flags="$flags -DCITYTALLY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"
fi

deploy/install-deps.sh
# shellcheck disable=SC2086 # flags is a list
cmake -S . -B "$build" $flags >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
