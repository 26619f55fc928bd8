#!/bin/sh
# Installs every package citytally needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone and the script says so.
# Usage: deploy/install-deps.sh [--runtime-only]
set -eu

build_pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
 libzmq3-dev libsodium-dev libmsgpack-dev libpq-dev libsqlite3-dev libinih-dev
 libmicrohttpd-dev libsystemd-dev libcriterion-dev libxlsxwriter-dev dpkg-dev help2man"
runtime_pkgs="libzmq5 libsodium23 libmsgpackc2 libpq5 libsqlite3-0 libinih1 libmicrohttpd12
 libsystemd0 libxlsxwriter4 postgresql-15 postgresql-client-15 sqlite3 util-linux"
test_pkgs="python3 python3-prometheus-client python3-openpyxl poppler-utils chromium
 fonts-wqy-microhei procps psmisc systemd faketime"
# The tree's static checks (tests/lint.sh, run by .ci/run).
lint_pkgs="clang-format shellcheck"
# The replicated database tier in network namespaces (deploy/cluster/).
cluster_pkgs="postgresql-15-auto-failover pg-auto-failover-cli iproute2"

case "${1:-}" in
    --runtime-only) wanted=$runtime_pkgs ;;
    "") wanted="$build_pkgs $runtime_pkgs $test_pkgs $lint_pkgs $cluster_pkgs" ;;
    *) echo "usage: $0 [--runtime-only]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    echo "install-deps: must run as root (or with sudo available)" >&2
    exit 1
fi

missing=""
for pkg in $wanted; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        continue
    fi
    missing="$missing $pkg"
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages already installed"
    exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
