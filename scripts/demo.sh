#!/usr/bin/env bash
# scripts/demo.sh: what `make demo` runs.  Installs the dependencies, builds
# and installs the extension, starts a throwaway cluster and plays every
# scripts/demo/*.sql in order with psql (each echoes what it does), then
# every scripts/demo/*.sh (multi-anchor parts that need several servers).
# The parts leave chart data in $DHT_DEMO_CHARTS (psql variable chartdir),
# which scripts/demo/charts.gp draws into docs/*.png (gnuplot).
# Everything else is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

scripts/install-deps.sh
make -s >/dev/null && make -s install >/dev/null

dir=$(pg_tmpdir demo)
port=${DHT_DEMO_PORT:-$(free_port 55440)}
DHT_DEMO_CHARTS=$(mktemp -d "${TMPDIR:-/tmp}/smartlayer_dht.charts.XXXXXX")
export DHT_DEMO_CHARTS
trap 'scripts/pgcluster.sh destroy "$dir"; rm -rf "$DHT_DEMO_CHARTS"' EXIT
scripts/pgcluster.sh start "$dir" "$port"
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres

for f in scripts/demo/*.sql; do
    [ -e "$f" ] || continue
    say "demo: $(sed -n '1s/^-- *//p' "$f")"
    psql -X -q -v ON_ERROR_STOP=1 -v chartdir="$DHT_DEMO_CHARTS" -P pager=off -f "$f"
done
for f in scripts/demo/*.sh; do
    [ -e "$f" ] || continue
    say "demo: $(sed -n '2s/^# *//p' "$f")"
    bash "$f"
done
say "demo: charts"
gnuplot -e "datadir='$DHT_DEMO_CHARTS'; outdir='docs'" scripts/demo/charts.gp
ls -l docs/*.png
say "demo finished"
