#!/usr/bin/env bash
# bench/allocate.sh: 100,000 dht.allocate calls in one transaction, against
# inserting the same rows into a table of the same shape (same keys and
# indexes) with plain INSERTs, one per token, in one transaction.
# (bench/scale.sh measures dht.allocate_many against one bulk INSERT.)  Target: ratio at least 0.5.
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

# The baseline: the same rows (one per token, holders packed, as the
# directory keeps them) inserted into a table of the same shape, same keys
# and indexes, one INSERT per token in one transaction.
q "CREATE TABLE base_tokens (LIKE dht.token_log INCLUDING ALL);
   CREATE TABLE base_bulk_tokens (LIKE dht.token_log INCLUDING ALL);
   CREATE TABLE src AS SELECT * FROM dht.token_log WHERE token::text LIKE 'eip155:1/%'" >/dev/null
base=$(time_sql "DO \$\$ DECLARE r record; BEGIN
    FOR r IN SELECT * FROM src LOOP
        INSERT INTO base_tokens VALUES (r.token, r.origin, r.bucket, r.sla, r.holders);
    END LOOP; END \$\$")
bulk=$(time_sql "INSERT INTO base_bulk_tokens SELECT * FROM src")
echo "allocate: $n dht.allocate calls in ${ours}s ($(awk -v n="$n" -v t="$ours" 'BEGIN { printf "%d", n / t }') per second)"
echo "baseline: plain INSERTs of the same rows, per token, in ${base}s; one bulk INSERT ... SELECT in ${bulk}s"
echo "ratio baseline time / allocate time: $(ratio "$base" "$ours") (target >= 0.5); against the bulk insert: $(ratio "$bulk" "$ours")"
