-- RaptorQ, RFC 6330 (src/raptorq_sql.c over the pure-C src/rq_*.c, and
-- src/rq_plan.c).
--
-- Packets: a 4-byte FEC Payload ID (SBN 8 bits, then ESI 24 bits,
-- big-endian) and one T-byte symbol.  The OTI: the 12 bytes of RFC 6330
-- sections 3.3.2 and 3.3.3.  All of these are pure computations over their
-- arguments (no table access), so they are IMMUTABLE and granted to
-- dht_reader.

CREATE FUNCTION dht.rq_oti(transfer_length bigint, symbol_size int, source_blocks int DEFAULT 1,
        sub_blocks int DEFAULT 1, alignment int DEFAULT 4)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'rq_oti_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_oti(bigint, int, int, int, int) IS
    'the 12-byte RaptorQ OTI (RFC 6330 3.3.2, 3.3.3) of an object of transfer_length bytes';

CREATE FUNCTION dht.rq_oti_info(oti bytea,
        OUT transfer_length bigint, OUT symbol_size int, OUT source_blocks int,
        OUT sub_blocks int, OUT alignment int)
    AS 'MODULE_PATHNAME', 'rq_oti_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_oti_info(bytea) IS
    'the fields of a RaptorQ OTI';

CREATE FUNCTION dht.rq_encode(data bytea, oti bytea, repair_symbols int DEFAULT 0)
    RETURNS bytea[]
    AS 'MODULE_PATHNAME', 'rq_encode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_encode(bytea, bytea, int) IS
    'for each source block in SBN order, its K source packets then repair_symbols repair packets (ESI K upward)';

CREATE FUNCTION dht.rq_packets(data bytea, oti bytea, sbn int, first_esi int, count int)
    RETURNS bytea[]
    AS 'MODULE_PATHNAME', 'rq_packets' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_packets(bytea, bytea, int, int, int) IS
    'the packets of ESIs first_esi .. first_esi + count - 1 of source block sbn';

CREATE FUNCTION dht.rq_holder_fragment(data bytea, oti bytea, first_esi int, count int)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'rq_holder_fragment' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_holder_fragment(bytea, bytea, int, int) IS
    'what one holder stores: the packets of ESIs first_esi .. first_esi + count - 1 of every source block, SBN order, concatenated';

CREATE FUNCTION dht.rq_decode(oti bytea, packets bytea[]) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rq_decode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_decode(bytea, bytea[]) IS
    'the object, from any sufficient set of packets (each entry one or more whole packets; NULLs and repeats ignored)';

CREATE FUNCTION dht.rq_decode(oti bytea, packets bytea[], digests bytea[]) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rq_decode_digests' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_decode(bytea, bytea[], bytea[]) IS
    'dht.rq_decode using only the entries whose dht.fragment_digest equals the digest at the same position';

CREATE FUNCTION dht.rq_plan_holders(source_symbols int, symbols_per_holder int,
        node_availability float8, target float8)
    RETURNS int
    AS 'MODULE_PATHNAME', 'rq_plan_holders_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.rq_plan_holders(int, int, float8, float8) IS
    'smallest number of holders of symbols_per_holder distinct symbols each with P[decode] >= target (RFC 6330 failure model)';

GRANT EXECUTE ON FUNCTION
    dht.rq_oti(bigint, int, int, int, int),
    dht.rq_oti_info(bytea),
    dht.rq_encode(bytea, bytea, int),
    dht.rq_packets(bytea, bytea, int, int, int),
    dht.rq_holder_fragment(bytea, bytea, int, int),
    dht.rq_decode(bytea, bytea[]),
    dht.rq_decode(bytea, bytea[], bytea[]),
    dht.rq_plan_holders(int, int, float8, float8)
    TO dht_reader;
