-- Placement, allocation and lookup (src/placement_sql.c, src/allocate.c,
-- src/lookup.c).

CREATE FUNCTION dht.place(key dht.key, sla text)
    RETURNS TABLE (shard integer, node_id dht.key)
    AS 'MODULE_PATHNAME', 'dht_place' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 16;
COMMENT ON FUNCTION dht.place(dht.key, text) IS
    'where a token with this key would be placed now (writes nothing)';

CREATE FUNCTION dht.allocate(token dht.token, sla text)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    AS 'MODULE_PATHNAME', 'dht_allocate' LANGUAGE C VOLATILE SECURITY DEFINER ROWS 16
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.allocate(dht.token, text) IS
    'record a token and its placement in this transaction (idempotent)';

-- Direct scans of dht.token_log's primary key, resolved in C; the caller
-- needs SELECT on it (dht_reader has it).
CREATE FUNCTION dht.lookup(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text, state text)
    AS 'MODULE_PATHNAME', 'dht_lookup' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 16;
COMMENT ON FUNCTION dht.lookup(dht.token) IS 'the token''s holders, by shard; empty if unknown';

GRANT EXECUTE ON FUNCTION dht.place(dht.key, text), dht.lookup(dht.token) TO dht_reader;
GRANT EXECUTE ON FUNCTION dht.allocate(dht.token, text) TO dht_writer;
