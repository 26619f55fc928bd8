#!/bin/sh
# deploy/test-debs.sh DEB... - installs the citytally packages on this machine (root) and
# checks them as an operator would: dpkg -i, the installed binaries' --version and
# --check-config on the shipped configs, the user, directories and modes postinst makes,
# the units with systemd-analyze (verify, and the offline security score), and that a
# reinstall keeps an edited conffile. Ends with dpkg --purge unless --keep is given.
# Used by .ci/run after deploy/build-debs.sh.
set -eu

keep=false
if [ "${1:-}" = "--keep" ]; then
    keep=true
    shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--keep] DEB..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "test-debs: must run as root" >&2; exit 1; }

fail() {
    echo "test-debs: FAILED: $*" >&2
    exit 1
}
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@"; then
        echo "test-debs: ok: $what"
    else
        fail "$what"
    fi
}

dpkg -i "$@"

for prog in aggregator collector; do
    bin=/usr/bin/citytally-$prog
    conf=/etc/citytally/$prog.conf
    check "$bin --version" sh -c "$bin --version | grep -qx 'citytally-$prog [0-9][0-9.]*'"
    check "$bin --check-config -c $conf" sh -c \
        "$bin --check-config -c $conf | grep -qx 'citytally-$prog: configuration ok ($conf)'"
    check "$bin -t on the documented example" \
        "$bin" -t -c /usr/share/doc/citytally-$prog/examples/$prog.conf
    # A broken config is refused with exit status 2 and a message naming file and line.
    printf '[%s]\nhttp = localhost:80\n' "$prog" >/tmp/ct-bad-$prog.conf
    set +e
    "$bin" --check-config -c /tmp/ct-bad-$prog.conf 2>/tmp/ct-bad-$prog.err
    rc=$?
    set -e
    check "--check-config refuses a bad file with exit 2 ($(cat /tmp/ct-bad-$prog.err))" \
        sh -c "[ $rc -eq 2 ] && grep -q '/tmp/ct-bad-$prog.conf:2: http address' /tmp/ct-bad-$prog.err"
    rm -f /tmp/ct-bad-$prog.conf /tmp/ct-bad-$prog.err
    check "man page of citytally-$prog" test -s /usr/share/man/man1/citytally-$prog.1.gz
    check "$conf is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' citytally-$prog | grep -q $conf"
    check "$conf is root:citytally 0640" sh -c "[ \"\$(stat -c %U:%G:%a $conf)\" = root:citytally:640 ]"
done

check "user citytally exists without a login shell" \
    sh -c "getent passwd citytally | grep -q ':/usr/sbin/nologin$'"
check "/var/lib/citytally-aggregator is citytally 0700" \
    sh -c "[ \"\$(stat -c %U:%a /var/lib/citytally-aggregator)\" = citytally:700 ]"
check "the collector's spool is group-writable, setgid and sticky" \
    sh -c "[ \"\$(stat -c %U:%G:%a /var/lib/citytally-collector/spool)\" = citytally:citytally:3770 ]"

units="/usr/lib/systemd/system/citytally-aggregator.service
/usr/lib/systemd/system/citytally-collector.service
/usr/lib/systemd/system/citytally-collector@.service"
if [ -d /run/systemd/system ]; then
    echo "test-debs: systemd is running here"
else
    echo "test-debs: systemd is not PID 1 here: units are checked offline, not started"
fi
# shellcheck disable=SC2086 # the list of units
check "systemd-analyze verify" systemd-analyze verify $units
for unit in $units; do
    score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
        sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    [ -n "$score" ] || fail "no security score for $unit"
    echo "test-debs: systemd-analyze security --offline=true $(basename "$unit"): exposure $score"
    check "exposure of $(basename "$unit") below 2.0" awk "BEGIN { exit !($score < 2.0) }"
done

# An edited conffile survives a reinstall (dpkg keeps it: the packaged one did not change).
echo "; edited by test-debs" >>/etc/citytally/aggregator.conf
dpkg -i "$@" >/dev/null
check "reinstall keeps the edited /etc/citytally/aggregator.conf" \
    grep -qx '; edited by test-debs' /etc/citytally/aggregator.conf

if [ "$keep" = false ]; then
    dpkg --purge citytally-aggregator citytally-collector >/dev/null
    check "purge removes binaries and settings" \
        sh -c "[ ! -e /usr/bin/citytally-aggregator ] && [ ! -e /etc/citytally/aggregator.conf ]"
fi
echo "test-debs: all checks passed"
