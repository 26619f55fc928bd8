#!/bin/bash
# tests/cluster/test_failover.sh - the primary's machine dies, then its link goes down, while
# 17 collectors stream through two aggregators: nothing acknowledged is lost or doubled.
#
# The lab of deploy/cluster/ (network namespaces on a private bridge): a pg_auto_failover
# monitor, two PostgreSQL nodes replicated synchronously, two aggregators on one multi-host
# conninfo, 17 real collectors. A loader drops a 50-row CSV file into every unit's spool
# twice a second (op add of 1..50, so each file adds 1275). Meanwhile:
#   1. every process on the primary's machine is killed (SIGKILL, by PID);
#   2. once the old primary is back as the standby, the new primary's link goes down, and
#      comes back once writes are acknowledged again;
#   3. the aggregator on agg1 is killed (SIGKILL): the collectors it served move to agg2
#      within 15 s, each exactly once (one new welcome each, the others none).
# For each fault it measures the time to the first update committed after it (writes
# acknowledged again; limit 30 s) and the time until the old primary is the standby again
# (limit 60 s). At the end every file must be stored exactly once: per agent, rows = files x
# 50, distinct seqs = rows = max seq, and the sum = files x 1275; nothing rejected.
#
# Root is needed (namespaces). Every process and namespace goes on every exit path
# (lab_teardown in the EXIT trap).
set -euo pipefail

src=${CT_SOURCE_DIR:?CT_SOURCE_DIR is not set}
bin=${CT_BIN_DIR:?CT_BIN_DIR is not set}
cd "$src"
# shellcheck source=deploy/cluster/lab.sh
. deploy/cluster/lab.sh
# shellcheck source=deploy/cluster/dbtier.sh
. deploy/cluster/dbtier.sh
# shellcheck source=deploy/cluster/bureau.sh
. deploy/cluster/bureau.sh

ROWS=50
ROW_SUM=1275
MAX_ROUNDS=400 # the loader stops by itself after this many rounds (200 s)

