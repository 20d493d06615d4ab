-- One online move: one range of consecutive buckets of one source shard to
-- the target (move_buckets, 34_move_buckets.sql, splits a range that spans
-- several shards).  The steps are in 30_move_steps.sql; this function is
-- their order: record, copy and follow, fence, switch, wait for following
-- routers, clean the source.  Before the switch any error undoes the move;
-- after it the move is done and only the clean-up can be left over.

-- Buckets first..last, empty on the source when the move began, are still
-- empty under the fence.
CREATE FUNCTION dht_router._check_still_empty(fence text, first integer, last integer, src text)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF (SELECT t.n FROM dblink(fence, format(
            'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN %s AND %s', first, last))
            AS t(n bigint)) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'object_in_use',
            MESSAGE = format('buckets %s..%s on shard %s took rows while the move began', first, last, src),
            HINT = 'Run the move again: it copies them.';
    END IF;
END $$;

-- The source publishes the range and the target subscribes to it.  True if
-- it set the source's replica identity to FULL (the move sets it back).
CREATE FUNCTION dht_router._start_copy(sub text, first integer, last integer, src text,
        src_conn text, dst_conn text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    identity_set boolean;
BEGIN
    SELECT t.r <> 'f' INTO identity_set FROM dblink(src_conn,
        'SELECT relreplident::text FROM pg_class WHERE oid = ''dht.token_log''::regclass') AS t(r text);
    IF identity_set THEN
        PERFORM dht_router._locked(src_conn, 'ALTER TABLE dht.token_log REPLICA IDENTITY FULL', src);
    END IF;
    PERFORM dblink_exec(src_conn, format(
        'CREATE PUBLICATION %I FOR TABLE dht.token_log WHERE (bucket BETWEEN %s AND %s)'
        ' WITH (publish = ''insert, update, delete'')', sub, first, last));
    PERFORM dblink_exec(dst_conn, format(
        'CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I', sub, src_conn, sub));
    RETURN identity_set;
END $$;

-- The map switch, committed at once; the LSN of this router's WAL after it.
CREATE FUNCTION dht_router._switch(first integer, last integer, to_shard text) RETURNS pg_lsn
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    self text := dht_router._self_conninfo();
BEGIN
    PERFORM dblink_exec(self, format(
        'UPDATE dht_router.bucket_map SET shard = %L WHERE bucket BETWEEN %s AND %s;'
        ' UPDATE dht_router.map_version SET version = version + 1', to_shard, first, last));
    RETURN (SELECT t.lsn FROM dblink(self, 'SELECT pg_current_wal_lsn()') AS t(lsn pg_lsn));
END $$;

-- After the switch: the copy stops and the rows leave the source; the rows deleted.
CREATE FUNCTION dht_router._clean_source(sub text, first integer, last integer, src text,
        src_conn text, dst_conn text, identity_set boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM dblink_exec(dst_conn, format('DROP SUBSCRIPTION %I', sub));
    PERFORM dblink_exec(src_conn, format('DROP PUBLICATION %I', sub));
    SELECT t.n INTO n FROM dblink(src_conn, format(
        'WITH d AS (DELETE FROM dht.token_log WHERE bucket BETWEEN %s AND %s RETURNING 1) SELECT count(*) FROM d',
        first, last)) AS t(n bigint);
    PERFORM dht_router._reset_identity(src_conn, src, identity_set);
    RETURN n;
END $$;

-- The write fence on the source, the catch-up under it, and the switch.
-- The fence takes its lock as _locked does (a long transaction writing on
-- the source would otherwise hold every writer queued behind the request).  Returns the switch's LSN; sets
-- nothing on error, when the switch did not commit.
CREATE FUNCTION dht_router._fence_and_switch(move_id bigint, first integer, last integer, src text,
        src_conn text, to_shard text, dst_conn text, empty boolean, OUT switch_lsn pg_lsn)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM dblink_connect('dht_router_fence', src_conn);
    BEGIN
        PERFORM dblink_exec('dht_router_fence', 'BEGIN');
        PERFORM dht_router._locked('dht_router_fence', 'LOCK TABLE dht.token_log IN SHARE MODE', src, true);
        PERFORM dht_router._note_move(move_id, 'state = ''fenced'', fenced_at = clock_timestamp()');
        IF empty THEN
            PERFORM dht_router._check_still_empty('dht_router_fence', first, last, src);
        ELSE
            PERFORM dht_router._wait_caught_up('dht_router_fence', dst_conn, first, last, to_shard);
        END IF;
        switch_lsn := dht_router._switch(first, last, to_shard);
        -- committed: from here on the move is done whatever fails
        BEGIN
            PERFORM dht_router._close('dht_router_fence', first, last, src, true);
            PERFORM dblink_exec('dht_router_fence', 'COMMIT');
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'move of buckets %..% to shard %: the map switched, but shard % did not take the constraint that rejects writes routed by the old map: %',
                first, last, to_shard, src, SQLERRM;
        END;
        PERFORM dblink_disconnect('dht_router_fence');
    EXCEPTION WHEN OTHERS THEN
        PERFORM dblink_disconnect('dht_router_fence');
        RAISE;
    END;
END $$;

-- One range of one source shard to to_shard; the rows moved.
CREATE FUNCTION dht_router._move_range(first integer, last integer, src text, src_conn text,
        to_shard text, dst_conn text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    move_id bigint;
    sub text;
    n bigint := 0;
    switch_lsn pg_lsn;
    empty boolean;
    reopened boolean := false;
    identity_set boolean := false;
    left_ text;
BEGIN
    IF EXISTS (SELECT 1 FROM dht_router.moves mv WHERE mv.state IN ('copying', 'fenced')
               AND (mv.from_shard IN (src, to_shard) OR mv.to_shard IN (src, to_shard))) THEN
        RAISE EXCEPTION USING ERRCODE = 'object_in_use',
            MESSAGE = format('a move between shards %s and %s is in progress', src, to_shard),
            HINT = 'See dht_router.move_status().';
    END IF;
    SELECT t.n = 0 INTO empty FROM dblink(src_conn, format(
        'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN %s AND %s', first, last)) AS t(n bigint);
    IF NOT empty AND dht_router._range_digest(dst_conn, first, last) <> '' THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('shard %s already has rows of buckets %s..%s', to_shard, first, last),
            HINT = 'A failed move that could not be undone left them (see dht_router.move_status()); delete them on that shard first.';
    END IF;

    SELECT t.id INTO move_id FROM dblink(dht_router._self_conninfo(), format(
        'INSERT INTO dht_router.moves (first_bucket, last_bucket, from_shard, to_shard) VALUES (%s, %s, %L, %L)'
        ' RETURNING id', first, last, src, to_shard)) AS t(id bigint);
    sub := format('dht_move_%s', move_id);
    BEGIN
        reopened := dht_router._reopen(dst_conn, first, last, to_shard);
        IF NOT empty THEN
            identity_set := dht_router._start_copy(sub, first, last, src, src_conn, dst_conn);
            PERFORM dht_router._wait_copied(dst_conn, sub, to_shard);
        END IF;
        switch_lsn := dht_router._fence_and_switch(move_id, first, last, src, src_conn, to_shard,
            dst_conn, empty);
    EXCEPTION WHEN OTHERS THEN
        left_ := dht_router._undo_move(sub, first, last, src_conn, dst_conn, reopened, NOT empty, identity_set);
        PERFORM dht_router._note_move(move_id, format(
            'state = ''failed'', finished_at = clock_timestamp(), error = %L',
            SQLERRM || coalesce('; not undone: ' || left_, '')));
        RAISE;
    END;

    BEGIN
        PERFORM dht_router._wait_followers(switch_lsn, first, last, src);
        IF NOT empty THEN
            n := dht_router._clean_source(sub, first, last, src, src_conn, dst_conn, identity_set);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        left_ := SQLERRM;
        PERFORM dht_router._note_move(move_id, format(
            'state = ''done'', finished_at = clock_timestamp(), error = %L',
            'the buckets moved, but the source was not cleaned: ' || left_));
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('buckets %s..%s moved to shard %s, but shard %s was not cleaned', first, last,
                to_shard, src),
            DETAIL = left_,
            HINT = format('On shard %s drop publication %s and delete the rows of those buckets; on shard %s drop subscription %s.',
                src, sub, to_shard, sub);
    END;
    PERFORM dht_router._note_move(move_id, format(
        'state = ''done'', rows_moved = %s, finished_at = clock_timestamp()', n));
    RETURN n;
END $$;
