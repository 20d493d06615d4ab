-- dht.token: text and binary I/O, canonicalisation, order, indexes, errors.
\set VERBOSITY sqlstate
SET search_path = dht, public;

-- Round trips: canonical text comes back unchanged.
SELECT t::dht.token AS token, t::dht.token::text = t AS same
FROM (VALUES
  ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/771769'),
  ('eip155:137/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'),
  ('eip155:1/erc1155:0xd07dc4262bcdbf85190c01c996b4c06a461d2430/0'),
  ('eip155:1/slip44:60'),
  ('cosmos:cosmoshub-3/slip44:118'),
  ('bip122:000000000019d6689c085ae165831e93/slip44:0'),
  ('hedera:mainnet/nft:0.0.55492/12'),
  ('solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v/0001')
) v(t);

-- Canonicalisation: any case of address (and 0X), leading zeros of eip155 token ids.
SELECT 'eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/771769'::dht.token;
SELECT 'eip155:1/erc721:0X06012c8cf97BEAD5deae237070f9587f8e7a266d/000771769'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/0000'::dht.token;
SELECT 'eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0771769'::dht.token
     = 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/771769'::dht.token AS same;
-- The largest eip155 token id, 2^256 - 1, is accepted (2^256 is not: see below).
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/115792089237316195423570985008687907853269984665640564039457584007913129639935'::dht.token;
-- Outside eip155 nothing is rewritten: case and leading zeros are significant.
SELECT 'cosmos:hub/nft:Abc/007'::dht.token, 'cosmos:hub/nft:Abc/007'::dht.token = 'cosmos:hub/nft:abc/7'::dht.token AS same;
-- text casts go through the same parser.
SELECT ('eip155:10/erc20:0x4200000000000000000000000000000000000042'::text)::dht.token;

-- Bad input: 22P02, and the detail names the offending part.
\set VERBOSITY default
SELECT ''::dht.token;
SELECT 'eip155:01/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa8417'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/115792089237316195423570985008687907853269984665640564039457584007913129639936'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/0x1f'::dht.token;
SELECT 'EIP155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1/erc20 :0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'cosmos:hub'::dht.token;
\set VERBOSITY sqlstate
-- structure: empty parts and missing separators
SELECT 'eip155'::dht.token;
SELECT 'eip155/1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT ':1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1'::dht.token;
SELECT 'eip155:1/'::dht.token;
SELECT 'eip155:1/:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1/erc20'::dht.token;
SELECT 'eip155:1/erc20:'::dht.token;
SELECT 'eip155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174:5'::dht.token;
SELECT 'cosmos:hub/slip44:118/'::dht.token;
SELECT 'cosmos:hub/nft:x/1/2'::dht.token;
SELECT 'eip155:1:5/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
-- spaces anywhere
SELECT ' eip155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155: 1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174 '::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1 2'::dht.token;
-- bad characters and namespace lengths
SELECT 'eip_155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1/Erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'ab:1/nft:x'::dht.token;
SELECT 'abcdefghi:1/nft:x'::dht.token;
SELECT 'cosmos:hub/ab:x'::dht.token;
SELECT 'cosmos:hub/abcdefghi:x'::dht.token;
SELECT 'cosmos:hub.3/nft:x'::dht.token;
SELECT 'cosmos:hub/nft:a_b'::dht.token;
SELECT 'cosmos:hub/nft:x/a_b'::dht.token;
SELECT 'cosmos:hub/nft:café'::dht.token;
SELECT E'eip155:1/erc20:\\x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
-- over-long references (the longest allowed are accepted)
SELECT ('cosmos:' || repeat('a', 33) || '/nft:x')::dht.token;
SELECT length(('cosmos:' || repeat('a', 32) || '/nft:x')::dht.token::text);
SELECT ('cosmos:hub/nft:' || repeat('b', 129))::dht.token;
SELECT length(('cosmos:hub/nft:' || repeat('b', 128))::dht.token::text);
SELECT ('cosmos:hub/nft:x/' || repeat('c', 79))::dht.token;
SELECT length(('cosmos:hub/nft:x/' || repeat('c', 78))::dht.token::text);
SELECT ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/' || repeat('0', 79))::dht.token;
-- the EVM profile
SELECT 'eip155:00/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:0x89/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:mainnet/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d0'::dht.token;
SELECT 'eip155:1/erc1155:0x06012c8cf97bead5deae237070f9587f8e7a266g'::dht.token;
SELECT 'eip155:1/erc20:2791bca1f2de4661ed88a30c99a7a9449aa8417400'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/-1'::dht.token;
SELECT 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1.0'::dht.token;
SELECT 'eip155:1/slip44:60/abc'::dht.token;

-- Order: by chain (eip155 chain ids numerically), then asset, then the asset
-- type before its tokens, then token id (eip155: numerically, so 2 < 10).
CREATE TEMP TABLE o (t dht.token);
INSERT INTO o VALUES
  ('eip155:10/erc721:0x0000000000000000000000000000000000000001/1'),
  ('eip155:1/erc721:0x0000000000000000000000000000000000000001/10'),
  ('eip155:1/erc721:0x0000000000000000000000000000000000000001/2'),
  ('eip155:1/erc721:0x0000000000000000000000000000000000000001'),
  ('eip155:1/erc721:0x0000000000000000000000000000000000000001/0'),
  ('eip155:2/erc721:0x0000000000000000000000000000000000000001/1'),
  ('eip155:1/erc20:0xffffffffffffffffffffffffffffffffffffffff'),
  ('eip155:1/erc721:0x0000000000000000000000000000000000000002/1'),
  ('eip155:1/slip44:60'),
  ('cosmos:hub/nft:x/10'),
  ('cosmos:hub/nft:x/2'),
  ('solana:x/token:y'),
  ('bip122:x/slip44:0');
