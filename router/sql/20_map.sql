-- Changing and reading the map: add_shard, shard_map, shard_for.

-- Connects to conninfo and returns the version of smartlayer_dht there.
CREATE FUNCTION dht_router._probe(conninfo text) RETURNS text
    LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'smartlayer_dht')::text;
$$;

CREATE FUNCTION dht_router.add_shard(name text, conninfo text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v text;
BEGIN
    PERFORM dht_router._refuse_if_follower('add_shard');
    IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,63}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('invalid shard name %L', name),
            HINT = 'A shard name is 1 to 63 letters, digits, "_", "." or "-".';
    END IF;
    IF conninfo IS NULL OR conninfo = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('shard %s: conninfo must not be empty', name);
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.shards s WHERE s.name = add_shard.name) THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
            MESSAGE = format('shard %s already exists', name);
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.shards s WHERE s.conninfo = add_shard.conninfo) THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
            MESSAGE = format('shard %s already has this conninfo',
                (SELECT s.name FROM dht_router.shards s WHERE s.conninfo = add_shard.conninfo));
    END IF;
    BEGIN
        v := dht_router._probe(conninfo);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = 'connection_exception',
            MESSAGE = format('shard %s: cannot connect', name),
            DETAIL = SQLERRM;
    END;
    IF v IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('shard %s does not run smartlayer_dht', name),
            HINT = 'Run CREATE EXTENSION smartlayer_dht in the shard''s database first.';
    END IF;
    LOCK TABLE dht_router.bucket_map IN EXCLUSIVE MODE;
    INSERT INTO dht_router.shards (name, conninfo) VALUES (add_shard.name, add_shard.conninfo);
    -- The first shard holds every bucket; later shards get buckets by move_buckets.
    INSERT INTO dht_router.bucket_map (bucket, shard)
        SELECT b, add_shard.name FROM generate_series(0, 1023) b
        WHERE NOT EXISTS (SELECT 1 FROM dht_router.bucket_map);
    UPDATE dht_router.map_version SET version = version + 1;
END $$;
COMMENT ON FUNCTION dht_router.add_shard(text, text) IS
    'add a shard server (it must connect and run smartlayer_dht); the first shard holds all 1,024 buckets';

CREATE FUNCTION dht_router.shard_map() RETURNS TABLE (first_bucket integer, last_bucket integer, shard text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT min(bucket), max(bucket), m.shard
    FROM (SELECT b.bucket, b.shard,
                 b.bucket - row_number() OVER (PARTITION BY b.shard ORDER BY b.bucket) AS grp
          FROM dht_router.bucket_map b) m
    GROUP BY m.shard, m.grp
    ORDER BY 1;
$$;
COMMENT ON FUNCTION dht_router.shard_map() IS 'the bucket map as ranges of consecutive buckets';

CREATE FUNCTION dht_router.shard_for(token dht.token) RETURNS text
    LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT shard FROM dht_router.bucket_map WHERE bucket = dht.bucket_of(token);
$$;
COMMENT ON FUNCTION dht_router.shard_for(dht.token) IS
    'the shard that holds the token: connect there for an allocation atomic with your own rows';

