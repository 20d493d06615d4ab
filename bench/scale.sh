#!/usr/bin/env bash
# bench/scale.sh: one anchor at SCALE_TOKENS tokens (default 10,000,000; 4+2,
# 1,000 nodes), each figure beside its baseline in the same run:
#   1. dht.allocate_many of every token (calls of 100,000) against one bulk
#      INSERT of the same rows into a plain table with the same indexes;
#   2. bytes per token over every dht table and index;
#   3. dht.state_digest() and dht.repair_plan() with one node down (seconds);
#   4. dht.lookup (p50, p99, tps; 2 clients) against a plain indexed table of
#      the same holder rows, and dht.route against pgbench -S on as many rows;
#   5. a new anchor's initial copy against COPY through a pipe into a table
#      with the same indexes, and the apply rate of SCALE_APPLY tokens
#      (transactions of 1,000) against inserting the same rows locally, row by
#      row, into the same table in transactions of 1,000.
# Targets (issue 9): <= 300 bytes a token, allocate_many >= 0.5, lookup p99
# <= 1 ms and >= 1.0, route >= 0.9, state_digest and repair_plan <= 1 s,
# initial copy >= 0.8, apply >= 0.7.
#   SCALE_TOKENS=1000000 bash bench/scale.sh     (about 5 minutes)
#   bash bench/scale.sh                          (10M: about an hour)
BENCH_PORT=${BENCH_PORT:-55620}
. "$(dirname "$0")/common.sh"
tokens=${SCALE_TOKENS:-10000000}
apply_n=${SCALE_APPLY:-200000}
seconds=${SCALE_SECONDS:-15}
asset=0x06012c8cf97bead5deae237070f9587f8e7a266d
tok() { echo "('eip155:1/erc721:$asset/' || $1)::dht.token"; }
work=$(mktemp -d)
peer_dir=
cleanup_all() {
    [ -n "$peer_dir" ] && scripts/pgcluster.sh destroy "$peer_dir"
    scripts/pgcluster.sh destroy "$bench_dir"
    rm -rf "$work"
}
trap cleanup_all EXIT
sections=${SCALE_SECTIONS:-1 2 3 4 5}
want() { case " $sections " in *" $1 "*) return 0;; esac; return 1; }
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "== setting up: 1,000 nodes, $tokens tokens (4+2, operator diversity)"
make_network 1000
q "SELECT dht.anchor_init('src')" >/dev/null

if ! want 1; then
    # the other sections need the tokens: allocate them untimed
    for ((start = 1; start <= tokens; start += 100000)); do
        q "SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT $(tok g) FROM generate_series($start, least($start + 99999, $tokens)) g), 'standard')" >/dev/null
    done
    q "VACUUM ANALYZE dht.token_log" >/dev/null
else
echo "== 1. allocation"
# The token arrays are built first (parsing text is the caller's work, and
# the baseline parses nothing either).
batch=100000
q "CREATE TABLE bench_batches AS SELECT b, ARRAY(SELECT $(tok g) FROM generate_series(b * $batch + 1,
       least((b + 1) * $batch, $tokens)) g) AS tokens
   FROM generate_series(0, ($tokens - 1) / $batch) b"
t_ours=0
for ((b = 0; b * batch < tokens; b++)); do
    t=$(time_sql "SELECT count(*) FROM bench_batches, dht.allocate_many(tokens, 'standard') WHERE b = $b")
    t_ours=$(awk -v a="$t_ours" -v b="$t" 'BEGIN { print a + b }')
done
q "DROP TABLE bench_batches"
q "VACUUM ANALYZE dht.token_log" >/dev/null
q "CREATE TABLE bench_plain (LIKE dht.token_log INCLUDING DEFAULTS, PRIMARY KEY (token, origin))"
q "CREATE INDEX ON bench_plain USING gin (holders)"
q "CHECKPOINT"
t_plain=$(time_sql "INSERT INTO bench_plain SELECT * FROM dht.token_log")
printf 'dht.allocate_many, %d tokens: %.1f s (%.0f tokens/s); one INSERT of the same rows into a plain table with the same indexes: %.1f s\n' \
    "$tokens" "$t_ours" "$(awk -v n="$tokens" -v t="$t_ours" 'BEGIN { print n / t }')" "$t_plain"
echo "ratio allocate_many / bulk INSERT: $(ratio "$t_plain" "$t_ours") (target >= 0.5)"
q "DROP TABLE bench_plain"
fi

