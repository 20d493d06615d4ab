-- Repair, by behaviour: what dht.repair_plan lists (node down, draining or
-- banned, SLA no longer met, diversity broken, no eligible replacement), the
-- replacement it picks (eligible, not a holder, keeps diversity, the next
-- node of the token's rendezvous order, deterministic), dht.repair (pending
-- and retiring, both listed by lookup; max_moves), dht.confirm (the new holder
-- active, the old ones dropped), and the operators' views node_load and
-- tokens_at_risk.  Nodes in regions tap-rp-*, classes tap-rp*; rolled back.
-- Other files' tokens may need repairs too, so every check filters on this
-- file's tokens and repair() counts are compared with the whole plan.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

BEGIN;
SELECT plan(50);

SELECT dht.begin_epoch(sha256('tap-rp-seed'::bytea)) AS rp_epoch \gset
-- 14 nodes with their own operators (a third of them slow) in tap-rp-r, and
-- 5 in tap-rp-t (exactly what a 3 + 2 class there needs).
CREATE TEMP TABLE rp_nodes ON COMMIT DROP AS
SELECT i, k.pubkey, dht.node_id(k.pubkey) AS id,
       CASE WHEN i < 14 THEN 'tap-rp-r' ELSE 'tap-rp-t' END AS region,
       'tap-rp-op' || i AS operator, ('10.76.' || i || '.1')::inet AS addr,
       CASE WHEN i % 3 = 0 THEN 200 ELSE 1000 END AS bandwidth_mbps
FROM generate_series(0, 18) i, dht.ed25519_keypair(sha256(('tap-rp' || i)::bytea)) k;
SELECT count(dht.register_node(pubkey, 'https://tap-rp-' || i || '.example', region, operator, addr, bandwidth_mbps, 100))
FROM rp_nodes;
SELECT dht.define_sla('tap-rp', 3, 2, 100, regions => '{tap-rp-r}');
SELECT dht.define_sla('tap-rp-tight', 3, 2, regions => '{tap-rp-t}');

\set ta '''eip155:1/erc721:0x00000000000000000000000000000000007a9004/1'''
\set tb '''eip155:1/erc721:0x00000000000000000000000000000000007a9004/2'''
\set tc '''eip155:1/erc721:0x00000000000000000000000000000000007a9004/3'''
\set td '''eip155:1/erc721:0x00000000000000000000000000000000007a9004/4'''
\set te '''eip155:1/erc721:0x00000000000000000000000000000000007a9004/5'''
CREATE TEMP TABLE rp_tokens ON COMMIT DROP AS
SELECT t::dht.token AS token FROM (VALUES (:ta), (:tb), (:tc), (:td), (:te)) v(t);
-- This file's part of the plan.
CREATE VIEW pg_temp.rp_plan AS
SELECT p.token::text AS token, p.shard, p.from_node::text AS from_node, p.to_node::text AS to_node, p.reason
FROM dht.repair_plan() p WHERE p.token IN (SELECT token FROM rp_tokens);
-- Holders of a token with their node's attributes.
CREATE FUNCTION pg_temp.rp_holders(t dht.token) RETURNS TABLE (shard int, node text, state text, i int, operator text, bw int)
LANGUAGE sql AS $$
    SELECT l.shard, l.node_id::text, l.state, n.i, n.operator, n.bandwidth_mbps
    FROM dht.lookup(t) l JOIN rp_nodes n ON n.id = l.node_id ORDER BY l.shard, l.state
$$;

SELECT is((SELECT count(*) FROM dht.allocate(:ta, 'tap-rp')), 5::bigint, 'allocate token A (3 + 2)');
SELECT is((SELECT count(*) FROM pg_temp.rp_plan), 0::bigint, 'nothing to repair while every holder is fine');

-- A holder goes down: exactly its shard is listed, with a good replacement.
SELECT node AS a1 FROM pg_temp.rp_holders(:ta) WHERE shard = 1 \gset
SELECT dht.set_node_state(:'a1', 'down');
SELECT results_eq($$SELECT token, shard, from_node, reason FROM pg_temp.rp_plan$$,
                  format($$VALUES (%L, 1, %L, 'node down')$$, :ta, :'a1'),
                  'node down: repair_plan lists exactly that token''s shard on that node');