SELECT t FROM o ORDER BY t;
SELECT t FROM o ORDER BY t DESC LIMIT 3;
SELECT min(t), max(t) FROM o;
SELECT a.t < b.t AS lt, a.t <= b.t AS le, a.t = b.t AS eq, a.t <> b.t AS ne, a.t >= b.t AS ge, a.t > b.t AS gt,
       token_cmp(a.t, b.t) AS cmp
FROM (VALUES ('eip155:1/erc721:0x0000000000000000000000000000000000000001/2'::dht.token)) a(t),
     (VALUES ('eip155:1/erc721:0x0000000000000000000000000000000000000001/10'::dht.token)) b(t);
SELECT count(*) FROM o a JOIN o b ON a.t = b.t;

-- A large sort agrees with the comparison function; equal spellings collapse.
CREATE TEMP TABLE many AS
  SELECT format('eip155:%s/erc721:0x%s/%s', 1 + i % 7, substr(md5((i % 50)::text), 1, 8) || repeat('0', 32),
                (i * 7919) % 100000)::dht.token AS t, i
  FROM generate_series(1, 20000) i;
SELECT count(*) AS out_of_order FROM (
  SELECT t, lag(t) OVER (ORDER BY t) AS prev FROM many) s WHERE prev >= t;
SELECT count(DISTINCT t) FROM many;
SELECT count(*) AS respelled_equal FROM many
WHERE t = (dht.chain_id(t) || '/erc721:' || upper(split_part(dht.asset_type(t), ':', 3))
           || '/000' || dht.token_id(t))::dht.token;

-- Hash support: same token in any spelling, same hash; extended hash is seeded.
SELECT token_hash('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/07')
     = token_hash('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/7') AS stable,
       token_hash_extended('eip155:1/slip44:60', 0) <> token_hash_extended('eip155:1/slip44:60', 1) AS seeded;

-- Storage: an EVM NFT is 27 bytes of payload (1-byte header on disk), its text 63.
CREATE TEMP TABLE sz (t dht.token, s text);
INSERT INTO sz VALUES ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1234',
                       'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1234');
SELECT pg_column_size(t) AS token_bytes, pg_column_size(s) AS text_bytes FROM sz;

-- Indexes: btree and hash are both used.
CREATE INDEX many_btree ON many (t);
ANALYZE many;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT i FROM many WHERE t = 'eip155:1/erc721:0xc4ca423800000000000000000000000000000000/7919';
EXPLAIN (COSTS OFF) SELECT i FROM many WHERE t > 'eip155:3/erc721:0x0000000000000000000000000000000000000000' ORDER BY t LIMIT 1;
SELECT i FROM many WHERE t = (SELECT t FROM many WHERE i = 777);
SELECT t FROM many WHERE t > 'eip155:3/erc721:0x0000000000000000000000000000000000000000' ORDER BY t LIMIT 1;
CREATE INDEX many_hash ON many USING hash (t);
DROP INDEX many_btree;
EXPLAIN (COSTS OFF) SELECT i FROM many WHERE t = 'eip155:1/erc721:0xc4ca423800000000000000000000000000000000/7919';
SELECT i FROM many WHERE t = (SELECT t FROM many WHERE i = 777);
SELECT count(*) = 20000 AS all_found FROM many a WHERE EXISTS (SELECT 1 FROM many b WHERE b.t = a.t);
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Binary round trip through COPY BINARY.
CREATE TEMP TABLE bin_out (t dht.token);
COPY (SELECT t FROM o) TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_out FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
SELECT count(*) FROM (SELECT t FROM o EXCEPT ALL SELECT t FROM bin_out) d;
SELECT count(*) FROM bin_out;

-- The binary format is the canonical text's bytes: a bytea column written by
-- COPY BINARY reads back as dht.token, through the same parser as text input.
CREATE TEMP TABLE bin_in (t dht.token);
COPY (SELECT convert_to('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/007', 'UTF8'))
  TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_in FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
SELECT t FROM bin_in;
-- A bad token in binary form is rejected like a bad text token (NUL bytes too).
\set VERBOSITY default
COPY (SELECT convert_to('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/115792089237316195423570985008687907853269984665640564039457584007913129639936', 'UTF8'))
  TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_in FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY (SELECT convert_to('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1', 'UTF8') || '\x00'::bytea || convert_to('2', 'UTF8'))
  TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_in FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY (SELECT convert_to('eip155:1/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174', 'UTF8') || '\x00'::bytea)
  TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_in FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
\set VERBOSITY sqlstate
COPY (SELECT ''::bytea) TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_in FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY (SELECT convert_to('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/', 'UTF8'))
  TO '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
COPY bin_in FROM '/tmp/smartlayer_dht_token_regress.bin' WITH (FORMAT binary);
SELECT count(*) FROM bin_in;

-- Accessors (more in test/pgtap/token.sql).
SELECT dht.chain_id(t), dht.asset_type(t), dht.token_id(t)
FROM (VALUES ('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0771769'::dht.token),
             ('cosmos:cosmoshub-3/slip44:118'::dht.token)) v(t);
