#!/bin/sh
# tests/bench/progress/run.sh [copy-cost|load|query|all]
#
# The store's benchmark (issue 3), on a throwaway PostgreSQL 15 cluster with fsync=on and
# synchronous_commit=on (tests/support/pg_cluster.sh with CT_PG_OPTS):
#   copy-cost  COPY of 1M updates in 10k-row transactions, as the daemon writes them, into
#              the bare table, with only the observed_at index, and with the full schema
#              (fold trigger + index): what the store adds to every write.
#   load       10M updates (2014-01-01 .. 2015-12-31, 80% set) into the full schema.
#   query      citytally_progress(2015, now()) and as of 2015-06-30 (half a year before the
#              data ends), 5 runs each, median, plus EXPLAIN ANALYZE.
# Needs a build (BUILD=build by default) for citytally-aggregator migrate. Not a test: it
# takes 6-20 minutes on the 2-core machine (6 min 18 s in the last run). Results go to stdout; see RESULTS.md.
set -eu
cd "$(dirname "$0")/../../.."
root=$(pwd)
step=${1:-all}
build=${BUILD:-build}
dir=${BENCH_DIR:-/tmp/ct-bench-progress}
port=${BENCH_PORT:-55497}
export PGHOST=$dir PGPORT=$port PGUSER=postgres
agg="$root/$build/bin/citytally-aggregator"
loader="$dir/load_updates"

start() {
    if ! [ -S "$dir/.s.PGSQL.$port" ]; then
        CT_PG_OPTS="-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB \
            -c max_wal_size=4GB -c checkpoint_timeout=15min" \
            tests/support/pg_cluster.sh start "$dir" "$port"
    fi
    cc -O2 -o "$loader" tests/bench/progress/load_updates.c \
        $(pkg-config --cflags --libs libpq)
}

fresh() { # fresh DB: name, then SQL to strip parts of the schema
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    "$agg" migrate --db "dbname=$1" >/dev/null
    if [ -n "${2:-}" ]; then psql -q -d "$1" -c "$2"; fi
}

copy_cost() {
    fresh cost_bare "DROP TRIGGER updates_fold ON updates; DROP INDEX updates_observed_at"
    fresh cost_index "DROP TRIGGER updates_fold ON updates"
    fresh cost_full
    for db in cost_bare cost_index cost_full; do
        printf '%-11s ' "$db:"
        "$loader" "dbname=$db" 1000000 10000 2015-01-01 2015-12-31
    done
}

load() {
    fresh bench10m
    # received a minute after observed, so received_at rises with id (issue 18)
    "$loader" "dbname=bench10m" 10000000 10000 2014-01-01 2015-12-31 80 0 88172645463325252 60000
    psql -q -d bench10m -c "VACUUM ANALYZE"
    psql -d bench10m -Atc "SELECT 'updates ' || count(*) FROM updates" \
        -c "SELECT 'current_values ' || count(*) FROM current_values" \
        -c "SELECT 'daily_values ' || count(*) FROM daily_values" \
        -c "SELECT 'database ' || pg_size_pretty(pg_database_size('bench10m'))"
}

median_ms() { # median of 5 runs of a query, each in its own session, as `report` does
    for i in 1 2 3 4 5; do
        psql -d bench10m -Atq -c '\timing on' -c "SELECT count(*) FROM $1" |
            sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
    done | sort -n | sed -n 3p
}

query() {
    echo "citytally_progress(2015, now()): median $(median_ms 'citytally_progress(2015, now())') ms"
    echo "citytally_progress(2015, '2015-06-30 23:59:59.999+08'): median" \
        "$(median_ms "citytally_progress(2015, '2015-06-30 23:59:59.999+08')") ms"
    echo "citytally_progress_by_unit(2015, now()): median" \
        "$(median_ms 'citytally_progress_by_unit(2015, now())') ms"
    for as_of in "now()" "'2015-06-30 23:59:59.999+08'"; do
        echo "--- EXPLAIN ANALYZE SELECT * FROM citytally_progress(2015, $as_of)"
        psql -d bench10m -Atc "EXPLAIN (ANALYZE, COSTS OFF)
            SELECT * FROM citytally_progress(2015, $as_of)"
    done
}

start
case "$step" in
copy-cost) copy_cost ;;
load) load ;;
query) query ;;
all) copy_cost; load; query ;;
*) echo "usage: run.sh [copy-cost|load|query|all]" >&2; exit 2 ;;
esac
