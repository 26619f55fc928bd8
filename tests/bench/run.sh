#!/bin/bash
# tests/bench/run.sh [--runs R] [--agents K] [--per-agent N] [--batch B] [--window W]
#                    [--idle-agents M] [--curve] [--replicated]
#
# The end-to-end benchmark: how close citytally comes to what this machine allows. It is
# not a test with a time limit; it measures, checks its own result, and prints medians.
# Each of R runs (default 3), in one private PostgreSQL 15 cluster with fsync and
# synchronous_commit on:
#   1. ceiling: raw COPY of K x N rows shaped like the daemon's own COPY into a fresh copy
#      of the update log with the same indexes (citytally-copy-ceiling), in one session
#      (`copy`, the ceiling of issue 8) and in two (`copy2`, one per aggregator writer);
#   2. path:    K load-generator agents (citytally-loadgen, protocol v1 over real sockets)
#      drive a real aggregator into a fresh database at saturation: acked updates/s, the
#      aggregator's CPU and peak RSS; then again at half that rate for ack latency;
#      the store must then hold exactly the acked count with exact totals;
#      floor:  raw COPY of the same rows at that half rate, one batch per transaction on two
#      sessions (the aggregator's two writers), for the latency this host allows at that
#      rate (`floor_p99_ms`): fsync and PostgreSQL alone, none of citytally;
#   3. collector: file import into the durable outbox (rows/s), and one collector's
#      delivery rate to a local aggregator (tests/bench/collector/);
#   4. plausibility: the saturation phase again with every update a `set` (loadgen --sets,
#      so citytally_warn() checks each one), once with `[ingest] plausibility = on` and
#      once with it off, in alternating order from run to run; e2e/copy for both.
# Then M agents (default 1000) connect and stay idle: the aggregator's RSS and CPU.
# CT_BENCH_PG_OPTS adds server settings (e.g. "-c log_min_duration_statement=50" to see
# stalls); CT_KEEP_TEST_DIRS=1 keeps the scratch directory with PostgreSQL's log.
# Last line: e2e=<updates/s> copy=<rows/s> ratio=<e2e/copy> p99_ms=<..> rss_mib=<..> import=<rows/s>
#
# --replicated (root: network namespaces) measures the same load on the replicated database
# tier of deploy/cluster/ as well: a pg_auto_failover monitor and two PostgreSQL nodes with
# synchronous replication (ANY 1), each in a network namespace of its own (dbtier.sh), the
# aggregator and the load generator on machine agg1. The load is single mode's, byte for
# byte: plain text (or CURVE with --curve) on agg1's own loopback, since --insecure listens
# on loopback only; what crosses the lab's network is the database traffic, through the
# aggregators' multi-host conninfo (dbtier_conninfo). Each run is then:
#   single:     phases 1 and 2 above (copy, copy2, e2e at saturation with its exactness
#               check) on the private PostgreSQL, as without --replicated;
#   replicated: the same on the lab: the ceiling is raw COPY of the same K x N rows from
#               agg1 into the primary through the aggregators' multi-host conninfo, every
#               COMMIT waiting for the standby (synchronous_commit on); then the same load
#               through the aggregator on agg1, checked exactly in the same way.
# Before and after each replicated phase the primary must have synchronous_commit on and its
# standby streaming as a synchronous (quorum) standby, pg1 primary and pg2 secondary;
# otherwise the run fails (a figure without the standby confirming is not this ceiling).
# Phases 3 and 4 and the idle agents are left out. The lab's nodes keep deploy/cluster's
# sizes (shared_buffers 128MB) with max_wal_size 4GB as above; the lab goes on every exit.
# Last line: e2e=.. copy=.. ratio=.. replicated_e2e=.. replicated_copy=.. replicated_ratio=..
set -eu
cd "$(dirname "$0")/../.."

runs=3 agents=16 per_agent=100000 batch=1000 window=4 idle_agents=1000 curve=0 replicated=0
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --agents) agents=$2; shift 2 ;;
    --per-agent) per_agent=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --idle-agents) idle_agents=$2; shift 2 ;;
    --curve) curve=1; shift ;;
    --replicated) replicated=1; shift ;;
    *) echo "run.sh: unknown option $1 (see the comment at the top)" >&2; exit 2 ;;
    esac
