-- Placement and lookup: place, allocate, lookup, release, repair (src/placement_sql.c).

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

-- One index scan of dht.placement_log, resolved in C (src/lookup.c); the
-- caller needs SELECT on it (dht_reader has it).
CREATE FUNCTION dht.lookup(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text, state text)
    AS 'MODULE_PATHNAME', 'dht_lookup' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 16;
COMMENT ON FUNCTION dht.lookup(dht.token) IS 'the token''s holders, by shard; empty if unknown';

-- Serialises release, repair and confirm of one token on this anchor (a
-- transaction-scoped advisory lock; dht.allocate needs none).
CREATE FUNCTION dht._lock_token(token dht.token) RETURNS dht.key
    AS 'MODULE_PATHNAME', 'dht_lock_token' LANGUAGE C VOLATILE STRICT;

-- The latest event time of anything about the token, so a new event sorts after it.
CREATE FUNCTION dht._token_latest(token dht.token) RETURNS timestamptz
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT greatest(
        (SELECT max(event_at) FROM dht.token_log t WHERE t.token OPERATOR(dht.=) $1),
        (SELECT max(event_at) FROM dht.placement_log p WHERE p.token OPERATOR(dht.=) $1))
$$;

CREATE FUNCTION dht.release(token dht.token) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    at timestamptz;
    me text := dht.local_origin();
BEGIN
    IF token IS NULL THEN
        PERFORM dht._bad_parameter('token must not be NULL');
    END IF;
    PERFORM dht._lock_token(token);
    IF NOT EXISTS (SELECT 1 FROM dht.tokens t WHERE t.token OPERATOR(dht.=) release.token) THEN
        PERFORM dht._bad_parameter(format('token "%s" is not allocated', token));
    END IF;
    at := dht._next_event_at(dht._token_latest(token));
    INSERT INTO dht.token_log AS l (token, origin, key, sla, data_shards, parity_shards, epoch,
                                    allocated_at, released, event_at)
    SELECT t.token, me, t.key, t.sla, t.data_shards, t.parity_shards, t.epoch, t.allocated_at, true, at
    FROM dht.tokens t WHERE t.token OPERATOR(dht.=) release.token
    ON CONFLICT ON CONSTRAINT token_log_pkey DO UPDATE SET released = true, event_at = excluded.event_at;
    INSERT INTO dht.placement_log AS l (token, shard, node_id, origin, state, epoch, digest, event_at)
    SELECT p.token, p.shard, p.node_id, me, 'dropped', p.epoch, p.digest, at
    FROM dht.placements p WHERE p.token OPERATOR(dht.=) release.token
    ON CONFLICT ON CONSTRAINT placement_log_pkey DO UPDATE SET state = 'dropped', event_at = excluded.event_at;
    RETURN true;
END $$;
COMMENT ON FUNCTION dht.release(dht.token) IS 'forget an allocated token and its placement';

CREATE FUNCTION dht.repair_plan()
    RETURNS TABLE (token dht.token, shard integer, from_node dht.key, to_node dht.key, reason text)
    AS 'MODULE_PATHNAME', 'dht_repair_plan' LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.repair_plan() IS
    'every holder that breaks the rules now, and its minimal-movement replacement';

-- One placement event of this anchor's origin.
CREATE FUNCTION dht._put_placement(token dht.token, shard int, node_id dht.key, state text,
        epoch bigint, digest bytea, at timestamptz) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    INSERT INTO dht.placement_log AS l (token, shard, node_id, origin, state, epoch, digest, event_at)
    VALUES (token, shard, node_id, dht.local_origin(), state, epoch, digest, at)
    ON CONFLICT (token, shard, node_id, origin) DO UPDATE SET
        state = excluded.state, epoch = excluded.epoch,
        digest = coalesce(excluded.digest, l.digest), event_at = excluded.event_at
$$;

CREATE FUNCTION dht.repair(max_moves int DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    r record;
    moves bigint := 0;
    at timestamptz;
    ep bigint;
BEGIN
    IF max_moves < 0 THEN
        PERFORM dht._bad_parameter('max_moves must be 0 or more, or NULL for no limit');
    END IF;
    FOR r IN SELECT * FROM dht.repair_plan() p WHERE p.to_node IS NOT NULL LIMIT max_moves LOOP
        PERFORM dht._lock_token(r.token);
        at := dht._next_event_at(dht._token_latest(r.token));
        SELECT t.epoch INTO ep FROM dht.tokens t WHERE t.token OPERATOR(dht.=) r.token;
        PERFORM dht._put_placement(r.token, r.shard, r.to_node, 'pending', ep, NULL, at);
        PERFORM dht._put_placement(r.token, r.shard, r.from_node, 'retiring', ep, NULL, at);
        moves := moves + 1;
    END LOOP;
    RETURN moves;
END $$;
COMMENT ON FUNCTION dht.repair(int) IS
    'apply the repair plan: replacements become pending, the holders they replace retiring';

CREATE FUNCTION dht._confirm(token dht.token, shard int, node_id dht.key, digest bytea) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    cur record;
    at timestamptz;
BEGIN
    IF token IS NULL OR shard IS NULL OR node_id IS NULL THEN
        PERFORM dht._bad_parameter('token, shard and node_id must not be NULL');
    END IF;
    IF digest IS NOT NULL AND length(digest) <> 32 THEN
        PERFORM dht._bad_parameter('invalid fragment digest',
            format('A digest is 32 bytes (dht.fragment_digest), not %s.', length(digest)));
    END IF;
    PERFORM dht._lock_token(token);
    SELECT p.state, p.epoch INTO cur FROM dht.placements p
    WHERE p.token OPERATOR(dht.=) _confirm.token AND p.shard = _confirm.shard
      AND p.node_id OPERATOR(dht.=) _confirm.node_id;
    IF cur.state IS NULL OR cur.state = 'retiring' THEN
        PERFORM dht._bad_parameter(
            format('token "%s" has no pending or active shard %s on node %s', token, shard, node_id));
    END IF;
    at := dht._next_event_at(dht._token_latest(token));
    PERFORM dht._put_placement(token, shard, node_id, 'active', cur.epoch, digest, at);
    PERFORM dht._put_placement(p.token, p.shard, p.node_id, 'dropped', p.epoch, NULL, at)
    FROM dht.placements p
    WHERE p.token OPERATOR(dht.=) _confirm.token AND p.shard = _confirm.shard AND p.state = 'retiring';
END $$;

CREATE FUNCTION dht.confirm(token dht.token, shard int, node_id dht.key) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._confirm(token, shard, node_id, NULL) $$;
COMMENT ON FUNCTION dht.confirm(dht.token, int, dht.key) IS
    'the node now holds the shard: it becomes active and the holders it replaces are dropped';

CREATE FUNCTION dht.confirm(token dht.token, shard int, node_id dht.key, digest bytea) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._confirm(token, shard, node_id, digest) $$;
COMMENT ON FUNCTION dht.confirm(dht.token, int, dht.key, bytea) IS
    'dht.confirm, also recording the BLAKE2b-256 digest of the fragment the node holds';

GRANT EXECUTE ON FUNCTION dht.place(dht.key, text), dht.lookup(dht.token) TO dht_reader;
GRANT EXECUTE ON FUNCTION dht.allocate(dht.token, text), dht.release(dht.token),
    dht.confirm(dht.token, int, dht.key), dht.confirm(dht.token, int, dht.key, bytea)
    TO dht_writer;
