-- RaptorQ classes in the directory: defining them (and every bad argument),
-- allocation with one ESI range per holder, the token's OTI (recorded once,
-- resolved, every refusal), Storj's shape end to end through the directory
-- (29 source symbols, 80 holders, 40 lost, a corrupted holder left out by
-- its digest), a repair that gives the replacement a range nobody held, and
-- classes sized by target with dht.rq_plan_holders.  Nodes in region
-- tap-rq-r (90 operators); rolled back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
SET search_path = public, dht;

BEGIN;
SELECT plan(39);

CREATE TEMP TABLE rq_nodes ON COMMIT DROP AS
SELECT i, k.pubkey, dht.node_id(k.pubkey) AS id
FROM generate_series(0, 89) i, dht.ed25519_keypair(sha256(('tap-rq' || i)::bytea)) k;
SELECT count(dht.register_node(pubkey, 'https://tap-rq-' || i || '.example', 'tap-rq-r', 'tap-rq-op' || i,
                               ('10.75.' || i || '.1')::inet, 100, 100))
FROM rq_nodes;
CREATE FUNCTION pg_temp.bytes(n int, seed int DEFAULT 0) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(string_agg(sha256(int4send(seed) || int4send(i)), '' ORDER BY i) FROM 1 FOR n)
    FROM generate_series(0, n / 32) i $$;

-- 1. Defining classes.
SELECT lives_ok($$SELECT dht.define_sla_raptorq('tap-rq', 29, 51, regions => '{tap-rq-r}')$$,
                'define_sla_raptorq: Storj''s 29 + 51');
SELECT results_eq($$SELECT data_shards, parity_shards, coding, symbols_per_holder FROM dht.sla_classes WHERE name = 'tap-rq'$$,
                  $$VALUES (29, 51, 'raptorq', 1)$$, 'the class codes with RaptorQ, one symbol a holder');
SELECT dht.define_sla_raptorq('tap-rq4', 3, 2, symbols_per_holder => 4, regions => '{tap-rq-r}');
SELECT dht.define_sla('tap-rq-rs', 3, 2, regions => '{tap-rq-r}');
SELECT results_eq($$SELECT coding, symbols_per_holder FROM dht.sla_classes WHERE name = 'tap-rq-rs'$$,
                  $$VALUES ('reed-solomon', 1)$$, 'a define_sla class codes with Reed-Solomon');
SELECT throws_ok($$SELECT dht.define_sla_raptorq('tap-rq-x', 3, 2, symbols_per_holder => 0)$$, '22023',
                 'symbols_per_holder must be between 1 and 65535, not 0', 'symbols_per_holder 0: 22023');
SELECT throws_ok($$SELECT dht.define_sla_raptorq('tap-rq-x', 3, 2, symbols_per_holder => NULL)$$, '22023',
                 'symbols_per_holder must be between 1 and 65535, not NULL', 'symbols_per_holder NULL: 22023');
SELECT throws_ok($$SELECT dht.define_sla_raptorq('tap-rq-x', 200, 2, symbols_per_holder => 300)$$, '22023',
                 'a RaptorQ class of 200 x 300 symbols exceeds 56403 source symbols a block',
                 'more than 56403 source symbols a block: 22023');
SELECT throws_ok($$SELECT dht.define_sla_raptorq('tap-rq-x', 3, NULL)$$, '22023',
                 'parity_shards must not be NULL', 'parity NULL: 22023 (use the by-target form)');
SELECT throws_ok($$SELECT dht.define_sla_raptorq('tap-rq-x', 200, 100)$$, '22023', NULL,
                 'more than 255 holders: 22023');
SELECT throws_ok($$SELECT dht.define_sla_raptorq_by_target('tap-rq-x', 3, 1.5)$$, '22023',
                 'target_availability must be above 0 and below 1', 'target 1.5: 22023');
SELECT is((SELECT count(*)::int FROM dht.sla_classes WHERE name = 'tap-rq-x'), 0, 'none of the bad definitions left a class');

