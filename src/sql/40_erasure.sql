-- Erasure coding and redundancy planning (src/erasure.c, src/erasure_lib.c,
-- src/fragment.c, src/redundancy.c, src/redundancy_sql.c).
--
-- All of these are pure computations over their arguments (no table access),
-- so they are IMMUTABLE and granted to dht_reader.

CREATE FUNCTION dht.ec_encode(data bytea, k int, m int, backend text DEFAULT 'isa_l_rs_vand')
    RETURNS bytea[]
    AS 'MODULE_PATHNAME', 'ec_encode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ec_encode(bytea, int, int, text) IS
    'k + m liberasurecode fragments (CRC32 checksums, tagged with k and m) of data: any k rebuild it';

CREATE FUNCTION dht.ec_decode(fragments bytea[]) RETURNS bytea
    AS 'MODULE_PATHNAME', 'ec_decode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ec_decode(bytea[]) IS
    'the data of any k valid fragments (NULLs allowed); corrupt, foreign and duplicate fragments are left out';

CREATE FUNCTION dht.ec_decode(fragments bytea[], digests bytea[]) RETURNS bytea
    AS 'MODULE_PATHNAME', 'ec_decode_digests' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ec_decode(bytea[], bytea[]) IS
    'dht.ec_decode using only the fragments whose dht.fragment_digest equals the digest at the same position';

CREATE FUNCTION dht.ec_reconstruct(fragments bytea[], index int) RETURNS bytea
    AS 'MODULE_PATHNAME', 'ec_reconstruct' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ec_reconstruct(bytea[], int) IS
    'fragment number index (0-based), rebuilt from any k valid fragments';

CREATE FUNCTION dht.ec_fragment_info(fragment bytea,
        OUT index int, OUT k int, OUT m int, OUT backend text, OUT orig_size bigint, OUT valid boolean)
    AS 'MODULE_PATHNAME', 'ec_fragment_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ec_fragment_info(bytea) IS
    'what a fragment''s header says, and whether the fragment passes every check';

CREATE FUNCTION dht.fragment_digest(fragment bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fragment_digest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.fragment_digest(bytea) IS
    'BLAKE2b-256 of a fragment, as kept in dht.placements.digest: the defence against forged fragments';

CREATE FUNCTION dht.plan_redundancy(data_shards int, node_availability float8, target float8)
    RETURNS int
    AS 'MODULE_PATHNAME', 'plan_redundancy' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.plan_redundancy(int, float8, float8) IS
    'smallest total shard count n with P[at least data_shards of n independent nodes up] >= target';

GRANT EXECUTE ON FUNCTION
    dht.ec_encode(bytea, int, int, text),
    dht.ec_decode(bytea[]),
    dht.ec_decode(bytea[], bytea[]),
    dht.ec_reconstruct(bytea[], int),
    dht.ec_fragment_info(bytea),
    dht.fragment_digest(bytea),
    dht.plan_redundancy(int, float8, float8)
    TO dht_reader;
