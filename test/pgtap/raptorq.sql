-- RaptorQ (RFC 6330) in SQL: round trips over many OTIs, decoding from
-- random sets of K and K + 2 packets per block, repeats, the packet order
-- of rq_encode, cberner/raptorq's bytes, holder fragments and digests,
-- fresh symbols for a replacement holder, and Storj's shape (29 source
-- symbols, 80 holders, 40 lost).
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;

BEGIN;
SELECT plan(23);

SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.bytes(n int, seed int DEFAULT 0) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(string_agg(sha256(int4send(seed) || int4send(i)), '' ORDER BY i) FROM 1 FOR n)
    FROM generate_series(0, n / 32) i $$;
-- The bytes of the test vectors: data[i] = (i * 7 + (i >> 8) * 13 + 1) mod 256.
CREATE FUNCTION pg_temp.vector_data(n int) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT decode(string_agg(lpad(to_hex((i * 7 + (i / 256) * 13 + 1) % 256), 2, '0'), '' ORDER BY i), 'hex')
    FROM generate_series(0, n - 1) i $$;
-- From packets made with 10 repair packets per block: K + extra of each
-- block, chosen at random (by seed), in a random order.
CREATE FUNCTION pg_temp.any_k(p bytea[], extra int, seed int) RETURNS bytea[] LANGUAGE sql IMMUTABLE AS $$
    WITH pk AS (SELECT x, get_byte(x, 0) AS sbn, count(*) OVER (PARTITION BY get_byte(x, 0)) AS n FROM unnest(p) x),
         ranked AS (SELECT x, n, row_number() OVER (PARTITION BY sbn ORDER BY md5(x::text || seed)) AS r FROM pk)
    SELECT array_agg(x ORDER BY md5(seed || x::text)) FROM ranked WHERE r <= n - 10 + extra $$;
-- rq_decode, or NULL when the packets do not determine a block (22000).
CREATE FUNCTION pg_temp.try_decode(oti bytea, p bytea[]) RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN
    RETURN dht.rq_decode(oti, p);
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END $$;
CREATE FUNCTION pg_temp.esi(x bytea) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT get_byte(x, 1) * 65536 + get_byte(x, 2) * 256 + get_byte(x, 3) $$;

-- One to four blocks, one to eight sub-blocks, alignments 1, 2, 4 and 8.
CREATE TEMP TABLE enc AS
SELECT s.*, pg_temp.bytes(f, f) AS data, dht.rq_oti(f, t, z, n, al) AS oti,
       dht.rq_encode(pg_temp.bytes(f, f), dht.rq_oti(f, t, z, n, al), 10) AS p
FROM (VALUES (1, 4, 1, 1, 4), (100, 4, 1, 1, 4), (1000, 16, 1, 1, 4), (5000, 64, 3, 2, 4),
             (10000, 100, 2, 5, 4), (777, 12, 4, 3, 2), (300, 3, 2, 3, 1), (4096, 64, 1, 8, 8),
             (40000, 1024, 1, 1, 4)) s(f, t, z, n, al);

SELECT is(count(*) FILTER (WHERE dht.rq_decode(oti, p) = data), 9::bigint,
          'every shape decodes from all its packets') FROM enc;
SELECT is(count(*) FILTER (WHERE dht.rq_decode(oti, pg_temp.any_k(p, 2, g)) = data), 90::bigint,
          'every shape decodes from 10 random sets of K + 2 packets per block')
FROM enc, generate_series(1, 10) g;
SELECT cmp_ok(count(*) FILTER (WHERE pg_temp.try_decode(oti, pg_temp.any_k(p, 0, g)) = data), '>=', 85::bigint,
              'and nearly always from just K per block (RFC 6330: fails with probability below 1%)')
FROM enc, generate_series(11, 20) g;
SELECT is(count(*) FILTER (WHERE dht.rq_decode(oti, p || p || p[1:3]) = data), 9::bigint,
          'repeated packets are ignored') FROM enc;

