-- Allocation, lookup and release, by behaviour: allocate records what
-- dht.place says at that moment, lookup returns it, both are idempotent and
-- transactional (a rolled-back savepoint leaves nothing), release forgets the
-- token and re-allocation works; and what each role may do.  Nodes in region
-- tap-al-r, classes tap-al*, roles tap_al_*: all rolled back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

BEGIN;
SELECT plan(37);

SELECT dht.begin_epoch(sha256('tap-al-seed'::bytea)) AS al_epoch \gset
CREATE TEMP TABLE al_nodes ON COMMIT DROP AS
SELECT i, k.pubkey, dht.node_id(k.pubkey) AS id, 'https://tap-al-' || i || '.example' AS endpoint
FROM generate_series(0, 9) i, dht.ed25519_keypair(sha256(('tap-al' || i)::bytea)) k;
SELECT count(dht.register_node(pubkey, endpoint, 'tap-al-r', 'tap-al-op' || i, ('10.75.' || i || '.1')::inet, 100, 100))
FROM al_nodes;
SELECT dht.define_sla('tap-al', 3, 2, regions => '{tap-al-r}');
SELECT dht.define_sla('tap-al-other', 1, 1, regions => '{tap-al-r}');

\set t1 '''eip155:1/erc721:0x00000000000000000000000000000000007a9003/1'''
\set t2 '''eip155:1/erc721:0x00000000000000000000000000000000007a9003/2'''
\set t3 '''eip155:1/erc721:0x00000000000000000000000000000000007a9003/3'''

SELECT is((SELECT count(*) FROM dht.lookup(:t1)), 0::bigint, 'lookup of an unknown token is empty');

-- allocate = place at that moment, plus endpoints.
CREATE TEMP TABLE al1 ON COMMIT DROP AS
SELECT shard, node_id::text AS node, endpoint FROM dht.allocate(:t1, 'tap-al');
SELECT results_eq($$SELECT shard, node FROM al1 ORDER BY shard$$,
                  format($$SELECT shard, node_id::text FROM dht.place(dht.token_key(%L), 'tap-al')$$, :t1),
                  'allocate returns what place says for the token''s key');
SELECT is((SELECT count(*) FROM al1 a JOIN al_nodes n ON n.id::text = a.node AND n.endpoint = a.endpoint),
          5::bigint, 'with each node''s endpoint');
SELECT results_eq(format($$SELECT shard, node_id::text, endpoint, state FROM dht.lookup(%L)$$, :t1),
                  $$SELECT shard, node, endpoint, 'active'::text FROM al1 ORDER BY shard$$,
                  'lookup returns the holders ordered by shard, active');
SELECT results_eq(format($$SELECT key::text, sla, data_shards, parity_shards, epoch FROM dht.tokens WHERE token = %L$$, :t1),
                  format($$VALUES (dht.token_key(%L)::text, 'tap-al'::text, 3, 2, %s::bigint)$$, :t1, :al_epoch),
                  'dht.tokens records key, class, shard counts and epoch');
SELECT results_eq(format($$SELECT shard, node_id::text, state, epoch, digest FROM dht.placements WHERE token = %L ORDER BY shard$$, :t1),
                  format($$SELECT shard, node, 'active'::text, %s::bigint, NULL::bytea FROM al1 ORDER BY shard$$, :al_epoch),
                  'dht.placements has one active row per shard');

-- Idempotent: the same rows, nothing new written, whatever class is asked.
CREATE TEMP TABLE al_logs ON COMMIT DROP AS
SELECT (SELECT count(*) FROM dht.token_log) AS tokens, (SELECT md5(coalesce(string_agg(holders::text, ',' ORDER BY token, origin), '')) FROM dht.token_log) AS placements;
SELECT results_eq(format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-al')$$, :t1),
                  $$SELECT shard, node, endpoint FROM al1 ORDER BY shard$$,
                  'allocating again returns the same rows');
SELECT results_eq(format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-al-other')$$, :t1),
                  $$SELECT shard, node, endpoint FROM al1 ORDER BY shard$$,
                  'allocating again under another class returns the existing placement');
SELECT results_eq($$SELECT (SELECT count(*) FROM dht.token_log), (SELECT md5(coalesce(string_agg(holders::text, ',' ORDER BY token, origin), '')) FROM dht.token_log)$$,
                  $$SELECT tokens, placements FROM al_logs$$,
                  'and writes nothing to dht.token_log');
SELECT is((SELECT sla FROM dht.tokens WHERE token = :t1), 'tap-al', 'the token keeps its class');

-- Lookup follows a node's current endpoint.
SELECT dht.register_node(pubkey, endpoint || '/moved', 'tap-al-r', 'tap-al-op' || i, ('10.75.' || i || '.1')::inet, 100, 100)
FROM al_nodes WHERE id::text = (SELECT node FROM al1 WHERE shard = 0);
SELECT is((SELECT endpoint FROM dht.lookup(:t1) WHERE shard = 0), (SELECT endpoint || '/moved' FROM al1 WHERE shard = 0),
          'lookup shows a holder''s new endpoint');

