-- RaptorQ (RFC 6330): every bad parameter, OTI and packet, with its SQLSTATE
-- and message, and the good cases they sit beside.
\set VERBOSITY default
SET search_path = dht, public;

-- err(sql): "SQLSTATE: message (detail)" of the error sql raises, or "no error".
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || detail || ')', ' ()'), '');
END $$;
-- Deterministic pseudo-random bytes.
CREATE FUNCTION pg_temp.bytes(n int, seed int DEFAULT 0) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(string_agg(sha256(int4send(seed) || int4send(i)), '' ORDER BY i) FROM 1 FOR n)
    FROM generate_series(0, n / 32) i $$;

-- OTIs: the 12 bytes of RFC 6330 3.3.2 and 3.3.3, and back.
SELECT rq_oti(1000, 16), rq_oti(5000, 64, 3, 2), rq_oti(946270874880 / 65535 / 255 * 65535, 65535, 255, 1, 1);
SELECT * FROM rq_oti_info(rq_oti(5000, 64, 3, 2, 4));
SELECT * FROM rq_oti_info('\x000000271000000803000202'::bytea);

-- rq_oti: bad transfer length, symbol size, alignment, blocks, sub-blocks (22023).
SELECT pg_temp.err('SELECT dht.rq_oti(0, 16)');
SELECT pg_temp.err('SELECT dht.rq_oti(-5, 16)');
SELECT pg_temp.err('SELECT dht.rq_oti(946270874881, 65535, 255)');
SELECT pg_temp.err('SELECT dht.rq_oti(946270874880, 65535, 255, 1, 1)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 0)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 10)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 65536)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 1, 1, 0)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 1, 1, 256)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 0)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 256)');
SELECT pg_temp.err('SELECT dht.rq_oti(10, 4, 4)');
SELECT pg_temp.err('SELECT dht.rq_oti(225616, 4)');
SELECT rq_oti(225612, 4) IS NOT NULL AS k_56403_ok;
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 1, 0)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 1, 5)');
SELECT pg_temp.err('SELECT dht.rq_oti(1000, 16, 1, 65536)');

-- rq_oti_info and every function that takes an OTI: malformed OTIs (22023).
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x0000000010000010010001'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x00000003e8000010010001040a'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x00000003e8ff001001000104'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x000000000000001001000104'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x00000003e800001000000104'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x00000003e800001001000100'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x00000003e800000e01000104'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_oti_info('\x00000003e800001001000504'::bytea)$$);
SELECT pg_temp.err($$SELECT dht.rq_decode('\x00000003e800001001000000'::bytea, '{}')$$);

CREATE TEMP TABLE obj AS
SELECT pg_temp.bytes(1000) AS data, rq_oti(1000, 16) AS oti,
       rq_encode(pg_temp.bytes(1000), rq_oti(1000, 16), 5) AS p;

-- rq_encode: K = 63 source packets (ESI 0..62) then 5 repair packets (63..67).
SELECT array_length(p, 1) AS packets, length(p[1]) AS packet_bytes,
       substring(p[1] FROM 1 FOR 4) AS first_id, substring(p[63] FROM 1 FOR 4) AS last_source_id,
       substring(p[64] FROM 1 FOR 4) AS first_repair_id, substring(p[1] FROM 5) = substring(data FROM 1 FOR 16) AS systematic
FROM obj;
-- the last source symbol is zero padded beyond the data
SELECT substring(p[63] FROM 5) = substring(data FROM 993) || '\x0000000000000000'::bytea AS padded FROM obj;
SELECT rq_encode('x', rq_oti(1, 4)) AS one_byte;
SELECT rq_encode('x', rq_oti(1, 4), 0) = rq_encode('x', rq_oti(1, 4)) AS default_no_repair;

-- rq_encode: data of another length, bad repair counts (22023).
SELECT pg_temp.err($$SELECT dht.rq_encode('\x0102', dht.rq_oti(3, 4))$$);
SELECT pg_temp.err($$SELECT dht.rq_encode(data || '\x00', oti) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_encode(data, oti, -1) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_encode(data, oti, 16777216 - 63 + 1) FROM obj$$);

-- results over 1 GB (54000), refused before anything is coded
SELECT pg_temp.err($$SELECT dht.rq_encode(pg_temp.bytes(1000), dht.rq_oti(1000, 1000), 16777214)$$);
SELECT pg_temp.err($$SELECT dht.rq_holder_fragment(pg_temp.bytes(1000), dht.rq_oti(1000, 1000), 0, 16777215)$$);
SELECT pg_temp.err($$SELECT dht.rq_packets(pg_temp.bytes(1000), dht.rq_oti(1000, 1000), 0, 1, 16777215)$$);

-- rq_packets: any ESI range of one block; bad block or range (22023).
SELECT rq_packets(data, oti, 0, 10, 3) = p[11:13] AS same_as_encode,
       rq_packets(data, oti, 0, 60, 8) = p[61:68] AS across_source_and_repair,
       cardinality(rq_packets(data, oti, 0, 100, 0)) AS empty
FROM obj;
SELECT substring(x FROM 1 FOR 4) FROM obj, unnest(rq_packets(data, oti, 0, 16777214, 2)) x;
SELECT pg_temp.err($$SELECT dht.rq_packets(data, oti, 1, 0, 1) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_packets(data, oti, -1, 0, 1) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_packets(data, oti, 0, -1, 1) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_packets(data, oti, 0, 0, -1) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_packets(data, oti, 0, 16777215, 2) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_packets(data || 'x', oti, 0, 0, 1) FROM obj$$);

