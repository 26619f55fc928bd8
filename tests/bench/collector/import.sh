#!/bin/sh
# tests/bench/collector/import.sh [BUILD_DIR] [ROWS] [RUNS]
#
# Import throughput of citytally-collector: a ROWS-row CSV file (default 100,000; GBK or
# UTF-8 makes no measurable difference) queued by `citytally-collector import` into a fresh
# durable outbox (SQLite WAL, synchronous=FULL), RUNS times (default 3). Prints each run
# and the median in rows/s. The clock covers the whole command: process start, reading
# and hashing the file, validation of every line, one transaction, fsync, exit.
set -eu
cd "$(dirname "$0")/../../.."
build=${1:-build}
rows=${2:-100000}
runs=${3:-3}
bin="$build/bin/citytally-collector"
[ -x "$bin" ] || { echo "import.sh: $bin not built" >&2; exit 2; }

work=$(mktemp -d /tmp/ct-bench-import-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# Realistic rows: a few indicators, op, observed_at, an occasional note with a comma.
awk -v rows="$rows" 'BEGIN {
    split("rd_centers_municipal hightech_output tech_contract_turnover incubation_area st_enterprises", ind, " ");
    print "indicator,value,period,op,observed_at,note";
    for (i = 0; i < rows; i++) {
        note = (i % 50 == 0) ? "\"checked, per Q" (i % 4 + 1) "\"" : "";
        printf "%s,%d.%02d,2015,%s,2015-%02d-%02dT17:00:00+08:00,%s\r\n", ind[i % 5 + 1], i, i % 100,
            (i % 3 == 0) ? "set" : "add", i % 12 + 1, i % 28 + 1, note;
    }
}' >"$work/rows.csv"
echo "import.sh: $(wc -c <"$work/rows.csv") bytes, $rows rows, $runs runs"

results=""
i=1
while [ "$i" -le "$runs" ]; do
    state="$work/state$i"
    start=$(date +%s%N)
    "$bin" import --state-dir "$state" "$work/rows.csv" >/dev/null
    end=$(date +%s%N)
    rate=$(awk -v r="$rows" -v ns=$((end - start)) 'BEGIN { printf "%d", r / (ns / 1e9) }')
    echo "run $i: $(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }') s, $rate rows/s"
    results="$results $rate"
    i=$((i + 1))
done
median=$(echo "$results" | tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "import median: $median rows/s"
