#!/bin/sh
# tests/bench/progress/run.sh [copy-cost|load|query|assessment|known|acceptance|diff|all]
#
# The store's benchmark (issue 3), on a throwaway PostgreSQL 15 cluster with fsync=on and
# synchronous_commit=on (tests/support/pg_cluster.sh with CT_PG_OPTS):
#   copy-cost  COPY of 1M updates in 10k-row transactions, as the daemon writes them, into
#              the bare table, with only the observed_at index, and with the full schema
#              (fold trigger + index): what the store adds to every write.
#   load       10M updates (2014-01-01 .. 2015-12-31, 80% set) into the full schema.
#   query      citytally_progress(2015, now()) and as of 2015-06-30 (half a year before the
#              data ends), 5 runs each, median, plus EXPLAIN ANALYZE; then assessment.
#   assessment the sample split of the targets (deploy/sample/targets-2015-units.csv)
#              imported, then citytally_assessment(2015, now()) in SQL and the whole
#              `report --assessment` command (and `report --format json` beside it), 5 runs
#              each, median.
#   known      issue 18: progress as known at, a series, a month's diff; and the ways to
#              find "received after K" (BRIN against an id range), 5 runs each, median.
#   acceptance the figures of issue 18 acceptance 2 and issue 16 acceptance 3, one line
#              each, medians of 5 (after `known`'s corrections are in; adds them if not).
#   diff       a month's diff against its ceiling in the same run: the raw binary COPY of
#              the month's rows (psql to /dev/null), alone and as two halves at once, beside
#              the whole `report --diff` and 008's SQL listing; medians of 5.
# Needs a build (BUILD=build by default) for citytally-aggregator migrate. Not a test: it
# takes 6-20 minutes on the 2-core machine (6 min 18 s in the last run). Results go to stdout; see RESULTS.md.
set -eu
cd "$(dirname "$0")/../../.."
root=$(pwd)
step=${1:-all}
build=${BUILD:-build}
dir=${BENCH_DIR:-/tmp/ct-bench-progress}
port=${BENCH_PORT:-55497}
export PGHOST="$dir" PGPORT="$port" PGUSER=postgres
agg="$root/$build/bin/citytally-aggregator"
loader="$dir/load_updates"

start() {
    if ! [ -S "$dir/.s.PGSQL.$port" ]; then
        CT_PG_OPTS="-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB \
            -c max_wal_size=4GB -c checkpoint_timeout=15min" \
            tests/support/pg_cluster.sh start "$dir" "$port"
    fi
    # shellcheck disable=SC2046 # pkg-config prints several flags: splitting them is the point
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
    # the write path as migration 007 left it: 008 adds only an index
    fresh cost_007 "DROP INDEX updates_day_received_brin"
    fresh cost_full
    for db in cost_bare cost_index cost_007 cost_full; do
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
    for _ in 1 2 3 4 5; do
        psql -d bench10m -Atq -c '\timing on' -c "SELECT count(*) FROM $1" |
            sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
    done | sort -n | sed -n 3p
}

median_cmd_ms() { # median of 5 runs of a command, wall clock: what a user waits for
    for _ in 1 2 3 4 5; do
        t0=$(date +%s%N)
        "$@" >/dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | sed -n 3p | awk '{ printf "%.1f", $1 / 1000 }'
}

assessment() {
    "$agg" targets import deploy/sample/targets-2015-units.csv --db "dbname=bench10m" >/dev/null
    echo "unit targets: $(psql -d bench10m -Atc 'SELECT count(*) FROM unit_targets')"
    echo "citytally_progress(2015, now()): median $(median_ms 'citytally_progress(2015, now())') ms"
    echo "citytally_assessment(2015, now()): median" \
        "$(median_ms 'citytally_assessment(2015, now())') ms"
    echo "citytally_unit_scores(2015, now()): median" \
        "$(median_ms 'citytally_unit_scores(2015, now())') ms"
    echo "agent list (whole command: a process, a session, one small query): median" \
        "$(median_cmd_ms "$agg" agent list --db "dbname=bench10m") ms"
    echo "report --format json (whole command): median" \
        "$(median_cmd_ms "$agg" report --year 2015 --format json --db "dbname=bench10m") ms"
    echo "report --assessment --format json (whole command): median" \
        "$(median_cmd_ms "$agg" report --assessment --year 2015 --format json \
            --db "dbname=bench10m") ms"
    echo "report --assessment --as-of 2015-06-30 (whole command): median" \
        "$(median_cmd_ms "$agg" report --assessment --as-of 2015-06-30 --format json \
            --db "dbname=bench10m") ms"
    echo "--- EXPLAIN ANALYZE SELECT * FROM citytally_assessment(2015, now())"
    psql -d bench10m -Atc "EXPLAIN (ANALYZE, COSTS OFF)
        SELECT * FROM citytally_assessment(2015, now())"
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
    assessment
}

