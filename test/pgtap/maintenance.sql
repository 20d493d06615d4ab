-- One self-healing run by hand (what the worker of src/worker.c runs): a
-- node silent past heartbeat_timeout is marked down and its holders get
-- replacements, it is up again on its next heartbeat, the run is counted by
-- dht.maintenance_status and dht.repair_progress; the repair owner of a
-- token on a lone anchor is that anchor; bad arguments.  Nodes in region
-- tap-mt-r, class tap-mt; rolled back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
SET search_path = public, dht;

BEGIN;
SELECT plan(20);
SET LOCAL smartlayer_dht.heartbeat_timeout = 30;

CREATE TEMP TABLE mt_nodes ON COMMIT DROP AS
SELECT i, k.pubkey, k.secret, dht.node_id(k.pubkey) AS id
FROM generate_series(0, 7) i, dht.ed25519_keypair(sha256(('tap-mt' || i)::bytea)) k;
SELECT count(dht.register_node(pubkey, 'https://tap-mt-' || i || '.example', 'tap-mt-r',
                               'tap-mt-op' || i, ('10.73.' || i || '.1')::inet, 100, 100))
FROM mt_nodes;
SELECT dht.define_sla('tap-mt', 2, 1, diversity => 'none', regions => '{tap-mt-r}');
CREATE FUNCTION pg_temp.beat(n int) RETURNS void LANGUAGE sql AS $$
    SELECT dht.heartbeat(pubkey, s, t, dht.ed25519_sign(dht.heartbeat_message(pubkey, s, t), secret))
    FROM mt_nodes, LATERAL (SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint AS s,
                                   extract(epoch FROM clock_timestamp())::bigint AS t) x
    WHERE i = n $$;
SELECT count(pg_temp.beat(i)) FROM mt_nodes;
SELECT count(a.*) FROM generate_series(1, 6) g,
    LATERAL dht.allocate(('eip155:1/erc721:0x00000000000000000000000000000000007a9073/' || g)::dht.token, 'tap-mt') a;
-- The node holding shard 0 of token 1 falls silent (its last beat 60 s ago).
SELECT node_id AS silent FROM dht.lookup('eip155:1/erc721:0x00000000000000000000000000000000007a9073/1') WHERE shard = 0 \gset
SELECT count(*) AS silent_held FROM dht.placements WHERE node_id = :'silent' AND state = 'active' \gset
UPDATE dht.heartbeat_log SET received_at = received_at - interval '60 seconds' WHERE node_id = :'silent';

SELECT is((SELECT dht.repair_owner('eip155:1/erc721:0x00000000000000000000000000000000007a9073/1')),
          dht.local_origin(), 'a lone anchor owns every token''s repair');
SELECT is((SELECT runs FROM dht.maintenance_status()) , 0::bigint, 'no run yet');
SELECT is((SELECT (r.nodes_down, r.repairs_applied >= :silent_held)::text FROM dht.maintenance_run() r),
          '(1,t)', 'a run marks the silent node down and applies its repairs');
SELECT is((SELECT state FROM dht.nodes WHERE node_id = :'silent'), 'down', 'the silent node is down');
SELECT is((SELECT count(*) FROM dht.placements WHERE node_id = :'silent' AND state = 'retiring'), :silent_held::bigint,
          'its holders are retiring (until their replacements confirm)');
SELECT is((SELECT count(*) FROM dht.placements p
           WHERE p.state = 'pending' AND p.token IN (SELECT token FROM dht.placements WHERE node_id = :'silent')),
          :silent_held::bigint, 'one pending replacement for each');
SELECT is((SELECT (runs, nodes_marked_down, worker_running)::text FROM dht.maintenance_status()),
          '(1,1,f)', 'maintenance_status counts the run and the node (no worker in this server)');
