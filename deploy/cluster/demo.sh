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
# shellcheck source=deploy/cluster/bureau.sh
. deploy/cluster/bureau.sh

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

scratch=$(mktemp -d /var/tmp/citytally-cluster-XXXXXX)
chmod 0755 "$scratch" # the database nodes run as postgres
trap lab_teardown EXIT
trap 'exit 0' INT TERM
lab_init "$scratch/lab"
chmod 0755 "$scratch/lab"

say "starting the database tier: monitor, pg1, pg2"
dbtier_up || die "the database tier did not come up (logs in $scratch/lab/db)"
say "database tier up: primary $(dbtier_primary), synchronous standby $(dbtier_psql "$(dbtier_primary)" -d citytally -tAc 'SHOW synchronous_standby_names')"

bureau_bin=$bin
bureau_up || die "citytally did not come up (logs in $scratch/lab/log)"
say "aggregators agg1 and agg2 on one database; 17 collectors connected, 9 to agg1, 8 to agg2"

expected=0
for unit in $(bureau_units); do
    for f in deploy/sample/"$unit"/*.csv; do
        expected=$((expected + $(wc -l <"$f") - 1))
        bureau_drop "$unit" "$f"
    done
done
bureau_wait_stored "$expected" 300 ||
    die "the sample did not arrive within 5 minutes ($(bureau_stored) of $expected)"
say "all $expected sample updates acknowledged and stored"
bureau_report --year 2015 | tail -n 3

# ---- the primary's machine dies ----------------------------------------------------------
primary=$(dbtier_primary)
standby=pg1
[ "$primary" = pg1 ] && standby=pg2
kill_at=$(date +%s%N)
lab_kill "$primary"
say "killed every process on $primary (the primary)"
"$bin/citytally-collector" submit rd_centers_municipal 1 --op add --note "after the failover" \
    --state-dir "$(bureau_dir erqi)/state" >/dev/null
bureau_wait_stored $((expected + 1)) 60 || die "no write was acknowledged within 60 s of the failover"
acked_at=$(date +%s%N)
say "a new figure from erqi was acknowledged $(((acked_at - kill_at) / 1000000)) ms after the kill; $standby is now $(dbtier_state_of "$standby")"
bureau_report --year 2015 | tail -n 1

dbtier_start "$primary"
dbtier_wait "$primary" secondary 120 || die "$primary did not come back as the standby"
say "$primary is back as the standby, $((($(date +%s%N) - acked_at) / 1000000)) ms later"

if [ "$keep" = true ]; then
    say "running; the lab is in $scratch (logs: $scratch/lab/log); press Ctrl-C to stop and remove it"
    while :; do
        sleep 3600 &
        wait $! || true
    done
fi
