#!/usr/bin/env bash
# scripts/demo.sh: what `make demo` runs.  Installs the dependencies, builds
# and installs the extension, starts a throwaway cluster and plays every
# scripts/demo/*.sql in order with psql (each echoes what it does), then
# every scripts/demo/*.sh (multi-anchor parts that need several servers).
# Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

scripts/install-deps.sh
make -s >/dev/null && make -s install >/dev/null

dir=$(pg_tmpdir demo)
port=${DHT_DEMO_PORT:-$(free_port 55440)}
trap 'scripts/pgcluster.sh destroy "$dir"' EXIT
scripts/pgcluster.sh start "$dir" "$port"
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres

for f in scripts/demo/*.sql; do
    [ -e "$f" ] || continue
    say "demo: $(sed -n '1s/^-- *//p' "$f")"
    psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f "$f"
done
for f in scripts/demo/*.sh; do
    [ -e "$f" ] || continue
    say "demo: $(sed -n '2s/^# *//p' "$f")"
    bash "$f"
done
say "demo finished"