if want 2; then
echo "== 2. size"
q "SELECT relname, pg_size_pretty(pg_relation_size(c.oid)), round(pg_relation_size(c.oid)::numeric / $tokens, 1) AS per_token
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'dht' AND c.relkind IN ('r', 'i') AND pg_relation_size(c.oid) > 1000000 ORDER BY 2 DESC" | sed 's/^/  /'
bpt=$(q "SELECT round(sum(pg_total_relation_size(c.oid))::numeric / $tokens, 1) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'dht' AND c.relkind IN ('r', 'm')")
echo "bytes per token, every dht table and index: $bpt (target <= 300)"
fi

if want 3; then
echo "== 3. digests and repair"
d=(); for i in 1 2 3; do d+=("$(time_sql "SELECT dht.state_digest()")"); done
echo "dht.state_digest(): $(med "${d[@]}") s (median of 3; target <= 1 s)"
node=$(q "SELECT node_id FROM dht.nodes ORDER BY node_id LIMIT 1")
q "SELECT dht.set_node_state('$node', 'down')" >/dev/null
q "SELECT count(*) FROM dht.repair_queue" >/dev/null
r=(); for i in 1 2 3; do r+=("$(time_sql "SELECT count(*) FROM dht.repair_plan()")"); done
moves=$(q "SELECT count(*) FROM dht.repair_plan()")
echo "dht.repair_plan(), one node down ($moves holders to move): $(med "${r[@]}") s (median of 3; target <= 1 s)"
q "SELECT dht.set_node_state('$node', 'active')" >/dev/null
q "SELECT dht.repair()" >/dev/null
fi

if want 4; then
echo "== 4. lookup and route ($seconds s rounds, 2 clients)"
q "CREATE TABLE bench_holders (token dht.token, shard int, node_id dht.key, endpoint text, state text,
                               PRIMARY KEY (token, shard))"
q "INSERT INTO bench_holders SELECT p.token, p.shard, p.node_id, n.endpoint, p.state
   FROM dht.placements p JOIN dht.nodes n ON n.node_id = p.node_id"
q "VACUUM ANALYZE bench_holders" >/dev/null
pgbench -i -q -s $(( (tokens + 99999) / 100000 )) >/dev/null 2>&1
q "VACUUM ANALYZE pgbench_accounts" >/dev/null
cat > "$work/lookup.sql" <<SQL
\set i random(1, $tokens)
SELECT * FROM dht.lookup($(tok :i));
SQL
cat > "$work/plain.sql" <<SQL
\set i random(1, $tokens)
SELECT shard, node_id, endpoint, state FROM bench_holders WHERE token = $(tok :i) ORDER BY shard;
SQL
cat > "$work/route.sql" <<SQL
\set i random(1, $tokens)
SELECT * FROM dht.route($(tok :i));
SQL
# pgbench with per-transaction latency logs: "tps p50_ms p99_ms"
run_pgbench() {
    local name=$1; shift
    rm -f "$work"/pgbench_log.*
    (cd "$work" && pgbench -n -M prepared -j 2 -c 2 -T "$seconds" -l "$@" >"$work/$name.out" 2>&1)
    local tps
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/$name.out")
    cat "$work"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -g |
        awk -v tps="$tps" '{ a[NR] = $1 } END { printf "%s %.3f %.3f\n", tps, a[int(NR * 0.5)], a[int(NR * 0.99)] }'
}
for round in 1 2 3; do
    run_pgbench plain -f "$work/plain.sql" >> "$work/plain.txt"
    run_pgbench lookup -f "$work/lookup.sql" >> "$work/lookup.txt"
    run_pgbench select -S >> "$work/select.txt"
    run_pgbench route -f "$work/route.sql" >> "$work/route.txt"
done
stat() { med $(awk -v c="$2" '{ print $c }' "$work/$1.txt"); }
printf 'dht.lookup: %.0f tps, p50 %.3f ms, p99 %.3f ms; plain table of the holder rows: %.0f tps, p99 %.3f ms\n' \
    "$(stat lookup 1)" "$(stat lookup 2)" "$(stat lookup 3)" "$(stat plain 1)" "$(stat plain 3)"
echo "ratio dht.lookup / plain table: $(ratio "$(stat lookup 1)" "$(stat plain 1)") (target >= 1.0; p99 target <= 1 ms)"
printf 'dht.route: %.0f tps, p99 %.3f ms; pgbench -S on %d rows: %.0f tps, p99 %.3f ms\n' \
    "$(stat route 1)" "$(stat route 3)" "$tokens" "$(stat select 1)" "$(stat select 3)"
echo "ratio dht.route / pgbench -S: $(ratio "$(stat route 1)" "$(stat select 1)") (target >= 0.9)"
q "DROP TABLE bench_holders; DROP TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
fi
want 5 || exit 0