-- A rolled-back savepoint leaves nothing behind (no pgTAP calls in between:
-- their results would be rolled back too).
SAVEPOINT al_sp;
SELECT count(*) AS sp_alloc FROM dht.allocate(:t2, 'tap-al') \gset
SELECT count(*) AS sp_lookup FROM dht.lookup(:t2) \gset
ROLLBACK TO SAVEPOINT al_sp;
SELECT is(:sp_alloc + :sp_lookup, 10, 'inside the savepoint, the allocation was visible');
SELECT is((SELECT count(*) FROM dht.lookup(:t2)), 0::bigint, 'after ROLLBACK TO, lookup is empty');
SELECT is((SELECT count(*) FROM dht.token_log WHERE token = :t2),
          0::bigint, 'and no log row of it remains');
SELECT is((SELECT count(*) FROM dht.allocate(:t2, 'tap-al')), 5::bigint, 'allocating it afterwards works');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t2), 5::bigint, 'with one placement set');

-- Release, and allocate again.
SELECT ok(dht.release(:t1), 'release returns true');
SELECT is((SELECT count(*) FROM dht.lookup(:t1)), 0::bigint, 'lookup of a released token is empty');
SELECT is((SELECT count(*) FROM dht.tokens WHERE token = :t1), 0::bigint, 'dht.tokens lacks it');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t1), 0::bigint, 'dht.placements lacks it');
SELECT is((SELECT count(*) FROM dht.allocate(:t2, 'tap-al')), 5::bigint, 'other tokens are untouched');
SELECT dht.begin_epoch(sha256('tap-al-seed-2'::bytea)) AS al_epoch2 \gset
SELECT results_eq(format($$SELECT shard, node_id::text FROM dht.allocate(%L, 'tap-al-other')$$, :t1),
                  format($$SELECT shard, node_id::text FROM dht.place(dht.token_key(%L), 'tap-al-other')$$, :t1),
                  're-allocating a released token places it afresh (new class, new epoch)');
SELECT results_eq(format($$SELECT shard, state FROM dht.lookup(%L)$$, :t1),
                  $$VALUES (0, 'active'::text), (1, 'active')$$,
                  'lookup shows only the new placement');
SELECT results_eq(format($$SELECT sla, data_shards, parity_shards, epoch FROM dht.tokens WHERE token = %L$$, :t1),
                  format($$VALUES ('tap-al-other'::text, 1, 1, %s::bigint)$$, :al_epoch2),
                  'dht.tokens shows the new class and epoch');
SELECT ok(dht.release(:t1), 'release it again');
SELECT is((SELECT count(*) FROM dht.allocate(:t1, 'tap-al')), 5::bigint, 'and allocate it a third time');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t1), 5::bigint,
          'only the live placement is listed (old holders stay dropped)');

-- Roles: throwaway roles that are granted the extension's roles.
CREATE ROLE tap_al_reader NOLOGIN IN ROLE dht_reader;
CREATE ROLE tap_al_writer NOLOGIN IN ROLE dht_writer;
CREATE ROLE tap_al_nobody NOLOGIN;
-- Runs sql as role and returns its single value, or the SQLSTATE it raised.
CREATE FUNCTION pg_temp.al_as(role text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', role);
    BEGIN
        EXECUTE sql INTO result;
    EXCEPTION WHEN OTHERS THEN
        result := 'SQLSTATE ' || SQLSTATE;
    END;
    RESET ROLE;
    RETURN result;
END $$;
SELECT is(pg_temp.al_as('tap_al_reader', format($$SELECT count(*) FROM dht.lookup(%L)$$, :t2)), '5',
          'dht_reader can call lookup');
SELECT is(pg_temp.al_as('tap_al_reader', format($$SELECT count(*) FROM dht.place(dht.token_key(%L), 'tap-al')$$, :t3)), '5',
          'dht_reader can call place');
SELECT is(pg_temp.al_as('tap_al_reader', $$SELECT count(*) FROM dht.placements$$),
          (SELECT count(*)::text FROM dht.placements), 'dht_reader can read the tables');
SELECT is(pg_temp.al_as('tap_al_reader', format($$SELECT count(*) FROM dht.allocate(%L, 'tap-al')$$, :t3)), 'SQLSTATE 42501',
          'dht_reader cannot allocate (42501)');
SELECT is(pg_temp.al_as('tap_al_reader', format($$SELECT dht.release(%L)$$, :t2)), 'SQLSTATE 42501',
          'dht_reader cannot release (42501)');
SELECT is(pg_temp.al_as('tap_al_writer', format($$SELECT count(*) FROM dht.allocate(%L, 'tap-al')$$, :t3)), '5',
          'dht_writer can allocate');
SELECT is(pg_temp.al_as('tap_al_writer', format($$SELECT dht.release(%L)::text$$, :t3)), 'true',
          'dht_writer can release');
SELECT is(pg_temp.al_as('tap_al_writer', $$SELECT dht.define_sla('tap-al-x', 1, 0)::text$$), 'SQLSTATE 42501',
          'dht_writer cannot define SLA classes (42501)');
SELECT is(pg_temp.al_as('tap_al_writer', format($$SELECT dht.set_node_state(%L, 'down')::text$$, (SELECT id FROM al_nodes WHERE i = 0))),
          'SQLSTATE 42501', 'dht_writer cannot set node states (42501)');
SELECT is(pg_temp.al_as('tap_al_nobody', format($$SELECT count(*) FROM dht.lookup(%L)$$, :t2)), 'SQLSTATE 42501',
          'a role without dht_reader cannot look up (42501)');

SELECT * FROM finish();
ROLLBACK;
