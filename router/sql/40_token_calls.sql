-- Calls for one token: to the shard of its bucket.  PL/Proxy runs each call
-- on the shard in autocommit: it commits there on its own.  The _p_
-- functions are the PL/Proxy calls; the public ones wrap them so that a shard
-- that cannot be reached is named in the error (PL/Proxy names the database
-- only), and pass every error of the shard's own through unchanged.

-- A PL/Proxy failure (not an error raised by the shard) as an error naming
-- the shards.
CREATE FUNCTION dht_router._shard_failed(shards text[], message text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'connection_failure',
        MESSAGE = format('shard %s cannot be reached', array_to_string(shards, ', ')),
        DETAIL = message,
        HINT = 'Calls for the buckets of other shards are not affected; retry once it is back.';
END $$;

-- Which of these shards do not answer now (for a call that reached several).
-- As the owner: it connects only to registered shards and reads one
-- catalog row there, so callers need no right to connect anywhere they like
-- (dht_router._probe, which takes any conninfo, is for dht_admin only).
CREATE FUNCTION dht_router._unreachable(shards text[]) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    down text[] := '{}';
BEGIN
    FOR s IN SELECT sh.name AS sname, sh.conninfo AS sconn FROM dht_router.shards sh
             WHERE sh.name = ANY (shards) ORDER BY sh.name LOOP
        BEGIN
            PERFORM dht_router._probe(s.sconn);
        EXCEPTION WHEN OTHERS THEN
            down := down || s.sname;
        END;
    END LOOP;
    IF cardinality(down) = 0 THEN
        RETURN shards;      -- it came back meanwhile: name every candidate
    END IF;
    RETURN down;
END $$;

CREATE FUNCTION dht_router._p_allocate(token dht.token, sla text)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.allocate;
$$;

CREATE FUNCTION dht_router._p_lookup(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text, state text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.lookup;
$$;

CREATE FUNCTION dht_router._p_route(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.route;
$$;

CREATE FUNCTION dht_router._p_release(token dht.token) RETURNS boolean
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.release;
$$;

-- SPLIT: PL/Proxy evaluates the RUN ON expression for each element and sends
-- each shard one call with its elements, the shards in parallel (checked:
-- partitions that share a conninfo share one call).
CREATE FUNCTION dht_router._p_allocate_many(tokens dht.token[], sla text)
    RETURNS TABLE (token dht.token, shard integer, node_id dht.key, endpoint text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    SPLIT tokens;
    RUN ON dht.bucket_of(tokens);
    TARGET dht.allocate_many;
$$;

CREATE FUNCTION dht_router.allocate(token dht.token, sla text)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plpgsql ROWS 16 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_allocate(allocate.token, allocate.sla);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(allocate.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.allocate(dht.token, text) IS
    'dht.allocate on the token''s shard (commits there on its own; idempotent, so retry on error)';

CREATE FUNCTION dht_router.lookup(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text, state text)
    LANGUAGE plpgsql STRICT ROWS 16 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_lookup(lookup.token);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(lookup.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.lookup(dht.token) IS 'dht.lookup on the token''s shard';

CREATE FUNCTION dht_router.route(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plpgsql STRICT ROWS 1 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_route(route.token);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(route.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.route(dht.token) IS 'dht.route on the token''s shard';

CREATE FUNCTION dht_router.release(token dht.token) RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN dht_router._p_release(release.token);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(release.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.release(dht.token) IS 'dht.release on the token''s shard';

CREATE FUNCTION dht_router.allocate_many(tokens dht.token[], sla text)
    RETURNS TABLE (token dht.token, shard integer, node_id dht.key, endpoint text)
    LANGUAGE plpgsql ROWS 1000 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_allocate_many(allocate_many.tokens, allocate_many.sla);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(dht_router._unreachable(ARRAY(
            SELECT DISTINCT dht_router.shard_for(t) FROM unnest(allocate_many.tokens) t)), SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.allocate_many(dht.token[], text) IS
    'dht.allocate_many split by shard, the shards in parallel (each part commits on its shard on its own)';

