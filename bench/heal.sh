#!/usr/bin/env bash
# bench/heal.sh: self-healing at scale on one anchor with the background
# worker on.  HEAL_TOKENS tokens (default 1,000,000; 200,000 for a shorter
# run) of class 4 + 2 are allocated over HEAL_NODES nodes (default 100) with
# allocate_many in batches of 10,000 (the allocation throughput).  A
# background session beats for every node each second (node agents); then
# one node stops beating and the bench measures, from that moment:
#   - detection: until the worker marks it down (heartbeat_timeout, 5 s here);
#   - repair: until every holder on it has a pending replacement (the worker
#     applies at most repair_batch moves every repair_interval, 1 s);
#   - confirmed: until every replacement is confirmed and the node's holders
#     are gone.  A second background session plays the new holders' agents:
#     it confirms pending holders (dht.confirm, 1,000 a transaction) as they
#     appear, as a node agent woken by NOTIFY would.
# Repair throughput is the worker's moves over the time its runs took (busy
# time, from dht.maintenance_log) and over the wall time from the first
# move to the last; the ratio is against allocate_many's tokens/s.
BENCH_PORT=${BENCH_PORT:-57520}
. "$(dirname "$0")/common.sh"
tokens=${HEAL_TOKENS:-${SCALE:-1000000}}
nodes=${HEAL_NODES:-100}
batch=${HEAL_REPAIR_BATCH:-10000}

# The worker needs the library preloaded: restart with it.
cat <<EOF | as_pg tee -a "$bench_dir/data/postgresql.conf" >/dev/null
shared_preload_libraries = 'smartlayer_dht'
smartlayer_dht.database = 'postgres'
smartlayer_dht.heartbeat_timeout = '5s'
smartlayer_dht.heartbeat_interval = '1s'
smartlayer_dht.confirm_timeout = '1h'
smartlayer_dht.repair_interval = '1s'
smartlayer_dht.repair_batch = $batch
EOF
scripts/pgcluster.sh stop "$bench_dir"
scripts/pgcluster.sh start "$bench_dir" "$BENCH_PORT"

make_network "$nodes"
q "CREATE TABLE silent (i int PRIMARY KEY)" >/dev/null
q "CREATE FUNCTION beat_all() RETURNS bigint LANGUAGE sql AS \$\$
    SELECT count(*) FROM (
        SELECT dht.heartbeat(k.pubkey, s.seq, s.t, dht.ed25519_sign(dht.heartbeat_message(k.pubkey, s.seq, s.t), k.secret))
        FROM generate_series(1, $nodes) i,
             LATERAL dht.ed25519_keypair(sha256(('bench node ' || i)::bytea)) k,
             LATERAL (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS seq,
                             extract(epoch FROM clock_timestamp())::bigint AS t) s
        WHERE i NOT IN (SELECT i FROM silent)) x \$\$" >/dev/null
errlog=$bench_dir/agents.err
# Restarted if a call fails (the error is kept in $errlog and counted).
(while :; do psql -X -q -c 'DO $$ BEGIN LOOP PERFORM beat_all(); COMMIT; PERFORM pg_sleep(1); END LOOP; END $$' \
    >/dev/null 2>>"$errlog"; sleep 0.2; done) &
beats=$!
agents=
cleanup() { exec 2>/dev/null; for p in $beats $agents; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; scripts/pgcluster.sh destroy "$bench_dir"; }
trap cleanup EXIT

until [ "$(q "SELECT count(*) FROM dht.nodes WHERE last_heartbeat IS NOT NULL")" = "$nodes" ]; do sleep 0.2; done
[ "$(q "SELECT worker_running FROM dht.maintenance_status()")" = t ] || { echo "heal: the worker does not run" >&2; exit 1; }