-- rq_encode's order; rq_packets gives the same packets.
SELECT is((SELECT array_agg(get_byte(x, 0) * 1000 + pg_temp.esi(x)) FROM unnest(p) x),
          (SELECT array_agg(b * 1000 + e ORDER BY b, e) FROM generate_series(0, 2) b,
                  LATERAL generate_series(0, CASE WHEN b < 1 THEN 27 ELSE 26 END - 1 + 10) e),
          'rq_encode: each block in SBN order, its K source packets, then repair ESIs from K')
FROM enc WHERE f = 5000;
SELECT is(dht.rq_packets(data, oti, 1, 20, 8), (SELECT array_agg(x) FROM unnest(p) x
          WHERE get_byte(x, 0) = 1 AND pg_temp.esi(x) BETWEEN 20 AND 27),
          'rq_packets: the same source and repair packets') FROM enc WHERE f = 10000;
SELECT is(dht.rq_holder_fragment(data, oti, 5, 2),
          (SELECT string_agg(x, ''::bytea ORDER BY get_byte(x, 0), pg_temp.esi(x)) FROM unnest(p) x
           WHERE pg_temp.esi(x) IN (5, 6)),
          'rq_holder_fragment: ESIs 5 and 6 of every block, SBN order, concatenated') FROM enc WHERE f = 777;

-- The bytes cberner/raptorq 2.0.1 makes (test/interop/vectors/k25.txt).
SELECT is(dht.rq_encode(pg_temp.vector_data(100), dht.rq_oti(100, 4), 5),
          (SELECT array_agg(decode(x, 'hex') ORDER BY i) FROM unnest(string_to_array(
           '0000000001080f16 000000011d242b32 000000023940474e 00000003555c636a 0000000471787f86 000000058d949ba2 00000006a9b0b7be 00000007c5ccd3da 00000008e1e8eff6 00000009fd040b12 0000000a1920272e 0000000b353c434a 0000000c51585f66 0000000d6d747b82 0000000e8990979e 0000000fa5acb3ba 00000010c1c8cfd6 00000011dde4ebf2 00000012f900070e 00000013151c232a 0000001431383f46 000000154d545b62 000000166970777e 00000017858c939a 00000018a1a8afb6 0000001988131922 0000001a0a7c3b94 0000001b830542f8 0000001cb14b017b 0000001db231d144',
           ' ')) WITH ORDINALITY u(x, i)),
          'rq_encode is byte-identical to cberner/raptorq (F = 100, T = 4, 5 repair packets)');

-- Storj's shape: 29 source symbols, 80 holders of one symbol each.
CREATE TEMP TABLE storj AS
SELECT d AS data, o AS oti, dht.rq_encode(d, o, 51) AS p
FROM (SELECT pg_temp.bytes(29 * 256, 29) AS d, dht.rq_oti(29 * 256, 256) AS o) s;
CREATE TEMP TABLE holders AS
SELECT h, dht.rq_holder_fragment(data, oti, h, 1) AS frag FROM storj, generate_series(0, 79) h;
ALTER TABLE holders ADD digest bytea;
UPDATE holders SET digest = dht.fragment_digest(frag);

SELECT is(cardinality(p), 80, 'Storj: 80 packets, one per holder') FROM storj;
SELECT is((SELECT count(*) FROM holders h JOIN storj s ON h.frag = s.p[h.h + 1]), 80::bigint,
          'each holder''s fragment is its packet');
SELECT is(count(*) FILTER (WHERE dht.rq_decode(oti, (SELECT array_agg(frag ORDER BY md5(h || '-' || g)) FROM
              (SELECT * FROM holders ORDER BY md5(g || '/' || h) LIMIT 40) kept)) = data), 20::bigint,
          'Storj: any 40 of the 80 holders (40 lost), 20 random draws, decode')
FROM storj, generate_series(1, 20) g;
SELECT is(count(*) FILTER (WHERE dht.rq_decode(oti, (SELECT array_agg(frag) FROM holders WHERE h >= 51)) = data), 1::bigint,
          'Storj: the 29 repair-only holders (every source symbol lost) decode')
