-- Bulk allocation, reads routed to one holder, and node feeds (src/allocate.c,
-- src/lookup.c).

CREATE FUNCTION dht.allocate_many(tokens dht.token[], sla text)
    RETURNS TABLE (token dht.token, shard integer, node_id dht.key, endpoint text)
    AS 'MODULE_PATHNAME', 'dht_allocate_many' LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1000
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.allocate_many(dht.token[], text) IS
    'dht.allocate for each token, in one call: a token listed twice is allocated once and returned twice; at most 1,000,000 tokens';

CREATE FUNCTION dht.route(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    AS 'MODULE_PATHNAME', 'dht_route' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED ROWS 1;
COMMENT ON FUNCTION dht.route(dht.token) IS
    'one holder to read the token from: uniformly at random among its active holders on active nodes';

CREATE FUNCTION dht.node_assignments(node_id dht.key)
    RETURNS TABLE (token dht.token, shard integer, state text, epoch bigint)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE ROWS 1000
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT p.token, p.shard, p.state, p.epoch FROM dht.placements p
    WHERE p.node_id OPERATOR(dht.=) $1
    ORDER BY p.token, p.shard
$$;
COMMENT ON FUNCTION dht.node_assignments(dht.key) IS
    'what a node holds or must fetch (pending), by token: one index lookup';

GRANT EXECUTE ON FUNCTION dht.route(dht.token), dht.node_assignments(dht.key), dht.node_ref_of(dht.key)
    TO dht_reader;
GRANT EXECUTE ON FUNCTION dht.allocate_many(dht.token[], text) TO dht_writer;