SELECT to_node AS a1_to FROM pg_temp.rp_plan \gset
SELECT ok((SELECT state = 'active' AND region = 'tap-rp-r' AND bandwidth_mbps >= 100 FROM dht.nodes WHERE node_id = :'a1_to'),
          'the replacement is an eligible node');
SELECT ok(:'a1_to' NOT IN (SELECT node FROM pg_temp.rp_holders(:ta)), 'the replacement is not already a holder');
SELECT ok((SELECT operator FROM rp_nodes WHERE id = :'a1_to') NOT IN (SELECT operator FROM pg_temp.rp_holders(:ta) WHERE shard <> 1),
          'the replacement keeps the diversity rule with the holders that stay');
SELECT set_eq(format($$SELECT node_id::text FROM dht.place(dht.token_key(%L), 'tap-rp')$$, :ta),
              format($$SELECT node FROM pg_temp.rp_holders(%L) WHERE shard <> 1 UNION ALL SELECT %L$$, :ta, :'a1_to'),
              'for this token, place now gives the holders that stay plus the replacement');
SELECT is((SELECT node_id::text FROM dht.place(dht.token_key(:ta), 'tap-rp') WHERE shard = 1), :'a1_to',
          'the replacement is the next node of shard 1''s own rendezvous order (what place now puts at shard 1)');
SELECT results_eq($$SELECT * FROM pg_temp.rp_plan ORDER BY token, shard$$,
                  format($$VALUES (%L, 1, %L, %L, 'node down')$$, :ta, :'a1', :'a1_to'),
                  'repair_plan is deterministic (same rows again)');

-- repair: the new holder pending, the old one retiring; both listed.
CREATE TEMP TABLE rp_sum ON COMMIT DROP AS SELECT * FROM dht.network_summary;
SELECT (SELECT count(*) FROM dht.repair_plan() WHERE to_node IS NOT NULL) AS all_moves \gset
SELECT is(dht.repair(), :all_moves::bigint, 'repair applies every move of the plan');
SELECT results_eq(format($$SELECT node, state FROM pg_temp.rp_holders(%L) WHERE shard = 1 ORDER BY state$$, :ta),
                  format($$VALUES (%L, 'pending'::text), (%L, 'retiring')$$, :'a1_to', :'a1'),
                  'after repair, lookup lists the new holder pending and the old one retiring');
SELECT is((SELECT count(*) FROM dht.lookup(:ta) WHERE shard <> 1 AND state = 'active'), 4::bigint,
          'the other shards are untouched');
SELECT ok((SELECT s.pending_placements - o.pending_placements >= 1 AND s.retiring_placements - o.retiring_placements >= 1
           FROM dht.network_summary s, rp_sum o), 'network_summary counts pending and retiring placements');
SELECT is((SELECT count(*) FROM pg_temp.rp_plan), 0::bigint, 'a pending replacement is not planned again');

-- The pending replacement goes down before it confirms: replaced in turn,
-- and the original holder is still not forgotten.
SELECT dht.set_node_state(:'a1_to', 'down');
SELECT results_eq($$SELECT token, shard, from_node, reason FROM pg_temp.rp_plan$$,
                  format($$VALUES (%L, 1, %L, 'node down')$$, :ta, :'a1_to'),
                  'a pending holder that goes down is replaced too');
SELECT to_node AS a1_to2 FROM pg_temp.rp_plan \gset
SELECT ok(dht.repair(NULL) >= 1, 'repair again');
SELECT results_eq(format($$SELECT node, state FROM pg_temp.rp_holders(%L) WHERE shard = 1 ORDER BY state, node$$, :ta),
                  format($$SELECT * FROM (VALUES (%L, 'pending'::text), (%L, 'retiring'), (%L, 'retiring')) v ORDER BY 2, 1$$,
                         :'a1_to2', :'a1', :'a1_to'),
                  'lookup lists the new pending holder and both retiring ones');
SELECT dht.confirm(:ta, 1, :'a1_to2');
SELECT results_eq(format($$SELECT shard, state FROM pg_temp.rp_holders(%L)$$, :ta),
                  $$VALUES (0, 'active'::text), (1, 'active'), (2, 'active'), (3, 'active'), (4, 'active')$$,
                  'confirm: the new holder is active and the retiring ones are gone');
