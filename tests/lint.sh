#!/bin/sh
# tests/lint.sh - the tree's static checks; .ci/run runs them before the long test steps.
#
#   - every tracked *.c and *.h is as clang-format (.clang-format) writes it;
#   - every tracked shell script (*.sh, or a file whose first line is a sh or bash
#     shebang) passes shellcheck with no note at all, each checked on its own.
#
# Lists every file that fails (shellcheck's notes too) and exits 1; exits 0 when all pass.
# Needs git, clang-format and shellcheck (deploy/install-deps.sh installs them).
set -eu
cd "$(dirname "$0")/.."

for tool in git clang-format shellcheck; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "lint: $tool is missing (deploy/install-deps.sh installs it)" >&2
        exit 1
    }
done

status=0

unformatted=$(git ls-files -- '*.c' '*.h' | while IFS= read -r f; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || printf '  %s\n' "$f"
done)
if [ -n "$unformatted" ]; then
    echo "lint: not clang-format clean (fix with clang-format -i FILE):" >&2
    printf '%s\n' "$unformatted" >&2
    status=1
fi

scripts=$(git ls-files | while IFS= read -r f; do
    case $f in
    *.sh) printf '%s\n' "$f" ;;
    *)
        [ -f "$f" ] || continue
        case $(head -n 1 "$f") in
        '#!/bin/sh'* | '#!/bin/bash'* | '#!/usr/bin/env sh'* | '#!/usr/bin/env bash'*)
            printf '%s\n' "$f"
            ;;
        esac
        ;;
    esac
done)
# -x: follow `. FILE`, so a script is checked with what the files it sources define
# (deploy/cluster/demo.sh and tests/cluster/test_failover.sh source deploy/cluster/*.sh).
noted=$(printf '%s\n' "$scripts" | while IFS= read -r f; do
    shellcheck -x "$f" >&2 || printf '  %s\n' "$f"
done)
if [ -n "$noted" ]; then
    echo "lint: shellcheck has notes on (see above):" >&2
    printf '%s\n' "$noted" >&2
    status=1
fi

if [ "$status" -eq 0 ]; then
    echo "lint: $(git ls-files -- '*.c' '*.h' | wc -l) C files clang-format clean," \
        "$(printf '%s\n' "$scripts" | wc -l) shell scripts shellcheck clean"
fi
exit "$status"
