#!/bin/sh
# pg_cluster.sh start|stop DIR [PORT]
#
# A throwaway PostgreSQL 15 cluster for tests: initdb into DIR/data, unix socket in DIR, no
# TCP. As root, the cluster runs as the `postgres` user (initdb refuses root). `stop` kills
# the server and removes DIR; CTest calls it as a cleanup fixture, so it runs even when
# tests fail. Extra server settings can be passed in CT_PG_OPTS (e.g. "-c fsync=on").
set -eu

cmd=${1:?usage: pg_cluster.sh start|stop DIR [PORT]}
dir=${2:?usage: pg_cluster.sh start|stop DIR [PORT]}
port=${3:-55432}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop_cluster() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
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
    # fsync stays off for tests: no test crashes the machine, only processes, and a
    # PostgreSQL killed with -9 still recovers from its WAL in the page cache.
    # shellcheck disable=SC2086 # CT_PG_OPTS is a list of server options
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -p $port -c listen_addresses= -c fsync=off -c synchronous_commit=on \
            -c max_connections=200 -c shared_buffers=128MB ${CT_PG_OPTS:-}" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "pg_cluster: running in $dir (socket dir $dir, port $port)"
    ;;
stop)
    stop_cluster
    echo "pg_cluster: stopped and removed $dir"
    ;;
*)
    echo "usage: pg_cluster.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
