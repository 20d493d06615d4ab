#!/usr/bin/env bash
# test/fuzz/sqlsmith.sh [QUERIES]: random queries (Debian's sqlsmith) against
# a populated directory.  A throwaway cluster and sqlsmith both run inside a
# network namespace of their own (unshare --net, loopback only), so nothing
# a generated query does (dblink, libpq in the anchor functions, COPY
# PROGRAM is not allowed anyway) can reach another machine or server.
#
# The directory holds nodes, a Reed-Solomon and a RaptorQ class, tokens and
# a table of erasure fragments; sqlsmith connects as a login role that is a
# member of dht_admin, with statement_timeout set for that role.  Passes
# when, after QUERIES queries (default 2000; make check-long: 50000), the
# server log has no backend killed by a signal, no failed assertion, and the
# postmaster never restarted.  Needs root (for the namespace).
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
queries=${1:-2000}
seed=${SQLSMITH_SEED:-$RANDOM}
command -v sqlsmith >/dev/null || { echo "sqlsmith is not installed (scripts/install-deps.sh)" >&2; exit 1; }

if [ "${DHT_IN_NETNS:-0}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "sqlsmith.sh needs root for its network namespace" >&2; exit 1; }
    exec unshare --net env DHT_IN_NETNS=1 PATH="$PATH" "$0" "$queries"
fi

ip link set lo up
dir=$(pg_tmpdir sqlsmith)
port=5432
trap 'scripts/pgcluster.sh destroy "$dir"' EXIT
scripts/pgcluster.sh start "$dir" "$port" "log_line_prefix = '%m [%p] %b: '" >/dev/null || exit 1
export PGHOST=$dir PGPORT=$port PGUSER=postgres
psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<'SQL' || { echo "populating failed"; exit 1; }
CREATE DATABASE smith;
\c smith
CREATE EXTENSION smartlayer_dht;
SELECT count(dht.register_node(k.pubkey, 'https://smith-' || i || '.example', 'r' || (i % 3), 'op' || i,
                               ('10.60.' || i || '.1')::inet, 100 * (i + 1), 1000, 1 + (i % 3)))
FROM generate_series(0, 11) i, dht.ed25519_keypair(sha256(('smith' || i)::bytea)) k;
SELECT dht.define_sla('rs', 4, 2);
SELECT dht.define_sla_raptorq('rq', 4, 2, 2);
SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/' || i)::dht.token
                                             FROM generate_series(1, 1000) i), 'rs');
SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT ('eip155:137/erc1155:0x06012c8cf97bead5deae237070f9587f8e7a266d/' || i)::dht.token
                                             FROM generate_series(1, 200) i), 'rq');
SELECT dht.set_node_state(node_id, 'draining') FROM dht.nodes WHERE endpoint = 'https://smith-3.example';
CREATE TABLE public.fragments AS
    SELECT i, f.fragment, dht.fragment_digest(f.fragment) AS digest
    FROM generate_series(1, 20) i, unnest(dht.ec_encode(sha256(i::text::bytea) || sha256(i::text::bytea), 3, 2)) f(fragment);
CREATE TABLE public.objects AS
    SELECT i, sha256(i::text::bytea) AS data, dht.rq_oti(32, 8) AS oti FROM generate_series(1, 20) i;
CREATE ROLE smith LOGIN IN ROLE dht_admin;
ALTER ROLE smith SET statement_timeout = '2s';
GRANT SELECT ON public.fragments, public.objects TO smith;
SQL
started=$(psql -X -At -d smith -c 'SELECT pg_postmaster_start_time()')

echo "sqlsmith: $queries queries, seed $seed, as a member of dht_admin"
sqlsmith --target="host=$dir port=$port user=smith dbname=smith" --seed="$seed" \
    --max-queries="$queries" --verbose >"$dir/sqlsmith.out" 2>"$dir/sqlsmith.err"
rc=$?
tail -3 "$dir/sqlsmith.err" | tr '\r' '\n' | tail -3

status=0
log=$dir/server.log
if grep -E 'terminated by signal|server process .* was terminated|TRAP:|Assert|PANIC' "$log"; then
    echo "sqlsmith: the server log shows a crash (seed $seed):"
    grep -B2 -E 'terminated by signal|was terminated|TRAP:|PANIC' "$log" | head -40
    status=1
fi
now=$(psql -X -At -d smith -c 'SELECT pg_postmaster_start_time()' 2>/dev/null)
if [ "$now" != "$started" ] || grep -q 'all server processes terminated; reinitializing' "$log"; then
    echo "sqlsmith: the server restarted (seed $seed)"; status=1
fi
# sqlsmith exits non-zero when it loses its connection (a crash)
[ $rc = 0 ] || { echo "sqlsmith exited with $rc (seed $seed)"; status=1; }
echo "sqlsmith: $(grep -c 'ERROR' "$log") errors (expected for random queries), status $status"
exit $status
