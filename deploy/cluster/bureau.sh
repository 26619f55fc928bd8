# shellcheck shell=bash
# shellcheck disable=SC2154 # lab_scratch is set by lab_init (lab.sh)
# deploy/cluster/bureau.sh - citytally itself in the lab: two aggregators and 17 collectors.
#
# Sourced after lab.sh and dbtier.sh, once dbtier_up has returned. The programs come from
# $bureau_bin (citytally-aggregator, citytally-collector).
#
#   bureau_up              machines agg1 (.21), agg2 (.22) and col (.30); one CURVE key pair
#                          shared by both aggregators; 17 agents; each unit's collector on
#                          one of the two aggregators first (odd units agg1, even units
#                          agg2), the other next: a collector moves when its own stops answering
#   bureau_units           the 17 unit ids, one a line (data/districts.csv)
#   bureau_dir UNIT        that unit's collector directory (state/, spool/)
#   bureau_drop UNIT FILE  puts FILE into the unit's spool as staff do (write, then rename)
#   bureau_sql SQL         one query on the database, through the multi-host conninfo
#   bureau_stored          updates stored plus updates rejected
#   bureau_wait_stored N S waits up to S seconds until at least N are
#   bureau_report ARGS...  citytally-aggregator report on agg1
#
# Logs are in $lab_scratch/log/{agg1,agg2,collector-UNIT}.log.

bureau_dir() { echo "$lab_scratch/collectors/$1"; }
bureau_units() { tail -n +2 data/districts.csv | cut -d, -f1; }

bureau_sql() {
    lab_exec agg1 runuser -u postgres -- psql -X -q -tA "$(dbtier_conninfo citytally)" -c "$1"
}

bureau_stored() {
    bureau_sql "SELECT (SELECT count(*) FROM updates) + (SELECT count(*) FROM rejected_updates)"
}

bureau_wait_stored() {
    local want=$1 deadline=$(($(date +%s) + $2)) n
    for (( ; ; )); do
        n=$(bureau_stored 2>/dev/null || echo -1)
        [ "$n" -lt "$want" ] || return 0
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

bureau_report() {
    lab_exec agg1 "$bureau_bin/citytally-aggregator" report --db "$(dbtier_conninfo citytally)" "$@"
}

bureau_drop() {
    local spool name
    spool=$(bureau_dir "$1")/spool
    name=$(basename "$2")
    cp "$2" "$spool/.$name.part"
    mv "$spool/.$name.part" "$spool/$name"
}

# Every collector of this lab says it is connected.
bureau_all_connected() {
    local unit
    for unit in $(bureau_units); do
        "$bureau_bin/citytally-collector" status --state-dir "$(bureau_dir "$unit")/state" \
            2>/dev/null | grep -q "^daemon: *running, pid [0-9]*, connected" || return 1
    done
}

bureau_up() {
    local agg=$bureau_bin/citytally-aggregator col=$bureau_bin/citytally-collector
    local db logs=$lab_scratch/log keys=$lab_scratch/keys n host unit d i=0 deadline
    db=$(dbtier_conninfo citytally)
    mkdir -p "$logs" "$keys"
    chmod 0700 "$keys"
    lab_machine agg1 21
    lab_machine agg2 22
    lab_machine col 30
    "$agg" keygen "$keys/server.key" >/dev/null
    lab_exec agg1 "$agg" migrate --db "$db" >/dev/null

    for n in 1 2; do
        host=$LAB_SUBNET.2$n
        lab_exec "agg$n" "$agg" --db "$db" --listen "tcp://$host:5560" \
            --publish "tcp://$host:5561" --http "$host:9560" --server-key "$keys/server.key" \
            >>"$logs/agg$n.log" 2>&1 &
    done
    deadline=$(($(date +%s) + 60))
    until grep -q "ready:" "$logs/agg1.log" && grep -q "ready:" "$logs/agg2.log"; do
        [ "$(date +%s)" -lt "$deadline" ] || {
            echo "bureau: the aggregators did not get ready ($logs/agg*.log)" >&2
            return 1
        }
        sleep 0.2
    done

    for unit in $(bureau_units); do
        d=$(bureau_dir "$unit")
        mkdir -p "$d/state" "$d/spool"
        "$col" keygen "$d/agent.key" >/dev/null
        lab_exec agg1 "$agg" agent add "$unit-1" --district "$unit" --key "$d/agent.key.pub" \
            --db "$db" >/dev/null
        i=$((i + 1))
        lab_exec col "$col" --agent "$unit-1" --district "$unit" \
            --connect "tcp://$LAB_SUBNET.2$((2 - i % 2)):5560,tcp://$LAB_SUBNET.2$((1 + i % 2)):5560" \
            --state-dir "$d/state" \
            --spool "$d/spool" --key "$d/agent.key" --server-public-key "$keys/server.key.pub" \
            >>"$logs/collector-$unit.log" 2>&1 &
    done
    deadline=$(($(date +%s) + 60))
    until bureau_all_connected; do
        [ "$(date +%s)" -lt "$deadline" ] || {
            echo "bureau: not every collector was welcomed ($logs/collector-*.log)" >&2
            return 1
        }
        sleep 0.2
    done
}
