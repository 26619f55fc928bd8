#!/bin/sh
# tests/tsan.sh: the aggregator's threads under ThreadSanitizer.
#
# The daemon's main thread hands groups to its writer threads and takes them back
# (aggregator/writer.h). This builds the two programs with -fsanitize=thread and runs the
# integration tests that drive that hand-off hardest against them: the test programs
# themselves come from the ordinary build (Criterion's runner does not start under TSan)
# and find the daemon through CT_BIN_DIR. test_http_diff adds the diff's second reader
# (aggregator/diff_listing.c), a thread of its own in both /api/diff and `report --diff`.
# Libraries without instrumentation are
# suppressed (tests/support/tsan.supp); any report left, or any failed test, fails this.
set -eu
cd "$(dirname "$0")/.."

tests="test_ingest_writers test_ingest_protocol test_security test_http_aggregator test_http_diff"
work=$(mktemp -d /tmp/ct-tsan-XXXXXX)
chmod 755 "$work"
port=55460
cleanup() {
    tests/support/pg_cluster.sh stop "$work/pg" "$port" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

deploy/install-deps.sh
cmake -S . -B build -DCITYTALLY_WERROR=ON >/dev/null
# shellcheck disable=SC2086 # tests is a list of targets
cmake --build build -j"$(nproc)" --target $tests
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCITYTALLY_WERROR=ON \
    -DCITYTALLY_TESTS=OFF -DCMAKE_C_FLAGS="-fsanitize=thread" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build build-tsan -j"$(nproc)" --target citytally-aggregator citytally-collector

tests/support/pg_cluster.sh start "$work/pg" "$port" >/dev/null
mkdir "$work/reports"
failed=""
for t in $tests; do
    echo "tsan: $t"
    TSAN_OPTIONS="log_path=$work/reports/tsan suppressions=$PWD/tests/support/tsan.supp" \
        CT_TEST_PGHOST="$work/pg" CT_TEST_PGPORT="$port" CT_BIN_DIR="$PWD/build-tsan/bin" \
        CT_SOURCE_DIR="$PWD" "build/bin/$t" --jobs 1 || failed="$failed $t"
done
reports=$(find "$work/reports" -type f | wc -l)
if [ "$reports" -gt 0 ]; then
    cat "$work"/reports/* >&2
    echo "tsan: $reports process(es) reported data races (above)" >&2
    exit 1
fi
if [ -n "$failed" ]; then
    echo "tsan: failed:$failed" >&2
    exit 1
fi
echo "tsan: no data race reported; all of$(echo " $tests" | sed 's/ / /g') passed"
