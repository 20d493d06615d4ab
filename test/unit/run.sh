#!/usr/bin/env bash
# test/unit/run.sh: build and run every pure-C unit test, test/unit/*_test.c.
#
# Each test file names the sources it links in a "// sources:" line and the
# libraries in a "// libs:" line (like the fuzz harnesses), and prints TAP
# ("1..N", "ok N - ...", "not ok N - ...").  A test fails when it exits
# non-zero, prints "not ok", or runs fewer tests than its plan.  Binaries go
# to a temporary directory.  Usage: test/unit/run.sh [test/unit/x_test.c ...]
#
# SANITIZE=1 builds them with clang, AddressSanitizer and UndefinedBehavior-
# Sanitizer, every report fatal (-fno-sanitize-recover=all), so an overflow,
# use after free, leak, misaligned or out-of-range shift fails the test.
set -uo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
SANFLAGS=()
if [ "${SANITIZE:-0}" = 1 ]; then
    CC=clang
    SANFLAGS=(-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test/unit/*_test.c)
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
status=0
for t in "${tests[@]}"; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .c)
    srcs=$(sed -n 's#^// sources: *##p' "$t")
    libs=$(sed -n 's#^// libs: *##p' "$t")
    echo "# $name"
    # shellcheck disable=SC2086
    if ! $CC -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Isrc \
            "${SANFLAGS[@]}" $(pkg-config --cflags libsodium) -o "$bindir/$name" "$t" $srcs $libs; then
        echo "not ok - $name does not build"; status=1; continue
    fi
    out="$bindir/$name.out"
    "$bindir/$name" | tee "$out"; rc=${PIPESTATUS[0]}
    plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out" | head -1)
    oks=$(grep -c '^ok ' "$out")
    if [ "$rc" != 0 ] || grep -q '^not ok' "$out" || [ -z "$plan" ] || [ "$oks" != "$plan" ]; then
        echo "# $name FAILED (exit $rc, $oks of ${plan:-?} ok)"; status=1
    fi
done
exit $status
