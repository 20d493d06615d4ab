#!/usr/bin/env bash
# bench/sync.sh: anchor sync by logical replication, three anchors on localhost.
#
#   (a) convergence lag: pgbench allocates fresh tokens on anchor a at a
#       steady 1,000 allocations/s for 30 s; on each peer an ENABLE ALWAYS
#       trigger (bench only) stamps each applied token with clock_timestamp()
#       in the apply transaction, and the lag of a token is that stamp minus
#       its allocated_at on a (same host, same clock).  Prints p50, p95, p99
#       (target: p99 < 1 s).  (A peer's commit timestamps are no use here:
#       the apply worker records the origin's commit time.)
#   (b) apply throughput: with peer b's subscription disabled, a allocates
#       20,000 tokens (7 rows each); b then applies them: rows/s from the
#       first applied row to the last (the start-up of the worker, ~0.3 s,
#       is printed apart) against the same rows inserted locally on b in the
#       same transactions, one per token, by a PL/pgSQL procedure
#       (target: ratio >= 0.7).
#   (c) initial copy: a directory of 1,000,000 tokens (4 + 2 shards: 7
#       million rows) copied to a new anchor d by dht.anchor_add_peer, from
#       the call to the last table ready, against a plain COPY of the same
#       rows through pipes (psql COPY TO STDOUT | psql COPY FROM STDIN, the
#       six tables at once) into the same tables in a second database on d
#       (target: ratio >= 0.8).
# The anchors run with synchronous_commit = on, as an anchor should (an
# acknowledged allocation is on disk): with it off, a logical walsender only
# sends what the WAL writer has flushed, and the lag grows by up to
# wal_writer_delay (200 ms).
# Ports DHT_BENCH_SYNC_PORT.. +3 (default 59101..59104).  Sizes:
# DHT_BENCH_SYNC_SECONDS (30), DHT_BENCH_SYNC_RATE (1000),
# DHT_BENCH_SYNC_APPLY (20000), DHT_BENCH_SYNC_TOKENS (1000000).
# Usage: bash bench/sync.sh (the extension must be installed: make install).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

base=${DHT_BENCH_SYNC_PORT:-59101}
seconds=${DHT_BENCH_SYNC_SECONDS:-30}
rate=${DHT_BENCH_SYNC_RATE:-1000}
napply=${DHT_BENCH_SYNC_APPLY:-20000}
ntokens=${DHT_BENCH_SYNC_TOKENS:-1000000}
names=(a b c d)
dirs=()
cleanup() { for d in "${dirs[@]}"; do scripts/pgcluster.sh destroy "$d"; done; }
trap cleanup EXIT

for i in 0 1 2 3; do
    dirs[$i]=$(pg_tmpdir "bench-sync-${names[$i]}")
