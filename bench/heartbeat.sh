#!/usr/bin/env bash
# bench/heartbeat.sh: signed heartbeats per second through SQL.  N nodes
# (default 10,000) each send one pre-signed heartbeat, twice (the second
# round updates the rows the first one inserted, as every beat after a
# node's first does), through dht.heartbeat one call per beat and through
# dht.heartbeat_many in batches of 1,000.  Baselines on the same rows: a
# plain INSERT per beat into a table of the heartbeat log's shape (no
# verification), and the Ed25519 verifications alone (dht.ed25519_verify,
# libsodium's crypto_sign_verify_detached, per row).  Prints the ratios.
BENCH_PORT=${BENCH_PORT:-57510}
. "$(dirname "$0")/common.sh"
n=${HEARTBEAT_NODES:-10000}

make_network "$n"
# Pre-signed beats for two rounds (signing is the node's work, not measured).
q "CREATE TABLE beats AS
   SELECT r, k.pubkey, r::bigint AS seq, extract(epoch FROM now())::bigint AS t,
          dht.ed25519_sign(dht.heartbeat_message(k.pubkey, r, extract(epoch FROM now())::bigint), k.secret) AS sig
   FROM generate_series(1, $n) i, LATERAL dht.ed25519_keypair(sha256(('bench node ' || i)::bytea)) k,
        generate_series(1, 2) r" >/dev/null
r1=$(time_sql "SELECT count(*) FROM beats, LATERAL dht.heartbeat(pubkey, seq, t, sig) WHERE r = 1")
r2=$(time_sql "SELECT count(*) FROM beats, LATERAL dht.heartbeat(pubkey, seq, t, sig) WHERE r = 2")
got=$(q "SELECT count(*) FROM dht.heartbeat_log WHERE seq = 2")
[ "$got" = "$n" ] || { echo "heartbeat: only $got of $n beats recorded" >&2; exit 1; }
# The batch form, on a fresh log.
q "TRUNCATE dht.heartbeat_log" >/dev/null
many=$(time_sql "SELECT count(*) FROM (
    SELECT (SELECT count(*) FILTER (WHERE accepted) FROM dht.heartbeat_many(array_agg(pubkey), array_agg(seq), array_agg(t), array_agg(sig)))
    FROM (SELECT (row_number() OVER ()) / 1000 AS b, * FROM beats ORDER BY r, pubkey) x GROUP BY r, b) y")
ok=$(q "SELECT count(*) FROM dht.heartbeat_log WHERE seq = 2")
[ "$ok" = "$n" ] || { echo "heartbeat_many: only $ok of $n nodes at seq 2" >&2; exit 1; }

q "CREATE TABLE base_log (LIKE dht.heartbeat_log INCLUDING ALL)" >/dev/null
base=$(time_sql "DO \$\$ DECLARE b record; BEGIN
    FOR b IN SELECT * FROM beats WHERE r = 1 LOOP
        INSERT INTO base_log VALUES (dht.node_id(b.pubkey), 'local', b.seq, b.t, b.sig, now(), 60, 0, 0, 1);
    END LOOP; END \$\$")
verify=$(time_sql "SELECT count(*) FROM beats WHERE r = 1 AND dht.ed25519_verify(dht.heartbeat_message(pubkey, seq, t), sig, pubkey)")

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%d", n / t }'; }
echo "heartbeat: $n first beats in ${r1}s ($(rate "$n" "$r1")/s), $n updating beats in ${r2}s ($(rate "$n" "$r2")/s)"
echo "heartbeat_many (batches of 1000): $((2 * n)) beats in ${many}s ($(rate $((2 * n)) "$many")/s; $ok nodes at seq 2)"
echo "baseline: plain INSERT per beat, no verification: ${base}s ($(rate "$n" "$base")/s)"
echo "baseline: Ed25519 verifications alone: ${verify}s ($(rate "$n" "$verify")/s)"
echo "ratio plain INSERT time / heartbeat time: $(ratio "$base" "$r2"); verification time / heartbeat time: $(ratio "$verify" "$r2") (target >= 0.5)"
echo "one million nodes beating every minute need $((1000000 / 60))/s"