SELECT is((SELECT node FROM pg_temp.rp_holders(:ta) WHERE shard = 1), :'a1_to2', 'shard 1 is on the confirmed node');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :ta), 5::bigint, 'dht.placements has 5 rows again');
SELECT is((SELECT count(*) FROM pg_temp.rp_plan), 0::bigint, 'nothing left to repair for token A');

-- Draining and banned holders are moved too.
SELECT is((SELECT count(*) FROM dht.allocate(:tb, 'tap-rp')), 5::bigint, 'allocate token B');
SELECT node AS b0 FROM pg_temp.rp_holders(:tb) WHERE shard = 0 \gset
SELECT node AS b4 FROM pg_temp.rp_holders(:tb) WHERE shard = 4 \gset
SELECT dht.set_node_state(:'b0', 'draining');
SELECT dht.set_node_state(:'b4', 'banned');
SELECT results_eq(format($$SELECT shard, from_node, reason FROM pg_temp.rp_plan WHERE token = %L ORDER BY shard$$, :tb),
                  format($$VALUES (0, %L, 'node draining'), (4, %L, 'node banned')$$, :'b0', :'b4'),
                  'draining and banned holders are listed with their reason');
SELECT is((SELECT count(DISTINCT to_node) FROM pg_temp.rp_plan WHERE token = :tb AND to_node NOT IN (SELECT node FROM pg_temp.rp_holders(:tb))),
          2::bigint, 'two distinct new nodes replace them');
SELECT is((SELECT count(DISTINCT n.operator) FROM (SELECT node FROM pg_temp.rp_holders(:tb) WHERE shard IN (1, 2, 3)
                                                   UNION ALL SELECT to_node FROM pg_temp.rp_plan WHERE token = :tb) h
           JOIN rp_nodes n ON n.id::text = h.node), 5::bigint,
          'the holders that stay and the replacements have 5 distinct operators');

-- repair(max_moves => 1) applies one move.
SELECT (SELECT count(*) FROM dht.repair_plan() WHERE to_node IS NOT NULL) AS all_moves \gset
SELECT (SELECT pending_placements FROM dht.network_summary) AS pending0 \gset
SELECT is(dht.repair(max_moves => 1), 1::bigint, 'repair(max_moves => 1) applies one move');
SELECT is((SELECT pending_placements FROM dht.network_summary), :pending0 + 1::bigint, 'one more pending placement');
SELECT is((SELECT count(*) FROM dht.repair_plan() WHERE to_node IS NOT NULL), :all_moves - 1::bigint, 'one move fewer in the plan');
SELECT is(dht.repair(max_moves => 0), 0::bigint, 'repair(max_moves => 0) applies none');
SELECT is(dht.repair(), :all_moves - 1::bigint, 'repair() applies the rest');
SELECT is((SELECT count(*) FROM dht.lookup(:tb) WHERE state = 'pending'), 2::bigint, 'token B has two pending holders');
SELECT is((SELECT count(*) FROM (SELECT dht.confirm(:tb, shard, node_id, sha256(node_id::text::bytea))
                                  FROM dht.lookup(:tb) WHERE state = 'pending') c), 2::bigint, 'confirm both, with digests');
SELECT results_eq(format($$SELECT count(*), count(digest) FROM dht.placements WHERE token = %L$$, :tb),
                  $$VALUES (5::bigint, 2::bigint)$$, 'token B is back to 5 holders, the confirmed ones with their digest');

-- The class asks for more: slow holders no longer meet it.
SELECT dht.define_sla('tap-rp', 3, 2, 500, regions => '{tap-rp-r}');
SELECT set_eq($$SELECT token, from_node FROM pg_temp.rp_plan$$,
              format($$SELECT %L, node FROM pg_temp.rp_holders(%L) WHERE bw < 500
                       UNION ALL SELECT %L, node FROM pg_temp.rp_holders(%L) WHERE bw < 500$$, :ta, :ta, :tb, :tb),
              'SLA raised: every slow holder of A and B is listed');
SELECT ok((SELECT count(*) > 0 AND bool_and(reason = 'SLA no longer met') FROM pg_temp.rp_plan),
          'with reason "SLA no longer met"');
SELECT ok((SELECT bool_and(n.bandwidth_mbps >= 500) FROM pg_temp.rp_plan p JOIN rp_nodes n ON n.id::text = p.to_node),
          'and replacements that meet the new class');
