#!/usr/bin/env bash
# bench/allocate.sh: 100,000 dht.allocate calls in one transaction, against
# inserting the same rows into tables of the same shape (same keys and
# indexes) with plain INSERTs, one token and its placement rows per
# statement pair, in one transaction.  Target: ratio at least 0.5.
# Also shows a single INSERT ... SELECT of all rows, the bulk floor.
BENCH_PORT=${BENCH_PORT:-55620}
. "$(dirname "$0")/common.sh"
n=${ALLOCATE_TOKENS:-100000}
asset=0x06012c8cf97bead5deae237070f9587f8e7a266d

make_network 1000
# Warm the backend's caches and plans, outside the measurement.
q "SELECT count(*) FROM dht.allocate('eip155:5/erc721:$asset/1', 'standard')" >/dev/null
ours=$(time_sql "SELECT count(*) FROM generate_series(1, $n) i,
                   LATERAL dht.allocate(('eip155:1/erc721:$asset/' || i)::dht.token, 'standard')")

q "CREATE TABLE base_tokens (LIKE dht.token_log INCLUDING ALL);
   CREATE TABLE base_placements (LIKE dht.placement_log INCLUDING ALL);
   CREATE TABLE base_bulk_tokens (LIKE dht.token_log INCLUDING ALL);
   CREATE TABLE base_bulk_placements (LIKE dht.placement_log INCLUDING ALL);
   CREATE TABLE src AS SELECT t.*, p.shards, p.nodes
     FROM dht.token_log t JOIN (SELECT token, array_agg(shard ORDER BY shard) shards,
                                       array_agg(node_id ORDER BY shard) nodes
                                FROM dht.placement_log GROUP BY token) p USING (token)
     WHERE t.token::text LIKE 'eip155:1/%'" >/dev/null
base=$(time_sql "DO \$\$ DECLARE r record; BEGIN
    FOR r IN SELECT * FROM src LOOP
        INSERT INTO base_tokens VALUES (r.token, r.origin, r.key, r.sla, r.data_shards,
            r.parity_shards, r.epoch, r.allocated_at, r.released, r.event_at);
        INSERT INTO base_placements SELECT r.token, u.s, u.n, r.origin, 'active', r.epoch, NULL, r.event_at
            FROM unnest(r.shards, r.nodes) u(s, n);
    END LOOP; END \$\$")
bulk=$(time_sql "INSERT INTO base_bulk_tokens SELECT token, origin, key, sla, data_shards, parity_shards,
                   epoch, allocated_at, released, event_at FROM src;
                 INSERT INTO base_bulk_placements SELECT s.token, u.s, u.n, s.origin, 'active', s.epoch, NULL, s.event_at
                   FROM src s, unnest(s.shards, s.nodes) u(s, n)")
echo "allocate: $n dht.allocate calls in ${ours}s ($(awk -v n="$n" -v t="$ours" 'BEGIN { printf "%d", n / t }') per second)"
echo "baseline: plain INSERTs of the same rows, per token, in ${base}s; one bulk INSERT ... SELECT in ${bulk}s"
echo "ratio baseline time / allocate time: $(ratio "$base" "$ours") (target >= 0.5); against the bulk insert: $(ratio "$bulk" "$ours")"
