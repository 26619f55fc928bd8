# shellcheck shell=bash
# shellcheck disable=SC2154 # lab_scratch is set by lab_init (lab.sh)
# deploy/cluster/dbtier.sh - the bureau's database tier in the lab: a pg_auto_failover
# monitor and two PostgreSQL 15 data nodes with synchronous replication.
#
# Sourced after deploy/cluster/lab.sh (bash, as root). Needs Debian's
# postgresql-15-auto-failover and pg-auto-failover-cli (deploy/install-deps.sh).
#
#   dbtier_up                 machines mon (.10), pg1 (.11), pg2 (.12); pg1 primary, pg2 its
#                             synchronous standby; returns when both report their state
#   dbtier_conninfo [DB]      the libpq multi-host conninfo clients use (CONTRACT section 7)
#   dbtier_primary            which of pg1/pg2 the monitor says is primary now
#   dbtier_wait NODE STATE S  waits up to S seconds for NODE to report STATE
#   dbtier_psql NODE ARGS...  psql on NODE's own unix socket, as postgres
#   dbtier_start NODE         starts NODE's keeper again (after lab_kill)
#
# Every node listens on port 5432 of its own address, as on real machines. Unix sockets
# ignore network namespaces, so each node's processes see their own socket directory
# bind-mounted over /var/run/postgresql (in a mount namespace of their own), and local
# clients name that directory. pg_autoctl keeps its state under the node's directory too
# (XDG_*), so lab_teardown's rm -rf leaves nothing behind.
#
# Settings that differ from pg_auto_failover's defaults, and why:
# - the monitor notices a dead primary in ~5 s instead of ~30 s (health_check_* and
#   node_considered_unhealthy_timeout), and the keepers give up a partitioned primary after
#   5 s (network_partition_timeout), so writes resume within seconds;
# - pg_autoctl sizes a node for the whole machine (shared_buffers 6 GB, wal_keep_size 8 GB);
#   three nodes share one small machine here, so each gets 128 MB and 512 MB;
# - the data nodes trust the lab's subnet: the lab has no other hosts. A real installation
#   uses scram-sha-256 or certificates (README, "More than one machine").

DBTIER_PGBIN=/usr/lib/postgresql/15/bin
DBTIER_MONITOR_URI="postgres://autoctl_node@$LAB_SUBNET.10:5432/pg_auto_failover?sslmode=disable"

dbtier_dir() { echo "$lab_scratch/db/$1"; }

# Runs CMD as postgres inside NODE's namespace with NODE's socket directory mounted.
dbtier_as_node() {
    local node=$1 dir
    shift
    dir=$(dbtier_dir "$node")
    # shellcheck disable=SC2016 # expanded by the inner shell
    lab_exec "$node" unshare --mount --propagation private sh -c \
        'mount --bind "$1/sock" /var/run/postgresql && shift && exec "$@"' sh "$dir" \
        runuser -u postgres -- env PATH="$DBTIER_PGBIN:$PATH" PGDATA="$dir/data" \
        XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
        XDG_RUNTIME_DIR="$dir/xdg/run" "$@"
}

dbtier_psql() {
    local node=$1
    shift
    lab_exec "$node" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 \
        -h "$(dbtier_dir "$node")/sock" -p 5432 "$@"
}

dbtier_prepare_dir() {
    local dir
    dir=$(dbtier_dir "$1")
    mkdir -p "$dir/sock" "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run"
    chmod 0700 "$dir/xdg/run"
    chown -R postgres:postgres "$dir"
}

# pg_autoctl runs in the foreground (--run); its log is NODE.log beside the node.
dbtier_start() {
    local node=$1 dir
    dir=$(dbtier_dir "$node")
    dbtier_as_node "$node" pg_autoctl run >>"$dir.log" 2>&1 &
}

