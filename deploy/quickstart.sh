#!/bin/bash
# deploy/quickstart.sh [--once] - the whole of citytally on one machine, on sample data.
#
# On a fresh Debian 12, as root or as a user with sudo:
#   1. installs what is missing (deploy/install-deps.sh) and builds into var/build;
#   2. starts a private PostgreSQL 15 in var/pg (unix socket only, no TCP) and migrates it;
#   3. makes CURVE keys (var/keys, var/collectors/UNIT) and starts the aggregator with them;
#   4. registers 17 agents, one per reporting unit, and starts 17 collectors;
#   5. drops the bundled SAMPLE CSV files (deploy/sample/, synthetic figures) into their
#      spools, once: some are GBK, some carry corrections, Dengfeng lags behind; the 2015
#      reporting rounds' files are queued at their 2015 times (libfaketime, see step 5);
#   6. shows progress while the collectors deliver, waits until everything is
#      acknowledged, prints the report and the addresses of the dashboard, the
#      bulletin and the Excel workbook.
# Then it keeps running until Ctrl-C, which stops everything in order (collectors, the
# aggregator, PostgreSQL). --once stops everything and exits 0 right away instead.
# A second run reuses what exists: the build, the database, keys, agents and outboxes.
#
# If the aggregator or a collector stops at any point, the quickstart says which one, how
# it ended and where its log is, stops the rest and exits 1.
#
# Ports (loopback only): HTTP 9560, collectors 5560, progress feed 5561; override with
# CT_QS_HTTP_PORT and CT_QS_ZMQ_PORT (the feed takes the next port). Logs are in var/log/.
# For tests: CT_QS_VAR puts var/ elsewhere, CT_QS_BIN uses programs already built there.
set -euo pipefail

usage="usage: deploy/quickstart.sh [--once]"
once=false
case "${1:-}" in
--once) once=true ;;
"") ;;
-h | --help)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
root=$PWD
var=${CT_QS_VAR:-$root/var}
build=$var/build
bin=${CT_QS_BIN:-$build/bin}
http_port=${CT_QS_HTTP_PORT:-9560}
zmq_port=${CT_QS_ZMQ_PORT:-5560}
feed_port=$((zmq_port + 1))
pgbin=/usr/lib/postgresql/15/bin
year=2015
started=$(date +%s)

say() { echo "quickstart: $*"; }
die() {
    echo "quickstart: error: $*" >&2
    exit 1
}
elapsed() { echo "$(($(date +%s) - started))s"; }

# Waits up to $1 seconds for the command $2... to succeed.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# ---- 1. dependencies and build ----------------------------------------------------------
say "checking Debian packages (deploy/install-deps.sh)"
deploy/install-deps.sh | sed 's/^/  /'
mkdir -p "$var/log"
chmod 0755 "$var"
if [ -n "${CT_QS_BIN:-}" ]; then
    say "using the programs in $bin"
else
    say "building into var/build ($(elapsed))"
    cmake -S . -B "$build" -DCITYTALLY_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        >"$var/log/build.log" 2>&1 || { tail -20 "$var/log/build.log"; die "cmake failed"; }
    cmake --build "$build" -j"$(nproc)" >>"$var/log/build.log" 2>&1 ||
        { tail -30 "$var/log/build.log"; die "build failed (see var/log/build.log)"; }
fi
agg=$bin/citytally-aggregator
col=$bin/citytally-collector

