-- dht.holders: one token's holders as one anchor recorded them, packed
-- (src/holders.c, src/holders_type.c).  The directory's rows carry one each;
-- users read the resolved views (dht.tokens, dht.placements) instead.
CREATE TYPE dht.holders;

CREATE FUNCTION dht.holders_in(cstring) RETURNS dht.holders
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.holders_out(dht.holders) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.holders_recv(internal) RETURNS dht.holders
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.holders_send(dht.holders) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A value up to 126 bytes (a 4+2 token's is 100) takes a 1-byte header on
-- disk and then no alignment padding; never compressed (it would not shrink).
CREATE TYPE dht.holders (
    INPUT = dht.holders_in,
    OUTPUT = dht.holders_out,
    RECEIVE = dht.holders_recv,
    SEND = dht.holders_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = external
);
COMMENT ON TYPE dht.holders IS
    'a token''s holders as one anchor recorded them: shape, allocation stamps, and (shard, node, state, stamp) entries';

-- Header accessors, for the views (they read the header, not the entries).
CREATE FUNCTION dht._holders_meta_stamp(dht.holders) RETURNS bigint
    AS 'MODULE_PATHNAME', 'holders_meta_stamp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_released(dht.holders) RETURNS boolean
    AS 'MODULE_PATHNAME', 'holders_released' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_data_shards(dht.holders) RETURNS integer
    AS 'MODULE_PATHNAME', 'holders_data_shards' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_parity_shards(dht.holders) RETURNS integer
    AS 'MODULE_PATHNAME', 'holders_parity_shards' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_epoch(dht.holders) RETURNS bigint
    AS 'MODULE_PATHNAME', 'holders_epoch' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_allocated_at(dht.holders) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'holders_allocated_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_coding(dht.holders) RETURNS text
    AS 'MODULE_PATHNAME', 'holders_coding' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht._holders_symbols_per_holder(dht.holders) RETURNS integer
    AS 'MODULE_PATHNAME', 'holders_symbols_per_holder' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- holders @> node_id: the value has a live (not dropped) entry for the node.
CREATE FUNCTION dht.holders_contains_node(dht.holders, dht.key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR dht.@> (
    LEFTARG = dht.holders, RIGHTARG = dht.key, FUNCTION = dht.holders_contains_node,
    RESTRICT = contsel, JOIN = contjoinsel
);

-- GIN over the node references of live entries: "which rows name node X".
-- The query argument is a dht.key; it is declared as the indexed type, as
-- core's gin_extract_tsquery(tsvector, ...) is, because amvalidate checks
-- the support functions' signatures against the operator class's type.
CREATE FUNCTION dht.holders_gin_extract_value(dht.holders, internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.holders_gin_extract_query(dht.holders, internal, int2, internal, internal, internal, internal)
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dht.holders_gin_consistent(internal, int2, dht.holders, int4, internal, internal, internal, internal)
    RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS dht.holders_ops DEFAULT FOR TYPE dht.holders USING gin AS
    OPERATOR 7 dht.@> (dht.holders, dht.key),
    FUNCTION 1 pg_catalog.btint8cmp(int8, int8),
    FUNCTION 2 dht.holders_gin_extract_value(dht.holders, internal, internal),
    FUNCTION 3 dht.holders_gin_extract_query(dht.holders, internal, int2, internal, internal, internal, internal),
    FUNCTION 4 dht.holders_gin_consistent(internal, int2, dht.holders, int4, internal, internal, internal, internal),
    STORAGE int8;