# The 200 back-dated corrections `known` measures against (once), on the current schema.
corrections() {
    "$agg" migrate --db "dbname=bench10m" >/dev/null
    psql -q -d bench10m -c "INSERT INTO updates (agent_id, seq, district, indicator, period,
        op, value, observed_at, received_at, note)
        SELECT 'a-bench-fix', g, 'erqi', 'rd_centers_municipal', 2015,
               CASE WHEN g % 3 = 0 THEN 'add' ELSE 'set' END, g,
               timestamptz '2015-01-05+08' + g * interval '21 hours',
               timestamptz '2016-01-10+08' + g * interval '1 minute', 'correction'
          FROM generate_series(1, 200) g
         WHERE NOT EXISTS (SELECT 1 FROM updates WHERE agent_id = 'a-bench-fix')" \
        -c "VACUUM ANALYZE updates"
}

# Issue 18 acceptance 2 and issue 16 acceptance 3, one line each (medians of 5, each in a
# new session; the assessment by wall clock of the whole command).
acceptance() {
    corrections
    if [ "$(psql -d bench10m -Atc 'SELECT count(*) FROM unit_targets')" = 0 ]; then
        "$agg" targets import deploy/sample/targets-2015-units.csv --db "dbname=bench10m" \
            >/dev/null
    fi
    d="'2015-06-30 23:59:59.999+08'"
    m="'2015-05-31 23:59:59.999+08'"
    echo "progress with a past known_at, citytally_progress(2015, $d, '2015-07-05+08'):" \
        "median $(median_ms "citytally_progress(2015, $d, '2015-07-05+08')") ms (< 500)"
    echo "12-point month series as known at K, citytally_series(2015, 'rd_centers_municipal'," \
        "'month', '2016-01-10 02:00+08') (81 corrections received after K):" \
        "median $(median_ms "citytally_series(2015, 'rd_centers_municipal', 'month',
            '2016-01-10 02:00+08')") ms (< 1000)"
    echo "a month's diff, the whole command: report --diff 2015-05-31 2015-06-30 --format json" \
        "($(psql -d bench10m -Atc "SELECT count(*) FROM citytally_diff_updates(2015, $m, $d)")" \
        "updates listed, $("$agg" report --diff 2015-05-31 2015-06-30 --year 2015 --format json \
            --db "dbname=bench10m" | wc -c) bytes of JSON, to /dev/null): median" \
        "$(median_cmd_ms "$agg" report --diff 2015-05-31 2015-06-30 --year 2015 --format json \
            --db "dbname=bench10m") ms (< 1000)"
    echo "two-argument progress, citytally_progress(2015, now()):" \
        "median $(median_ms 'citytally_progress(2015, now())') ms (~16)"
    echo "report --assessment --format json (whole command): median" \
        "$(median_cmd_ms "$agg" report --assessment --year 2015 --format json \
            --db "dbname=bench10m") ms (< 100)"
}

median_wall_ms() { # median of 5 runs of a shell command, wall clock
    for _ in 1 2 3 4 5; do
        t0=$(date +%s%N)
        sh -c "$1" >/dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
    done | sort -n | sed -n 3p
}

diff_ceiling() {
    corrections
    cols="district, indicator, period, agent_id, seq, op, value, observed_at, note, received_at"
    rows="FROM updates WHERE period IN (2015, 2014) AND observed_at >"
    copy="psql -d bench10m -Atq -c \"\\copy (SELECT $cols $rows"
    june="'2015-05-31 23:59:59.999+08' AND observed_at <= '2015-06-30 23:59:59.999+08'"
    h1="'2015-05-31 23:59:59.999+08' AND observed_at <= '2015-06-15 23:59:59.999+08'"
    h2="'2015-06-15 23:59:59.999+08' AND observed_at <= '2015-06-30 23:59:59.999+08'"
    tail="ORDER BY observed_at) to '/dev/null' (format binary)\""
    one=$(median_wall_ms "$copy $june $tail")
    two=$(median_wall_ms "$copy $h1 $tail & $copy $h2 $tail; wait")
    cmd=$(median_cmd_ms "$agg" report --diff 2015-05-31 2015-06-30 --year 2015 --format json \
        --db "dbname=bench10m")
    echo "raw binary COPY of June's rows, one stream: median $one ms; two halves at once: $two ms"
    echo "report --diff 2015-05-31 2015-06-30 --format json, the whole command: median $cmd ms" \
        "($(awk -v c="$cmd" -v o="$one" 'BEGIN { printf "%.2f", c / o }') x the one-stream COPY)"
    echo "008's SQL listing, citytally_diff_updates (the tests' oracle): median" \
        "$(median_ms "citytally_diff_updates(2015, '2015-05-31 23:59:59.999+08',
            '2015-06-30 23:59:59.999+08')") ms"
}