-- rq_holder_fragment: one holder's packets of every block, concatenated.
SELECT rq_holder_fragment(data, oti, 60, 5) = p[61] || p[62] || p[63] || p[64] || p[65] AS concatenated FROM obj;
SELECT length(rq_holder_fragment(d, rq_oti(5000, 64, 3, 2), 100, 2)) AS three_blocks_two_each
FROM (SELECT pg_temp.bytes(5000, 1) d) s;
SELECT pg_temp.err($$SELECT dht.rq_holder_fragment(data, oti, 0, 0) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_holder_fragment(data, oti, 16777215, 2) FROM obj$$);

-- rq_decode: from all packets, from any 63, with repeats, NULLs and
-- several packets in one entry.
SELECT rq_decode(oti, p) = data AS all_packets,
       rq_decode(oti, p[6:68]) = data AS last_63,
       rq_decode(oti, p[6:68] || p[6:68] || p[1:1]) = data AS repeats,
       rq_decode(oti, ARRAY[NULL::bytea] || p[6:68]) = data AS nulls,
       rq_decode(oti, ARRAY[rq_holder_fragment(data, oti, 0, 30), rq_holder_fragment(data, oti, 35, 33)]) = data AS holder_fragments
FROM obj;

-- rq_decode: truncated, too long, or empty entries (22023).
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, ARRAY[substring(p[1] FROM 1 FOR 19)] || p[2:68]) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, ARRAY[p[1] || '\x00'] || p[2:68]) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, ARRAY[''::bytea] || p) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, ARRAY[ARRAY[p[1]], ARRAY[p[2]]]) FROM obj$$);
-- a packet of a block that does not exist (22023)
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, p[1:5] || ('\x01' || substring(p[6] FROM 2))) FROM obj$$);
-- too few: which blocks are short, and by how many (22000)
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, p[1:60]) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, p[1:60] || p[1:60]) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, '{}') FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(dht.rq_oti(5000, 64, 3, 2), (dht.rq_encode(pg_temp.bytes(5000), dht.rq_oti(5000, 64, 3, 2)))[2:70])$$);
\set VERBOSITY default
SELECT rq_decode(rq_oti(5000, 64, 3, 2), (rq_encode(pg_temp.bytes(5000), rq_oti(5000, 64, 3, 2)))[2:70]);
-- too large for a bytea, or for the working memory limit (54000)
SELECT pg_temp.err($$SELECT dht.rq_decode(dht.rq_oti(2000000000, 65532, 255), '{}')$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(dht.rq_oti(1000000000, 65528, 1, 1, 8), '{}')$$);
\set VERBOSITY default
SELECT rq_decode(rq_oti(1000000000, 65528, 1, 1, 8), '{}');

-- rq_decode with digests: entries whose digest does not match are left out.
SELECT rq_decode(oti, f, ARRAY[fragment_digest(f[1]), fragment_digest(f[2]), fragment_digest(f[3]), fragment_digest(f[4])]) = data AS digests_ok,
       rq_decode(oti, ARRAY[f[1], set_byte(f[2], 10, 0), f[3], f[4]],
                 ARRAY[fragment_digest(f[1]), fragment_digest(f[2]), fragment_digest(f[3]), fragment_digest(f[4])]) = data AS corrupt_left_out,
       rq_decode(oti, ARRAY[f[1], set_byte(f[2], 10, 0), f[3], f[4]]) = data AS without_digests_wrong_bytes
FROM (SELECT data, oti, ARRAY[rq_holder_fragment(data, oti, 0, 30), rq_holder_fragment(data, oti, 30, 30),
                           rq_holder_fragment(data, oti, 60, 30), rq_holder_fragment(data, oti, 90, 30)] AS f FROM obj) s;
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, ARRAY[f[1], set_byte(f[2], 10, 0), f[3]], ARRAY[fragment_digest(f[1]), fragment_digest(f[2]), fragment_digest(f[3])])
    FROM (SELECT oti, ARRAY[rq_holder_fragment(data, oti, 0, 30), rq_holder_fragment(data, oti, 30, 30),
                           rq_holder_fragment(data, oti, 60, 30)] AS f FROM obj) s$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, p, ARRAY[NULL::bytea]) FROM obj$$);
SELECT pg_temp.err($$SELECT dht.rq_decode(oti, p[1:2], ARRAY[NULL::bytea, NULL]) FROM obj$$);

-- rq_plan_holders, and its bad arguments (22023).
SELECT rq_plan_holders(29, 1, 0.9, 0.999999) AS storj_one_each,
       rq_plan_holders(29, 1, 0.99, 0.999999999) AS better_nodes,
       rq_plan_holders(29, 4, 0.9, 0.999999) AS four_each,
       rq_plan_holders(1, 1, 1.0, 0.5) AS trivial;
SELECT pg_temp.err('SELECT dht.rq_plan_holders(0, 1, 0.9, 0.99)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(56404, 1, 0.9, 0.99)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(29, 0, 0.9, 0.99)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(29, 1, 0, 0.99)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(29, 1, 1.5, 0.99)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(29, 1, 0.9, 1)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(29, 1, 0.9, 0)');
SELECT pg_temp.err('SELECT dht.rq_plan_holders(56403, 1, 0.0001, 0.999999)');

-- NULL in, NULL out (STRICT); the functions are granted to dht_reader.
SELECT rq_oti(NULL, 4), rq_encode(NULL, rq_oti(1, 4)), rq_decode(NULL, '{}'), rq_plan_holders(NULL, 1, 0.5, 0.5);
SELECT count(*) AS granted FROM pg_proc p
WHERE pronamespace = 'dht'::regnamespace AND proname LIKE 'rq\_%'
  AND has_function_privilege('dht_reader', p.oid, 'EXECUTE');
