#!/usr/bin/env bash
# bench/router.sh: smartlayer_dht_router against calling the shards directly.
# One server holds three databases: the router and two shards (conninfo by
# Unix socket, so the "network" is loopback and the figures are the router's
# own cost).  Half the buckets on each shard.
#   1. dht_router.lookup against dht.lookup on the token's shard, by pgbench
#      (1 client, prepared): p50 and p99 latency.  Target: p99 at most 2 ms.
#   2. dht_router.allocate_many of ROUTER_TOKENS tokens against the same
#      call made directly on each shard with its tokens, one after the other.
#      Target: ratio direct time / router time at least 0.5.
# Not measured yet: bucket moves (move_buckets of buckets with rows is not
# implemented) and CPU per call.
BENCH_PORT=${BENCH_PORT:-55680}
. "$(dirname "$0")/common.sh"
n=${ROUTER_TOKENS:-100000}
seconds=${ROUTER_SECONDS:-10}
asset=0x06012c8cf97bead5deae237070f9587f8e7a266d
tok() { echo "('eip155:1/erc721:$asset/' || $1)::dht.token"; }

for d in shard_a shard_b router; do q "CREATE DATABASE $d" >/dev/null; done
for d in shard_a shard_b; do PGDATABASE=$d make_network 1000; done
PGDATABASE=router q "CREATE EXTENSION smartlayer_dht_router CASCADE" >/dev/null
for d in shard_a shard_b; do
    PGDATABASE=router q "SELECT dht_router.add_shard('$d', 'host=$PGHOST port=$PGPORT dbname=$d user=postgres')" >/dev/null
done
PGDATABASE=router q "SELECT dht_router.move_buckets(512, 1023, 'shard_b')" >/dev/null

arr="ARRAY(SELECT $(tok i) FROM generate_series(1, $n) i)"
# Warm both paths (connections, plans, caches).
PGDATABASE=router q "SELECT count(*) FROM dht_router.allocate_many(ARRAY(SELECT $(tok "i") FROM generate_series($n + 1, $n + 1000) i), 'standard')" >/dev/null
routed=$(PGDATABASE=router time_sql "SELECT count(*) FROM dht_router.allocate_many($arr, 'standard')")
direct=0
for d in shard_a shard_b; do
    lo=0 hi=511; [ $d = shard_b ] && lo=512 hi=1023
    t=$(PGDATABASE=$d time_sql "SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT t FROM (SELECT $(tok "i") AS t
            FROM generate_series(2 * $n + 1, 3 * $n) i) s WHERE dht.bucket_of(t) BETWEEN $lo AND $hi), 'standard')")
    direct=$(awk -v a="$direct" -v b="$t" 'BEGIN { printf "%.3f", a + b }')
done
echo "allocate_many of $n tokens: through the router ${routed}s, directly on the shards one after the other ${direct}s"
echo "ratio direct / router: $(ratio "$direct" "$routed") (target >= 0.5)"

# Lookups of the routed tokens, picked at random from a table of their ids:
# on the router all of them, directly on shard_a the ones it holds (the same
# code runs on both shards), with the same table probe on both sides.
PGDATABASE=router q "CREATE TABLE ids AS SELECT row_number() OVER () AS k, i FROM generate_series(1, $n) i;
    CREATE UNIQUE INDEX ON ids (k)"
PGDATABASE=shard_a q "CREATE TABLE ids AS SELECT row_number() OVER () AS k, i FROM generate_series(1, $n) i
        WHERE dht.bucket_of($(tok i)) <= 511;
    CREATE UNIQUE INDEX ON ids (k)"
na=$(PGDATABASE=shard_a q "SELECT count(*) FROM ids")
script=$(mktemp -d)
cat > "$script/router.sql" <<SQL
\\set k random(1, $n)
SELECT l.* FROM ids, dht_router.lookup($(tok ids.i)) l WHERE ids.k = :k;
SQL
cat > "$script/direct.sql" <<SQL
\\set k random(1, $na)
SELECT l.* FROM ids, dht.lookup($(tok ids.i)) l WHERE ids.k = :k;
SQL
pct() {   # pgbench per-transaction log: column 3 is the latency in microseconds
    cat "$1".* | awk '{ print $3 }' | sort -n | awk -v p="$2" '{ a[NR] = $1 } END { printf "%.3f", a[int(NR * p / 100 + 0.5)] / 1000 }'
}
( cd "$script" && PGDATABASE=router pgbench -n -M prepared -c 1 -T "$seconds" -f router.sql -l --log-prefix=r >/dev/null 2>&1 )
# Direct: shard_a's tokens are as good as any (the same code on both shards).
( cd "$script" && PGDATABASE=shard_a pgbench -n -M prepared -c 1 -T "$seconds" -f direct.sql -l --log-prefix=d >/dev/null 2>&1 )
echo "lookup through the router: p50 $(pct "$script/r" 50) ms, p99 $(pct "$script/r" 99) ms (target p99 <= 2 ms)"
echo "lookup directly on a shard: p50 $(pct "$script/d" 50) ms, p99 $(pct "$script/d" 99) ms"
rm -rf "$script"
