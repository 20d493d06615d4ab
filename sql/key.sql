-- dht.key: text and binary I/O, canonical output, order, casts, indexes, errors.
\set VERBOSITY sqlstate
SET search_path = dht, public;

-- Input forms: plain, 0x prefix, \x prefix, upper case; output is lower-case hex.
SELECT '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key;
SELECT '0x00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF'::dht.key;
SELECT E'\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key;
SELECT '0x00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF'::dht.key
     = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key AS same;

-- Bad text: 22P02 with a message naming the problem.
\set VERBOSITY default
SELECT ''::dht.key;
SELECT '0011'::dht.key;
SELECT '00112233445566778899aabbccddeeff00112233445566778899aabbccddeef'::dht.key;
SELECT '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0'::dht.key;
SELECT '0g112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key;
SELECT ' 00112233445566778899aabbccddeeff00112233445566778899aabbccddeef'::dht.key;
SELECT '0X00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key;
SELECT 'x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key;
\set VERBOSITY sqlstate
SELECT '0011'::dht.key;

-- Order is unsigned big-endian (memcmp) order.
CREATE TEMP TABLE k (k dht.key);
INSERT INTO k VALUES
  ('ff00000000000000000000000000000000000000000000000000000000000000'),
  ('0000000000000000000000000000000000000000000000000000000000000001'),
  ('8000000000000000000000000000000000000000000000000000000000000000'),
  ('0000000000000000000000000000000000000000000000000000000000000000'),
  ('00000000000000000000000000000000000000000000000000000000000000ff'),
  ('7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff');
SELECT k FROM k ORDER BY k;
SELECT a.k < b.k AS lt, a.k <= b.k AS le, a.k = b.k AS eq, a.k <> b.k AS ne, a.k >= b.k AS ge, a.k > b.k AS gt
FROM (SELECT min(k) AS k FROM k) a, (SELECT max(k) AS k FROM k) b;
SELECT count(*) FROM k a JOIN k b ON a.k = b.k;   -- hash join or merge join, one match each

-- Sorting with abbreviated keys agrees with the comparison function.
CREATE TEMP TABLE many AS
  SELECT dht.key(decode(md5(i::text) || md5((i * 7)::text), 'hex')) AS k
  FROM generate_series(1, 20000) i;
SELECT count(*) AS out_of_order FROM (
  SELECT k, lag(k) OVER (ORDER BY k) AS prev FROM many) s WHERE prev >= k;
SELECT count(DISTINCT k) FROM many;

-- Casts to and from bytea.
SELECT ('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::dht.key)::bytea;
SELECT (decode(repeat('ab', 32), 'hex'))::dht.key;
SELECT ('\x0011'::bytea)::dht.key;
SELECT (decode(repeat('ab', 33), 'hex'))::dht.key;
\set VERBOSITY default
SELECT ('\x0011'::bytea)::dht.key;
\set VERBOSITY sqlstate

-- Hash support: same value, same hash; extended hash depends on the seed.
SELECT key_hash(k) = key_hash(k::bytea::dht.key) AS stable,
       key_hash_extended(k, 0) <> key_hash_extended(k, 1) AS seeded
FROM (SELECT min(k) AS k FROM many) s;

-- node_id is BLAKE2b-256 of the 32-byte public key.
SELECT dht.node_id(decode(repeat('00', 32), 'hex'));
SELECT dht.node_id('\x00'::bytea);
\set VERBOSITY default
SELECT dht.node_id('\x00'::bytea);
\set VERBOSITY sqlstate

-- Indexes: btree (with deduplication, btequalimage) and hash are both used.
CREATE TEMP TABLE idx AS SELECT k, row_number() OVER () AS n FROM many;
CREATE INDEX idx_btree ON idx (k);
ANALYZE idx;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT n FROM idx WHERE k = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
EXPLAIN (COSTS OFF) SELECT n FROM idx WHERE k > '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff' ORDER BY k LIMIT 1;
SELECT n FROM idx WHERE k = (SELECT k FROM idx WHERE n = 777);
CREATE INDEX idx_hash ON idx USING hash (k);
DROP INDEX idx_btree;
EXPLAIN (COSTS OFF) SELECT n FROM idx WHERE k = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
SELECT n FROM idx WHERE k = (SELECT k FROM idx WHERE n = 777);
SELECT count(*) = 20000 AS all_found FROM idx a WHERE EXISTS (SELECT 1 FROM idx b WHERE b.k = a.k);
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Binary round trip through COPY BINARY.
CREATE TEMP TABLE bin_out (k dht.key);
COPY (SELECT k FROM many) TO '/tmp/smartlayer_dht_key.bin' WITH (FORMAT binary);
COPY bin_out FROM '/tmp/smartlayer_dht_key.bin' WITH (FORMAT binary);
SELECT count(*) FROM (SELECT k FROM many EXCEPT ALL SELECT k FROM bin_out) d;
SELECT count(*) FROM bin_out;
