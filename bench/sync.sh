#!/usr/bin/env bash
# bench/sync.sh: anchor sync by logical replication, three anchors on localhost.
#
#   (a) convergence lag: pgbench allocates fresh tokens on anchor a at a
#       steady 1,000 allocations/s for 30 s; on each peer an ENABLE ALWAYS
#       trigger (bench only) stamps each applied token with clock_timestamp()
#       in the apply transaction, the same trigger on a stamps the row as a
#       writes it, and the lag of a token is the difference (same host, same
#       clock; allocated_at itself has a resolution of one second).  Prints p50, p95, p99
#       (target: p99 < 1 s).  (A peer's commit timestamps are no use here:
#       the apply worker records the origin's commit time.)
#   Apply throughput and initial copy at scale are in bench/scale.sh
#   (section 5), against their baselines.
# The anchors run with synchronous_commit = on, as an anchor should (an
# acknowledged allocation is on disk): with it off, a logical walsender only
# sends what the WAL writer has flushed, and the lag grows by up to
# wal_writer_delay (200 ms).
# Ports DHT_BENCH_SYNC_PORT.. +2 (default 59101..59103).  Sizes:
# DHT_BENCH_SYNC_SECONDS (30), DHT_BENCH_SYNC_RATE (1000).
# Usage: bash bench/sync.sh (the extension must be installed: make install).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

base=${DHT_BENCH_SYNC_PORT:-59101}
seconds=${DHT_BENCH_SYNC_SECONDS:-30}
rate=${DHT_BENCH_SYNC_RATE:-1000}
names=(a b c)
dirs=()
cleanup() { for d in "${dirs[@]}"; do scripts/pgcluster.sh destroy "$d"; done; }
trap cleanup EXIT

for i in 0 1 2; do
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
for i in 0 1 2; do
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
for i in 0 1 2; do
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
# a's stamps are when it wrote each row (dht.tokens.allocated_at has a
# resolution of one second): copy them next to each peer's.
sql 0 -c "DROP TRIGGER bench_stamp ON dht.token_log"
for i in 1 2; do
    sql "$i" -c "CREATE TABLE bench_sent (token dht.token, sent_at timestamptz)"
    sql 0 -c "COPY bench_seen TO STDOUT" | sql "$i" -c "COPY bench_sent FROM STDIN"
done
for i in 1 2; do
    sql "$i" -c "DROP TRIGGER bench_stamp ON dht.token_log"
    read -r p50 p95 p99 mx < <(sql "$i" -F ' ' -c "
        SELECT round(p[1]::numeric, 1), round(p[2]::numeric, 1), round(p[3]::numeric, 1), round(m::numeric, 1)
        FROM (SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ms) AS p, max(ms) AS m
              FROM (SELECT 1000 * extract(epoch FROM s.seen_at - l.sent_at) AS ms
                    FROM bench_sent l JOIN bench_seen s ON s.token OPERATOR(dht.=) l.token) l) s")
    printf '  peer %s: %s allocations, lag p50 %s ms, p95 %s ms, p99 %s ms, max %s ms\n' \
        "${names[$i]}" "$total" "$p50" "$p95" "$p99" "$mx"
    awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || lag_fail=1
done
[ $lag_fail = 0 ] && echo "  target p99 < 1000 ms: met" || echo "  target p99 < 1000 ms: NOT met"

rm -f "$script"
