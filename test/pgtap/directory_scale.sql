-- The 0.2 directory: dht.bucket_of (frozen, vectors computed with Python's
-- hashlib), dht.allocate_many, dht.route, dht.node_assignments, the node
-- feed index behind dht.placements, and per-bucket digests maintained as
-- rows change.  Runs in one transaction that rolls back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
SET search_path = public, dht;
BEGIN;
SELECT plan(43);

CREATE FUNCTION pg_temp.explain_of(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        RETURN NEXT r."QUERY PLAN";
    END LOOP;
END $$;

-- 1. bucket_of: the top 10 bits of BLAKE2b-256 of the canonical text,
-- e.g. hashlib.blake2b(t.encode(), digest_size=32).digest(); (k[0] << 2) | (k[1] >> 6).
SELECT results_eq(
    $$SELECT dht.bucket_of(t::dht.token) FROM unnest(ARRAY[
        'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/771769',
        'cosmos:cosmoshub-3/slip44:118',
        'eip155:137/erc1155:0x2953399124f0cbb46d2cbacd8a89cf0599974963/42',
        'eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48',
        'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/nft:Fw9YqDnVgfP1qNLJ1Wr1tXqF5xyDxR3w2x8B9fGJ9hPd/1',
        'eip155:10/erc721:0x0000000000000000000000000000000000000001/0',
        'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/3530',
        'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/5094']) t$$,
    $$VALUES (447), (627), (15), (23), (301), (219), (0), (1023)$$,
    'bucket_of matches vectors computed with hashlib, 0 and 1023 included');
SELECT is(dht.bucket_of('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0771769'), 447,
          'bucket_of takes the canonical text');

-- Nodes: 24 in 8 operators, class 4+2 with operator diversity.
CREATE TEMP TABLE sc_nodes AS
SELECT i, k.pubkey, dht.node_id(k.pubkey) AS id
FROM generate_series(0, 23) i, dht.ed25519_keypair(sha256(('tap-sc' || i)::bytea)) k;
SELECT count(dht.register_node(pubkey, 'https://tap-sc-' || i || '.example', 'tap-sc-r', 'tap-sc-op' || (i % 8),
                               ('10.81.' || i || '.1')::inet, 100, 100)) FROM sc_nodes;
SELECT dht.define_sla('tap-sc', 4, 2, regions => '{tap-sc-r}');
CREATE TEMP TABLE sc_tokens AS
SELECT g, ('eip155:1/erc721:0x00000000000000000000000000000000007a9010/' || g)::dht.token AS t
FROM generate_series(1, 500) g;

-- 2. allocate_many = allocate, token by token.
CREATE TEMP TABLE sc_many AS
SELECT * FROM dht.allocate_many(ARRAY(SELECT t FROM sc_tokens WHERE g <= 400), 'tap-sc');
SELECT is((SELECT count(*) FROM sc_many), 2400::bigint, 'allocate_many returns 6 rows a token');
SELECT is((SELECT count(DISTINCT token) FROM sc_many), 400::bigint, 'for every token');
SELECT is((SELECT count(*) FROM sc_many m WHERE NOT EXISTS (
               SELECT FROM dht.place(dht.token_key(m.token), 'tap-sc') p
               WHERE p.shard = m.shard AND p.node_id = m.node_id)), 0::bigint,
          'every holder is where dht.place puts it');
SELECT is((SELECT count(*) FROM sc_many m JOIN sc_nodes n ON n.id = m.node_id
           WHERE m.endpoint <> 'https://tap-sc-' || n.i || '.example'), 0::bigint,
          'with the node''s endpoint');
SELECT results_eq($$SELECT shard, node_id, endpoint FROM dht.allocate((SELECT t FROM sc_tokens WHERE g = 7), 'tap-sc')$$,
                  $$SELECT shard, node_id, endpoint FROM sc_many WHERE token = (SELECT t FROM sc_tokens WHERE g = 7) ORDER BY shard$$,
                  'allocate returns what allocate_many recorded');
CREATE TEMP TABLE sc_again AS
SELECT * FROM dht.allocate_many(ARRAY(SELECT t FROM sc_tokens WHERE g BETWEEN 300 AND 500), 'tap-sc');
SELECT is((SELECT count(*) FROM sc_again a JOIN sc_many m USING (token, shard, node_id)), 606::bigint,
          'allocated tokens come back as they were (idempotent)');
SELECT is((SELECT count(DISTINCT token) FROM sc_again), 201::bigint, 'new ones are allocated alongside');
SELECT is((SELECT count(*) FROM dht.allocate_many(ARRAY[(SELECT t FROM sc_tokens WHERE g = 1),
                                                       (SELECT t FROM sc_tokens WHERE g = 1)], 'tap-sc')),
          12::bigint, 'a token listed twice is allocated once, and returned for each time it is listed');
SELECT is((SELECT count(*) FROM dht.allocate_many('{}', 'tap-sc')), 0::bigint, 'an empty array allocates nothing');
SELECT is((SELECT count(*) FROM dht.tokens WHERE token::text LIKE 'eip155:1/erc721:0x00000000000000000000000000000000007a9010/%'),
          500::bigint, 'dht.tokens has the 500 tokens');
SELECT is((SELECT count(*) FROM dht.token_log WHERE token::text LIKE 'eip155:1/erc721:0x00000000000000000000000000000000007a9010/%'),
          500::bigint, 'in one row each');
SELECT is((SELECT count(*) FROM dht.token_log WHERE bucket <> dht.bucket_of(token)), 0::bigint,
          'every row''s bucket is its token''s');
SELECT throws_ok($$SELECT * FROM dht.allocate_many(ARRAY[NULL::dht.token], 'tap-sc')$$, '22023',
                 'tokens must not contain NULL', 'a NULL token is 22023');
SELECT throws_ok($$SELECT * FROM dht.allocate_many(NULL, 'tap-sc')$$, '22023',
                 'tokens must not be NULL', 'a NULL array is 22023');
SELECT throws_ok($$SELECT * FROM dht.allocate_many(ARRAY[(SELECT t FROM sc_tokens WHERE g = 1)], 'nope')$$, '22023',
                 'SLA class "nope" does not exist', 'an unknown class is 22023');
SELECT throws_ok($$SELECT * FROM dht.allocate_many(array_fill(NULL::dht.token, ARRAY[1000001]), 'tap-sc')$$, '54000',
                 'dht.allocate_many takes at most 1000000 tokens, not 1000001', 'over 1,000,000 tokens is 54000');
SELECT throws_ok($$SELECT * FROM dht.allocate_many(ARRAY[[(SELECT t FROM sc_tokens WHERE g = 1)]], 'tap-sc')$$, '22023',
                 'tokens must be a one-dimensional array', 'a 2-D array is 22023');

-- 3. route: uniformly random among active holders on active nodes.
CREATE TEMP TABLE sc_route AS
SELECT r.* FROM generate_series(1, 3000) s,
     LATERAL dht.route((SELECT t FROM sc_tokens WHERE g = 7 + 0 * s)) r;
SELECT is((SELECT count(*) FROM sc_route), 3000::bigint, 'route returns one holder each time');
SELECT is((SELECT count(*) FROM sc_route r WHERE NOT EXISTS (
               SELECT FROM dht.lookup((SELECT t FROM sc_tokens WHERE g = 7)) l
               WHERE l.shard = r.shard AND l.node_id = r.node_id AND l.endpoint = r.endpoint)), 0::bigint,
          'always one of the token''s holders');
SELECT ok((SELECT count(DISTINCT shard) = 6 AND min(c) > 350 AND max(c) < 650
           FROM (SELECT shard, count(*) AS c FROM sc_route GROUP BY shard) s),
          'every holder is picked, about 1/6 of the time each (500 +- 150 of 3000)');
SELECT dht.set_node_state((SELECT node_id FROM dht.lookup((SELECT t FROM sc_tokens WHERE g = 7)) WHERE shard = 0), 'down');
SELECT dht.set_node_state((SELECT node_id FROM dht.lookup((SELECT t FROM sc_tokens WHERE g = 7)) WHERE shard = 1), 'draining');
SELECT is((SELECT count(*) FROM generate_series(1, 300) s,
                LATERAL dht.route((SELECT t FROM sc_tokens WHERE g = 7 + 0 * s)) r
           WHERE r.shard IN (0, 1)), 0::bigint, 'never a down node, nor a draining one while active holders remain');
SELECT is((SELECT count(*) FROM dht.route('eip155:1/erc721:0x00000000000000000000000000000000007a9010/99999')),
          0::bigint, 'an unknown token: no row');
SELECT dht.set_node_state(node_id, 'active') FROM dht.lookup((SELECT t FROM sc_tokens WHERE g = 7)) WHERE shard IN (0, 1);

-- 4. Node feeds: dht.node_assignments and dht.placements WHERE node_id = ...
SELECT results_eq($$SELECT token, shard FROM dht.node_assignments((SELECT id FROM sc_nodes WHERE i = 5))$$,
                  $$SELECT token, shard FROM dht.placements WHERE node_id = (SELECT id FROM sc_nodes WHERE i = 5) ORDER BY token, shard$$,
                  'node_assignments lists what dht.placements says the node holds');
SELECT is((SELECT count(*) FROM dht.node_assignments((SELECT id FROM sc_nodes WHERE i = 5))),
          (SELECT count(*) FROM dht.placements p JOIN sc_tokens s ON s.t = p.token
           WHERE p.node_id = (SELECT id FROM sc_nodes WHERE i = 5)),
          'and nothing else');
SELECT ok((SELECT sum(c) = 3000 FROM (SELECT count(*) AS c FROM sc_nodes n, dht.node_assignments(n.id) a
                                      JOIN sc_tokens s ON s.t = a.token GROUP BY n.i) x),
          'the nodes'' assignments add up to every holder (500 x 6)');
SET LOCAL enable_seqscan = off;
SELECT ok(EXISTS (SELECT FROM pg_temp.explain_of(
              format('SELECT * FROM dht.placements WHERE node_id = %L', (SELECT id FROM sc_nodes WHERE i = 5))) l
          WHERE l LIKE '%token_log_node_idx%'), 'WHERE node_id = ... uses the node index');
RESET enable_seqscan;

-- 5. Events keep the node feed right: a holder moved by repair and confirmed.
SELECT dht.set_node_state((SELECT id FROM sc_nodes WHERE i = 5), 'down');
SELECT ok(dht.repair() > 0, 'repair moves the down node''s holders');
SELECT is((SELECT count(*) FROM dht.node_assignments((SELECT id FROM sc_nodes WHERE i = 5)) WHERE state <> 'retiring'),
          0::bigint, 'the down node''s holders are all retiring');
SELECT count(dht.confirm(token, shard, node_id)) FROM dht.placements WHERE state = 'pending';
SELECT is((SELECT count(*) FROM dht.node_assignments((SELECT id FROM sc_nodes WHERE i = 5))), 0::bigint,
          'once confirmed, the down node holds nothing');
SELECT is((SELECT count(*) FROM dht.placements p JOIN sc_tokens s ON s.t = p.token), 3000::bigint,
          'and every token still has 6 holders');
SELECT is((SELECT count(*) FROM dht.repair_plan()), 0::bigint, 'nothing left to repair');
SELECT is((SELECT count(*) FROM dht.repair_queue), 0::bigint, 'and the repair queue is empty');

-- 6. Digests: maintained as rows change, equal to a recomputation; one
-- bucket's digest changes with one token of it.
SELECT is((SELECT count(*) FROM dht.verify_digests()), 0::bigint, 'maintained digests equal a recomputation');
SELECT is((SELECT count(*) FROM dht.bucket_digests()), 1024::bigint, '1024 bucket digests');
CREATE TEMP TABLE sc_before AS SELECT * FROM dht.bucket_digests();
SELECT dht.state_digest() AS before_state \gset
SELECT dht.release((SELECT t FROM sc_tokens WHERE g = 42));
SELECT is((SELECT array_agg(bucket) FROM dht.bucket_digests() d JOIN sc_before b USING (bucket) WHERE d.digest <> b.digest),
          ARRAY[dht.bucket_of((SELECT t FROM sc_tokens WHERE g = 42))],
          'releasing a token changes its bucket''s digest only');
SELECT isnt(dht.state_digest(), :'before_state'::bytea, 'and the state digest');
SAVEPOINT sc_sp;
SELECT count(*) FROM dht.allocate((SELECT t FROM sc_tokens WHERE g = 42), 'tap-sc');
ROLLBACK TO SAVEPOINT sc_sp;
SELECT is((SELECT count(*) FROM dht.verify_digests()), 0::bigint, 'a rolled-back savepoint leaves the digests right');

-- 7. dht.holders: what a row holds.
SELECT is((SELECT holders::text FROM dht.token_log WHERE token = (SELECT t FROM sc_tokens WHERE g = 42)) LIKE '(4+2,epoch=0,meta=%,released)',
          true, 'a released row keeps no holders');
SELECT is((SELECT count(*) FROM dht.token_log WHERE holders::text::dht.holders::text <> holders::text), 0::bigint,
          'dht.holders text output reads back as itself');

-- Allocated tokens are read back without a lock each: 20,000 of them in
-- one transaction stay far below max_locks_per_transaction's lock table.
SELECT is((SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT ('eip155:1/erc721:0x00000000000000000000000000000000007a9011/' || g)::dht.token
                                                        FROM generate_series(1, 20000) g), 'tap-sc')),
          120000::bigint, '20,000 fresh tokens in one call');
SELECT is((SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT ('eip155:1/erc721:0x00000000000000000000000000000000007a9011/' || g)::dht.token
                                                        FROM generate_series(1, 20000) g), 'tap-sc')),
          120000::bigint, 'the same 20,000, all allocated already, in one call (no lock per token)');

SELECT * FROM finish();
ROLLBACK;