SELECT dht.repair();
SELECT dht.confirm(p.token, p.shard, p.node_id) FROM dht.placements p WHERE p.token IN (:ta, :tb) AND p.state = 'pending';
SELECT is((SELECT count(*) FROM pg_temp.rp_plan), 0::bigint, 'after repair and confirm, nothing left for A and B');

-- Diversity broken: an operator change makes two holders share an operator.
SELECT is((SELECT count(*) FROM dht.allocate(:tc, 'tap-rp')), 5::bigint, 'allocate token C');
SELECT node AS c0 FROM pg_temp.rp_holders(:tc) WHERE shard = 0 \gset
SELECT node AS c2 FROM pg_temp.rp_holders(:tc) WHERE shard = 2 \gset
SELECT dht.register_node(pubkey, 'https://tap-rp-' || i || '.example', region,
                         (SELECT operator FROM rp_nodes WHERE id = :'c0'), addr, bandwidth_mbps, 100)
FROM rp_nodes WHERE id = :'c2';
SELECT results_eq(format($$SELECT shard, from_node, reason FROM pg_temp.rp_plan WHERE token = %L$$, :tc),
                  format($$VALUES (2, %L, 'diversity broken')$$, :'c2'),
                  'diversity broken: the later of the two holders is listed');
SELECT ok((SELECT bool_and((SELECT operator FROM rp_nodes WHERE id::text = p.to_node) <> ALL (
                   SELECT n.operator FROM dht.lookup(:tc) l JOIN dht.nodes n USING (node_id) WHERE l.shard <> 2))
           FROM pg_temp.rp_plan p WHERE p.token = :tc),
          'its replacement shares no operator with the holders that stay');

-- Too few healthy shards: tokens_at_risk.
SELECT is((SELECT count(*) FROM dht.allocate(:td, 'tap-rp')), 5::bigint, 'allocate token D');
SELECT dht.set_node_state(node_id, 'down') FROM dht.lookup(:td) WHERE shard = 0;
SELECT is((SELECT count(*) FROM dht.tokens_at_risk WHERE token = :td), 0::bigint,
          'one holder down: 4 healthy shards are enough (data_shards + 1)');
SELECT dht.set_node_state(node_id, 'down') FROM dht.lookup(:td) WHERE shard = 3;
SELECT results_eq(format($$SELECT sla, data_shards, parity_shards, healthy_shards FROM dht.tokens_at_risk WHERE token = %L$$, :td),
                  $$VALUES ('tap-rp'::text, 3, 2, 3::bigint)$$,
                  'two holders down: token D is at risk with 3 healthy shards');

-- No eligible replacement: listed with a NULL to_node, never applied.
SELECT is((SELECT count(*) FROM dht.allocate(:te, 'tap-rp-tight')), 5::bigint, 'allocate token E on exactly 5 nodes');
SELECT node AS e3 FROM pg_temp.rp_holders(:te) WHERE shard = 3 \gset
SELECT dht.set_node_state(:'e3', 'down');
SELECT results_eq(format($$SELECT shard, from_node, to_node, reason FROM pg_temp.rp_plan WHERE token = %L$$, :te),
                  format($$VALUES (3, %L, NULL::text, 'node down; no eligible replacement')$$, :'e3'),
                  'no eligible replacement: to_node is NULL and the reason says so');
SELECT ok(dht.repair() >= 0, 'repair');
SELECT is((SELECT count(*) FROM dht.lookup(:te) WHERE state = 'active'), 5::bigint,
          'a shard without a replacement stays on its holder');

-- node_load: the shards per node are the placements' counts.
SELECT results_eq(
    $$SELECT l.node_id::text, l.shards FROM dht.node_load l JOIN rp_nodes n ON n.id = l.node_id ORDER BY 1$$,
    $$SELECT n.id::text, count(p.node_id) FROM rp_nodes n LEFT JOIN dht.placements p ON p.node_id = n.id GROUP BY 1 ORDER BY 1$$,
    'node_load counts each node''s placements');
SELECT ok((SELECT abs(sum(shard_share) - 1) < 1e-9 AND abs(sum(weight_share) - 1) < 1e-9 FROM dht.node_load),
          'node_load shares sum to 1');
SELECT ok((SELECT bool_and(weight_share IS NULL) FROM dht.node_load l JOIN rp_nodes n ON n.id = l.node_id WHERE l.state <> 'active'),
          'nodes that are not active have no weight share');

SELECT * FROM finish();
ROLLBACK;