done
if [ "$replicated" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: --replicated needs root (network namespaces)" >&2
    exit 2
fi
# The lab of deploy/cluster/ (functions only; nothing runs until lab_init).
# shellcheck source=deploy/cluster/lab.sh
. deploy/cluster/lab.sh
# shellcheck source=deploy/cluster/dbtier.sh
. deploy/cluster/dbtier.sh

build="build-bench" # quoted: unquoted, shellcheck reads it as $build minus bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCITYTALLY_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target citytally-aggregator citytally-collector \
    citytally-loadgen citytally-copy-ceiling >/dev/null
bin=$PWD/$build/bin

work=$(mktemp -d /tmp/ct-bench-XXXXXX)
chmod 755 "$work"
pg="$work/pg"
# Below the kernel's ephemeral range (32768-60999): the 1,000 idle agents' connections and
# everyone else's outgoing sockets take local ports from that range, and one of them on
# our listening port fails the aggregator's bind.
port=25700
cleanup() {
    if [ -n "${agg_pid:-}" ]; then kill "$agg_pid" 2>/dev/null || true; fi
    if [ -n "${CT_KEEP_TEST_DIRS:-}" ] && [ -d "$work/lab/db" ]; then
        cp "$work"/lab/db/*.log "$work/" 2>/dev/null || true
    fi
    lab_teardown # a no-op without --replicated
    [ -f "$pg/server.log" ] && cp "$pg/server.log" "$work/server.log"
    tests/support/pg_cluster.sh stop "$pg" "$port" >/dev/null 2>&1 || true
    if [ -n "${CT_KEEP_TEST_DIRS:-}" ]; then
        echo "run.sh: kept $work (PostgreSQL's log in server.log)" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

CT_PG_OPTS="-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_wal_size=4GB \
    ${CT_BENCH_PG_OPTS:-}" \
    tests/support/pg_cluster.sh start "$pg" "$port" >/dev/null
districts=zhongyuan,erqi,guancheng,jinshui,shangjie,huiji,zhongmu,gongyi,xingyang,xinmi,xinzheng,dengfeng,jingkai,gaoxin,hangkonggang,zhengdong

# Where the phases run: "host" (the private PostgreSQL, everything on loopback) or "lab"
# (--replicated: the database tier in its namespaces; the aggregator, the load generator and
# every database client on machine agg1).
use_host() {
    where=host label=""
    endpoint="tcp://127.0.0.1:$((port + 1))"
    publish="tcp://127.0.0.1:$((port + 2))"
}
use_lab() {
    where=lab label=" (replicated)"
    endpoint="tcp://127.0.0.1:5560" # agg1's own loopback
    publish="tcp://127.0.0.1:5561"
}
use_host
db_conninfo() { # db_conninfo DBNAME
    if [ "$where" = lab ]; then
        dbtier_conninfo "$1"
    else
        echo "host=$pg port=$port user=postgres dbname=$1"
    fi
}
on_agg_host() { # CMD...: runs CMD where the aggregator (and the load generator) runs
    if [ "$where" = lab ]; then lab_exec agg1 "$@"; else "$@"; fi
}

field() { # field NAME "k=v k=v ..."
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
median() {
    tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
cpu_ticks() { # utime + stime of a process, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# fresh_db NAME: a migrated database with agents PREFIX0..K-1 registered
fresh_db() {
    on_agg_host psql "$(db_conninfo postgres)" -qc "SET client_min_messages = warning" \
        -qc "DROP DATABASE IF EXISTS $1" -qc "CREATE DATABASE $1" >/dev/null
    db=$(db_conninfo "$1")
    on_agg_host "$bin/citytally-aggregator" migrate --db "$db" >/dev/null
}

# settle: every phase starts from the same state: PostgreSQL's dirty buffers written
# (CHECKPOINT) and the kernel's dirty pages flushed (sync), so the writeback of one phase's
# ~500 MB of WAL and tables is not charged to the next one.
# On the lab, both nodes: the standby's restartpoint writes its copy of the same pages.
settle() {
    if [ "$where" = lab ]; then
        dbtier_psql pg1 -d postgres -c CHECKPOINT >/dev/null
        dbtier_psql pg2 -d postgres -c CHECKPOINT >/dev/null
    else
        psql "$(db_conninfo postgres)" -qc "CHECKPOINT" >/dev/null
    fi
    sync
}

drop_db() {
    on_agg_host psql "$(db_conninfo postgres)" -qc "DROP DATABASE $1" >/dev/null
}

# sync_check WHEN: on the lab, fails the run unless pg1 is the primary with synchronous_commit
# on and pg2 its streaming synchronous standby, so every COMMIT measured waited for pg2.
sync_check() {
    [ "$where" = lab ] || return 0
    local states repl
    states="$(dbtier_state_of pg1)/$(dbtier_state_of pg2)"
    repl=$(dbtier_psql pg1 -d postgres -tA -c "SELECT current_setting('synchronous_commit')
        || ' ' || (current_setting('synchronous_standby_names') <> '') || ' ' ||
        (SELECT count(*) FROM pg_stat_replication
         WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum'))" 2>&1 || true)
    if [ "$states" != primary/secondary ] || [ "$repl" != "on true 1" ]; then
        echo "run.sh: REPLICATION CHECK FAILED $1: pg1/pg2 $states (want primary/secondary)," \
            "synchronous_commit, standby names set, synchronous standbys: '$repl' (want 'on true 1')" >&2
        exit 1
    fi
}

register_agents() { # register_agents DB PREFIX COUNT [KEYDIR]
    on_agg_host psql "$1" -qc "INSERT INTO agents (agent_id, district)
        SELECT '$2' || i, (string_to_array('$districts', ','))[i % 16 + 1]
        FROM generate_series(0, $3 - 1) i" >/dev/null
}

# saturate_sets DB PREFIX on|off: the saturation phase with sets; its rate in plaus_rate
saturate_sets() {
    printf '[ingest]\nplausibility = %s\n' "$3" >"$work/plausibility.conf"
    start_aggregator "$1" -c "$work/plausibility.conf"
    out=$(loadgen "$2" --agents "$agents" --per-agent "$per_agent" --sets)
    stored=$(psql "$1" -Atc "SELECT count(*) FROM updates")
    actual=$(psql "$1" -Atc "SELECT actual FROM citytally_progress(2015, now())
        WHERE target_code = 'st_enterprises'")
    warned=$(psql "$1" -Atc "SELECT count(*) FROM update_warnings")
    if [ "$(field acked "$out")" != "$total" ] || [ "$stored" != "$total" ] ||
        [ "$actual" != "$((agents * expected_sum))" ] || [ "$warned" != 0 ]; then
        echo "run.sh: EXACTNESS CHECK FAILED (sets, plausibility $3): acked=$(field acked "$out")" \
            "stored=$stored (want $total), st_enterprises=$actual, warnings=$warned (want 0)" >&2
        exit 1
    fi
    stop_aggregator
    plaus_rate=$(field rate "$out")
}

start_aggregator() { # start_aggregator DB [FLAG...]
    agg_db=$1
    shift
    if [ "$curve" = 1 ]; then
        set -- --server-key "$work/keys/server.key" "$@"
    else
        set -- --insecure "$@"
    fi
    # Not through on_agg_host: a function in the background is a subshell, and agg_pid must
    # be the aggregator's own PID (ip netns exec execs its command).
    local netns=()
    if [ "$where" = lab ]; then netns=(ip netns exec "$(lab_ns agg1)"); fi
    "${netns[@]}" "$bin/citytally-aggregator" --db "$agg_db" --listen "$endpoint" \
        --publish "$publish" --http off "$@" \
        2>>"$work/aggregator.log" &
    agg_pid=$!
    i=0
    until grep -q "ready:" "$work/aggregator.log" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || { echo "run.sh: aggregator not ready" >&2; exit 1; }
        kill -0 "$agg_pid" || { cat "$work/aggregator.log" >&2; exit 1; }
        sleep 0.1
    done
}

stop_aggregator() {
    kill "$agg_pid"
    wait "$agg_pid" || true
    agg_pid=
    : >"$work/aggregator.log"
}

loadgen() { # loadgen PREFIX EXTRA...
    prefix=$1
    shift
    keys=""
    if [ "$curve" = 1 ]; then
        keys="--server-key $work/keys/server.key.pub --client-keys $work/keys"
    fi
    # shellcheck disable=SC2086 # keys is a list of flags
    on_agg_host "$bin/citytally-loadgen" --endpoint "$endpoint" --prefix "$prefix" --districts "$districts" \
        --batch "$batch" --window "$window" --timeout-ms 10000 $keys "$@"
}

if [ "$curve" = 1 ]; then
    mkdir -p "$work/keys"
    "$bin/citytally-aggregator" keygen "$work/keys/server.key" >/dev/null
fi

# ceiling_phase R: phase 1, the ceiling; sets copy_rate and copy2_rate
ceiling_phase() {
    local r=$1 copy copy2
    fresh_db "bench_copy_$r"
    settle
    on_agg_host psql "$db" -qc "CREATE TABLE updates_ceiling (LIKE updates INCLUDING ALL)" >/dev/null
    sync_check "before copy"
    copy=$(on_agg_host "$bin/citytally-copy-ceiling" "$db" updates_ceiling "$agents" "$per_agent" 10000)
    sync_check "after copy"
    copy_rate=$(field rate "$copy")
    drop_db "bench_copy_$r"
    fresh_db "bench_copy2_$r"
    settle
    on_agg_host psql "$db" -qc "CREATE TABLE updates_ceiling (LIKE updates INCLUDING ALL)" >/dev/null
    sync_check "before copy2"
    copy2=$(on_agg_host "$bin/citytally-copy-ceiling" "$db" updates_ceiling "$agents" "$per_agent" 10000 2)
    sync_check "after copy2"
    copy2_rate=$(field rate "$copy2")
    drop_db "bench_copy2_$r"
}

# saturation_phase R: phase 2 at saturation, checked exactly; sets e2e, cpu and rss
saturation_phase() {
    local r=$1 i cpu0 cpu1 sat seconds acked stored wrong actual
    fresh_db "bench_e2e_$r"
    settle
    register_agents "$db" b "$agents"
    if [ "$curve" = 1 ]; then
        i=0
        while [ "$i" -lt "$agents" ]; do
            [ -f "$work/keys/b$i.key" ] || "$bin/citytally-collector" keygen "$work/keys/b$i.key" >/dev/null
            on_agg_host psql "$db" -qc "UPDATE agents SET public_key = '$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$work/keys/b$i.key.pub")' WHERE agent_id = 'b$i'"
            i=$((i + 1))
        done
    fi
    start_aggregator "$db"
    sync_check "before e2e"
    cpu0=$(cpu_ticks "$agg_pid")
    sat=$(loadgen b --agents "$agents" --per-agent "$per_agent")
    cpu1=$(cpu_ticks "$agg_pid")
    rss=$(peak_rss_kib "$agg_pid")
    sync_check "after e2e"
    e2e=$(field rate "$sat")
    seconds=$(field seconds "$sat")
    cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
        'BEGIN { printf "%.0f", 100 * t / hz / s }')

    # the benchmark's own check: exactly the acked updates, exact totals
    acked=$(field acked "$sat")
    stored=$(on_agg_host psql "$db" -Atc "SELECT count(*) FROM updates")
    wrong=$(on_agg_host psql "$db" -Atc "SELECT count(*) FROM (SELECT agent_id, sum(value) s FROM updates
        GROUP BY agent_id) t WHERE s <> $expected_sum")
    actual=$(on_agg_host psql "$db" -Atc "SELECT actual FROM citytally_progress(2015, now())
        WHERE target_code = 'st_enterprises'")
    if [ "$acked" != "$total" ] || [ "$stored" != "$total" ] || [ "$wrong" != 0 ] ||
        [ "$actual" != "$((agents * expected_sum))" ]; then
        echo "run.sh: EXACTNESS CHECK FAILED$label: acked=$acked stored=$stored (want $total)," \
            "agents with a wrong sum=$wrong, st_enterprises=$actual (want $((agents * expected_sum)))" >&2
        exit 1
    fi

    stop_aggregator
    drop_db "bench_e2e_$r"
}

# replicated_run R: one run of --replicated: phases 1 and 2 on the private PostgreSQL, then
# the same on the lab; prints the run's line and keeps its figures for the medians.
replicated_run() {
    local r=$1 s_copy s_copy2 s_e2e s_cpu ratio ratio2 rratio rratio2
    use_host
    ceiling_phase "$r"
    saturation_phase "$r"
    s_copy=$copy_rate s_copy2=$copy2_rate s_e2e=$e2e s_cpu=$cpu
    use_lab
    ceiling_phase "$r"
    saturation_phase "$r"
    use_host
    ratio=$(awk -v e="$s_e2e" -v c="$s_copy" 'BEGIN { printf "%.2f", e / c }')
    ratio2=$(awk -v e="$s_e2e" -v c="$s_copy2" 'BEGIN { printf "%.2f", e / c }')
    rratio=$(awk -v e="$e2e" -v c="$copy_rate" 'BEGIN { printf "%.2f", e / c }')
    rratio2=$(awk -v e="$e2e" -v c="$copy2_rate" 'BEGIN { printf "%.2f", e / c }')
    echo "run $r: single: copy=$s_copy copy2=$s_copy2 e2e=$s_e2e ratio=$ratio ratio2=$ratio2" \
        "agg_cpu=${s_cpu}% replicated: copy=$copy_rate copy2=$copy2_rate e2e=$e2e" \
        "ratio=$rratio ratio2=$rratio2 agg_cpu=${cpu}% rss_kib=$rss"
    all_copy="$all_copy $s_copy" all_copy2="$all_copy2 $s_copy2" all_e2e="$all_e2e $s_e2e"
    all_ratio="$all_ratio $ratio" all_ratio2="$all_ratio2 $ratio2" all_cpu="$all_cpu $s_cpu"
    rall_copy="$rall_copy $copy_rate" rall_copy2="$rall_copy2 $copy2_rate" rall_e2e="$rall_e2e $e2e"
    rall_ratio="$rall_ratio $rratio" rall_ratio2="$rall_ratio2 $rratio2" rall_cpu="$rall_cpu $cpu"
}

total=$((agents * per_agent))
expected_sum=$(awk -v n="$per_agent" 'BEGIN { s = 0; for (i = 1; i <= n; i++) s += i % 7 + 1; print s }')
all_e2e="" all_copy="" all_ratio="" all_p99="" all_rss="" all_import="" all_delivery=""
all_p50="" all_max="" all_cpu="" all_copy2="" all_ratio2="" all_floor_p50="" all_floor_p99=""
all_plaus_on="" all_plaus_off=""
rall_copy="" rall_copy2="" rall_e2e="" rall_ratio="" rall_ratio2="" rall_cpu=""

echo "run.sh: $runs runs; $agents agents x $per_agent updates, batch $batch, window $window;" \
    "$(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
if [ "$replicated" = 1 ]; then
    lab_init "$work/lab"
    chmod 0755 "$work/lab" # the database nodes run as postgres
    dbtier_up || {
        echo "run.sh: the replicated database tier did not come up (CT_KEEP_TEST_DIRS=1 keeps its logs)" >&2
        exit 1
    }
    # The private PostgreSQL's checkpoint spacing; a reload applies it.
    for node in pg1 pg2; do
        dbtier_psql "$node" -d postgres -c "ALTER SYSTEM SET max_wal_size = '4GB'" \
            -c "SELECT pg_reload_conf()" >/dev/null
    done
    lab_machine agg1 21
    use_lab
    sync_check "once the lab was up"
    use_host
    echo "run.sh: replicated: pg1 primary, pg2 its synchronous standby" \
        "($(dbtier_psql pg1 -d postgres -tAc 'SHOW synchronous_standby_names')), synchronous_commit on;" \
        "aggregator and load generator on agg1; each run single, then replicated"
fi
r=1
while [ "$r" -le "$runs" ]; do
    if [ "$replicated" = 1 ]; then
        replicated_run "$r"
        r=$((r + 1))
        continue
    fi
    ceiling_phase "$r"
    saturation_phase "$r"

    # ... and at half that rate, for latency: a fresh database again, after a checkpoint.
    # The saturated run's database is gone, so neither its dirty pages nor the autovacuum
    # its 1.6M inserts would start (a full pass over the table) land in this phase.
    fresh_db "bench_half_$r"
    register_agents "$db" h "$agents"
    settle
    start_aggregator "$db"
    # The same K x N updates as at saturation: at half the rate that is twice as long, and
    # p99 rests on K x N / B batches (1,600 by default), not on the few worst of a short run.
    half_rate=$(awk -v e="$e2e" 'BEGIN { printf "%.0f", e / 2 }')
    half=$(loadgen h --agents "$agents" --per-agent "$per_agent" --rate "$half_rate")
    stop_aggregator
    drop_db "bench_half_$r"

    # ... and the floor under that latency, right after it: the host's WAL flushes stall
    # now and then for 50-300 ms, and any one of them shows in p99 whatever writes the rows.
    fresh_db "bench_floor_$r"
    psql "$db" -qc "CREATE TABLE updates_ceiling (LIKE updates INCLUDING ALL)" >/dev/null
    settle
    floor=$("$bin/citytally-copy-ceiling" "$db" updates_ceiling "$agents" "$per_agent" \
        "$batch" 2 "$half_rate")
    drop_db "bench_floor_$r"

    # 3. the collector
    import=$(tests/bench/collector/import.sh "$build" 100000 1 | sed -n 's/^import median: \([0-9]*\).*/\1/p')
    delivery=$(tests/bench/collector/delivery.sh "$build" 100000 1 2>/dev/null |
        sed -n 's/.*median: \([0-9]*\).*/\1/p' || true)

    # 4. plausibility on and off, same load, same run; the order alternates per run
    for mode in $(if [ $((r % 2)) = 1 ]; then echo on off; else echo off on; fi); do
        fresh_db "bench_plaus_${mode}_$r"
        settle
        register_agents "$db" "p$mode" "$agents"
        saturate_sets "$db" "p$mode" "$mode"
        drop_db "bench_plaus_${mode}_$r"
        if [ "$mode" = on ]; then plaus_on=$plaus_rate; else plaus_off=$plaus_rate; fi
    done
    plaus_ratio_on=$(awk -v e="$plaus_on" -v c="$copy_rate" 'BEGIN { printf "%.2f", e / c }')
    plaus_ratio_off=$(awk -v e="$plaus_off" -v c="$copy_rate" 'BEGIN { printf "%.2f", e / c }')
    all_plaus_on="$all_plaus_on $plaus_on" all_plaus_off="$all_plaus_off $plaus_off"

    ratio=$(awk -v e="$e2e" -v c="$copy_rate" 'BEGIN { printf "%.2f", e / c }')
    ratio2=$(awk -v e="$e2e" -v c="$copy2_rate" 'BEGIN { printf "%.2f", e / c }')
    p99=$(field p99_ms "$half")
    echo "run $r: copy=$copy_rate copy2=$copy2_rate e2e=$e2e ratio=$ratio ratio2=$ratio2" \
        "agg_cpu=${cpu}% rss_kib=$rss" \
        "half_rate: p50_ms=$(field p50_ms "$half") p99_ms=$p99 max_ms=$(field max_ms "$half")" \
        "floor_p50_ms=$(field p50_ms "$floor") floor_p99_ms=$(field p99_ms "$floor")" \
        "import=$import delivery=${delivery:-?}" \
        "sets: plausibility_on=$plaus_on ratio_on=$plaus_ratio_on" \
        "plausibility_off=$plaus_off ratio_off=$plaus_ratio_off"
    all_e2e="$all_e2e $e2e" all_copy="$all_copy $copy_rate" all_ratio="$all_ratio $ratio"
    all_copy2="$all_copy2 $copy2_rate" all_ratio2="$all_ratio2 $ratio2"
    all_p99="$all_p99 $p99" all_rss="$all_rss $rss" all_import="$all_import $import"
    all_p50="$all_p50 $(field p50_ms "$half")" all_max="$all_max $(field max_ms "$half")"
    all_cpu="$all_cpu $cpu" all_delivery="$all_delivery ${delivery:-}"
    all_floor_p50="$all_floor_p50 $(field p50_ms "$floor")"
    all_floor_p99="$all_floor_p99 $(field p99_ms "$floor")"
    r=$((r + 1))
done

if [ "$replicated" = 1 ]; then
    echo "medians of $runs: single: copy=$(echo "$all_copy" | median) copy2=$(echo "$all_copy2" | median)" \
        "e2e=$(echo "$all_e2e" | median) ratio=$(echo "$all_ratio" | median)" \
        "ratio2=$(echo "$all_ratio2" | median) agg_cpu=$(echo "$all_cpu" | median)%" \
        "replicated: copy=$(echo "$rall_copy" | median) copy2=$(echo "$rall_copy2" | median)" \
        "e2e=$(echo "$rall_e2e" | median) ratio=$(echo "$rall_ratio" | median)" \
        "ratio2=$(echo "$rall_ratio2" | median) agg_cpu=$(echo "$rall_cpu" | median)%"
    echo "e2e=$(echo "$all_e2e" | median) copy=$(echo "$all_copy" | median)" \
        "ratio=$(echo "$all_ratio" | median) replicated_e2e=$(echo "$rall_e2e" | median)" \
        "replicated_copy=$(echo "$rall_copy" | median) replicated_ratio=$(echo "$rall_ratio" | median)"
    exit 0
fi

# idle connections
fresh_db bench_idle
register_agents "$db" i "$idle_agents"
start_aggregator "$db"
rss_before=$(peak_rss_kib "$agg_pid")
loadgen i --agents "$idle_agents" --per-agent 0 --idle-seconds 20 >"$work/idle.out" &
idle_pid=$!
i=0
until grep -q welcomed "$work/idle.out" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -lt 300 ] || { echo "run.sh: idle agents not welcomed within 60 s" >&2; exit 1; }
    kill -0 "$idle_pid" || { cat "$work/idle.out" >&2; exit 1; }
    sleep 0.2
done
cpu0=$(cpu_ticks "$agg_pid")
sleep 10
cpu1=$(cpu_ticks "$agg_pid")
idle_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$agg_pid/status")
idle_cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * t / hz / 10 }')
wait "$idle_pid" || true
echo "idle: $(cat "$work/idle.out"); aggregator RSS ${idle_rss} KiB (was $rss_before), CPU ${idle_cpu}%"
stop_aggregator