-- 2. Allocation: one ESI range per holder, the shard's own at first.
\set t1 '''eip155:1/erc721:0x00000000000000000000000000000000007a9008/1'''
\set t2 '''eip155:1/erc721:0x00000000000000000000000000000000007a9008/2'''
\set t3 '''eip155:1/erc721:0x00000000000000000000000000000000007a9008/3'''
SELECT is((SELECT count(*)::int FROM dht.allocate(:t1, 'tap-rq')), 80, 'a Storj token gets 80 holders');
SELECT results_eq(format($$SELECT coding, symbols_per_holder, data_shards, parity_shards FROM dht.tokens WHERE token = %L$$, :t1),
                  $$VALUES ('raptorq', 1, 29, 51)$$, 'dht.tokens shows its coding');
SELECT is((SELECT count(*)::int FROM dht.placements WHERE token = :t1 AND first_esi = shard AND esi_count = 1), 80,
          'holder of shard i stores ESI i');
SELECT is((SELECT count(*)::int FROM dht.allocate(:t2, 'tap-rq4')), 5, 'a 3 + 2 token of 4 symbols a holder');
SELECT is((SELECT array_agg(first_esi ORDER BY shard) FROM dht.placements WHERE token = :t2 AND esi_count = 4),
          '{0,4,8,12,16}'::int[], 'holder of shard i stores ESIs 4i .. 4i + 3');
SELECT is((SELECT count(*)::int FROM dht.allocate(:t3, 'tap-rq-rs')), 5, 'a Reed-Solomon token');
SELECT results_eq(format($$SELECT coding, symbols_per_holder FROM dht.tokens WHERE token = %L$$, :t3),
                  $$VALUES ('reed-solomon', NULL::int)$$, 'its coding, no symbol count');
SELECT is((SELECT count(*)::int FROM dht.placements WHERE token = :t3 AND first_esi IS NULL AND esi_count IS NULL), 5,
          'and no ESI ranges');

-- 3. The OTI: 29 symbols of 64 bytes.
SELECT pg_temp.bytes(29 * 64 - 10, 7) AS data \gset
SELECT dht.rq_oti(length(:'data'::bytea), 64) AS oti \gset
SELECT is(dht.token_oti(:t1), NULL, 'no OTI until one is recorded');
SELECT throws_ok(format($$SELECT dht.record_oti(%L, '\x0102'::bytea)$$, :t1), '22023',
                 'invalid RaptorQ OTI', 'an OTI that is not 12 bytes: 22023');
SELECT throws_ok(format($$SELECT dht.record_oti(%L, dht.rq_oti(30 * 64, 64))$$, :t1), '22023',
                 format('the OTI''s source blocks are larger than token "%s" is coded for', :t1),
                 'a block of 30 symbols for 29 holders of 1: 22023');
SELECT throws_ok(format($$SELECT dht.record_oti(%L, %L)$$, :t3, :'oti'), '22023',
                 format('token "%s" is not coded with RaptorQ', :t3), 'a Reed-Solomon token: 22023');
SELECT throws_ok(format($$SELECT dht.record_oti(%L, %L)$$, 'eip155:1/erc721:0x00000000000000000000000000000000007a9008/99', :'oti'),
                 '22023', 'token "eip155:1/erc721:0x00000000000000000000000000000000007a9008/99" is not allocated',
                 'an unknown token: 22023');
SELECT throws_ok($$SELECT dht.record_oti(NULL, '\x00'::bytea)$$, '22023', 'token and oti must not be NULL', 'NULL: 22023');
SELECT lives_ok(format($$SELECT dht.record_oti(%L, %L)$$, :t1, :'oti'), 'record_oti');
SELECT is(dht.token_oti(:t1), :'oti'::bytea, 'token_oti returns it');
SELECT lives_ok(format($$SELECT dht.record_oti(%L, %L)$$, :t1, :'oti'), 'the same OTI again is a no-op');
SELECT throws_ok(format($$SELECT dht.record_oti(%L, dht.rq_oti(100, 64))$$, :t1), '22023',
                 format('token "%s" already has a different OTI', :t1), 'a different OTI: 22023');

-- 4. Every holder stores its fragment and confirms it with its digest.
CREATE TEMP TABLE rq_frag ON COMMIT DROP AS
SELECT p.shard, p.node_id, p.first_esi, dht.rq_holder_fragment(:'data', :'oti', p.first_esi, p.esi_count) AS f
FROM dht.placements p WHERE p.token = :t1;
SELECT count(dht.confirm(:t1, shard, node_id, dht.fragment_digest(f))) FROM rq_frag;
SELECT is((SELECT count(*)::int FROM dht.placements WHERE token = :t1 AND digest IS NOT NULL), 80,
          'every holder has its digest');