# Allocation throughput.
q "CREATE TABLE names AS SELECT i, ('bench:heal/nft:dht/' || i)::dht.token AS token FROM generate_series(1, $tokens) i" >/dev/null
alloc=$(time_sql "DO \$\$ DECLARE b int; BEGIN
    FOR b IN 0 .. ($tokens - 1) / 10000 LOOP
        PERFORM count(*) FROM dht.allocate_many(ARRAY(SELECT token FROM names WHERE i > b * 10000 AND i <= (b + 1) * 10000), 'standard');
        COMMIT;
    END LOOP; END \$\$")
got=$(q "SELECT count(*) FROM dht.tokens")
[ "$got" = "$tokens" ] || { echo "heal: $got of $tokens tokens allocated" >&2; exit 1; }
q "VACUUM ANALYZE" >/dev/null

# The victim: the node with the most holders.
read -r victim nid held < <(q "SELECT i, dht.node_id(k.pubkey), (SELECT count(*) FROM dht.placements p WHERE p.node_id = dht.node_id(k.pubkey) AND p.state = 'active')
    FROM generate_series(1, $nodes) i, LATERAL dht.ed25519_keypair(sha256(('bench node ' || i)::bytea)) k
    ORDER BY 3 DESC LIMIT 1" | tr '|' ' ')
run0=$(q "SELECT coalesce(max(run), 0) FROM dht.maintenance_log")

# Node agents of the new holders: confirm what is pending, in batches.
# dht.confirm locks its token until commit: 1,000 a transaction keeps the
# lock table small beside a worker run of repair_batch moves.
(while :; do q "SELECT count(dht.confirm(p.token, p.shard, p.node_id))
        FROM (SELECT token, shard, node_id FROM dht.placements WHERE state = 'pending' LIMIT 1000) p" \
    >/dev/null 2>>"$errlog" || true; sleep 0.2; done) &
agents=$!

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(now)
q "INSERT INTO silent VALUES ($victim)" >/dev/null
until [ "$(q "SELECT state FROM dht.nodes WHERE node_id = '$nid'")" = down ]; do sleep 0.2; done
t_down=$(since "$t0")
until [ "$(q "SELECT count(*) FROM dht.placements WHERE node_id = '$nid' AND state = 'active'")" = 0 ]; do sleep 0.5; done
t_rep=$(since "$t0")
until [ "$(q "SELECT NOT EXISTS (SELECT FROM dht.placements WHERE state IN ('pending', 'retiring') OR node_id = '$nid')")" = t ]; do sleep 0.5; done
t_conf=$(since "$t0")
[ "$(q "SELECT count(*) FROM dht.tokens_at_risk")" = 0 ] || { echo "heal: tokens at risk after the repair" >&2; exit 1; }

read -r moves busy wall runs < <(q "SELECT sum(repairs_applied), extract(epoch FROM sum(finished_at - started_at)),
        extract(epoch FROM max(finished_at) - min(started_at)), count(*)
    FROM dht.maintenance_log WHERE run > $run0 AND repairs_applied > 0" | tr '|' ' ')
[ "$moves" = "$held" ] || echo "heal: note: $moves moves applied for $held holders" >&2

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%d", n / t }'; }
arate=$(rate "$tokens" "$alloc")
echo "heal: $tokens tokens (4 + 2) on $nodes nodes, repair_batch $batch every 1 s, heartbeat_timeout 5 s"
echo "allocate_many: $tokens tokens in ${alloc}s ($arate tokens/s)"
echo "node $victim silent with $held holders: marked down after ${t_down}s, all holders replaced after ${t_rep}s, all replacements confirmed and old holders gone after ${t_conf}s"
echo "repair: $moves moves in $runs runs, ${busy}s of run time ($(rate "$moves" "$busy") moves/s), ${wall}s from the first such run's start to the last one's end ($(rate "$moves" "$wall") moves/s)"
echo "node agents' calls that failed (restarted): $(cat "$errlog" 2>/dev/null | grep -c ERROR || true)"
echo "ratio repair moves/s (run time) / allocate_many tokens/s: $(ratio "$(rate "$moves" "$busy")" "$arate")"
