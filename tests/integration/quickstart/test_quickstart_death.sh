#!/bin/bash
# test_quickstart_death.sh - deploy/quickstart.sh notices a daemon that dies (issue 19).
#
# Runs the real quickstart (PostgreSQL, the aggregator, 17 collectors, the sample data) in a
# scratch var/ with the programs CTest built, waits until it says "running", kills the
# aggregator with SIGKILL, and expects the quickstart to name it, say how it ended and
# where its log is, and exit 1 within 30 s. Every process it started is stopped on every
# path: the quickstart's own cleanup stops PostgreSQL and the collectors, and this script
# stops the quickstart by PID if it is still there.
set -euo pipefail

src=${CT_SOURCE_DIR:?CT_SOURCE_DIR is not set}
bin=${CT_BIN_DIR:?CT_BIN_DIR is not set}
scratch=$(mktemp -d /tmp/ct-quickstart-XXXXXX)
chmod 0755 "$scratch" # the cluster runs as postgres, which must reach var/pg
var=$scratch/var
out=$scratch/quickstart.out
qs_pid=""

fail() {
    echo "test_quickstart_death: FAIL: $*" >&2
    [ ! -f "$out" ] || sed 's/^/  quickstart| /' "$out" >&2
    exit 1
}
finish() {
    local rc=$?
    if [ -n "$qs_pid" ] && kill -0 "$qs_pid" 2>/dev/null; then
        kill -TERM "$qs_pid" 2>/dev/null || true
        timeout 30 tail --pid="$qs_pid" -f /dev/null || kill -KILL "$qs_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
    exit "$rc"
}
trap finish EXIT

# Two free loopback ports in a row (the feed takes the one after the collectors' port).
free_ports() {
    python3 - <<'PY'
import socket
for base in range(26000, 27000, 2):
    socks = []
    try:
        for p in (base, base + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}
zmq_port=$(free_ports)
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cd "$src"
CT_QS_VAR=$var CT_QS_BIN=$bin CT_QS_ZMQ_PORT=$zmq_port CT_QS_HTTP_PORT=$http_port \
    setsid deploy/quickstart.sh >"$out" 2>&1 &
qs_pid=$!

# tail follows the output until the quickstart ends (--pid) or 300 s pass; grep stops at
# the line saying it runs.
grep -q -m 1 "running; press Ctrl-C" < <(timeout 300 tail -n +1 --pid="$qs_pid" -f "$out") ||
    fail "the quickstart was not running within 300 s"

agg_pid=$(pgrep -f -- "--server-key $var/keys/server.key" | head -n 1)
[ -n "$agg_pid" ] || fail "no aggregator process found"
kill -KILL "$agg_pid"

status=0
timeout 30 tail --pid="$qs_pid" -f /dev/null || fail "the quickstart did not notice within 30 s"
wait "$qs_pid" || status=$?
qs_pid=""

[ "$status" -eq 1 ] || fail "the quickstart exited $status, not 1"
want="quickstart: error: the aggregator (pid $agg_pid) stopped: killed by signal 9 (SIGKILL); its log is $var/log/aggregator.log"
grep -qF -- "$want" "$out" || fail "no line saying: $want"
grep -q "stopping: collectors, aggregator, PostgreSQL" "$out" || fail "the rest was not stopped"
for pid in $(pgrep -f -- "$var/" || true); do
    fail "process $pid of this quickstart is still running: $(tr '\0' ' ' </proc/"$pid"/cmdline)"
done
echo "test_quickstart_death: ok (the quickstart named the killed aggregator and exited 1)"