e2e=$(echo "$all_e2e" | median)
copy=$(echo "$all_copy" | median)
echo "medians of $runs: copy=$copy copy2=$(echo "$all_copy2" | median) e2e=$e2e" \
    "ratio=$(echo "$all_ratio" | median) ratio2=$(echo "$all_ratio2" | median)" \
    "agg_cpu=$(echo "$all_cpu" | median)% half_rate p50_ms=$(echo "$all_p50" | median)" \
    "p99_ms=$(echo "$all_p99" | median) max_ms=$(echo "$all_max" | median)" \
    "floor_p50_ms=$(echo "$all_floor_p50" | median) floor_p99_ms=$(echo "$all_floor_p99" | median)" \
    "peak_rss_kib=$(echo "$all_rss" | median) import=$(echo "$all_import" | median)" \
    "delivery=$(echo "$all_delivery" | median)" \
    "sets: plausibility_on=$(echo "$all_plaus_on" | median)" \
    "plausibility_off=$(echo "$all_plaus_off" | median)"
echo "e2e=$e2e copy=$copy ratio=$(echo "$all_ratio" | median) p99_ms=$(echo "$all_p99" | median)" \
    "rss_mib=$(awk -v k="$(echo "$all_rss" | median)" 'BEGIN { printf "%.1f", k / 1024 }')" \
    "import=$(echo "$all_import" | median)"