# Issue 18: as known at, series and diff, on the 10M log of `load` (received a minute after
# observed) plus 200 back-dated corrections observed in H1 2015 and received in January 2016.
known() {
    corrections
    d="'2015-06-30 23:59:59.999+08'"
    for q in "citytally_progress(2015, now())" \
        "citytally_progress(2015, $d)" \
        "citytally_progress(2015, $d, '2015-07-05+08')" \
        "citytally_progress(2015, $d, $d)" \
        "citytally_progress(2015, now(), $d)" \
        "citytally_series(2015, 'rd_centers_municipal')" \
        "citytally_series(2015, 'hightech_va_share', 'month', '2015-07-05+08')" \
        "citytally_diff(2015, '2015-05-31 23:59:59.999+08', $d)" \
        "citytally_diff_updates(2015, '2015-05-31 23:59:59.999+08', $d)" \
        "citytally_series_all(2015, 'month', now())" \
        "citytally_revised(2015, $d, '2015-07-05+08')"; do
        echo "$q: median $(median_ms "$q") ms"
    done
    # how to find the updates observed by as-of but received after known_at
    k="'2015-07-05+08'"
    idk=$(psql -d bench10m -Atc "SELECT max(id) FROM updates WHERE received_at <= $k
        AND id < 6000000")
    echo "late rows, BRIN(received_at) AND BRIN(day): median $(median_ms "(SELECT 1 FROM
        updates WHERE citytally_day(observed_at) <= citytally_day($d) AND observed_at <= $d
        AND received_at > $k) x") ms"
    echo "late rows, id range (id > $idk, from the primary key): median $(median_ms "(SELECT 1
        FROM updates WHERE id > $idk AND observed_at <= $d) x") ms"
    echo "id of known_at, max(id) over BRIN(received_at): median $(median_ms "(SELECT max(id)
        FROM updates WHERE received_at <= $k) x") ms"
    # the id at K by binary search over the primary key (received_at rises with id)
    psql -q -d bench10m -c "CREATE OR REPLACE FUNCTION bench_id_at(k timestamptz) RETURNS bigint
        LANGUAGE plpgsql STABLE AS \$\$
        DECLARE lo bigint; hi bigint; mid bigint; r timestamptz;
        BEGIN
            SELECT min(id), max(id) INTO lo, hi FROM updates;
            WHILE lo < hi LOOP
                mid := lo + (hi - lo + 1) / 2;
                SELECT received_at INTO r FROM updates WHERE id >= mid ORDER BY id LIMIT 1;
                IF r <= k THEN lo := mid; ELSE hi := mid - 1; END IF;
            END LOOP;
            RETURN lo;
        END \$\$"
    echo "id of known_at, binary search on the primary key: median $(median_ms "(SELECT
        bench_id_at($k)) x") ms (id $(psql -d bench10m -Atc "SELECT bench_id_at($k)"))"
    echo "late rows, id range from the binary search AND BRIN(day): median $(median_ms "(SELECT 1
        FROM updates WHERE id > bench_id_at($k) AND citytally_day(observed_at) <=
        citytally_day($d) AND observed_at <= $d) x") ms"
    for q in "(SELECT 1 FROM updates WHERE citytally_day(observed_at) <= citytally_day($d)
        AND observed_at <= $d AND received_at > $k) x" "(SELECT 1 FROM updates WHERE id >
        bench_id_at($k) AND citytally_day(observed_at) <= citytally_day($d) AND observed_at
        <= $d) x"; do
        echo "--- EXPLAIN ANALYZE SELECT count(*) FROM $q"
        psql -d bench10m -Atc "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM $q"
    done
}

start
case "$step" in
copy-cost) copy_cost ;;
load) load ;;
query) query ;;
assessment) assessment ;;
known) known ;;
acceptance) acceptance ;;
diff) diff_ceiling ;;
all) copy_cost; load; query ;;
*) echo "usage: run.sh [copy-cost|load|query|assessment|known|acceptance|diff|all]" >&2; exit 2 ;;
esac