done
port() { echo $((base + $1)); }
sql() {  # sql INDEX [DB] < script, or sql INDEX [DB] -c ...
    local i=$1; shift
    local db=postgres
    if [ $# -gt 0 ] && [ "${1:0:1}" != - ]; then db=$1; shift; fi
    psql -X -q -At -v ON_ERROR_STOP=1 -h "${dirs[$i]}" -p "$(port "$i")" -U postgres -d "$db" "$@"
}
conninfo() { echo "host=${dirs[$1]} port=$(port "$1") user=postgres dbname=${2:-postgres}"; }
now() { date +%s.%N; }
wait_for() {  # wait_for INDEX SQL: until SQL returns t (0.05 s polls, 600 s at most)
    for _ in $(seq 1 12000); do
        [ "$(sql "$1" -c "$2")" = t ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for: $2" >&2
    return 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

say "three anchors (a, b, c) in a full mesh"
for i in 0 1 2 3; do
    scripts/pgcluster.sh start "${dirs[$i]}" "$(port "$i")" \
        "synchronous_commit = on" "wal_retrieve_retry_interval = '200ms'" \
        "max_sync_workers_per_subscription = 2" "maintenance_work_mem = '256MB'"
    sql "$i" -c "CREATE EXTENSION smartlayer_dht" -c "SELECT dht.anchor_init('${names[$i]}')" >/dev/null
done
for i in 0 1 2; do
    for j in 0 1 2; do
        [ "$i" = "$j" ] || sql "$i" -c "SELECT dht.anchor_add_peer('${names[$j]}', '$(conninfo "$j")')" >/dev/null
    done
done
sql 0 >/dev/null <<'SQL'
SELECT dht.define_sla('gold', 4, 2, diversity => 'operator');
SELECT count(dht.register_node(k.pubkey, 'https://node-' || i || '.example', 'eu', 'op-' || (i % 16),
        ('10.' || (i / 250) || '.' || (i % 250) || '.1')::inet, 1000, 4000))
FROM generate_series(1, 64) i, LATERAL dht.ed25519_keypair(sha256(convert_to('bench-node-' || i, 'UTF8'))) k;
SQL
wait_for 1 "SELECT count(*) = 64 FROM dht.nodes"
wait_for 2 "SELECT count(*) = 64 FROM dht.nodes"
for i in 1 2; do
    sql "$i" <<'SQL'
CREATE TABLE bench_seen (token dht.token, seen_at timestamptz);
CREATE FUNCTION bench_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.bench_seen VALUES (NEW.token, clock_timestamp());
    RETURN NULL;
END $$;
CREATE TRIGGER bench_stamp AFTER INSERT ON dht.token_log FOR EACH ROW
    WHEN (NEW.origin = 'a' AND NEW.token::text LIKE 'test:bench/nft:lag/%') EXECUTE FUNCTION bench_stamp();
ALTER TABLE dht.token_log ENABLE ALWAYS TRIGGER bench_stamp;
SQL
done

# ---------------------------------------------------------------------------
say "(a) convergence lag at $rate allocations/s on a for $seconds s"
script=$(mktemp)
cat >"$script" <<'EOF'
\set id random(1, 9000000000000000)
SELECT count(*) FROM dht.allocate(('test:bench/nft:lag/' || :id)::dht.token, 'gold');
EOF
chmod 644 "$script"
pgbench -n -h "${dirs[0]}" -p "$(port 0)" -U postgres -c 4 -j 2 -R "$rate" -T "$seconds" -f "$script" postgres \
    2>&1 | grep -E '^(tps|latency average|rate limit schedule lag|number of transactions actually processed)' || true
total=$(sql 0 -c "SELECT count(*) FROM dht.token_log WHERE token::text LIKE 'test:bench/nft:lag/%'")
for i in 1 2; do
    wait_for "$i" "SELECT count(*) = $total FROM dht.token_log WHERE token::text LIKE 'test:bench/nft:lag/%'"
done
lag_fail=0
for i in 1 2; do
    sql "$i" -c "DROP TRIGGER bench_stamp ON dht.token_log"
    read -r p50 p95 p99 mx < <(sql "$i" -F ' ' -c "
        SELECT round(p[1]::numeric, 1), round(p[2]::numeric, 1), round(p[3]::numeric, 1), round(m::numeric, 1)
        FROM (SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ms) AS p, max(ms) AS m
              FROM (SELECT 1000 * extract(epoch FROM s.seen_at - l.allocated_at) AS ms
                    FROM dht.token_log l JOIN bench_seen s ON s.token OPERATOR(dht.=) l.token
                    WHERE l.origin = 'a') l) s")
    printf '  peer %s: %s allocations, lag p50 %s ms, p95 %s ms, p99 %s ms, max %s ms\n' \
        "${names[$i]}" "$total" "$p50" "$p95" "$p99" "$mx"
    awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || lag_fail=1
done
[ $lag_fail = 0 ] && echo "  target p99 < 1000 ms: met" || echo "  target p99 < 1000 ms: NOT met"

# ---------------------------------------------------------------------------
say "(b) apply throughput: $napply allocations applied by b vs inserted locally on b"
sql 1 -c "ALTER SUBSCRIPTION dht_from_a DISABLE"
sed -i 's/nft:lag/nft:apply/' "$script"
clients=4
pgbench -n -h "${dirs[0]}" -p "$(port 0)" -U postgres -c $clients -j 2 -t $((napply / clients)) -f "$script" postgres \
    2>&1 | grep -E '^tps' | sed 's/^/  on a: /' || true
rows=$(sql 0 -c "SELECT (SELECT count(*) FROM dht.token_log WHERE token::text LIKE 'test:bench/nft:apply/%')
                      + (SELECT count(*) FROM dht.placement_log WHERE token::text LIKE 'test:bench/nft:apply/%')")
# Baseline: the same rows, one transaction per token, inserted on b by a
# procedure reading them from a staging table (the staging is not timed).
sql 1 <<'SQL'
CREATE TABLE bench_tx (token dht.token, key dht.key, sla text, data_shards int, parity_shards int,
                       epoch bigint, allocated_at timestamptz, event_at timestamptz,
                       shards int[], nodes dht.key[], pepoch bigint, pevent timestamptz);
-- rowwise: one INSERT per row, as the change stream carries them;
-- otherwise the placements of a token in one INSERT, as dht.allocate does.
CREATE PROCEDURE bench_replay(rowwise boolean) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    o text := CASE WHEN rowwise THEN 'baseline_rows' ELSE 'baseline' END;
BEGIN
    FOR r IN SELECT * FROM bench_tx ORDER BY allocated_at LOOP
        INSERT INTO dht.token_log (token, origin, key, sla, data_shards, parity_shards, epoch, allocated_at, released, event_at)
        VALUES (r.token, o, r.key, r.sla, r.data_shards, r.parity_shards, r.epoch, r.allocated_at, false, r.event_at);
        IF rowwise THEN
            FOR i IN 1 .. cardinality(r.shards) LOOP
                INSERT INTO dht.placement_log (token, shard, node_id, origin, state, epoch, digest, event_at)
                VALUES (r.token, r.shards[i], r.nodes[i], o, 'active', r.pepoch, NULL, r.pevent);
            END LOOP;
        ELSE
            INSERT INTO dht.placement_log (token, shard, node_id, origin, state, epoch, digest, event_at)
            SELECT r.token, u.shard, u.node_id, o, 'active', r.pepoch, NULL, r.pevent
            FROM unnest(r.shards, r.nodes) u(shard, node_id);
        END IF;
        COMMIT;
    END LOOP;
END $$;
SQL
sql 0 -c "COPY (SELECT t.token, t.key, t.sla, t.data_shards, t.parity_shards, t.epoch, t.allocated_at, t.event_at,
                       array_agg(p.shard ORDER BY p.shard), array_agg(p.node_id ORDER BY p.shard), min(p.epoch), min(p.event_at)
                FROM dht.token_log t JOIN dht.placement_log p ON p.token OPERATOR(dht.=) t.token AND p.origin = t.origin
                WHERE t.token::text LIKE 'test:bench/nft:apply/%' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) TO STDOUT" |
    sql 1 -c "COPY bench_tx FROM STDIN"
sql 1 -c "CHECKPOINT"
t0=$(now); sql 1 -c "CALL bench_replay(true)"; t1=$(now)
local_rate=$(awk -v r="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }')
sql 1 -c "CHECKPOINT"
t0=$(now); sql 1 -c "CALL bench_replay(false)"; t1=$(now)
local_rate_multi=$(awk -v r="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }')
sql 1 -c "CHECKPOINT"
applied="(SELECT count(*) FROM dht.token_log WHERE origin = 'a' AND token::text LIKE 'test:bench/nft:apply/%')
         + (SELECT count(*) FROM dht.placement_log WHERE origin = 'a' AND token::text LIKE 'test:bench/nft:apply/%')"
ts=$(now)
sql 1 -c "ALTER SUBSCRIPTION dht_from_a ENABLE"
wait_for 1 "SELECT $applied > 0"
t0=$(now); first=$(sql 1 -c "SELECT $applied")
wait_for 1 "SELECT $applied = $rows"
t1=$(now)
apply_rate=$(awk -v r="$rows" -v f="$first" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (r - f) / (b - a) }')
r=$(ratio "$apply_rate" "$local_rate")
printf '  %s rows: applied by b %s rows/s (worker start-up %s s)\n' \
    "$rows" "$apply_rate" "$(awk -v a="$ts" -v b="$t0" 'BEGIN { printf "%.2f", b - a }')"
printf '  inserted locally on b, one INSERT per row (the change stream): %s rows/s, ratio %s (target >= 0.7: %s)\n' \
    "$local_rate" "$r" "$(awk -v r="$r" 'BEGIN { print (r >= 0.7) ? "met" : "NOT met" }')"
printf '  inserted locally on b, placements in one INSERT (as dht.allocate): %s rows/s, ratio %s\n' \
    "$local_rate_multi" "$(ratio "$apply_rate" "$local_rate_multi")"

# ---------------------------------------------------------------------------
say "(c) initial copy of a $ntokens-token directory to a new anchor d"
# b and c leave (their slots on a go with them) so that they do not apply
# the bulk load while it is measured; d is the newcomer.
for i in 1 2; do
    sql "$i" -c "SELECT dht.anchor_remove_peer('a')" >/dev/null
    sql 0 -c "SELECT dht.anchor_remove_peer('${names[$i]}')" >/dev/null
    scripts/pgcluster.sh stop "${dirs[$i]}"
done
sql 0 <<SQL
INSERT INTO dht.token_log (token, origin, key, sla, data_shards, parity_shards, epoch, allocated_at, released, event_at)
SELECT t, 'a', dht.token_key(t), 'gold', 4, 2, 0, now(), false, now()
FROM (SELECT ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/' || i)::dht.token AS t
      FROM generate_series(1, $ntokens) i) s;
INSERT INTO dht.placement_log (token, shard, node_id, origin, state, epoch, digest, event_at)
SELECT l.token, p.shard, p.node_id, 'a', 'active', 0, NULL, now()
FROM dht.token_log l, LATERAL dht.place(l.key, 'gold') p
WHERE l.origin = 'a' AND l.token::text LIKE 'eip155:1/%';
VACUUM ANALYZE dht.token_log, dht.placement_log;
CHECKPOINT;
SQL
crows=$(sql 0 -c "SELECT (SELECT count(*) FROM dht.token_log WHERE origin = 'a') + (SELECT count(*) FROM dht.placement_log WHERE origin = 'a')")
echo "  a holds $crows rows of its own origin"
t0=$(now)
sql 3 -c "SELECT dht.anchor_add_peer('a', '$(conninfo 0)')" >/dev/null
wait_for 3 "SELECT count(*) = 6 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel"
t1=$(now)
copy_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
got=$(sql 3 -c "SELECT (SELECT count(*) FROM dht.token_log WHERE origin = 'a') + (SELECT count(*) FROM dht.placement_log WHERE origin = 'a')")
[ "$got" = "$crows" ] || { echo "initial copy brought $got rows, not $crows" >&2; exit 1; }
[ "$(sql 3 -c "SELECT dht.state_digest()")" = "$(sql 0 -c "SELECT dht.state_digest()")" ] ||
    { echo "state digests differ after the initial copy" >&2; exit 1; }
t0=$(now); sql 3 -c "SELECT dht.state_digest()" >/dev/null; t1=$(now)
printf '  dht.state_digest() over the %s-token directory: %s s\n' "$ntokens" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"

sql 3 -c "CREATE DATABASE baseline"
sql 3 baseline -c "CREATE EXTENSION smartlayer_dht"
sql 3 -c "CHECKPOINT"
t0=$(now)
for t in sla_log node_log node_state_log epoch_log token_log placement_log; do
    sql 0 -c "COPY (SELECT * FROM dht.$t WHERE origin = 'a') TO STDOUT" | sql 3 baseline -c "COPY dht.$t FROM STDIN" &
done
wait
t1=$(now)
pipe_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
r=$(ratio "$pipe_s" "$copy_s")
printf '  %s rows: initial copy %s s (%s rows/s), COPY through pipes %s s, ratio %s (target >= 0.8: %s)\n' \
    "$crows" "$copy_s" "$(awk -v r="$crows" -v s="$copy_s" 'BEGIN { printf "%.0f", r / s }')" "$pipe_s" "$r" \
    "$(awk -v r="$r" 'BEGIN { print (r >= 0.8) ? "met" : "NOT met" }')"
rm -f "$script"
