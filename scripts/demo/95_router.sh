#!/usr/bin/env bash
# A router over two shards: allocations through it, then a bucket move under load
#
# Starts three throwaway servers (a router and shards s1, s2; ports 55461-55463,
# or from $DHT_DEMO_ROUTER_PORT on), routes the registry and allocations
# through dht_router, then moves half of s1's buckets to s2 while a client
# keeps allocating through the router, and shows that every acknowledged
# allocation is held once, on the shard the map names.  The servers are
# removed at the end, also when something fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

names=(router s1 s2)
base=${DHT_DEMO_ROUTER_PORT:-55461}
ports=($base $((base + 1)) $((base + 2)))
dirs=()
load=$(mktemp -d)
cleanup() { for d in "${dirs[@]}"; do scripts/pgcluster.sh destroy "$d"; done; [ -n "${KEEP_LOAD:-}" ] && cp "$load/err" "$KEEP_LOAD"; rm -rf "$load"; }
trap cleanup EXIT

q() {   # q INDEX SQL...: run SQL on server INDEX, echoing it
    local i=$1; shift
    printf '\n[%s]$ %s\n' "${names[$i]}" "$*"
    psql -X -q -v ON_ERROR_STOP=1 -P pager=off -h "${dirs[$i]}" -p "${ports[$i]}" -U postgres -d postgres -c "$*"
}
qa() { local i=$1; shift; psql -X -qAt -v ON_ERROR_STOP=1 -h "${dirs[$i]}" -p "${ports[$i]}" -U postgres -d postgres -c "$*"; }
conninfo() { echo "host=${dirs[$1]} port=${ports[$1]} user=postgres dbname=postgres"; }

for i in 0 1 2; do
    dirs[$i]=$(pg_tmpdir "router-${names[$i]}")
    scripts/pgcluster.sh start "${dirs[$i]}" "${ports[$i]}"
    qa "$i" "ALTER DATABASE postgres SET search_path = \"\$user\", public, dht" >/dev/null
done
qa 1 "CREATE EXTENSION smartlayer_dht" >/dev/null 2>&1
qa 2 "CREATE EXTENSION smartlayer_dht" >/dev/null 2>&1
q 0 "CREATE EXTENSION smartlayer_dht_router CASCADE"

say "router: two shards; the first holds every bucket, the second none yet"
q 0 "SELECT dht_router.add_shard('s1', '$(conninfo 1)')"
q 0 "SELECT dht_router.add_shard('s2', '$(conninfo 2)')"
q 0 "SELECT * FROM dht_router.shard_map()"

say "the registry, through the router, reaches both shards"
q 0 "SELECT dht_router.define_sla('gold', 4, 2, diversity => 'none')"
q 0 "SELECT count(dht_router.register_node(k.pubkey, 'https://node-' || i || '.example', 'eu', 'op-' || (i % 4),
            ('10.0.' || i || '.1')::inet, 1000, 2000))
     FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('demo-node-' || i, 'UTF8'))) k"
q 1 "SELECT count(*) AS nodes_on_s1 FROM dht.nodes"
q 2 "SELECT count(*) AS nodes_on_s2 FROM dht.nodes"

say "allocations through the router"
q 0 "SELECT count(*) FROM dht_router.allocate_many(ARRAY(SELECT ('demo:router/nft:x/' || i)::dht.token FROM generate_series(1, 2000) i), 'gold')"
q 0 "SELECT * FROM dht_router.allocate('demo:router/nft:x/1', 'gold')"
q 0 "SELECT dht_router.shard_for('demo:router/nft:x/1')"

say "move buckets 512..1023 to s2 while a client allocates through the router"
for i in $(seq 3001 3400); do
    echo "SELECT 'ack $i' FROM (SELECT count(*) FROM dht_router.allocate('demo:router/nft:x/$i', 'gold')) x;"
done > "$load/load.sql"
psql -X -qAt -v ON_ERROR_STOP=0 -h "${dirs[0]}" -p "${ports[0]}" -U postgres -d postgres -f "$load/load.sql" \
    >"$load/out" 2>"$load/err" &
loader=$!
q 0 "SELECT dht_router.move_buckets(512, 1023, 's2') AS rows_moved"
wait "$loader" || true
echo "allocations acknowledged during the move: $(grep -c '^ack' "$load/out")," \
     "rejected (routed by the old map; the client retries): $(grep -c 'ERROR' "$load/err" || true)"
q 0 "SELECT * FROM dht_router.shard_map()"
q 0 "SELECT * FROM dht_router.shard_status()"
q 0 "SELECT id, first_bucket, last_bucket, from_shard, to_shard, state, rows_moved FROM dht_router.move_status()"

say "every acknowledged allocation is held once, on the shard the map names"
acked=$(grep '^ack' "$load/out" | sed 's/^ack //' | paste -sd, -)
missing=0
for s in 1 2; do
    qa "$s" "SELECT string_agg(token::text, ',') FROM dht.tokens" | tr ',' '\n'
done | sort > "$load/held"
dups=$(uniq -d "$load/held" | wc -l)
for i in ${acked//,/ }; do grep -qx "demo:router/nft:x/$i" "$load/held" || missing=$((missing + 1)); done
echo "acknowledged but missing: $missing; held twice: $dups"
[ "$missing" = 0 ] && [ "$dups" = 0 ]
