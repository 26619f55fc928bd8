#!/bin/sh
# deploy/build-debs.sh [BUILD_DIR] - builds the Debian packages citytally-aggregator and
# citytally-collector with CPack (cmake/CitytallyPackaging.cmake) and prints their paths.
# BUILD_DIR defaults to build-deb/; the .deb files land in it. Tests are not built here:
# tests/run.sh does that. Needs dpkg-dev (dpkg-shlibdeps) and help2man: see
# deploy/install-deps.sh.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-deb}

cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCITYTALLY_TESTS=OFF -DCITYTALLY_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >/dev/null)
for deb in "$build"/*.deb; do
    echo "$deb"
done