FROM storj;

-- A lost holder replaced: fresh symbols (ESIs nobody held), no re-encoding of the others.
SELECT is((SELECT count(*) FROM holders WHERE frag = (SELECT dht.rq_holder_fragment(data, oti, 80, 1) FROM storj)), 0::bigint,
          'a replacement holder gets a symbol no other holder has');
SELECT is(dht.rq_decode(oti, (SELECT array_agg(frag) FROM holders WHERE h BETWEEN 52 AND 79)
                             || dht.rq_holder_fragment(data, oti, 80, 1)), data,
          'the 28 survivors and the replacement decode')
FROM storj;
SELECT is(dht.rq_holder_fragment(data, oti, 80, 1), (dht.rq_encode(data, oti, 52))[81],
          'the replacement''s symbol is ESI 80 of the same code')
FROM storj;

-- Digests: a corrupt or foreign holder is left out, never decoded into wrong bytes.
CREATE TEMP TABLE bad AS
SELECT (SELECT array_agg(CASE WHEN h = 55 THEN set_byte(frag, 100, get_byte(frag, 100) # 1)
                              WHEN h = 60 THEN dht.rq_holder_fragment(pg_temp.bytes(29 * 256, 30), oti, 60, 1)
                              ELSE frag END ORDER BY h) FROM holders WHERE h >= 40) AS frags,
       (SELECT array_agg(digest ORDER BY h) FROM holders WHERE h >= 40) AS digests,
       oti, data
FROM storj;
SELECT is(dht.rq_decode(oti, frags, digests), data, 'with digests, the corrupt and the foreign holder are left out') FROM bad;
SELECT isnt(dht.rq_decode(oti, frags), data, 'without digests the same packets decode into wrong bytes (RFC 6330 has no checksum)') FROM bad;
SELECT throws_ok(format('SELECT dht.rq_decode(%L, %L::bytea[], %L::bytea[])', oti, frags[1:30], digests[1:30]),
                 '22000', NULL, 'with digests, too few good holders is an error, not wrong bytes') FROM bad;
SELECT throws_ok(format('SELECT dht.rq_decode(%L, %L::bytea[], %L::bytea[])', oti, frags, array_fill(NULL::bytea, ARRAY[40])),
                 '22000', NULL, 'a NULL digest leaves its holder out') FROM bad;

-- Planning holders for Storj's shape.
SELECT is(dht.rq_plan_holders(29, 1, 0.9, 0.999999), 45, 'rq_plan_holders(29, 1, 0.9, six nines)');
SELECT is(ARRAY[dht.rq_plan_holders(29, 1, 1.0, 0.98), dht.rq_plan_holders(29, 1, 1.0, 0.9998),
                dht.rq_plan_holders(29, 1, 1.0, 0.999998)], ARRAY[29, 30, 31],
          'with nodes always up: K, K + 1, K + 2 symbols for the RFC''s 1e-2, 1e-4, 1e-6');
SELECT ok(bool_and(dht.rq_plan_holders(29, 1, p, t) >= dht.plan_redundancy(29, p, t)),
          'never fewer holders than an MDS code would need')
FROM (VALUES (0.9, 0.999999), (0.5, 0.999999999), (0.99, 0.999999999), (0.8, 0.99), (0.999, 0.9)) v(p, t);

-- Query cancel reaches into the coder: statement_timeout stops a 64 MiB encode.
CREATE TEMP TABLE big AS SELECT decode(repeat(md5('big'), 4194304), 'hex') AS d;
CREATE FUNCTION pg_temp.encode_big() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cardinality(dht.rq_encode(d, dht.rq_oti(length(d), 1024, 2), 6554)) FROM big;
    RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
    RETURN 'canceled';
END $$;
SET LOCAL statement_timeout = '10ms';
SELECT is(pg_temp.encode_big(), 'canceled', 'statement_timeout cancels a 64 MiB rq_encode (57014, caught)');
SET LOCAL statement_timeout = 0;

SELECT * FROM finish();
ROLLBACK;
