-- Erasure coding: round trips for every backend, every k-subset, rebuilding
-- every fragment, the fragment guard against truncated, duplicated, foreign
-- and forged fragments (never wrong bytes), an exhaustive byte-flip test, and
-- redundancy planning against values computed by hand.
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;

BEGIN;
SELECT plan(66);

SET LOCAL client_min_messages = warning;

-- Helpers: zlib's CRC-32 in PL/pgSQL (independent of the C code), writing a
-- little-endian u32 into a fragment, and re-sealing a modified fragment
-- (payload CRC at byte 21, header CRC of bytes 0..58 at byte 67), which is
-- what a forger would do.
CREATE FUNCTION pg_temp.crc32(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c bigint := 4294967295;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        c := c # get_byte(b, i);
        FOR j IN 1 .. 8 LOOP
            IF (c & 1) = 1 THEN c := (c >> 1) # 3988292384; ELSE c := c >> 1; END IF;
        END LOOP;
    END LOOP;
    RETURN c # 4294967295;
END $$;
CREATE FUNCTION pg_temp.put_u32(b bytea, off int, v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT set_byte(set_byte(set_byte(set_byte(b, off, (v & 255)::int), off + 1, ((v >> 8) & 255)::int),
                    off + 2, ((v >> 16) & 255)::int), off + 3, ((v >> 24) & 255)::int) $$;
CREATE FUNCTION pg_temp.get_u32(b bytea, off int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT get_byte(b, off)::bigint | (get_byte(b, off + 1)::bigint << 8)
         | (get_byte(b, off + 2)::bigint << 16) | (get_byte(b, off + 3)::bigint << 24) $$;
CREATE FUNCTION pg_temp.reseal(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.put_u32(p, 67, pg_temp.crc32(substring(p FROM 1 FOR 59)))
    FROM (SELECT pg_temp.put_u32(b, 21, pg_temp.crc32(substring(b FROM 81))) AS p) s $$;
-- Deterministic pseudo-random bytes.
CREATE FUNCTION pg_temp.bytes(n int, seed int DEFAULT 0) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(substring(string_agg(sha256(int4send(seed) || int4send(i)), '' ORDER BY i) FROM 1 FOR n), '')
    FROM generate_series(0, n / 32) i $$;

CREATE TEMP TABLE backends (name text, max_n int, min_m int);
INSERT INTO backends VALUES ('isa_l_rs_vand', 32, 0), ('isa_l_rs_cauchy', 32, 0),
    ('jerasure_rs_vand', 32, 1), ('jerasure_rs_cauchy', 16, 1), ('liberasurecode_rs_vand', 32, 1);

-- The CRC helper agrees with the fragments liberasurecode writes.
SELECT is(pg_temp.get_u32(f, 21), pg_temp.crc32(substring(f FROM 81)),
          'payload checksum is zlib''s CRC-32 of the payload')
FROM (SELECT (dht.ec_encode(pg_temp.bytes(100), 4, 2))[1] AS f) s;
SELECT is(pg_temp.get_u32(f, 67), pg_temp.crc32(substring(f FROM 1 FOR 59)),
          'header checksum is zlib''s CRC-32 of the 59 metadata bytes')
FROM (SELECT (dht.ec_encode(pg_temp.bytes(100), 4, 2))[5] AS f) s;

-- ---- round trips ---------------------------------------------------------
-- Every backend, shapes 1+1, 3+1, 4+2, 10+4, 8+0 (where the backend allows
-- m = 0), sizes 0, 1, 7 (not divisible by k), 100, 4097, 65539; decoded from
-- all fragments and from the last k (parity-heavy).
CREATE TEMP TABLE rt AS
SELECT b.name, s.k, s.m, z.n, pg_temp.bytes(z.n, z.n + s.k) AS data,
       dht.ec_encode(pg_temp.bytes(z.n, z.n + s.k), s.k, s.m, b.name) AS f
FROM backends b,
     (VALUES (1, 1), (3, 1), (4, 2), (10, 4), (8, 0)) s(k, m),
     (VALUES (0), (1), (7), (100), (4097), (65539)) z(n)
WHERE s.m >= b.min_m;
SELECT is(count(*), 5 * 4 * 6 + 2 * 6::bigint, 'round-trip cases were encoded') FROM rt;
SELECT is(count(*) FILTER (WHERE cardinality(f) <> k + m), 0::bigint, 'ec_encode returns k + m fragments') FROM rt;
SELECT is(count(*) FILTER (WHERE dht.ec_decode(f) IS DISTINCT FROM data), 0::bigint,
          'every backend, shape and size round-trips from all fragments') FROM rt;
SELECT is(count(*) FILTER (WHERE dht.ec_decode(f[m + 1:k + m]) IS DISTINCT FROM data), 0::bigint,
          'every backend, shape and size round-trips from the last k fragments') FROM rt;
SELECT is(count(*) FILTER (WHERE dht.ec_decode(array_fill(NULL::bytea, ARRAY[m]) || f[m + 1:k + m]) IS DISTINCT FROM data),
          0::bigint, 'NULL entries stand for missing fragments') FROM rt;
SELECT is(length(dht.ec_decode(dht.ec_encode('', 4, 2))), 0, 'empty data round-trips');
SELECT is(dht.ec_decode((dht.ec_encode('\x2a', 4, 2))[3:6]), '\x2a'::bytea, 'one byte round-trips from parity');
SELECT is(dht.ec_decode(dht.ec_encode(pg_temp.bytes(1048576 + 5), 4, 2)) = pg_temp.bytes(1048576 + 5), true,
          '1 MiB + 5 round-trips');
SELECT is(dht.ec_decode(f) IS NOT DISTINCT FROM pg_temp.bytes(1000), true, 'largest shapes round-trip: ' || b || ' ' || k || '+' || m)
FROM (VALUES ('isa_l_rs_vand', 29, 3), ('isa_l_rs_cauchy', 16, 16), ('jerasure_rs_vand', 1, 31),
             ('jerasure_rs_cauchy', 8, 8), ('liberasurecode_rs_vand', 20, 12)) v(b, k, m),
     LATERAL (SELECT (dht.ec_encode(pg_temp.bytes(1000), v.k, v.m, v.b))[v.m + 1:v.k + v.m] AS f) s;

-- ---- every k-subset of a 4+2 set, every backend --------------------------
CREATE TEMP TABLE six AS
SELECT b.name, dht.ec_encode(pg_temp.bytes(1000, 7), 4, 2, b.name) AS f FROM backends b;
CREATE TEMP TABLE subsets AS
SELECT array_agg(i ORDER BY i) AS idx
FROM generate_series(0, 63) mask, generate_series(1, 6) i
WHERE mask & (1 << (i - 1)) <> 0
GROUP BY mask HAVING count(*) = 4;
SELECT is(count(*), 15::bigint, 'a 4+2 code has 15 sets of 4 fragments') FROM subsets;
SELECT is(count(*) FILTER (WHERE dht.ec_decode(ARRAY(SELECT six.f[i] FROM unnest(s.idx) i)) <> pg_temp.bytes(1000, 7)),
          0::bigint, 'every set of 4 of 6 decodes, on every backend')
FROM six, subsets s;
SELECT is(count(*) FILTER (WHERE dht.ec_decode(ARRAY(SELECT CASE WHEN i = ANY (s.idx) THEN six.f[i] END
                                                    FROM generate_series(1, 6) i)) <> pg_temp.bytes(1000, 7)),
          0::bigint, 'and with NULLs in place of the missing ones')
FROM six, subsets s;

-- ---- rebuilding every fragment --------------------------------------------
SELECT is(count(*) FILTER (WHERE dht.ec_reconstruct(six.f[1:i - 1] || six.f[i + 1:6], i - 1) <> six.f[i]),
          0::bigint, 'every fragment rebuilt from the 5 others equals the original bytes, every backend')
FROM six, generate_series(1, 6) i;
SELECT is(count(*) FILTER (WHERE dht.ec_reconstruct(ARRAY(SELECT six.f[j] FROM unnest(s.idx) j), i - 1) <> six.f[i]),
          0::bigint, 'every missing fragment rebuilt from every set of 4 equals the original')
FROM six, subsets s, generate_series(1, 6) i
WHERE NOT i = ANY (s.idx);
SELECT is(dht.ec_reconstruct(f, 2), f[3], 'asking for a fragment that is there returns it')
FROM six WHERE name = 'isa_l_rs_vand';
SELECT is((dht.ec_fragment_info(dht.ec_reconstruct(f[1:4], 5))).valid, true, 'a rebuilt fragment is valid')
FROM six WHERE name = 'jerasure_rs_cauchy';
SELECT is(dht.ec_reconstruct(f, 1), f[2], 'rebuilding from an empty object')
FROM (SELECT dht.ec_encode('', 3, 2) AS f) s;

-- ---- fragment_info ---------------------------------------------------------
SELECT results_eq(
    $$SELECT (dht.ec_fragment_info(f)).* FROM unnest(dht.ec_encode(pg_temp.bytes(100), 4, 2, 'jerasure_rs_vand')) f$$,
    $$VALUES (0, 4, 2, 'jerasure_rs_vand', 100::bigint, true), (1, 4, 2, 'jerasure_rs_vand', 100, true),
             (2, 4, 2, 'jerasure_rs_vand', 100, true), (3, 4, 2, 'jerasure_rs_vand', 100, true),
             (4, 4, 2, 'jerasure_rs_vand', 100, true), (5, 4, 2, 'jerasure_rs_vand', 100, true)$$,
    'ec_fragment_info reads index, k, m, backend and size');
SELECT results_eq(
    $$SELECT length(f) FROM unnest(dht.ec_encode(pg_temp.bytes(100), 4, 2, 'isa_l_rs_vand')) f LIMIT 1$$,
    $$VALUES (80 + 25)$$, 'an isa-l fragment of 100 bytes 4+2 is an 80-byte header and 25 bytes');
SELECT results_eq(
    $$SELECT (dht.ec_fragment_info('\x0102'::bytea)).*$$,
    $$VALUES (NULL::int, NULL::int, NULL::int, NULL::text, NULL::bigint, false)$$,
    'garbage: nothing known, not valid');
SELECT results_eq(
    $$SELECT (dht.ec_fragment_info(set_byte(f, 90, get_byte(f, 90) # 255))).*
      FROM (SELECT (dht.ec_encode(pg_temp.bytes(100), 4, 2))[1] AS f) s$$,
    $$VALUES (0, 4, 2, 'isa_l_rs_vand', 100::bigint, false)$$,
    'bad payload: header readable, not valid');
SELECT results_eq(
    $$SELECT (dht.ec_fragment_info(pg_temp.reseal(pg_temp.put_u32(f, 25, 0)))).*
      FROM (SELECT (dht.ec_encode(pg_temp.bytes(100), 4, 2))[2] AS f) s$$,
    $$VALUES (1, NULL::int, NULL::int, 'isa_l_rs_vand', 100::bigint, false)$$,
    'a plain liberasurecode fragment (no k, m tag) is not valid for us');

-- ---- the guard -------------------------------------------------------------
CREATE TEMP TABLE obj AS
SELECT pg_temp.bytes(100, 1) AS a, pg_temp.bytes(100, 2) AS b,
       dht.ec_encode(pg_temp.bytes(100, 1), 4, 2) AS fa,
       dht.ec_encode(pg_temp.bytes(100, 2), 4, 2) AS fb,
       dht.ec_encode(pg_temp.bytes(100, 1), 4, 2, 'isa_l_rs_cauchy') AS fc;

-- truncated
SELECT is(dht.ec_decode(ARRAY[substring(fa[1] FROM 1 FOR 90)] || fa[2:6]), a, 'a truncated fragment is left out') FROM obj;
SELECT throws_ok($$SELECT dht.ec_decode(ARRAY[substring(fa[1] FROM 1 FOR 90)] || fa[2:4]) FROM obj$$,
                 '22000', 'not enough valid fragments: 3 valid, 4 needed',
                 'a truncated fragment among exactly k is an error');
SELECT is(dht.ec_decode(ARRAY[fa[1] || '\x00'::bytea] || fa[2:6]), a, 'a fragment with a byte appended is left out') FROM obj;
-- duplicated
SELECT is(dht.ec_decode(ARRAY[fa[1], fa[1], fa[2], fa[2], fa[3], fa[5]]), a, 'duplicates count once') FROM obj;
SELECT throws_ok($$SELECT dht.ec_decode(ARRAY[fa[1], fa[1], fa[1], fa[1]]) FROM obj$$,
                 '22000', 'not enough valid fragments: 1 valid, 4 needed', 'k copies of one fragment are not k fragments');
-- another object of the same size and shape
SELECT is(dht.ec_decode(fa[1:4] || fb[5:6]), a, 'two fragments of another object are left out') FROM obj;
SELECT is(dht.ec_decode(ARRAY[fb[5], fa[1], fa[2], fb[6], fa[4], fa[5]]), a,
          'foreign fragments first: the majority object still wins') FROM obj;
SELECT throws_ok($$SELECT dht.ec_decode(fa[1:2] || fb[3:4]) FROM obj$$,
                 '22000', 'not enough valid fragments: 2 valid, 4 needed', 'two and two of two objects never mix');
SELECT throws_ok($$SELECT dht.ec_decode(fa[1:3] || fb[4:6]) FROM obj$$,
                 '22000', 'not enough valid fragments: 3 valid, 4 needed', 'three and three of two objects never mix');
-- another backend
SELECT is(dht.ec_decode(fc[1:2] || fa[3:6]), a, 'fragments of another backend are left out') FROM obj;
SELECT throws_ok($$SELECT dht.ec_decode(fc[1:2] || fa[3:4]) FROM obj$$,
                 '22000', 'not enough valid fragments: 2 valid, 4 needed', 'isa_l_rs_vand and isa_l_rs_cauchy never mix');
-- forged index: a fragment re-sealed to claim another index
SELECT is(dht.ec_decode(ARRAY[fa[1], fa[2], fa[3], pg_temp.reseal(pg_temp.put_u32(fa[4], 0, 2)), fa[5]]), a,
          'a forged duplicate index after the real one is left out') FROM obj;
SELECT throws_ok($$SELECT dht.ec_decode(ARRAY[pg_temp.reseal(pg_temp.put_u32(fa[4], 0, 2)), fa[1], fa[2], fa[5], fa[6]]) FROM obj$$,
                 'XX001', 'decoded data does not match the checksum its fragments carry',
                 'a forged index before the real one: an error, not wrong bytes');
SELECT is(dht.ec_decode(fa[1:3] || ARRAY[pg_temp.reseal(pg_temp.put_u32(fa[4], 0, 6)), fa[5]]), a,
          'index k + m (liberasurecode 1.6.2 would write out of bounds) is left out') FROM obj;
SELECT is(dht.ec_decode(fa[1:3] || ARRAY[pg_temp.reseal(pg_temp.put_u32(fa[4], 0, 4294967295)), fa[6]]), a,
          'index 2^32 - 1 is left out') FROM obj;
-- forged sizes
SELECT is(dht.ec_decode(fa[1:3] || ARRAY[pg_temp.reseal(pg_temp.put_u32(fa[4], 4, 24)), fa[6]]), a,
          'a forged payload size is left out') FROM obj;
SELECT is(dht.ec_decode(fa[1:3] || ARRAY[pg_temp.reseal(pg_temp.put_u32(fa[4], 12, 1000)), fa[6]]), a,
          'a forged original size is left out') FROM obj;
SELECT throws_ok($$SELECT dht.ec_decode(ARRAY(SELECT pg_temp.reseal(pg_temp.put_u32(f, 12, 99)) FROM unnest(fa) f)) FROM obj$$,
                 'XX001', 'decoded data does not match the checksum its fragments carry',
                 'a whole set forged to a smaller size: an error, not truncated data');
-- forged payload with both CRCs fixed: caught end to end, or by digest
SELECT throws_ok($$SELECT dht.ec_decode(ARRAY[fa[1], fa[2], fa[3], pg_temp.reseal(set_byte(fa[5], 85, get_byte(fa[5], 85) # 1))]) FROM obj$$,
                 'XX001', 'decoded data does not match the checksum its fragments carry',
                 'a forged parity payload: an error, not wrong bytes');
SELECT is(dht.ec_decode(f, ARRAY(SELECT dht.fragment_digest(fa[i]) FROM unnest(ARRAY[1, 2, 3, 5, 6]) i)), a,
          'ec_decode(fragments, digests) leaves the forged fragment out')
FROM (SELECT ARRAY[fa[1], fa[2], fa[3], pg_temp.reseal(set_byte(fa[5], 85, get_byte(fa[5], 85) # 1)), fa[6]] AS f, fa, a
      FROM obj) s;
SELECT throws_ok($$SELECT dht.ec_decode(fa[1:4], ARRAY[dht.fragment_digest(fa[1]), NULL, dht.fragment_digest(fa[3]), dht.fragment_digest(fa[4])]) FROM obj$$,
                 '22000', 'not enough valid fragments: 3 valid, 4 needed', 'a NULL digest leaves its fragment out');
SELECT throws_ok($$SELECT dht.ec_decode(fa, ARRAY[dht.fragment_digest(fa[1])]) FROM obj$$,
                 '22023', 'digests must have as many entries as fragments', 'digests and fragments must pair up');
-- fragment_digest
SELECT is(dht.fragment_digest('abc'), '\xbddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319'::bytea,
          'fragment_digest is BLAKE2b-256 (RFC 7693 test vector "abc", 32-byte output)');

-- ---- exhaustive byte flips --------------------------------------------------
-- Every byte of every fragment of a 100-byte 4+2 object, XORed with 0xff,
-- 0x01 and 0x80, one at a time.  With all six fragments every flip must
-- still decode (one bad fragment, five good); with exactly four, a flip
-- gives the original data or an error, never other bytes.
CREATE TEMP TABLE flips (spare boolean, outcome text);
DO $$
DECLARE
    d bytea := pg_temp.bytes(100, 9);
    f bytea[] := dht.ec_encode(pg_temp.bytes(100, 9), 4, 2);
    g bytea[];
    r bytea;
    pat int;
BEGIN
    FOR i IN 1 .. 6 LOOP
        FOR p IN 0 .. length(f[i]) - 1 LOOP
            FOREACH pat IN ARRAY ARRAY[255, 1, 128] LOOP
                g := f;
                g[i] := set_byte(f[i], p, get_byte(f[i], p) # pat);
                -- all six
                BEGIN
                    r := dht.ec_decode(g);
                    INSERT INTO flips VALUES (true, CASE WHEN r = d THEN 'original' ELSE 'WRONG' END);
                EXCEPTION WHEN OTHERS THEN
                    INSERT INTO flips VALUES (true, 'error ' || SQLSTATE);
                END;
                -- exactly four, the flipped one among them
                BEGIN
                    r := dht.ec_decode(CASE WHEN i <= 4 THEN g[1:4] ELSE g[1:3] || g[i:i] END);
                    INSERT INTO flips VALUES (false, CASE WHEN r = d THEN 'original' ELSE 'WRONG' END);
                EXCEPTION WHEN OTHERS THEN
                    INSERT INTO flips VALUES (false, 'error ' || SQLSTATE);
                END;
            END LOOP;
        END LOOP;
    END LOOP;
END $$;
SELECT is(count(*), 2 * 6 * 105 * 3::bigint, 'every byte of every fragment was flipped three ways') FROM flips;
SELECT is(count(*) FILTER (WHERE outcome = 'WRONG'), 0::bigint, 'no flip ever decodes to wrong bytes') FROM flips;
SELECT is(count(*) FILTER (WHERE outcome <> 'original'), 0::bigint, 'with a spare fragment every flip still decodes')
FROM flips WHERE spare;
SELECT results_eq($$SELECT DISTINCT outcome FROM flips WHERE NOT spare ORDER BY 1$$,
                  $$VALUES ('error 22000'), ('original')$$,
                  'with exactly k, a flip is detected (22000) or harmless (header padding)');

-- ---- redundancy planning ----------------------------------------------------
-- Expected values computed by hand with exact rational arithmetic (Python's
-- fractions.Fraction and math.comb over the same binary doubles):
--   k = 4, p = 0.9: P[X < 4] at n = 11 is 1.248e-6 (mostly C(11,3) 0.9^3 0.1^8
--   = 165 * 0.729e-8), above 1e-6; at n = 12 it is 1.658e-7 (220 * 0.729e-9
--   and smaller terms): so 12 shards for target 0.999999.
SELECT is(dht.plan_redundancy(4, 0.9, 0.999999), 12, 'k = 4, p = 0.9, target 0.999999: 12 shards');
SELECT is(dht.plan_redundancy(4, 0.9, 0.999999999), 15, 'k = 4, p = 0.9, target 0.999999999: 15 shards');
SELECT is(dht.plan_redundancy(10, 0.99, 0.999999999), 16, 'k = 10, p = 0.99, nine nines: 16 shards');
SELECT is(dht.plan_redundancy(29, 0.9, 0.999999), 45, 'k = 29 (Storj-like), p = 0.9, six nines: 45 shards');
SELECT is(dht.plan_redundancy(1, 0.5, 0.9), 4, 'k = 1 is replication: 1 - 0.5^4 >= 0.9');
SELECT is(dht.plan_redundancy(7, 1.0, 0.999999999), 7, 'always-up nodes need no redundancy');
SELECT is(dht.plan_redundancy(100, 0.5, 0.4), 196, 'k = 100, p = 0.5, target 0.4: 196 shards (P = 0.415)');
SELECT is(dht.plan_redundancy(4, 0.9, 0.99), 7, 'k = 4, p = 0.9, two nines: 7 shards (P = 0.99727)');
SELECT throws_ok($$SELECT dht.plan_redundancy(200, 0.5, 0.999999)$$, '22023',
                 'target 0.999999 cannot be reached with at most 255 shards', 'unreachable target');

-- ---- privileges -------------------------------------------------------------
SELECT is(count(*) FILTER (WHERE has_function_privilege('dht_reader', f, 'EXECUTE')), 7::bigint,
          'dht_reader may run every erasure and planning function')
FROM unnest(ARRAY['dht.ec_encode(bytea, int, int, text)', 'dht.ec_decode(bytea[])',
                  'dht.ec_decode(bytea[], bytea[])', 'dht.ec_reconstruct(bytea[], int)',
                  'dht.ec_fragment_info(bytea)', 'dht.fragment_digest(bytea)',
                  'dht.plan_redundancy(int, float8, float8)']) f;
SELECT is(count(*), 0::bigint, 'PUBLIC may run none of them')
FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
WHERE p.pronamespace = 'dht'::regnamespace AND a.grantee = 0
  AND p.proname IN ('ec_encode', 'ec_decode', 'ec_reconstruct', 'ec_fragment_info', 'fragment_digest', 'plan_redundancy');

SELECT * FROM finish();
ROLLBACK;
