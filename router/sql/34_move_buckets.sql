-- dht_router.move_buckets, the call an operator makes: checks its
-- arguments and every shard concerned, then moves the range one source
-- shard at a time (32_move_range.sql); and dht_router.move_status.

-- A shard that syncs with other anchors keeps its buckets: its peers hold
-- the same buckets on their own shards (their maps agree), and a move on
-- one anchor alone would delete the moved rows on the peer's shard (the
-- delete replicates) while the peer's map still looks for them there.
CREATE FUNCTION dht_router._refuse_if_peered(shard text, conn text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    peers text := dht_router._anchor_peers(conn);
BEGIN
    IF peers IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('shard %s syncs with other anchors', shard),
            DETAIL = format('It is a peer of %s; their maps must stay equal to this one.', peers),
            HINT = 'Sharded anchors that sync keep their maps as set up; see "Sharded anchors" in the README for how to change one.';
    END IF;
END $$;

CREATE FUNCTION dht_router.move_buckets(first integer, last integer, to_shard text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    s record;
    dst_conn text;
    total bigint := 0;
BEGIN
    PERFORM dht_router._refuse_if_follower('move_buckets');
    -- the settings, checked before anything changes
    PERFORM dht_router._setting_interval('dht_router.move_fence_timeout', interval '10s'),
            dht_router._setting_interval('dht_router.follower_timeout', interval '10s');
    IF first IS NULL OR last IS NULL OR first < 0 OR last > 1023 OR first > last THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('invalid bucket range %s..%s', coalesce(first::text, 'NULL'),
                coalesce(last::text, 'NULL')),
            HINT = 'Buckets are 0 to 1023, the first no greater than the last.';
    END IF;
    SELECT sh.conninfo INTO dst_conn FROM dht_router.shards sh WHERE sh.name = to_shard;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('shard %s does not exist', coalesce(to_shard, 'NULL')),
            HINT = 'Add it with dht_router.add_shard(name, conninfo).';
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.bucket_map b
               WHERE b.bucket BETWEEN first AND last AND b.shard = to_shard) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('shard %s already holds buckets of %s..%s', to_shard, first, last),
            DETAIL = format('It holds %s.', (SELECT string_agg(format('%s..%s', m.first_bucket, m.last_bucket), ', ')
                FROM dht_router.shard_map() m WHERE m.shard = to_shard
                AND m.first_bucket <= last AND m.last_bucket >= first));
    END IF;
    -- one move at a time from this router (a move's checks read the moves table)
    PERFORM pg_advisory_xact_lock(hashtext('dht_router.move_buckets'));
    -- every shard concerned answers before anything changes
    FOR s IN SELECT DISTINCT b.shard AS sname, sh.conninfo AS sconn FROM dht_router.bucket_map b
             JOIN dht_router.shards sh ON sh.name = b.shard WHERE b.bucket BETWEEN first AND last
             UNION SELECT to_shard, dst_conn ORDER BY 1 LOOP
        BEGIN
            PERFORM dht_router._probe(s.sconn);
        EXCEPTION WHEN OTHERS THEN
            PERFORM dht_router._shard_failed(ARRAY[s.sname], SQLERRM);
        END;
        PERFORM dht_router._refuse_if_peered(s.sname, s.sconn);
    END LOOP;
    -- one online move per range of consecutive buckets of one shard
    FOR s IN SELECT greatest(m.first_bucket, first) AS lo, least(m.last_bucket, last) AS hi,
                    m.shard AS sname, sh.conninfo AS sconn
             FROM dht_router.shard_map() m JOIN dht_router.shards sh ON sh.name = m.shard
             WHERE m.first_bucket <= last AND m.last_bucket >= first ORDER BY 1 LOOP
        total := total + dht_router._move_range(s.lo, s.hi, s.sname, s.sconn, to_shard, dst_conn);
    END LOOP;
    RETURN total;
END $$;
COMMENT ON FUNCTION dht_router.move_buckets(integer, integer, text) IS
    'move buckets first..last online to to_shard (logical replication, a short write fence, the map switch); the rows moved';

-- The moves with the replication lag of those in progress (bytes of the
-- source's WAL the target's subscription has not confirmed).
CREATE FUNCTION dht_router.move_status(OUT id bigint, OUT first_bucket integer, OUT last_bucket integer,
        OUT from_shard text, OUT to_shard text, OUT state text, OUT rows_moved bigint,
        OUT lag_bytes numeric, OUT started_at timestamptz, OUT fenced_at timestamptz,
        OUT finished_at timestamptz, OUT error text)
    RETURNS SETOF record
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    mv record;
BEGIN
    FOR mv IN SELECT m.*, s.conninfo AS src FROM dht_router.moves m
                JOIN dht_router.shards s ON s.name = m.from_shard ORDER BY m.id LOOP
        id := mv.id; first_bucket := mv.first_bucket; last_bucket := mv.last_bucket;
        from_shard := mv.from_shard; to_shard := mv.to_shard; state := mv.state;
        rows_moved := mv.rows_moved; started_at := mv.started_at; fenced_at := mv.fenced_at;
        finished_at := mv.finished_at; error := mv.error;
        lag_bytes := NULL;
        IF mv.state IN ('copying', 'fenced') THEN
            BEGIN
                SELECT t.lag INTO lag_bytes FROM dblink(mv.src || ' connect_timeout=5', format(
                    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)'
                    ' FROM pg_replication_slots WHERE slot_name = %L', 'dht_move_' || mv.id)) AS t(lag numeric);
            EXCEPTION WHEN OTHERS THEN
                lag_bytes := NULL;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION dht_router.move_status() IS
    'bucket moves, done and in progress, with the replication lag (bytes) of those in progress';

