-- Monitoring: one row per shard, every shard asked in turn; a shard that
-- cannot be reached is a row with reachable false and the error, so the
-- view of the others survives it.  The counts are dht.network_summary's,
-- which scans the shard's directory: a report, not a probe to run every
-- second on a large one.
CREATE FUNCTION dht_router._s_summary(conninfo text,
        OUT nodes bigint, OUT epoch bigint, OUT tokens bigint, OUT placements bigint,
        OUT anchor_peers integer, OUT anchor_lag_bytes bigint)
    LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT s.nodes, s.epoch, s.tokens, s.placements, a.peers AS anchor_peers, a.lag AS anchor_lag_bytes
    FROM dht.network_summary s,
         (SELECT count(*)::integer AS peers, max(lag_bytes) AS lag
          FROM dht.anchor_status() WHERE served_by = peer) a;
$$;

CREATE FUNCTION dht_router.shard_status()
    RETURNS TABLE (shard text, buckets integer, bucket_ranges text, reachable boolean,
                   nodes bigint, epoch bigint, tokens bigint, placements bigint,
                   anchor_peers integer, anchor_lag_bytes bigint, error text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    r record;
BEGIN
    FOR s IN SELECT sh.name AS sname, sh.conninfo AS sconn,
                    (SELECT count(*) FROM dht_router.bucket_map b WHERE b.shard = sh.name)::integer AS n,
                    (SELECT string_agg(CASE WHEN m.first_bucket = m.last_bucket THEN m.first_bucket::text
                                            ELSE m.first_bucket || '..' || m.last_bucket END, ', ' ORDER BY m.first_bucket)
                     FROM dht_router.shard_map() m WHERE m.shard = sh.name) AS ranges
             FROM dht_router.shards sh ORDER BY sh.name LOOP
        shard := s.sname; buckets := s.n; bucket_ranges := s.ranges;
        BEGIN
            r := dht_router._s_summary(s.sconn);
            reachable := true; error := NULL;
            nodes := r.nodes; epoch := r.epoch; tokens := r.tokens; placements := r.placements;
            anchor_peers := r.anchor_peers; anchor_lag_bytes := r.anchor_lag_bytes;
        EXCEPTION WHEN internal_error THEN
            IF SQLERRM NOT LIKE 'PL/Proxy function %' THEN RAISE; END IF;
            reachable := false; error := SQLERRM;
            nodes := NULL; epoch := NULL; tokens := NULL; placements := NULL;
            anchor_peers := NULL; anchor_lag_bytes := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION dht_router.shard_status() IS
    'per shard: its buckets, whether it answers, its nodes, epoch, tokens and placements (dht.network_summary), and its anchor peers and their largest lag in bytes (dht.anchor_status)';

---------------------------------------------------------------------------
