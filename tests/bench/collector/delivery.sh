#!/bin/sh
# tests/bench/collector/delivery.sh [BUILD_DIR] [ROWS] [RUNS]
#
# Delivery rate from a collector's outbox to a local aggregator and PostgreSQL 15: ROWS
# updates (default 100,000) are queued with `import` while no daemon runs, then the
# collector is started and the clock runs until the aggregator has committed the last one
# (updates.count in PostgreSQL). RUNS times (default 3), each on a fresh database and outbox;
# prints each run and the median. Starts its own throwaway cluster (tests/support/
# pg_cluster.sh, fsync on) and removes it at the end. COL_FLAGS adds collector flags
# (e.g. COL_FLAGS="--window 8").
set -eu
cd "$(dirname "$0")/../../.."
build=${1:-build}
rows=${2:-100000}
runs=${3:-3}
bin=$build/bin
work=$(mktemp -d /tmp/ct-bench-delivery-XXXXXX)
chmod 0755 "$work" # the cluster runs as the postgres user
pgdir=$work/pg
# TCP on port+1 and port+2: below the kernel's ephemeral range (32768-60999), where an
# outgoing socket could already hold the port, and below run.sh's 25700.
port=$((20000 + $$ % 5000))
agg_pid=""
col_pid=""
cleanup() {
    if [ -n "$col_pid" ]; then kill -9 "$col_pid" 2>/dev/null || true; fi
    if [ -n "$agg_pid" ]; then kill -9 "$agg_pid" 2>/dev/null || true; fi
    tests/support/pg_cluster.sh stop "$pgdir" "$port" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
CT_PG_OPTS="-c fsync=on" tests/support/pg_cluster.sh start "$pgdir" "$port" >/dev/null
psql_() { /usr/lib/postgresql/15/bin/psql -X -q -A -t -h "$pgdir" -p "$port" -U postgres "$@"; }
if [ "$(id -u)" -eq 0 ]; then psql_() { runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -X -q -A -t -h "$pgdir" -p "$port" "$@"; }; fi

awk -v rows="$rows" 'BEGIN {
    split("rd_centers_municipal hightech_output tech_contract_turnover incubation_area st_enterprises", ind, " ");
    print "indicator,value,op,observed_at";
    for (i = 0; i < rows; i++)
        printf "%s,%d,add,2015-%02d-%02d\n", ind[i % 5 + 1], i % 1000, i % 12 + 1, i % 28 + 1;
}' >"$work/rows.csv"

now_ns() { date +%s%N; }
results=""
i=1
while [ "$i" -le "$runs" ]; do
    dbname=bench$i
    psql_ -d postgres -c "CREATE DATABASE $dbname" >/dev/null
    conninfo="host=$pgdir port=$port dbname=$dbname user=postgres"
    "$bin/citytally-aggregator" migrate --db "$conninfo" >/dev/null
    if ! "$bin/citytally-aggregator" agent add bench-1 --district erqi --db "$conninfo" >/dev/null 2>&1; then
        psql_ -d "$dbname" -c "INSERT INTO agents (agent_id, district) VALUES ('bench-1', 'erqi')" >/dev/null
    fi
    listen="tcp://127.0.0.1:$((port + 1))"
    "$bin/citytally-aggregator" --db "$conninfo" --insecure --listen "$listen" \
        --publish "tcp://127.0.0.1:$((port + 2))" --http off 2>"$work/agg$i.log" &
    agg_pid=$!
    "$bin/citytally-collector" import --state-dir "$work/state$i" "$work/rows.csv" >/dev/null
    start=$(now_ns)
    # shellcheck disable=SC2086 # COL_FLAGS holds several flags: splitting it is the point
    "$bin/citytally-collector" --agent bench-1 --district erqi --state-dir "$work/state$i" \
        --connect "$listen" --insecure ${COL_FLAGS:-} 2>"$work/col$i.log" &
    col_pid=$!
    while [ "$(psql_ -d "$dbname" -c "SELECT count(*) FROM updates")" -lt "$rows" ]; do
        sleep 0.05
        if [ $(( ($(now_ns) - start) / 1000000000 )) -gt 600 ]; then
            echo "delivery.sh: run $i did not finish in 600 s" >&2
            tail -5 "$work/col$i.log" "$work/agg$i.log" >&2
            exit 1
        fi
    done
    end=$(now_ns)
    kill "$col_pid" "$agg_pid"
    wait "$col_pid" "$agg_pid" 2>/dev/null || true
    col_pid=""
    agg_pid=""
    rate=$(awk -v r="$rows" -v ns=$((end - start)) 'BEGIN { printf "%d", r / (ns / 1e9) }')
    echo "run $i: $(awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }') s, $rate updates/s"
    results="$results $rate"
    i=$((i + 1))
done
median=$(echo "$results" | tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "delivery median: $median updates/s"
