#!/bin/bash
# deploy/cluster/demo.sh [--keep] - the bureau on several machines, on one Linux host.
#
# As root on Debian 12. Builds (or uses CT_CLUSTER_BIN), then makes machines as network
# namespaces on a private bridge (deploy/cluster/lab.sh) and runs on them:
#   mon, pg1, pg2   a pg_auto_failover monitor and two PostgreSQL nodes, replicated
#                   synchronously (deploy/cluster/dbtier.sh);
#   agg1, agg2      two aggregators, both active, sharing one CURVE key pair and one
#                   multi-host conninfo with keepalives and tcp_user_timeout;
#   col             the 17 units' collectors, fed with the SAMPLE data (deploy/sample/).
# It prints the report, then kills every process on the primary's machine and shows the
# city still reporting: the standby is promoted, the aggregators find it, a new figure is
# acknowledged and counted, and the old primary comes back as the standby. Times are printed
# for each step. Then it stops everything and removes the lab; --keep leaves it running
# until Ctrl-C.
set -euo pipefail

keep=false
case "${1:-}" in
--keep) keep=true ;;
"") ;;
*)
    echo "usage: deploy/cluster/demo.sh [--keep]" >&2
    exit 2
    ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "demo: network namespaces need root" >&2; exit 2; }

cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=deploy/cluster/lab.sh
. deploy/cluster/lab.sh
# shellcheck source=deploy/cluster/dbtier.sh
. deploy/cluster/dbtier.sh

started=$(date +%s)
say() { echo "cluster: $* ($(($(date +%s) - started)) s)"; }
die() {
    echo "cluster: error: $*" >&2
    exit 1
}

deploy/install-deps.sh | sed 's/^/  /'
if [ -n "${CT_CLUSTER_BIN:-}" ]; then
    bin=$CT_CLUSTER_BIN
else
    build=$root/var/build
    cmake -S . -B "$build" -DCITYTALLY_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
    bin=$build/bin
fi
agg=$bin/citytally-aggregator
col=$bin/citytally-collector

scratch=$(mktemp -d /var/tmp/citytally-cluster-XXXXXX)
chmod 0755 "$scratch" # the database nodes run as postgres
trap lab_teardown EXIT
trap 'exit 0' INT TERM
lab_init "$scratch/lab"
chmod 0755 "$scratch/lab"
logs=$scratch/lab/log
mkdir -p "$logs"

say "starting the database tier: monitor, pg1, pg2"
dbtier_up || die "the database tier did not come up (logs in $scratch/lab/db)"
db=$(dbtier_conninfo citytally)
say "database tier up: primary $(dbtier_primary), synchronous standby $(dbtier_psql "$(dbtier_primary)" -d citytally -tAc 'SHOW synchronous_standby_names')"

lab_machine agg1 21
lab_machine agg2 22
lab_machine col 30
keys=$scratch/lab/keys
mkdir -p "$keys"
chmod 0700 "$keys"
"$agg" keygen "$keys/server.key" >/dev/null
lab_exec agg1 "$agg" migrate --db "$db" >/dev/null

# ---- two aggregators, both active --------------------------------------------------------
for n in 1 2; do
    host=$LAB_SUBNET.2$n
    lab_exec "agg$n" "$agg" --db "$db" --listen "tcp://$host:5560" --publish "tcp://$host:5561" \
        --http "$host:9560" --server-key "$keys/server.key" >>"$logs/agg$n.log" 2>&1 &
done
deadline=$(($(date +%s) + 60))
until grep -q "ready:" "$logs/agg1.log" && grep -q "ready:" "$logs/agg2.log"; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the aggregators did not get ready ($logs/agg*.log)"
    sleep 0.2
done
say "aggregators agg1 and agg2 running on one database"

# ---- 17 collectors, each unit on one of the two aggregators -------------------------------
units=$(tail -n +2 data/districts.csv | cut -d, -f1)
i=0
for unit in $units; do
    d=$scratch/lab/collectors/$unit
    mkdir -p "$d/state" "$d/spool"
    "$col" keygen "$d/agent.key" >/dev/null
    lab_exec agg1 "$agg" agent add "$unit-1" --district "$unit" --key "$d/agent.key.pub" \
        --db "$db" >/dev/null
    i=$((i + 1))
    lab_exec col "$col" --agent "$unit-1" --district "$unit" \
        --connect "tcp://$LAB_SUBNET.2$((2 - i % 2)):5560" --state-dir "$d/state" \
        --spool "$d/spool" --key "$d/agent.key" --server-public-key "$keys/server.key.pub" \
        >>"$logs/collector-$unit.log" 2>&1 &
done
welcomed() {
    local unit
    for unit in $units; do
        "$col" status --state-dir "$scratch/lab/collectors/$unit/state" 2>/dev/null |
            grep -q "^daemon: *running, pid [0-9]*, connected" || return 1
    done
}
deadline=$(($(date +%s) + 60))
until welcomed; do
    [ "$(date +%s)" -lt "$deadline" ] || die "not every collector was welcomed ($logs/collector-*.log)"
    sleep 0.2
done
say "17 collectors connected, 9 to agg1 and 8 to agg2"

sql() { lab_exec agg1 runuser -u postgres -- psql -X -q -tA "$db" -c "$1"; }
stored() { sql "SELECT (SELECT count(*) FROM updates) + (SELECT count(*) FROM rejected_updates)"; }
wait_stored() {
    local want=$1 deadline=$(($(date +%s) + $2))
    until [ "$(stored 2>/dev/null || echo -1)" -ge "$want" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

expected=0
for unit in $units; do
    for f in deploy/sample/"$unit"/*.csv; do
        expected=$((expected + $(wc -l <"$f") - 1))
        name=$(basename "$f")
        cp "$f" "$scratch/lab/collectors/$unit/spool/.$name.part"
        mv "$scratch/lab/collectors/$unit/spool/.$name.part" "$scratch/lab/collectors/$unit/spool/$name"
    done
done
wait_stored "$expected" 300 || die "the sample did not arrive within 5 minutes ($(stored) of $expected)"
say "all $expected sample updates acknowledged and stored"
lab_exec agg1 "$agg" report --year 2015 --db "$db" | tail -n 3

# ---- the primary's machine dies ----------------------------------------------------------
primary=$(dbtier_primary)
standby=pg1
[ "$primary" = pg1 ] && standby=pg2
kill_at=$(date +%s%N)
lab_kill "$primary"
say "killed every process on $primary (the primary)"
"$col" submit rd_centers_municipal 1 --op add --note "after the failover" \
    --state-dir "$scratch/lab/collectors/erqi/state" >/dev/null
wait_stored $((expected + 1)) 60 || die "no write was acknowledged within 60 s of the failover"
acked_at=$(date +%s%N)
say "a new figure from erqi was acknowledged $(((acked_at - kill_at) / 1000000)) ms after the kill; $standby is now $(dbtier_state_of "$standby")"
lab_exec agg1 "$agg" report --year 2015 --db "$db" | tail -n 1

dbtier_start "$primary"
dbtier_wait "$primary" secondary 120 || die "$primary did not come back as the standby"
say "$primary is back as the standby, $((($(date +%s%N) - acked_at) / 1000000)) ms later"

if [ "$keep" = true ]; then
    say "running; the lab is in $scratch (logs: $logs); press Ctrl-C to stop and remove it"
    while :; do
        sleep 3600 &
        wait $! || true
    done
fi