-- 40 holders lost: the other 40 decode, with the digests the directory keeps.
SELECT is(dht.rq_decode(dht.token_oti(:t1),
                        ARRAY(SELECT f.f FROM rq_frag f WHERE f.shard % 2 = 1 ORDER BY f.shard),
                        ARRAY(SELECT p.digest FROM dht.placements p JOIN rq_frag f USING (shard, node_id)
                              WHERE p.token = :t1 AND f.shard % 2 = 1 ORDER BY f.shard)),
          :'data'::bytea, '40 of 80 holders lost: the rest decode the data');
-- One of them corrupted: its digest leaves it out, and 39 still decode.
SELECT is(dht.rq_decode(dht.token_oti(:t1),
                        ARRAY(SELECT CASE WHEN f.shard = 1 THEN overlay(f.f PLACING '\xff'::bytea FROM 9) ELSE f.f END
                              FROM rq_frag f WHERE f.shard % 2 = 1 ORDER BY f.shard),
                        ARRAY(SELECT p.digest FROM dht.placements p JOIN rq_frag f USING (shard, node_id)
                              WHERE p.token = :t1 AND f.shard % 2 = 1 ORDER BY f.shard)),
          :'data'::bytea, 'a corrupted holder is left out by its digest');

-- 5. Repair: the replacement gets a range nobody held (80), and its fresh
-- symbol decodes with the others.
SELECT node_id AS lost FROM dht.placements WHERE token = :t1 AND shard = 5 \gset
SELECT dht.set_node_state(:'lost', 'down');
SELECT dht.repair();
SELECT results_eq(format($$SELECT state, first_esi FROM dht.placements WHERE token = %L AND shard = 5 ORDER BY first_esi$$, :t1),
                  $$VALUES ('retiring', 5), ('pending', 80)$$, 'the replacement of shard 5 stores ESI 80, not the lost 5');
SELECT node_id AS fresh FROM dht.placements WHERE token = :t1 AND shard = 5 AND state = 'pending' \gset
SELECT dht.rq_holder_fragment(:'data', dht.token_oti(:t1), 80, 1) AS fresh_f \gset
SELECT dht.confirm(:t1, 5, :'fresh', dht.fragment_digest(:'fresh_f'));
SELECT results_eq(format($$SELECT state, first_esi FROM dht.placements WHERE token = %L AND shard = 5$$, :t1),
                  $$VALUES ('active', 80)$$, 'confirmed: the new holder, the old one dropped');
SELECT is(dht.rq_decode(dht.token_oti(:t1),
                        ARRAY(SELECT f.f FROM rq_frag f WHERE f.shard < 28 AND f.shard <> 5 ORDER BY f.shard)
                            || ARRAY[:'fresh_f'::bytea, (SELECT f FROM rq_frag WHERE shard = 30), (SELECT f FROM rq_frag WHERE shard = 31)]),
          :'data'::bytea, 'the fresh symbol takes its part in a decode');
-- A second repair of that shard goes higher still.
SELECT dht.set_node_state(:'fresh', 'down');
SELECT dht.repair();
SELECT is((SELECT first_esi FROM dht.placements WHERE token = :t1 AND shard = 5 AND state = 'pending'), 81,
          'the next replacement stores ESI 81');

-- 6. Release: the OTI goes with the token's life.
SELECT dht.release(:t1);
SELECT is(dht.token_oti(:t1), NULL, 'a released token has no OTI');
SELECT is((SELECT count(*)::int FROM dht.allocate(:t1, 'tap-rq')), 80, 'allocated again');
SELECT is(dht.token_oti(:t1), NULL, 'its new life has none either');

-- 7. Sized by target: holders from dht.rq_plan_holders at the nodes' mean availability.
SELECT count(dht.set_node_availability(id, 0.9)) FROM rq_nodes;
SELECT dht.define_sla_raptorq_by_target('tap-rq-target', 10, 0.999999, regions => '{tap-rq-r}');
SELECT is((SELECT count(*)::int FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9008/4', 'tap-rq-target')),
          dht.rq_plan_holders(10, 1, 0.9, 0.999999), 'a by-target class gets rq_plan_holders holders');

SELECT * FROM finish();
ROLLBACK;
