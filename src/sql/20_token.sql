-- dht.token: a CAIP-19 token instance or asset type (src/token.c, src/caip.c).
CREATE TYPE dht.token;

CREATE FUNCTION dht.token_in(cstring) RETURNS dht.token
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.token_out(dht.token) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.token_recv(internal) RETURNS dht.token
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.token_send(dht.token) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A varlena read byte-wise.  Values up to 126 bytes (every EVM token) get a
-- 1-byte header on disk and in indexes and then need no alignment padding;
-- that takes a storage other than plain (extended: they are never toasted in
-- practice, as a token is at most 264 bytes).
CREATE TYPE dht.token (
    INPUT = dht.token_in,
    OUTPUT = dht.token_out,
    RECEIVE = dht.token_recv,
    SEND = dht.token_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE dht.token IS 'CAIP-19 token instance or asset type: chain_ns:chain_ref/asset_ns:asset_ref[/token_id]';

CREATE FUNCTION dht.token_eq(dht.token, dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_ne(dht.token, dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_lt(dht.token, dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_le(dht.token, dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_gt(dht.token, dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_ge(dht.token, dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_cmp(dht.token, dht.token) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.token_hash(dht.token) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.token_hash_extended(dht.token, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR dht.= (
    LEFTARG = dht.token, RIGHTARG = dht.token, PROCEDURE = dht.token_eq,
    COMMUTATOR = OPERATOR(dht.=), NEGATOR = OPERATOR(dht.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR dht.<> (
    LEFTARG = dht.token, RIGHTARG = dht.token, PROCEDURE = dht.token_ne,
    COMMUTATOR = OPERATOR(dht.<>), NEGATOR = OPERATOR(dht.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR dht.< (
    LEFTARG = dht.token, RIGHTARG = dht.token, PROCEDURE = dht.token_lt,
    COMMUTATOR = OPERATOR(dht.>), NEGATOR = OPERATOR(dht.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR dht.<= (
    LEFTARG = dht.token, RIGHTARG = dht.token, PROCEDURE = dht.token_le,
    COMMUTATOR = OPERATOR(dht.>=), NEGATOR = OPERATOR(dht.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR dht.> (
    LEFTARG = dht.token, RIGHTARG = dht.token, PROCEDURE = dht.token_gt,
    COMMUTATOR = OPERATOR(dht.<), NEGATOR = OPERATOR(dht.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR dht.>= (
    LEFTARG = dht.token, RIGHTARG = dht.token, PROCEDURE = dht.token_ge,
    COMMUTATOR = OPERATOR(dht.<=), NEGATOR = OPERATOR(dht.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

-- Equal tokens are identical bytes, so btree deduplication is safe.
CREATE OPERATOR CLASS dht.token_ops DEFAULT FOR TYPE dht.token USING btree AS
    OPERATOR 1 dht.<,
    OPERATOR 2 dht.<=,
    OPERATOR 3 dht.=,
    OPERATOR 4 dht.>=,
    OPERATOR 5 dht.>,
    FUNCTION 1 dht.token_cmp(dht.token, dht.token),
    FUNCTION 2 dht.token_sortsupport(internal),
    FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS dht.token_hash_ops DEFAULT FOR TYPE dht.token USING hash AS
    OPERATOR 1 dht.=,
    FUNCTION 1 dht.token_hash(dht.token),
    FUNCTION 2 dht.token_hash_extended(dht.token, bigint);

CREATE FUNCTION dht.token_smaller(dht.token, dht.token) RETURNS dht.token
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.token_larger(dht.token, dht.token) RETURNS dht.token
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE dht.min(dht.token) (
    SFUNC = dht.token_smaller, STYPE = dht.token, SORTOP = OPERATOR(dht.<),
    COMBINEFUNC = dht.token_smaller, PARALLEL = SAFE
);
CREATE AGGREGATE dht.max(dht.token) (
    SFUNC = dht.token_larger, STYPE = dht.token, SORTOP = OPERATOR(dht.>),
    COMBINEFUNC = dht.token_larger, PARALLEL = SAFE
);

-- Accessors and the token's key.
CREATE FUNCTION dht.chain_id(dht.token) RETURNS text
    AS 'MODULE_PATHNAME', 'token_chain_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.chain_id(dht.token) IS 'CAIP-2 chain id of a token, e.g. eip155:1';
CREATE FUNCTION dht.asset_type(dht.token) RETURNS text
    AS 'MODULE_PATHNAME', 'token_asset_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.asset_type(dht.token) IS 'CAIP-19 asset type of a token (without the token id)';
CREATE FUNCTION dht.token_id(dht.token) RETURNS text
    AS 'MODULE_PATHNAME', 'token_token_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.token_id(dht.token) IS 'token id of a token instance; NULL for an asset type';
CREATE FUNCTION dht.token_key(dht.token) RETURNS dht.key
    AS 'MODULE_PATHNAME', 'token_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.token_key(dht.token) IS 'BLAKE2b-256 of the canonical text: the token''s place in the key space';

-- Every role that can see the schema can use the type.
GRANT EXECUTE ON FUNCTION
    dht.token_in(cstring), dht.token_out(dht.token), dht.token_recv(internal),
    dht.token_send(dht.token),
    dht.token_eq(dht.token, dht.token), dht.token_ne(dht.token, dht.token),
    dht.token_lt(dht.token, dht.token), dht.token_le(dht.token, dht.token),
    dht.token_gt(dht.token, dht.token), dht.token_ge(dht.token, dht.token),
    dht.token_cmp(dht.token, dht.token), dht.token_sortsupport(internal),
    dht.token_hash(dht.token), dht.token_hash_extended(dht.token, bigint),
    dht.token_smaller(dht.token, dht.token), dht.token_larger(dht.token, dht.token),
    dht.min(dht.token), dht.max(dht.token),
    dht.chain_id(dht.token), dht.asset_type(dht.token), dht.token_id(dht.token),
    dht.token_key(dht.token)
    TO dht_reader;