-- Another holder was silent for 10 s only (less than heartbeat_timeout).
SELECT node_id AS late FROM dht.lookup('eip155:1/erc721:0x00000000000000000000000000000000007a9073/2')
WHERE node_id <> :'silent' AND state = 'active' LIMIT 1 \gset
SELECT count(*) AS late_held FROM dht.placements WHERE node_id = :'late' AND state = 'active' \gset
UPDATE dht.heartbeat_log SET received_at = received_at - interval '10 seconds' WHERE node_id = :'late';
SELECT is((SELECT r.nodes_down FROM dht.maintenance_run() r), 0, 'a second run marks nothing again');
SELECT is((SELECT state FROM dht.nodes WHERE node_id = :'late'), 'active', 'a node late by less than the timeout stays active');
SELECT is((SELECT count(*) FROM dht.placements WHERE node_id = :'late' AND state = 'active'), :late_held::bigint,
          'and keeps its holders');
SELECT is((SELECT repairs_pending FROM dht.repair_progress), 0::bigint, 'repair_progress: nothing left');
SELECT ok((SELECT repairs_applied >= :silent_held FROM dht.repair_progress), 'repair_progress: the moves applied');
-- Back on its next heartbeat.
SELECT pg_temp.beat(i) FROM mt_nodes WHERE id = :'silent';
SELECT is((SELECT state FROM dht.nodes WHERE node_id = :'silent'), 'active', 'a heartbeat brings a node marked down back');
-- A node that never sent a heartbeat is not marked down by a run.
SELECT dht.register_node(k.pubkey, 'https://tap-mt-quiet.example', 'tap-mt-q', 'tap-mt-opq', '10.73.99.1', 100, 100)
FROM dht.ed25519_keypair(sha256('tap-mt-quiet'::bytea)) k;
SELECT is((SELECT r.nodes_down FROM dht.maintenance_run() r), 0, 'a node that never sent a heartbeat is left to its operator');

-- A surplus holder: another anchor's row gives shard 0 of token 6 a second
-- active holder (two anchors allocated the token at once).  The one with the
-- smaller node id stays; the other is listed and dropped, not replaced.
\set t6 '''eip155:1/erc721:0x00000000000000000000000000000000007a9073/6'''
SELECT node_id AS s0 FROM dht.lookup(:t6) WHERE shard = 0 \gset
SELECT id AS extra FROM mt_nodes WHERE id NOT IN (SELECT node_id FROM dht.lookup(:t6)) AND id <> :'silent'
ORDER BY id LIMIT 1 \gset
SET LOCAL session_replication_role = replica;   -- as the apply worker writes it
INSERT INTO dht.token_log (token, origin, bucket, sla, holders)
SELECT token, 'tap-mt-other', bucket, sla,
       replace(holders::text, '0:' || lpad(to_hex(dht.node_ref_of(:'s0')), 16, '0'),
                              '0:' || lpad(to_hex(dht.node_ref_of(:'extra')), 16, '0'))::dht.holders
FROM dht.token_log WHERE token = :t6 AND origin = dht.local_origin();
SET LOCAL session_replication_role = origin;
SELECT is((SELECT count(*) FROM dht.lookup(:t6) WHERE shard = 0 AND state = 'active'), 2::bigint,
          'the merged rows give shard 0 two active holders');
SELECT results_eq(format($$SELECT from_node::text, to_node IS NULL FROM dht.repair_plan() WHERE token = %L AND reason = 'surplus holder'$$, :t6),
                  format($$VALUES (%L, true)$$, greatest(:'s0'::text, :'extra'::text)),
                  'repair_plan lists the holder with the greater node id as surplus, with no replacement');
SELECT ok((SELECT r.repairs_applied >= 1 FROM dht.maintenance_run() r), 'a run drops it');
SELECT results_eq(format($$SELECT node_id::text, state FROM dht.lookup(%L) WHERE shard = 0$$, :t6),
                  format($$VALUES (%L, 'active')$$, least(:'s0'::text, :'extra'::text)),
                  'shard 0 keeps one active holder, the one with the smaller node id');

SELECT throws_ok($$SELECT dht.maintenance_run(-1)$$, '22023', 'max_moves must be 0 or more, or NULL for no limit',
                 'a negative batch is refused');
SELECT throws_ok($$SELECT dht._setting('work_mem')$$, '22023', '"work_mem" is not a smartlayer_dht setting',
                 '_setting reads only smartlayer_dht settings');

SELECT * FROM finish();
ROLLBACK;
