-- dht.key: a 256-bit identifier (src/key.c).
CREATE TYPE dht.key;

CREATE FUNCTION dht.key_in(cstring) RETURNS dht.key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.key_out(dht.key) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.key_recv(internal) RETURNS dht.key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.key_send(dht.key) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE dht.key (
    INPUT = dht.key_in,
    OUTPUT = dht.key_out,
    RECEIVE = dht.key_recv,
    SEND = dht.key_send,
    INTERNALLENGTH = 32,
    ALIGNMENT = char,
    STORAGE = plain
);
COMMENT ON TYPE dht.key IS '256-bit identifier: 64 hex digits';

CREATE FUNCTION dht.key_eq(dht.key, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_ne(dht.key, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_lt(dht.key, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_le(dht.key, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_gt(dht.key, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_ge(dht.key, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_cmp(dht.key, dht.key) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.key_hash(dht.key) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION dht.key_hash_extended(dht.key, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR dht.= (
    LEFTARG = dht.key, RIGHTARG = dht.key, PROCEDURE = dht.key_eq,
    COMMUTATOR = OPERATOR(dht.=), NEGATOR = OPERATOR(dht.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR dht.<> (
    LEFTARG = dht.key, RIGHTARG = dht.key, PROCEDURE = dht.key_ne,
    COMMUTATOR = OPERATOR(dht.<>), NEGATOR = OPERATOR(dht.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR dht.< (
    LEFTARG = dht.key, RIGHTARG = dht.key, PROCEDURE = dht.key_lt,
    COMMUTATOR = OPERATOR(dht.>), NEGATOR = OPERATOR(dht.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR dht.<= (
    LEFTARG = dht.key, RIGHTARG = dht.key, PROCEDURE = dht.key_le,
    COMMUTATOR = OPERATOR(dht.>=), NEGATOR = OPERATOR(dht.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR dht.> (
    LEFTARG = dht.key, RIGHTARG = dht.key, PROCEDURE = dht.key_gt,
    COMMUTATOR = OPERATOR(dht.<), NEGATOR = OPERATOR(dht.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR dht.>= (
    LEFTARG = dht.key, RIGHTARG = dht.key, PROCEDURE = dht.key_ge,
    COMMUTATOR = OPERATOR(dht.<=), NEGATOR = OPERATOR(dht.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS dht.key_ops DEFAULT FOR TYPE dht.key USING btree AS
    OPERATOR 1 dht.<,
    OPERATOR 2 dht.<=,
    OPERATOR 3 dht.=,
    OPERATOR 4 dht.>=,
    OPERATOR 5 dht.>,
    FUNCTION 1 dht.key_cmp(dht.key, dht.key),
    FUNCTION 2 dht.key_sortsupport(internal),
    FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS dht.key_hash_ops DEFAULT FOR TYPE dht.key USING hash AS
    OPERATOR 1 dht.=,
    FUNCTION 1 dht.key_hash(dht.key),
    FUNCTION 2 dht.key_hash_extended(dht.key, bigint);

CREATE FUNCTION dht.key_smaller(dht.key, dht.key) RETURNS dht.key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.key_larger(dht.key, dht.key) RETURNS dht.key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE dht.min(dht.key) (
    SFUNC = dht.key_smaller, STYPE = dht.key, SORTOP = OPERATOR(dht.<),
    COMBINEFUNC = dht.key_smaller, PARALLEL = SAFE
);
CREATE AGGREGATE dht.max(dht.key) (
    SFUNC = dht.key_larger, STYPE = dht.key, SORTOP = OPERATOR(dht.>),
    COMBINEFUNC = dht.key_larger, PARALLEL = SAFE
);

CREATE FUNCTION dht.key_to_bytea(dht.key) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.key(bytea) RETURNS dht.key
    AS 'MODULE_PATHNAME', 'key_from_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (dht.key AS bytea) WITH FUNCTION dht.key_to_bytea(dht.key);
CREATE CAST (bytea AS dht.key) WITH FUNCTION dht.key(bytea);

CREATE FUNCTION dht.node_id(pubkey bytea) RETURNS dht.key
    AS 'MODULE_PATHNAME', 'key_node_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.node_id(bytea) IS 'BLAKE2b-256 of a 32-byte Ed25519 public key';

-- Every role that can see the schema can use the type.
GRANT EXECUTE ON FUNCTION
    dht.key_in(cstring), dht.key_out(dht.key), dht.key_recv(internal), dht.key_send(dht.key),
    dht.key_eq(dht.key, dht.key), dht.key_ne(dht.key, dht.key), dht.key_lt(dht.key, dht.key),
    dht.key_le(dht.key, dht.key), dht.key_gt(dht.key, dht.key), dht.key_ge(dht.key, dht.key),
    dht.key_cmp(dht.key, dht.key), dht.key_sortsupport(internal), dht.key_hash(dht.key),
    dht.key_hash_extended(dht.key, bigint), dht.key_to_bytea(dht.key), dht.key(bytea),
    dht.key_smaller(dht.key, dht.key), dht.key_larger(dht.key, dht.key),
    dht.min(dht.key), dht.max(dht.key),
    dht.node_id(bytea)
    TO dht_reader;
