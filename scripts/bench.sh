#!/usr/bin/env bash
# scripts/bench.sh: what `make bench` runs: every bench/*.sh in order (or the
# ones named: scripts/bench.sh bench/types.sh).  Each benchmark starts the
# servers it needs, runs our code and its baseline side by side, and prints
# the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
DHT_BENCH_DEPS=1 scripts/install-deps.sh
make -s >/dev/null && make -s install >/dev/null
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(bench/*.sh)
for b in "${benches[@]}"; do
    [ -e "$b" ] || continue
    printf '\n==== %s\n' "$b"
    bash "$b"
done