dbtier_create_data_node() {
    local node=$1 host=$2 dir
    dir=$(dbtier_dir "$node")
    dbtier_prepare_dir "$node"
    dbtier_as_node "$node" pg_autoctl create postgres --pgport 5432 --hostname "$LAB_SUBNET.$host" \
        --name "$node" --monitor "$DBTIER_MONITOR_URI" --auth trust --no-ssl --dbname citytally \
        --run >>"$dir.log" 2>&1 &
}

# The state NODE reports to the monitor ("" while unknown).
dbtier_state_of() {
    dbtier_psql mon -d pg_auto_failover -tA -c \
        "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$1'" 2>/dev/null || true
}

dbtier_wait() {
    local node=$1 want=$2 deadline=$(($(date +%s) + $3))
    until [ "$(dbtier_state_of "$node")" = "$want" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || {
            echo "dbtier: $node did not reach $want within $3 s (now '$(dbtier_state_of "$node")'; log $(dbtier_dir "$node").log)" >&2
            return 1
        }
        sleep 0.2
    done
}

dbtier_primary() {
    dbtier_psql mon -d pg_auto_failover -tA -c \
        "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') ORDER BY nodeid LIMIT 1"
}

dbtier_conninfo() {
    echo "host=$LAB_SUBNET.11,$LAB_SUBNET.12 port=5432 dbname=${1:-citytally} user=postgres target_session_attrs=read-write connect_timeout=3 keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=3000"
}

dbtier_up() {
    local deadline
    lab_machine mon 10
    lab_machine pg1 11
    lab_machine pg2 12

    dbtier_prepare_dir mon
    dbtier_as_node mon pg_autoctl create monitor --pgport 5432 --hostname "$LAB_SUBNET.10" \
        --auth trust --no-ssl >>"$(dbtier_dir mon).log" 2>&1 || {
        echo "dbtier: the monitor could not be created ($(dbtier_dir mon).log)" >&2
        return 1
    }
    dbtier_start mon
    deadline=$(($(date +%s) + 60))
    until dbtier_psql mon -d pg_auto_failover -tAc "SELECT 1" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "dbtier: the monitor did not start" >&2; return 1; }
        sleep 0.2
    done
    dbtier_psql mon -d pg_auto_failover \
        -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
        -c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" \
        -c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
        -c "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" \
        -c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 5000" \
        -c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 10000" \
        -c "SELECT pg_reload_conf()" >/dev/null

    dbtier_create_data_node pg1 11
    dbtier_wait pg1 single 120 || return 1
    # Before the standby copies it: who may connect (the lab's subnet, replication and
    # pg_rewind's connection to database postgres included), and sizes for a small machine.
    printf 'host all all %s.0/24 trust\nhost replication all %s.0/24 trust\n' \
        "$LAB_SUBNET" "$LAB_SUBNET" >>"$(dbtier_dir pg1)/data/pg_hba.conf"
    dbtier_psql pg1 -d citytally -c "ALTER SYSTEM SET shared_buffers = '128MB'" \
        -c "ALTER SYSTEM SET wal_keep_size = '512MB'" -c "ALTER SYSTEM SET max_wal_size = '1GB'" \
        -c "ALTER SYSTEM SET effective_cache_size = '1GB'" \
        -c "ALTER SYSTEM SET maintenance_work_mem = '64MB'" -c "ALTER SYSTEM SET work_mem = '4MB'" \
        -c "SELECT pg_reload_conf()" >/dev/null

    dbtier_create_data_node pg2 12
    # pg_basebackup waits for a spread checkpoint on the primary: ask for one while it waits.
    deadline=$(($(date +%s) + 120))
    until [ "$(dbtier_state_of pg2)" = secondary ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "dbtier: pg2 did not become secondary ($(dbtier_dir pg2).log)" >&2; return 1; }
        dbtier_psql pg1 -d citytally -c CHECKPOINT >/dev/null 2>&1 || true
        sleep 0.5
    done
    dbtier_wait pg1 primary 60 || return 1
    for node in pg1 pg2; do
        dbtier_as_node "$node" pg_autoctl config set timeout.network_partition_timeout 5 >/dev/null
        dbtier_as_node "$node" pg_autoctl reload >/dev/null
    done
}