say() { echo "test_failover: $*"; }
fail() {
    echo "test_failover: FAIL: $*" >&2
    for f in "$lab_scratch"/log/agg*.log; do
        echo "--- $f" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

scratch=$(mktemp -d /var/tmp/ct-failover-XXXXXX)
chmod 0755 "$scratch"
loader_pid=""
finish() {
    local rc=$?
    [ -z "$loader_pid" ] || kill "$loader_pid" 2>/dev/null || true
    [ -z "$loader_pid" ] || wait "$loader_pid" 2>/dev/null || true
    lab_teardown
    rm -rf "$scratch"
    exit "$rc"
}
trap finish EXIT

lab_init "$scratch/lab"
chmod 0755 "$scratch/lab"
dbtier_up || fail "the database tier did not come up"
bureau_bin=$bin
bureau_up || fail "citytally did not come up"
say "lab up: primary $(dbtier_primary), 2 aggregators, 17 collectors"

# The loader: one file a unit every half second, until $scratch/stop appears.
load() {
    local round unit f k
    for ((round = 1; round <= MAX_ROUNDS; round++)); do
        [ ! -e "$scratch/stop" ] || break
        for unit in $(bureau_units); do
            f=$scratch/load-$unit-$round.csv
            {
                echo "indicator,value,period,op,observed_at,note"
                for ((k = 1; k <= ROWS; k++)); do
                    echo "hightech_output,$k,2015,add,2015-06-30,load $round"
                done
            } >"$f"
            bureau_drop "$unit" "$f"
            rm -f "$f"
        done
        echo "$round" >"$scratch/rounds"
        sleep 0.5
    done
}
load &
loader_pid=$!

# Milliseconds until an update is committed after now.
ms_to_next_commit() {
    local before start deadline=$(($(date +%s) + 60)) n
    before=$(bureau_sql "SELECT coalesce(max(id), 0) FROM updates" 2>/dev/null || echo 0)
    start=$1
    for (( ; ; )); do
        n=$(bureau_sql "SELECT coalesce(max(id), 0) FROM updates" 2>/dev/null || echo 0)
        [ "$n" -le "$before" ] || break
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
    echo $((($(date +%s%N) - start) / 1000000))
}

# Waits until the first files are in, so the faults come under load.
bureau_wait_stored $((17 * ROWS * 2)) 60 || fail "the load did not start"

# ---- fault 1: every process on the primary's machine killed ---------------------------------
old=$(dbtier_primary)
t0=$(date +%s%N)
lab_kill "$old"
ack1=$(ms_to_next_commit "$t0") || fail "no write acknowledged within 60 s of killing $old"
dbtier_start "$old"
t1=$(date +%s%N)
dbtier_wait "$old" secondary 120 || fail "$old did not come back"
back1=$((($(date +%s%N) - t1) / 1000000))
say "kill -9 of $old: writes acknowledged again after $ack1 ms; $old standby again $back1 ms after restart"

# ---- fault 2: the new primary's link down ---------------------------------------------------
# Only once the primary has left wait_primary is the standby a candidate: pg_auto_failover
# never promotes a standby that may lack acknowledged commits, so a cut before then would
# (rightly) leave the tier without a primary.
old=$(dbtier_primary)
dbtier_wait "$old" primary 60 || fail "$old did not leave wait_primary within 60 s of the standby's return"
t0=$(date +%s%N)
lab_link "$old" down
ack2=$(ms_to_next_commit "$t0") || fail "no write acknowledged within 60 s of $old's link going down"
lab_link "$old" up
t1=$(date +%s%N)
dbtier_wait "$old" secondary 120 || fail "$old did not come back"
back2=$((($(date +%s%N) - t1) / 1000000))
say "link of $old down: writes acknowledged again after $ack2 ms; $old standby again $back2 ms after the link came up"

# ---- fault 3: kill -9 of the aggregator on agg1 ---------------------------------------------
# Each collector lists both aggregators. Those that agg1 welcomed last move to agg2: each
# exactly once, so one new welcome each, and the others none (checked at the end).
welcomes() { grep -c "welcomed by" "$lab_scratch/log/collector-$1.log" || true; }
last_welcomer() {
    grep "welcomed by" "$lab_scratch/log/collector-$1.log" | tail -n 1 |
        sed -n 's/.*welcomed by the aggregator at \(tcp:[^ ]*\): last seq.*/\1/p'
}
deadline=$(($(date +%s) + 60))
until bureau_all_connected; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "not every collector was connected before the aggregator's kill"
    sleep 0.2
done
declare -A welcomes_before on_agg1
for unit in $(bureau_units); do
    welcomes_before[$unit]=$(welcomes "$unit")
    [ "$(last_welcomer "$unit")" != "tcp://$LAB_SUBNET.21:5560" ] || on_agg1[$unit]=1
done
[ "${#on_agg1[@]}" -gt 0 ] || fail "no collector was on agg1 before its kill"
t0=$(date +%s%N)
lab_kill agg1
deadline=$(($(date +%s) + 60))
for (( ; ; )); do
    moved=0
    for unit in "${!on_agg1[@]}"; do
        [ "$(welcomes "$unit")" -le "${welcomes_before[$unit]}" ] || moved=$((moved + 1))
    done
    [ "$moved" -lt "${#on_agg1[@]}" ] || break
    [ "$(date +%s)" -lt "$deadline" ] || fail "$moved of ${#on_agg1[@]} collectors moved within 60 s of agg1's kill"
    sleep 0.1
done
move3=$((($(date +%s%N) - t0) / 1000000))
say "kill -9 of agg1: its ${#on_agg1[@]} collectors all welcomed by agg2 after $move3 ms"

# ---- the end: everything exactly once -------------------------------------------------------
touch "$scratch/stop"
wait "$loader_pid"
loader_pid=""
rounds=$(cat "$scratch/rounds")
total=$((17 * rounds * ROWS))
bureau_wait_stored "$total" 300 || fail "only $(bureau_stored) of $total updates arrived"
bad=$(bureau_sql "SELECT agent_id || ': ' || count(*) || ' rows, ' || count(DISTINCT seq) ||
    ' seqs, max ' || max(seq) || ', sum ' || sum(value)
    FROM updates WHERE note LIKE 'load %' GROUP BY agent_id
    HAVING count(*) <> $((rounds * ROWS)) OR count(DISTINCT seq) <> count(*)
        OR max(seq) <> count(*) OR sum(value) <> $((rounds * ROW_SUM))")
agents=$(bureau_sql "SELECT count(DISTINCT agent_id) FROM updates WHERE note LIKE 'load %'")
rejected=$(bureau_sql "SELECT count(*) FROM rejected_updates")
[ -z "$bad" ] || fail "not exactly once: $bad"
[ "$agents" -eq 17 ] || fail "$agents agents stored load, not 17"
[ "$rejected" -eq 0 ] || fail "$rejected updates rejected"
[ "$ack1" -le 30000 ] || fail "writes came back $ack1 ms after the kill (limit 30 s)"
[ "$ack2" -le 30000 ] || fail "writes came back $ack2 ms after the link went down (limit 30 s)"
[ "$back1" -le 60000 ] || fail "the killed primary took $back1 ms to rejoin (limit 60 s)"
[ "$back2" -le 60000 ] || fail "the cut-off primary took $back2 ms to rejoin (limit 60 s)"
[ "$move3" -le 15000 ] || fail "agg1's collectors took $move3 ms to move to agg2 (limit 15 s)"
for unit in $(bureau_units); do
    want=${welcomes_before[$unit]}
    [ -z "${on_agg1[$unit]:-}" ] || want=$((want + 1))
    [ "$(welcomes "$unit")" -eq "$want" ] ||
        fail "$unit was welcomed $(($(welcomes "$unit") - welcomes_before[$unit])) times after agg1's kill, not $((want - welcomes_before[$unit]))"
    [ -z "${on_agg1[$unit]:-}" ] || [ "$(last_welcomer "$unit")" = "tcp://$LAB_SUBNET.22:5560" ] ||
        fail "$unit's last welcome came from $(last_welcomer "$unit"), not agg2"
done
say "ok: $total updates from 17 collectors in $rounds rounds, each stored exactly once (0 lost, 0 doubled)"
