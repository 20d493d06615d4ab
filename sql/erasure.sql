-- Erasure coding and redundancy planning: every bad parameter and every kind
-- of bad fragment, with its message and SQLSTATE.
\set VERBOSITY sqlstate
SET search_path = dht, public;

-- Helpers (temporary): zlib's CRC-32 and re-sealing a modified fragment, as
-- a forger would (payload CRC at byte 21, header CRC at byte 67).
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
CREATE FUNCTION pg_temp.reseal(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.put_u32(p, 67, pg_temp.crc32(substring(p FROM 1 FOR 59)))
    FROM (SELECT pg_temp.put_u32(b, 21, pg_temp.crc32(substring(b FROM 81))) AS p) s $$;

CREATE TEMP TABLE obj AS
SELECT convert_to('The quick brown fox jumps over the lazy dog, again and again.', 'UTF8') AS data,
       dht.ec_encode(convert_to('The quick brown fox jumps over the lazy dog, again and again.', 'UTF8'), 4, 2) AS f,
       dht.ec_encode(convert_to('Another object of the very same length, so the same fragments!', 'UTF8'), 4, 2) AS other;

-- A good round trip, and what a fragment looks like.
SELECT convert_from(dht.ec_decode(f), 'UTF8') FROM obj;
SELECT convert_from(dht.ec_decode(ARRAY[NULL, f[2], NULL, f[4], f[5], f[6]]), 'UTF8') FROM obj;
SELECT i, (dht.ec_fragment_info(x)).*, length(x) FROM obj, unnest(f) WITH ORDINALITY u(x, i);
SELECT dht.ec_reconstruct(f[2:6], 0) = f[1] AS rebuilt FROM obj;
SELECT length(dht.fragment_digest(f[1])) FROM obj;
SELECT dht.ec_encode(NULL, 4, 2), dht.ec_encode('x', 4, 2, NULL), dht.ec_decode(NULL), dht.fragment_digest(NULL);

-- ec_encode: bad k and m (22023).
SELECT dht.ec_encode('x', 0, 2);
SELECT dht.ec_encode('x', -1, 2);
SELECT dht.ec_encode('x', 4, -1);
SELECT dht.ec_encode('x', 200, 56);
SELECT dht.ec_encode('x', 2147483647, 2147483647);
\set VERBOSITY default
SELECT dht.ec_encode('x', 0, 2);
SELECT dht.ec_encode('x', 4, -1);
SELECT dht.ec_encode('x', 200, 56);
\set VERBOSITY sqlstate

-- Unknown backend (22023, listing the valid ones).
SELECT dht.ec_encode('x', 4, 2, 'reed_solomon');
SELECT dht.ec_encode('x', 4, 2, '');
\set VERBOSITY default
SELECT dht.ec_encode('x', 4, 2, 'reed_solomon');
\set VERBOSITY sqlstate

-- Backend limits (22023): k + m <= 32 (16 for jerasure_rs_cauchy), m >= 1
-- except isa-l, isa_l_rs_vand m <= 3 or m = 4 with k <= 21.  Storj's 29+51
-- exceeds every backend.
SELECT dht.ec_encode('x', 29, 51, b) FROM unnest(ARRAY['isa_l_rs_cauchy', 'jerasure_rs_vand']) b;
SELECT dht.ec_encode('x', 30, 3);
SELECT dht.ec_encode('x', 30, 3, 'jerasure_rs_vand');
SELECT dht.ec_encode('x', 10, 7, 'jerasure_rs_cauchy');
SELECT dht.ec_encode('x', 4, 0, 'jerasure_rs_vand');
SELECT dht.ec_encode('x', 4, 0, 'jerasure_rs_cauchy');
SELECT dht.ec_encode('x', 4, 0, 'liberasurecode_rs_vand');
SELECT dht.ec_encode('x', 10, 5);
SELECT dht.ec_encode('x', 22, 4);
SELECT cardinality(dht.ec_encode('x', 21, 4)) AS n_21_4,
       cardinality(dht.ec_encode('x', 29, 3)) AS n_29_3,
       cardinality(dht.ec_encode('x', 4, 0)) AS n_4_0,
       cardinality(dht.ec_encode('x', 8, 8, 'jerasure_rs_cauchy')) AS n_8_8,
       cardinality(dht.ec_encode('x', 1, 31, 'liberasurecode_rs_vand')) AS n_1_31;
\set VERBOSITY default
SELECT dht.ec_encode('x', 29, 51, 'isa_l_rs_cauchy');
SELECT dht.ec_encode('x', 10, 7, 'jerasure_rs_cauchy');
SELECT dht.ec_encode('x', 4, 0, 'jerasure_rs_vand');
SELECT dht.ec_encode('x', 10, 5);
\set VERBOSITY sqlstate

-- Size limits (54000): the result must fit in 1 GB, the data in 256 MiB.
SELECT dht.ec_encode(convert_to(repeat('x', 40000000), 'UTF8'), 1, 31, 'isa_l_rs_cauchy');
\set VERBOSITY default
SELECT dht.ec_encode(convert_to(repeat('x', 40000000), 'UTF8'), 1, 31, 'isa_l_rs_cauchy');
SELECT dht.ec_encode(convert_to(repeat('x', 268435457), 'UTF8'), 31, 1, 'isa_l_rs_cauchy');
\set VERBOSITY sqlstate

-- ec_decode: no fragments, too few, too many entries.
SELECT dht.ec_decode('{}');
SELECT dht.ec_decode('{NULL,NULL}');
SELECT dht.ec_decode(ARRAY['\x'::bytea, '\x00'::bytea]);
SELECT dht.ec_decode(f[1:3]) FROM obj;
SELECT dht.ec_decode(array_fill(NULL::bytea, ARRAY[1025]));
\set VERBOSITY default
SELECT dht.ec_decode('{}');
SELECT dht.ec_decode(ARRAY['\x'::bytea, '\x00'::bytea]);
SELECT dht.ec_decode(f[1:3]) FROM obj;
SELECT dht.ec_decode(array_fill(NULL::bytea, ARRAY[1025]));

-- Every kind of bad fragment, each named in the detail by array position.
SELECT dht.ec_decode(ARRAY[
    f[1],
    '\x00'::bytea,                                              -- 2: short
    set_byte(f[2], 59, get_byte(f[2], 59) # 1),                 -- 3: magic
    set_byte(f[2], 0, get_byte(f[2], 0) # 1),                  -- 4: header CRC
    pg_temp.put_u32(f[2], 63, 65792),                           -- 5: libec 1.1.0
    pg_temp.reseal(set_byte(f[2], 54, 3)),                      -- 6: backend flat_xor_hd
    pg_temp.reseal(pg_temp.put_u32(f[2], 25, 0)),               -- 7: no tag
    pg_temp.reseal(pg_temp.put_u32(f[2], 33, 40)),              -- 8: m = 40
    pg_temp.reseal(pg_temp.put_u32(f[2], 0, 6)),                -- 9: index k + m
    pg_temp.reseal(set_byte(f[2], 20, 1)),                      -- 10: no CRC
    pg_temp.reseal(pg_temp.put_u32(f[2], 4, 15)),               -- 11: size
    f[2] || '\x00'::bytea,                                      -- 12: length
    set_byte(f[2], 85, get_byte(f[2], 85) # 1),                 -- 13: payload CRC
    other[2],                                                   -- 14: other object
    f[1],                                                       -- 15: duplicate
    f[5]]) FROM obj;
\set VERBOSITY sqlstate

-- A forged fragment (both CRCs fixed) is caught end to end (XX001) ...
SELECT dht.ec_decode(ARRAY[f[1], f[2], f[3], pg_temp.reseal(set_byte(f[5], 85, get_byte(f[5], 85) # 1))]) FROM obj;
\set VERBOSITY default
SELECT dht.ec_decode(ARRAY[f[1], f[2], f[3], pg_temp.reseal(set_byte(f[5], 85, get_byte(f[5], 85) # 1))]) FROM obj;
-- ... and left out by ec_decode(fragments, digests).
SELECT convert_from(dht.ec_decode(ARRAY[f[1], f[2], f[3], pg_temp.reseal(set_byte(f[5], 85, get_byte(f[5], 85) # 1)), f[6]],
                                  ARRAY[dht.fragment_digest(f[1]), dht.fragment_digest(f[2]), dht.fragment_digest(f[3]),
                                        dht.fragment_digest(f[5]), dht.fragment_digest(f[6])]), 'UTF8') FROM obj;
SELECT dht.ec_decode(f[1:4], ARRAY[dht.fragment_digest(f[1]), '\x00'::bytea, NULL, dht.fragment_digest(f[3])]) FROM obj;
SELECT dht.ec_decode(f, ARRAY[dht.fragment_digest(f[1])]) FROM obj;
\set VERBOSITY sqlstate
SELECT dht.ec_decode(f, '{}') FROM obj;

-- ec_reconstruct: index out of range (22023), too few fragments (22000).
SELECT dht.ec_reconstruct(f, -1) FROM obj;
SELECT dht.ec_reconstruct(f, 6) FROM obj;
SELECT dht.ec_reconstruct(f[1:3], 5) FROM obj;
\set VERBOSITY default
SELECT dht.ec_reconstruct(f, 6) FROM obj;
SELECT dht.ec_reconstruct(f[1:3], 5) FROM obj;
\set VERBOSITY sqlstate

-- ec_fragment_info never fails.
SELECT (dht.ec_fragment_info('\x'::bytea)).*;
SELECT (dht.ec_fragment_info(set_byte(f[3], 90, 0))).* FROM obj;
SELECT (dht.ec_fragment_info(pg_temp.reseal(set_byte(f[3], 54, 3)))).* FROM obj;
SELECT (dht.ec_fragment_info(pg_temp.reseal(pg_temp.put_u32(f[3], 0, 99)))).* FROM obj;

-- plan_redundancy.
SELECT dht.plan_redundancy(4, 0.9, 0.999999) AS k4_p90_six_nines,
       dht.plan_redundancy(10, 0.99, 0.999999999) AS k10_p99_nine_nines,
       dht.plan_redundancy(1, 0.5, 0.99) AS replicas,
       dht.plan_redundancy(255, 1, 0.5) AS all_up;
SELECT dht.plan_redundancy(0, 0.9, 0.99);
SELECT dht.plan_redundancy(256, 0.9, 0.99);
SELECT dht.plan_redundancy(4, 0, 0.99);
SELECT dht.plan_redundancy(4, 1.5, 0.99);
SELECT dht.plan_redundancy(4, 'NaN', 0.99);
SELECT dht.plan_redundancy(4, 0.9, 0);
SELECT dht.plan_redundancy(4, 0.9, 1);
SELECT dht.plan_redundancy(4, 0.9, 'NaN');
SELECT dht.plan_redundancy(200, 0.5, 0.999999);
\set VERBOSITY default
SELECT dht.plan_redundancy(0, 0.9, 0.99);
SELECT dht.plan_redundancy(4, 1.5, 0.99);
SELECT dht.plan_redundancy(4, 0.9, 1);
SELECT dht.plan_redundancy(200, 0.5, 0.999999);