# ---- cleanup: collectors, then the aggregator, then PostgreSQL ------------------------------
pids_collectors=()
pid_aggregator=""
pg_started=false
stop_pid() {
    local pid=$1 n=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ ${#pids_collectors[@]} -gt 0 ] || [ -n "$pid_aggregator" ] || [ "$pg_started" = true ]; then
        say "stopping: collectors, aggregator, PostgreSQL"
    fi
    for pid in "${pids_collectors[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids_collectors[@]}"; do
        stop_pid "$pid"
    done
    [ -z "$pid_aggregator" ] || stop_pid "$pid_aggregator"
    if [ "$pg_started" = true ]; then
        as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# ---- watching the daemons: one that stops ends the quickstart, saying which and why -------
declare -A proc_name proc_log
watch_daemon() { proc_name[$1]=$2 proc_log[$1]=$3; }
report_stopped() {
    local pid=$1 status=$2 how
    if [ "$status" -gt 128 ]; then
        how="killed by signal $((status - 128)) (SIG$(kill -l $((status - 128))))"
    else
        how="exited with status $status"
    fi
    echo >&2
    tail -n 5 "${proc_log[$pid]}" | sed 's/^/  | /' >&2
    die "the ${proc_name[$pid]} (pid $pid) stopped: $how; its log is ${proc_log[$pid]#"$root"/}"
}
# Bash reaps its children as they exit, so kill -0 fails for one that has stopped.
check_alive() {
    local pid status
    for pid in "${!proc_name[@]}"; do
        kill -0 "$pid" 2>/dev/null && continue
        status=0
        wait "$pid" 2>/dev/null || status=$?
        report_stopped "$pid" "$status"
    done
}

# ---- 2. a private PostgreSQL ------------------------------------------------------------
# As root the cluster runs as `postgres` (initdb refuses root), which must reach var/. When
# the checkout is somewhere it cannot (under /root, say), the cluster lives in /var/tmp
# and var/pg points there.
if [ "$(id -u)" -eq 0 ]; then
    pg_user=postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    pg_user=$(id -un)
    as_pg() { "$@"; }
fi
pgdir=$var/pg
if [ ! -e "$pgdir" ]; then
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$var"; then
        tag=$(printf '%s' "${CT_QS_VAR:-$root}" | md5sum | cut -c1-10)
        mkdir -p "/var/tmp/citytally-quickstart-$tag"
        ln -s "/var/tmp/citytally-quickstart-$tag" "$pgdir"
        say "postgres cannot reach $var; the cluster lives in /var/tmp/citytally-quickstart-$tag (var/pg links there)"
    else
        mkdir -p "$pgdir"
    fi
fi
pgdir=$(readlink -f "$pgdir")
pgdata=$pgdir/data
sock=$pgdir
if [ ${#sock} -gt 90 ]; then # a unix socket path must stay under 108 bytes
    sock=/tmp/citytally-qs-$(printf '%s' "${CT_QS_VAR:-$root}" | md5sum | cut -c1-10)
    mkdir -p "$sock"
fi
[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$pgdir" "$sock"
chmod 0700 "$pgdir" "$sock"
if [ ! -f "$pgdata/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in var/pg ($(elapsed))"
    as_pg "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --no-locale \
        >"$var/log/initdb.log" 2>&1 || { cat "$var/log/initdb.log"; die "initdb failed"; }
fi
if ! as_pg "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    # setsid: a Ctrl-C reaches only this script, which stops things in order.
    as_pg setsid "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdir/server.log" -w -t 60 \
        -o "-k $sock -c listen_addresses= -p 5432" start >/dev/null ||
        { tail -20 "$pgdir/server.log"; die "PostgreSQL did not start"; }
    pg_started=true
    say "PostgreSQL running as $pg_user, socket in $sock, no TCP ($(elapsed))"
else
    say "PostgreSQL already running in var/pg; leaving it running"
fi
psql_run() { psql -X -q -h "$sock" -p 5432 -U postgres -v ON_ERROR_STOP=1 "$@"; }
if [ -z "$(psql_run -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'citytally'")" ]; then
    psql_run -d postgres -c "CREATE DATABASE citytally"
fi
db="host=$sock port=5432 user=postgres dbname=citytally"
say "$("$agg" migrate --db "$db")"
# The bureau's split of the sum targets among the units (目标分解), so the report and the
# dashboard show the assessment; re-importing replaces the year as a whole.
say "$("$agg" targets import deploy/sample/targets-2015-units.csv --db "$db")"

# ---- 3. keys and the aggregator -----------------------------------------------------------
units=$(tail -n +2 data/districts.csv | cut -d, -f1)
[ "$(echo "$units" | wc -l)" -eq 17 ] || die "data/districts.csv should list 17 units"
mkdir -p "$var/keys"
chmod 0700 "$var/keys"
if [ ! -f "$var/keys/server.key" ]; then
    "$agg" keygen "$var/keys/server.key" >"$var/log/keygen.log" 2>&1 ||
        die "could not make the aggregator's key (var/log/keygen.log)"
fi
for unit in $units; do
    d=$var/collectors/$unit
    mkdir -p "$d/state" "$d/spool"
    chmod +t "$d/spool" # only the collector may rename its done/ and failed/ (SECURITY.md)
    if [ ! -f "$d/agent.key" ]; then
        "$col" keygen "$d/agent.key" >>"$var/log/keygen.log" 2>&1 ||
            die "could not make $unit's key (var/log/keygen.log)"
    fi
done

log_mark() { stat -c %s "$1" 2>/dev/null || echo 0; }
log_since() { tail -c +"$(($2 + 1))" "$1" 2>/dev/null; }

start_aggregator() {
    local mark
    : >>"$var/log/aggregator.log"
    mark=$(log_mark "$var/log/aggregator.log")
    local args=(--db "$db" --listen "tcp://127.0.0.1:$zmq_port" --publish "tcp://127.0.0.1:$feed_port"
        --http "127.0.0.1:$http_port" --server-key "$var/keys/server.key")
    setsid "$agg" "${args[@]}" >>"$var/log/aggregator.log" 2>&1 &
    pid_aggregator=$!
    watch_daemon "$pid_aggregator" aggregator "$var/log/aggregator.log"
    agg_ready() { log_since "$var/log/aggregator.log" "$mark" | grep -q "ready:" ||
        ! kill -0 "$pid_aggregator" 2>/dev/null; }
    wait_for 60 agg_ready || die "the aggregator did not get ready in 60 s (var/log/aggregator.log)"
    if ! kill -0 "$pid_aggregator" 2>/dev/null; then
        wait "$pid_aggregator" 2>/dev/null || true
        pid_aggregator=""
        return 1
    fi
}
start_aggregator || { tail -5 "$var/log/aggregator.log"; die "the aggregator failed (var/log/aggregator.log)"; }
say "aggregator running with CURVE (key var/keys/server.key) on tcp://127.0.0.1:$zmq_port ($(elapsed))"

# ---- 4. agents and collectors ------------------------------------------------------------
agents=$("$agg" agent list --db "$db")
for unit in $units; do
    agent=$unit-1
    if ! grep -qw -- "$agent" <<<"$agents"; then
        "$agg" agent add "$agent" --district "$unit" --key "$var/collectors/$unit/agent.key.pub" \
            --db "$db" >/dev/null
    fi
done
say "17 agents registered ($(elapsed))"
declare -A col_pid
start_collectors() {
    local unit d args
    pids_collectors=()
    for unit in $units; do
        d=$var/collectors/$unit
        args=(--agent "$unit-1" --district "$unit" --connect "tcp://127.0.0.1:$zmq_port"
            --state-dir "$d/state" --spool "$d/spool" --http off
            --key "$d/agent.key" --server-public-key "$var/keys/server.key.pub")
        setsid "$col" "${args[@]}" >>"$var/log/collector-$unit.log" 2>&1 &
        col_pid[$unit]=$!
        pids_collectors+=($!)
        watch_daemon "$!" "collector of $unit" "$var/log/collector-$unit.log"
    done
}
# A collector of this run is welcomed when its status names its pid as connected. Only then
# do Chinese indicator names (the GBK files use them) resolve: the catalog comes with the
# welcome.
all_welcomed() {
    local unit
    for unit in $units; do
        "$col" status --state-dir "$var/collectors/$unit/state" 2>/dev/null |
            grep -q "^daemon: *running, pid ${col_pid[$unit]}, connected" || return 1
    done
}
exited_unit() {
    local unit
    for unit in $units; do
        if ! kill -0 "${col_pid[$unit]}" 2>/dev/null; then
            echo "$unit"
            return 0
        fi
    done
    return 1
}
welcomed_or_exited() { all_welcomed || exited_unit >/dev/null; }
start_collectors
wait_for 60 welcomed_or_exited || die "not every collector was welcomed within 60 s (var/log/collector-*.log)"
check_alive
say "17 collectors connected ($(elapsed))"

# ---- 5. the sample files ---------------------------------------------------------------------
# The files of the 2015 reporting rounds are queued with `import` at the moment their
# clerk queued them in 2015 (deploy/sample/queued.csv), under libfaketime: only that one
# process sees the faked clock, so the outbox records and the wire carries a 2015 queue
# time, and /completeness shows who was on time, late or missing as it would have then.
# Returns 1 for a file that has no queue time (it goes through the spool, queued now).
# A command-line import writes its receipt beside the file, so each is imported from a copy
# in the unit's own imported/ (never from deploy/sample/, which stays as it is in git).
import_at_queue_time() { # UNIT_DIR FILE
    local when copy
    when=$(awk -F, -v f="$(basename "$2")" '$2 == f { print $3 }' deploy/sample/queued.csv)
    [ -n "$when" ] || return 1
    mkdir -p "$1/imported"
    copy=$1/imported/$(basename "$2")
    cp "$2" "$copy"
    TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime "$(date -u -d "$when" '+%Y-%m-%d %H:%M:%S')" \
        "$col" import "$copy" --state-dir "$1/state" >>"$var/log/sample-import.log" 2>&1 ||
        die "could not queue $2 (var/log/sample-import.log)"
}
# A back-dated correction (*-correction.csv) is held back until the rest is acknowledged,
# so it arrives later, as one would: the dashboard's "revised" mark then has something to show.
expected=0
held=
for f in deploy/sample/*/*.csv; do
    case $f in *-correction.csv) continue ;; esac
    expected=$((expected + $(wc -l <"$f") - 1))
done
dropped=0
for unit in $units; do
    d=$var/collectors/$unit
    [ ! -e "$d/sample-dropped" ] || continue
    for f in deploy/sample/"$unit"/*.csv; do
        name=$(basename "$f")
        case $name in *-correction.csv) held="$held $f:$d" && continue ;; esac
        if import_at_queue_time "$d" "$f"; then
            dropped=$((dropped + 1))
            continue
        fi
        cp "$f" "$d/spool/.$name.part" # write elsewhere, then rename in
        mv "$d/spool/.$name.part" "$d/spool/$name"
        dropped=$((dropped + 1))
    done
    touch "$d/sample-dropped"
done
if [ "$dropped" -gt 0 ]; then
    say "queued $dropped SAMPLE files (synthetic figures, deploy/sample/; the 2015 rounds at their 2015 times)"
else
    say "the sample files were delivered by an earlier run"
fi

# ---- 6. progress ---------------------------------------------------------------------------
stored() { psql_run -d citytally -tAc \
    "SELECT (SELECT count(*) FROM updates) + (SELECT count(*) FROM rejected_updates)"; }
pending_total() {
    local unit n total=0
    for unit in $units; do
        n=$("$col" status --state-dir "$var/collectors/$unit/state" | sed -n 's/^pending: *\([0-9]*\).*/\1/p')
        total=$((total + ${n:-0}))
    done
    echo "$total"
}
failed_files() { ls "$var"/collectors/*/spool/failed/*.errors.txt 2>/dev/null || true; }
waiting_files() { find "$var"/collectors/*/spool -maxdepth 1 -name '*.csv' | wc -l; }
deadline=$(($(date +%s) + 300))
while :; do
    n=$(stored)
    p=$(pending_total)
    w=$(waiting_files)
    printf '\rquickstart: delivered %d of %d sample updates; %d pending in outboxes, %d files waiting ' \
        "$n" "$expected" "$p" "$w"
    if [ -n "$(failed_files)" ]; then
        echo
        for e in $(failed_files); do
            echo "--- $e"
            head -20 "$e"
        done
        die "a sample file was refused (see above)"
    fi
    if [ "$n" -ge "$expected" ] && [ "$p" -eq 0 ] && [ "$w" -eq 0 ]; then
        break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo; die "not everything arrived within 5 minutes"; }
    check_alive
    sleep 0.5
done
echo
rejected=$(psql_run -d citytally -tAc "SELECT count(*) FROM rejected_updates")
[ "$rejected" -eq 0 ] || say "WARNING: $rejected updates were rejected (see: citytally-collector status)"
say "every update acknowledged ($(elapsed))"
# The tables were filled a moment ago; autovacuum would gather their statistics within a
# minute, but the pages printed below should be quick at once (the diff's plan needs them).
psql_run -d citytally -c ANALYZE
revised_since=
if [ -n "$held" ]; then
    # The moment before the corrections, rounded up to the millisecond ct_time_parse reads.
    revised_since=$(psql_run -d citytally -tAc "SELECT to_char((date_trunc('milliseconds',
        clock_timestamp()) + interval '1 millisecond') AT TIME ZONE 'UTC',
        'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
    for item in $held; do
        f=${item%%:*} d=${item#*:} name=$(basename "${item%%:*}")
        cp "$f" "$d/spool/.$name.part"
        mv "$d/spool/.$name.part" "$d/spool/$name"
        expected=$((expected + $(wc -l <"$f") - 1))
    done
    until [ "$(stored)" -ge "$expected" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || die "the held-back correction did not arrive"
        sleep 0.5
    done
    say "then a back-dated correction, received after $revised_since"
fi
echo
"$agg" report --year "$year" --db "$db"
echo
"$agg" report --assessment --year "$year" --db "$db"
say "assessment: http://127.0.0.1:$http_port/assessment?year=$year   API: /api/assessment?year=$year"
echo
say "the report above is computed from SAMPLE data (synthetic figures)"
say "dashboard: http://127.0.0.1:$http_port/   metrics: http://127.0.0.1:$http_port/metrics"
say "progress API: http://127.0.0.1:$http_port/api/progress?year=$year"
say "bulletin (通报, prints on A4): http://127.0.0.1:$http_port/bulletin?year=$year"
say "Excel workbook: http://127.0.0.1:$http_port/api/progress.xlsx?year=$year"
say "reporting rounds (on time, late, missing): http://127.0.0.1:$http_port/completeness?year=$year"
[ -z "$revised_since" ] ||
    say "revised since the correction: http://127.0.0.1:$http_port/?year=$year&as_of=$year-06-30&revised_since=$revised_since"
say "changes in June: http://127.0.0.1:$http_port/changes?year=$year&as_of=$year-06-30"
say "ready after $(elapsed)"

# --once ends by reaching the end of the script (status 0; the EXIT trap stops everything).
# An `exit 0` here would behave the same, but shellcheck 0.9 takes a script that never
# reaches its end to never run its EXIT trap, and flags cleanup() and every function called
# only through wait_for as unreachable (SC2317).
if [ "$once" = false ]; then
    check_alive
    say "running; press Ctrl-C to stop everything"
    # Wakes when any daemon stops (or on Ctrl-C, whose trap exits 0 and stops the rest).
    gone=""
    status=0
    wait -n -p gone "${!proc_name[@]}" || status=$?
    [ -n "$gone" ] || die "lost track of the daemons (wait returned $status)"
    report_stopped "$gone" "$status"
fi
