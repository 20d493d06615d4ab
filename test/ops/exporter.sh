#!/usr/bin/env bash
# test/ops/exporter.sh: monitoring/smartlayer_dht.yaml in Debian's real
# prometheus-postgres-exporter.
#
# Two throwaway anchors, a and b, subscribe to each other; a's directory
# gets 12 nodes, one SLA class, 300 tokens, a node down with half of its
# holders repaired (pending and retiring holders, moves left in the plan)
# and a node draining.  The exporter runs against a, as a role with only
# dht_reader, pg_monitor and EXECUTE on dht.repair_plan() (what the README
# tells operators to grant), listening on loopback; /metrics is fetched with
# curl and every metric of the queries file is compared with the same
# figure asked of a in SQL.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
exporter=${DHT_EXPORTER:-/usr/bin/prometheus-postgres-exporter}
[ -x "$exporter" ] || { echo "$exporter not found: scripts/install-deps.sh installs prometheus-postgres-exporter"; exit 1; }

ops_cluster exporter-a "wal_retrieve_retry_interval = '500ms'" || exit 1; a_host=$PGHOST a_port=$PGPORT
ops_cluster exporter-b "wal_retrieve_retry_interval = '500ms'" || exit 1; b_host=$PGHOST b_port=$PGPORT
qa() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$a_host" -p "$a_port" -d anchor -c "$1"; }
qb() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$b_host" -p "$b_port" -d anchor -c "$1"; }
for h in "$a_host:$a_port:a" "$b_host:$b_port:b"; do
    IFS=: read -r host port name <<<"$h"
    createdb -h "$host" -p "$port" anchor
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -d anchor \
        -c "CREATE EXTENSION smartlayer_dht" -c "SELECT dht.anchor_init('$name')" >/dev/null || exit 1
done
qa "SELECT dht.anchor_add_peer('b', 'host=$b_host port=$b_port user=postgres dbname=anchor')" >/dev/null || exit 1
qb "SELECT dht.anchor_add_peer('a', 'host=$a_host port=$a_port user=postgres dbname=anchor')" >/dev/null || exit 1

psql -X -q -v ON_ERROR_STOP=1 -h "$a_host" -p "$a_port" -d anchor >/dev/null <<'SQL' || exit 1
SET search_path = public, dht;
SELECT count(dht.register_node(k.pubkey, 'https://node-' || i || '.example', 'eu', 'op-' || i,
                               ('10.0.' || i || '.1')::inet, 1000, 2000))
FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('exporter-node-' || i, 'UTF8'))) k;
SELECT dht.define_sla('gold', 4, 2);
SELECT dht.define_sla('spare', 2, 1);
SELECT count(*) FROM generate_series(1, 300) n,
    LATERAL dht.allocate(('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/' || n)::dht.token, 'gold');
-- the busiest node fails; half of its holders are moved (pending / retiring)
SELECT dht.set_node_state((SELECT node_id FROM dht.node_load ORDER BY shards DESC, node_id LIMIT 1), 'down');
SELECT dht.repair(max_moves => (SELECT count(*)::int / 2 FROM dht.repair_plan()));
SELECT dht.set_node_state((SELECT node_id FROM dht.node_load WHERE state = 'active' ORDER BY shards, node_id LIMIT 1), 'draining');
CREATE ROLE prometheus LOGIN;
GRANT dht_reader, pg_monitor TO prometheus;
GRANT EXECUTE ON FUNCTION dht.repair_plan() TO prometheus;
SQL

# wait until a streams from b, b has confirmed a's writes, and b has a's rows
for _ in $(seq 1 150); do
    [ "$(qa "SELECT state FROM dht.anchor_status() WHERE peer = 'b'")" = streaming ] &&
    [ "$(qa "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dht_a_b'
             AND confirmed_flush_lsn >= pg_current_wal_lsn()")" = 1 ] &&
    [ "$(qb "SELECT count(*) FROM dht.tokens")" = 300 ] && break
    sleep 0.2
done
check "a streams from b and b has a's tokens" "$(qa "SELECT state FROM dht.anchor_status() WHERE peer = 'b'") $(qb "SELECT count(*) FROM dht.tokens")" "streaming 300"

port=$(free_port "${DHT_EXPORTER_PORT:-$((PGPORT + 20))}")
log=$(mktemp "${TMPDIR:-/tmp}/smartlayer_dht.exporter.XXXXXX")
ops_cleanup_hooks+=("rm -f '$log'")
DATA_SOURCE_NAME="host=$a_host port=$a_port user=prometheus dbname=anchor sslmode=disable" \
    "$exporter" --extend.query-path=monitoring/smartlayer_dht.yaml \
                --web.listen-address="127.0.0.1:$port" >"$log" 2>&1 &
exporter_pid=$!
ops_cleanup_hooks+=("kill $exporter_pid 2>/dev/null; wait $exporter_pid 2>/dev/null")
metrics=""
for _ in $(seq 1 100); do
    metrics=$(curl -sf "http://127.0.0.1:$port/metrics") && [ -n "$metrics" ] && break
    sleep 0.1
done
check "the exporter answers /metrics on 127.0.0.1:$port" "$(echo "$metrics" | grep -c '^pg_up 1$')" 1
errors=$(grep -ci 'level=error' "$log")
check "the exporter logged no query error" "$errors" 0
[ "$errors" = 0 ] || grep -i 'level=error' "$log" | head -5 | sed 's/^/#   /'