echo "== 5. a new anchor: initial copy and apply"
peer_dir=$(pg_tmpdir scale_peer)
peer_port=$(free_port $((BENCH_PORT + 1)))
scripts/pgcluster.sh start "$peer_dir" "$peer_port" "shared_buffers = '4GB'" "wal_retrieve_retry_interval = '100ms'"
P() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$peer_dir" -p "$peer_port" -c "$1"; }
P "CREATE EXTENSION smartlayer_dht" >/dev/null
P "SELECT dht.anchor_init('dst')" >/dev/null
# (diagnosis only: SCALE_PEER_NO_TRIGGERS=1 measures the apply machinery alone)
[ "${SCALE_PEER_NO_TRIGGERS:-0}" = 1 ] && P "ALTER TABLE dht.token_log DISABLE TRIGGER ALL" >/dev/null
src_conn="host=$bench_dir port=$BENCH_PORT user=postgres dbname=postgres"
# Baseline: COPY through a pipe into a table of the same shape and indexes.
P "CREATE TABLE bench_copy (LIKE dht.token_log INCLUDING DEFAULTS, PRIMARY KEY (token, origin))"
P "CREATE INDEX ON bench_copy USING gin (holders)"
t0=$(date +%s.%N)
# Text format, as PostgreSQL 15's initial copy uses.
psql -X -q -c "COPY dht.token_log TO STDOUT" |
    psql -X -q -h "$peer_dir" -p "$peer_port" -c "COPY bench_copy FROM STDIN"
t_pipe=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
P "DROP TABLE bench_copy"
t0=$(date +%s.%N)
P "SELECT dht.anchor_add_peer('src', \$\$$src_conn\$\$)" >/dev/null
until [ "$(P "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ] &&
      [ "$(P "SELECT count(*) FROM pg_subscription_rel")" != 0 ]; do sleep 0.5; done
t_copy=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
printf 'initial copy of %d tokens to a new anchor: %.1f s; COPY through a pipe of the same rows: %.1f s\n' "$tokens" "$t_copy" "$t_pipe"
echo "ratio initial copy / COPY: $(ratio "$t_pipe" "$t_copy") (target >= 0.8)"

# Apply: allocations made while the peer's subscription is disabled, then timed
# as the peer applies them.
P "ALTER SUBSCRIPTION dht_from_src DISABLE" >/dev/null
for ((start = tokens + 1; start <= tokens + apply_n; start += 1000)); do
    echo "SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT $(tok g) FROM generate_series($start, $((start + 999))) g), 'standard');"
done > "$work/apply.sql"
psql -X -q -f "$work/apply.sql" >/dev/null
before=$(P "SELECT count(*) FROM dht.token_log")
P "ALTER SUBSCRIPTION dht_from_src ENABLE" >/dev/null
# Timed from the first applied row (the launcher takes a moment to start the worker).
until [ "$(P "SELECT count(*) FROM dht.token_log")" -gt "$before" ]; do sleep 0.02; done
t0=$(date +%s.%N)
until [ "$(P "SELECT count(*) FROM dht.token_log")" -ge $((before + apply_n)) ]; do sleep 0.1; done
t_apply=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
# Baseline: the same rows inserted locally into the same table, row by row, 1,000 a transaction.
P "CREATE UNLOGGED TABLE bench_rows AS SELECT token, 'bench'::text AS origin, bucket, sla, holders
   FROM dht.token_log WHERE origin = 'src' ORDER BY token DESC LIMIT $apply_n" >/dev/null
P "CREATE PROCEDURE bench_insert() LANGUAGE plpgsql AS \$\$
   DECLARE r record; n int := 0;
   BEGIN
     FOR r IN SELECT * FROM bench_rows LOOP
       INSERT INTO dht.token_log VALUES (r.token, r.origin, r.bucket, r.sla, r.holders);
       n := n + 1;
       IF n % 1000 = 0 THEN COMMIT; END IF;
     END LOOP;
   END \$\$" >/dev/null
t0=$(date +%s.%N)
P "CALL bench_insert()"
t_local=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
printf 'apply of %d allocations: %.1f s (%.0f rows/s); local inserts of the same rows: %.1f s (%.0f rows/s)\n' \
    "$apply_n" "$t_apply" "$(awk -v n="$apply_n" -v t="$t_apply" 'BEGIN { print n / t }')" \
    "$t_local" "$(awk -v n="$apply_n" -v t="$t_local" 'BEGIN { print n / t }')"
echo "ratio apply / local inserts: $(ratio "$t_local" "$t_apply") (target >= 0.7)"
