-- Calls for every shard, in parallel (cluster 'dht_shards', one partition
-- per shard).

CREATE FUNCTION dht_router._p_state_digests() RETURNS SETOF bytea
    LANGUAGE plproxy AS $$
    CLUSTER 'dht_shards';
    RUN ON ALL;
    TARGET dht.state_digest;
$$;

CREATE FUNCTION dht_router._p_repair(max_moves integer) RETURNS SETOF bigint
    LANGUAGE plproxy AS $$
    CLUSTER 'dht_shards';
    RUN ON ALL;
    TARGET dht.repair;
$$;

-- One shard: its dht.state_digest(), so a router over one shard answers as
-- the anchor does.  Several: SHA-256 of the shards' digests in byte order,
-- equal for two sharded directories whose shards have converged pairwise
-- (whatever the shards are called).
CREATE FUNCTION dht_router.state_digest() RETURNS bytea
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ds bytea[];
BEGIN
    ds := ARRAY(SELECT d FROM dht_router._p_state_digests() d ORDER BY d);
    IF cardinality(ds) = 1 THEN
        RETURN ds[1];
    END IF;
    RETURN sha256(array_to_string(ARRAY(SELECT encode(d, 'hex') FROM unnest(ds) d), '')::bytea);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(dht_router._unreachable(ARRAY(
            SELECT name FROM dht_router.shards)), SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.state_digest() IS
    'one shard: its dht.state_digest(); several: SHA-256 of the shards'' digests in byte order';

CREATE FUNCTION dht_router.repair(max_moves integer DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(sum(n), 0)::bigint FROM dht_router._p_repair(repair.max_moves) n);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(dht_router._unreachable(ARRAY(
            SELECT name FROM dht_router.shards)), SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.repair(integer) IS
    'dht.repair on every shard in parallel (max_moves applies to each shard); the sum of the moves';

