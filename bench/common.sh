# bench/common.sh: sourced by the benchmarks.  Starts a throwaway cluster on
# $BENCH_PORT (removed on exit), sets PG* for psql and pgbench, and gives
# a few helpers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

bench_dir=$(pg_tmpdir bench)
trap 'scripts/pgcluster.sh destroy "$bench_dir"' EXIT
BENCH_PORT=$(free_port "${BENCH_PORT:?}")
scripts/pgcluster.sh start "$bench_dir" "$BENCH_PORT" "max_connections = 50" "shared_buffers = '4GB'"
export PGHOST=$bench_dir PGPORT=$BENCH_PORT PGUSER=postgres PGDATABASE=postgres
export PGOPTIONS="-c search_path=public,dht"

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# Seconds (with ms) that a SQL script takes, run by one psql.
time_sql() {
    local t0 t1
    t0=$(date +%s.%N)
    psql -X -q -v ON_ERROR_STOP=1 -c "$1" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# A sample network: N nodes over 8 regions and N/10 operators, equal weight.
make_network() {
    local n=$1
    q "CREATE EXTENSION IF NOT EXISTS smartlayer_dht"
    q "SELECT count(dht.register_node(k.pubkey, 'https://node' || i || '.example.net',
            'region-' || i % 8, 'operator-' || i % greatest($n / 10, 1),
            ('10.' || (i / 65536) % 256 || '.' || (i / 256) % 256 || '.' || i % 256)::inet,
            1000, 10000))
       FROM generate_series(1, $n) i, LATERAL dht.ed25519_keypair(sha256(('bench node ' || i)::bytea)) k" >/dev/null
    q "SELECT dht.define_sla('standard', 4, 2)" >/dev/null
}
