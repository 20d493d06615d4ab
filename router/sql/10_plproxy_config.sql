-- PL/Proxy's configuration (schema plproxy, the names PL/Proxy calls).
CREATE SCHEMA IF NOT EXISTS plproxy;

CREATE FUNCTION dht_router._no_cluster(cluster_name text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('unknown PL/Proxy cluster %L', cluster_name),
        HINT = 'The router''s clusters are ''dht'' and ''dht_shards''.';
END $$;

CREATE FUNCTION dht_router._no_shards() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
        MESSAGE = 'the router has no shards',
        HINT = 'Add one with dht_router.add_shard(name, conninfo).';
END $$;

CREATE FUNCTION plproxy.get_cluster_partitions(cluster_name text) RETURNS SETOF text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    p integer;
BEGIN
    IF cluster_name = 'dht' THEN
        IF (SELECT count(*) FROM dht_router.bucket_map) <> 1024 THEN
            PERFORM dht_router._no_shards();
        END IF;
        RETURN QUERY SELECT s.conninfo FROM dht_router.bucket_map b
            JOIN dht_router.shards s ON s.name = b.shard ORDER BY b.bucket;
    ELSIF cluster_name = 'dht_shards' THEN
        SELECT count(*) INTO n FROM dht_router.shards;
        IF n = 0 THEN
            PERFORM dht_router._no_shards();
        END IF;
        p := 1;
        WHILE p < n LOOP p := p * 2; END LOOP;
        RETURN QUERY SELECT s.conninfo FROM generate_series(0, p - 1) g(i)
            JOIN (SELECT conninfo, row_number() OVER (ORDER BY name) - 1 AS k
                  FROM dht_router.shards) s ON s.k = least(g.i, n - 1)
            ORDER BY g.i;
    ELSE
        PERFORM dht_router._no_cluster(cluster_name);
    END IF;
END $$;

CREATE FUNCTION plproxy.get_cluster_version(cluster_name text) RETURNS integer
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cluster_name NOT IN ('dht', 'dht_shards') THEN
        PERFORM dht_router._no_cluster(cluster_name);
    END IF;
    RETURN (SELECT version FROM dht_router.map_version);
END $$;

-- disable_binary: values cross as text, so a shard whose binary formats
-- differ (another build) still reads them right.
CREATE FUNCTION plproxy.get_cluster_config(IN cluster_name text, OUT key text, OUT val text)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cluster_name NOT IN ('dht', 'dht_shards') THEN
        PERFORM dht_router._no_cluster(cluster_name);
    END IF;
    key := 'connection_lifetime'; val := '1800'; RETURN NEXT;
    key := 'disable_binary'; val := '1'; RETURN NEXT;
END $$;