# metric NAME [LABEL=VALUE ...]: the value of the one series with those labels
metric() {
    local name=$1; shift
    echo "$metrics" | awk -v name="$name" -v want="$*" '
        { split($1, p, "{"); if (p[1] != name) next
          n = split(want, w, " "); for (i = 1; i <= n; i++) { split(w[i], kv, "=")
              if (index($1, kv[1] "=\"" kv[2] "\"") == 0) next }
          print $2; found++ }
        END { if (found != 1) print "series found: " found + 0 }'
}
# near GOT WANT: equal to 9 significant digits (the exporter prints float64)
near() { awk -v g="$1" -v w="$2" 'BEGIN { d = g - w; if (d < 0) d = -d; m = (w < 0 ? -w : w)
                                           print (g != "" && d <= 1e-9 * (m > 1 ? m : 1)) ? "equal" : g " != " w }'; }

for sla in gold spare; do
    check "dht_tokens_allocated{sla=$sla}" "$(metric dht_tokens_allocated sla=$sla)" \
        "$(qa "SELECT count(*) FROM dht.tokens WHERE sla = '$sla'")"
done
for state in active pending retiring; do
    check "dht_holders_count{state=$state}" "$(metric dht_holders_count state=$state)" \
        "$(qa "SELECT count(*) FROM dht.placements WHERE state = '$state'")"
done
check "some holders are pending and retiring" "$(qa "SELECT count(DISTINCT state) FROM dht.placements")" 3
for state in active draining down banned; do
    check "dht_nodes_count{state=$state}" "$(metric dht_nodes_count state=$state)" \
        "$(qa "SELECT count(*) FROM dht.nodes WHERE state = '$state'")"
done
check "dht_load_active_nodes" "$(metric dht_load_active_nodes)" 10
for col in mean_holders:"avg(shards)" max_over_mean:"max(shards) / avg(shards)" min_over_mean:"min(shards) / avg(shards)"; do
    check "dht_load_${col%%:*}" \
        "$(near "$(metric "dht_load_${col%%:*}")" "$(qa "SELECT ${col#*:} FROM dht.node_load WHERE state = 'active'")")" equal
done
check "dht_tokens_at_risk_count" "$(metric dht_tokens_at_risk_count)" "$(qa "SELECT count(*) FROM dht.tokens_at_risk")"
check "dht_repair_plan_moves (moves left after the half repair)" "$(metric dht_repair_plan_moves)" \
    "$(qa "SELECT count(*) FROM dht.repair_plan()")"
check "the plan has moves left" "$(qa "SELECT count(*) > 0 FROM dht.repair_plan()")" t
for kind in node:n class:c token:t origin:o; do
    check "dht_repair_queue_items{kind=${kind%%:*}}" "$(metric dht_repair_queue_items kind="${kind%%:*}")" \
        "$(qa "SELECT count(*) FROM dht.repair_queue WHERE kind = '${kind#*:}'")"
done
check "dht_repair_queue_oldest_seconds{kind=class} is an age" \
    "$(metric dht_repair_queue_oldest_seconds kind=class | awk '{ print ($1 >= 0 && $1 < 600) ? "yes" : $1 }')" yes
check "dht_anchor_peer_streaming{peer=b,state=streaming}" "$(metric dht_anchor_peer_streaming peer=b state=streaming)" 1
check "dht_anchor_peer_lag_bytes{peer=b} is a byte count" \
    "$(metric dht_anchor_peer_lag_bytes peer=b | awk '$1 ~ /^[0-9]+$/ { print "yes"; next } { print }')" yes
check "dht_anchor_peer_last_message_age_seconds{peer=b} is an age" \
    "$(metric dht_anchor_peer_last_message_age_seconds peer=b | awk '{ print ($1 >= 0 && $1 < 600) ? "yes" : $1 }')" yes
check "dht_anchor_peer_apply_errors{peer=b}" "$(metric dht_anchor_peer_apply_errors peer=b)" 0
check "dht_anchor_peer_tables_syncing{peer=b}" "$(metric dht_anchor_peer_tables_syncing peer=b)" 0
for col in worker_running:"worker_running::int" runs:runs nodes_marked_down:nodes_marked_down \
           repairs_applied:repairs_applied repairs_pending:"coalesce(repairs_pending, 0)" holders_expired:holders_expired; do
    check "dht_maintenance_${col%%:*}" "$(metric "dht_maintenance_${col%%:*}")" \
        "$(qa "SELECT ${col#*:} FROM dht.maintenance_status()")"
done
check "dht_anchor_outbound_connected{peer=b}" "$(metric dht_anchor_outbound_connected peer=b)" 1
check "dht_anchor_outbound_lag_bytes{peer=b} is a byte count" \
    "$(metric dht_anchor_outbound_lag_bytes peer=b | awk '$1 ~ /^[0-9]+$/ { print "yes"; next } { print }')" yes
check "dht_anchor_outbound_lag_seconds{peer=b} is a duration" \
    "$(metric dht_anchor_outbound_lag_seconds peer=b | awk '$1 ~ /^[0-9.e+-]+$/ && $1 >= 0 && $1 < 600 { print "yes"; next } { print }')" yes
check "no other peer is reported" "$(echo "$metrics" | grep -E '^dht_anchor_(peer|outbound)_' | grep -vc 'peer="b"')" 0
finish
