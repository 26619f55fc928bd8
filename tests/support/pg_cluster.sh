#!/bin/sh
# pg_cluster.sh start|stop|pause|resume|restart|freeze|thaw DIR [PORT]
#
# A throwaway PostgreSQL 15 cluster for tests: initdb into DIR/data, unix socket in DIR, no
# TCP. As root, the cluster runs as the `postgres` user (initdb refuses root). `stop` kills
# the server and removes DIR; CTest calls it as a cleanup fixture, so it runs even when
# tests fail. Extra server settings can be passed in CT_PG_OPTS (e.g. "-c fsync=on").
# pause/resume stop and start the server of an existing cluster (fault tests), restart
# does both at once. freeze sends SIGSTOP to every process of the cluster (postmaster and
# backends, by PID), so the server hangs without closing a connection, as a wedged machine
# does; thaw sends them SIGCONT. A test that freezes must thaw on every path.
set -eu

usage="usage: pg_cluster.sh start|stop|pause|resume|restart|freeze|thaw DIR [PORT]"
cmd=${1:?$usage}
dir=${2:?$usage}
port=${3:-55432}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# fsync stays off for tests: no test crashes the machine, only processes, and a
# PostgreSQL killed with -9 still recovers from its WAL in the page cache.
server_opts="-k $dir -p $port -c listen_addresses= -c fsync=off -c synchronous_commit=on \
    -c max_connections=200 -c shared_buffers=128MB ${CT_PG_OPTS:-}"

start_server() {
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$server_opts" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

stop_cluster() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

# The postmaster's PID (first line of postmaster.pid) and its children's.
cluster_pids() {
    pm=$(head -n 1 "$dir/data/postmaster.pid")
    echo "$pm"
    pgrep -P "$pm" || true
}

signal_cluster() {
    for pid in $(cluster_pids); do
        kill "-$1" "$pid"
    done
}

case "$cmd" in
start)
    stop_cluster
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$dir"
    fi
    as_owner "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    start_server
    echo "pg_cluster: running in $dir (socket dir $dir, port $port)"
    ;;
stop)
    stop_cluster
    echo "pg_cluster: stopped and removed $dir"
    ;;
pause)
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
resume)
    start_server
    ;;
freeze)
    # The postmaster first, so it starts no backend while the others are being stopped.
    signal_cluster STOP
    ;;
thaw)
    signal_cluster CONT
    ;;
restart)
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    start_server
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac
