-- Moving buckets online: the table of moves, the settings, and the steps a
-- move is made of (each one statement or loop against a shard, run through
-- dblink so that it commits there whatever the router's transaction does).
--
-- Design.  dht.token_log has a plain bucket column, so the source shard
-- publishes just the moving buckets (a PG 15 row filter) and the target
-- subscribes.  The copy runs and catches up while calls keep going to the
-- source; only then comes the write fence: the source's token_log locked in
-- SHARE mode (writes wait, lookups answer) until the target's digests of the
-- moving buckets equal the source's, i.e. every committed row is there,
-- bounded by dht_router.move_fence_timeout.  The map switches, committed at
-- once through a dblink connection back to this router, before the fence
-- lifts; a NOT VALID check constraint on the source rejects any later write
-- to the moved buckets (a call routed by the old map fails, and the
-- application retries it: allocate is idempotent).  Routers that follow
-- this one's map (25_follow.sql) get the switch by logical replication; the
-- move waits for them (dht_router.follower_timeout) before the rows leave
-- the source.  Row filters need the filtered column in the replica identity
-- for updates and deletes, so the source's token_log has REPLICA IDENTITY
-- FULL during a move.  A move that fails before the switch is undone
-- (_undo_move): subscription, publication, copied rows and the target's
-- constraint as they were; what could not be undone is in moves.error.

CREATE TABLE dht_router.moves (
    id           bigserial PRIMARY KEY,
    first_bucket integer NOT NULL,
    last_bucket  integer NOT NULL,
    from_shard   text NOT NULL,
    to_shard     text NOT NULL,
    state        text NOT NULL DEFAULT 'copying'
                 CHECK (state IN ('copying', 'fenced', 'done', 'failed')),
    rows_moved   bigint,
    started_at   timestamptz NOT NULL DEFAULT now(),
    fenced_at    timestamptz,
    finished_at  timestamptz,
    error        text
);
COMMENT ON TABLE dht_router.moves IS
    'bucket moves, done and in progress (dht_router.move_status adds the replication lag)';
SELECT pg_catalog.pg_extension_config_dump('dht_router.moves', '');
SELECT pg_catalog.pg_extension_config_dump('dht_router.moves_id_seq', '');

-- A setting of the router (SET dht_router.move_fence_timeout = '5s', or
-- ALTER DATABASE ... SET) as an interval, dflt when unset.
CREATE FUNCTION dht_router._setting_interval(name text, dflt interval) RETURNS interval
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v text := current_setting(name, true);
    i interval;
BEGIN
    IF v IS NULL OR v = '' THEN
        RETURN dflt;
    END IF;
    BEGIN
        i := v::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
        i := NULL;
    END;
    IF i IS NULL OR i <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('invalid value for parameter "%s": "%s"', name, v),
            HINT = 'Give a positive interval, such as ''10s''.';
    END IF;
    RETURN i;
END $$;

-- A conninfo of this router's database, for writes that must commit at once
-- whatever the calling transaction does.
CREATE FUNCTION dht_router._self_conninfo() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('host=%s port=%s dbname=%s user=%s',
                  split_part(current_setting('unix_socket_directories'), ',', 1),
                  current_setting('port'), quote_ident(current_database()), quote_ident(current_user))
$$;

-- Records a change of a move at once (monitoring sees it while the move runs).
CREATE FUNCTION dht_router._note_move(move_id bigint, sets text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM dblink_exec(dht_router._self_conninfo(),
        format('UPDATE dht_router.moves SET %s WHERE id = %s', sets, move_id));
END $$;

-- Runs one DDL statement (or the fence's LOCK) on a shard without holding
-- the shard's other sessions up for long: a statement waiting for its lock
-- queues every later one that conflicts with it (an ALTER TABLE waiting
-- behind a long transaction would stop the shard's lookups), so each try
-- waits at most 100 ms and the tries go on until dht_router.move_fence_timeout.
-- in_txn: conn is the fence's open transaction, each try in a savepoint.
CREATE FUNCTION dht_router._locked(conn text, sql text, shard text, in_txn boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    limit_ interval := dht_router._setting_interval('dht_router.move_fence_timeout', interval '10s');
    deadline timestamptz := clock_timestamp() + limit_;
BEGIN
    LOOP
        BEGIN
            IF in_txn THEN
                PERFORM dblink_exec(conn, 'SAVEPOINT dht_router_try');
                PERFORM dblink_exec(conn, 'SET LOCAL lock_timeout = ''100ms''');
                PERFORM dblink_exec(conn, sql);
                PERFORM dblink_exec(conn, 'RELEASE SAVEPOINT dht_router_try');
            ELSE
                PERFORM dblink_exec(conn, 'SET lock_timeout = ''100ms''; ' || sql);
            END IF;
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            IF in_txn THEN
                PERFORM dblink_exec(conn, 'ROLLBACK TO SAVEPOINT dht_router_try');
            END IF;
        END;
        IF clock_timestamp() > deadline THEN
            RAISE EXCEPTION USING ERRCODE = 'lock_not_available',
                MESSAGE = format('shard %s: the move did not get its lock on dht.token_log within dht_router.move_fence_timeout (%s)',
                    shard, limit_),
                DETAIL = format('A transaction on the shard held it off; the statement was: %s', sql),
                HINT = 'Run the move again when no long transaction writes there, or raise the setting.';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;

-- The non-empty digests of buckets first..last on a shard, as one text.
CREATE FUNCTION dht_router._range_digest(conn text, first integer, last integer) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT d FROM dblink(conn, format(
        'SELECT coalesce(string_agg(bucket || '':'' || encode(digest, ''hex''), '','' ORDER BY bucket), '''')'
        ' FROM dht.bucket_digests() WHERE bucket BETWEEN %s AND %s'
        '   AND digest <> decode(repeat(''00'', 32), ''hex'')', first, last)) AS t(d text)
$$;

-- The anchors a shard syncs with (its subscriptions dht_from_<peer>), or NULL.
CREATE FUNCTION dht_router._anchor_peers(conn text) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT p FROM dblink(conn,
        'SELECT string_agg(substr(subname, 10), '', '' ORDER BY subname) FROM pg_subscription'
        ' WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())'
        '   AND subname LIKE ''dht\_from\_%''') AS t(p text)
$$;

-- The constraint that keeps writes to buckets a..b off a shard that gave them away.
CREATE FUNCTION dht_router._close(conn text, a integer, b integer, shard text, in_txn boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM dblink(conn, format(
            'SELECT 1 FROM pg_constraint WHERE conrelid = ''dht.token_log''::regclass AND conname = %L',
            'dht_moved_out_' || a || '_' || b)) AS t(one integer)) THEN
        PERFORM dht_router._locked(conn, format(
            'ALTER TABLE dht.token_log ADD CONSTRAINT %I CHECK (bucket NOT BETWEEN %s AND %s) NOT VALID',
            'dht_moved_out_' || a || '_' || b, a, b), shard, in_txn);
    END IF;
END $$;

-- The target takes buckets first..last: drop its dht_moved_out_A_B
-- constraints (left by moves out of it) that cover them, keeping the parts
-- outside first..last.  True if it dropped any.
CREATE FUNCTION dht_router._reopen(conn text, first integer, last integer, shard text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    c record;
    dropped boolean := false;
BEGIN
    FOR c IN SELECT t.name, split_part(t.name, '_', 4)::integer AS a, split_part(t.name, '_', 5)::integer AS b
             FROM dblink(conn, 'SELECT conname::text FROM pg_constraint WHERE conrelid = ''dht.token_log''::regclass'
                               ' AND conname ~ ''^dht_moved_out_[0-9]+_[0-9]+$''') AS t(name text) LOOP
        CONTINUE WHEN c.b < first OR c.a > last;
        PERFORM dht_router._locked(conn, format('ALTER TABLE dht.token_log DROP CONSTRAINT %I', c.name), shard);
        dropped := true;
        IF c.a < first THEN
            PERFORM dht_router._close(conn, c.a, first - 1, shard);
        END IF;
        IF c.b > last THEN
            PERFORM dht_router._close(conn, last + 1, c.b, shard);
        END IF;
    END LOOP;
    RETURN dropped;
END $$;

-- Waits until the target's subscription has copied the rows and follows the
-- source (its table is 'r', ready).  No time limit (nothing waits on the
-- copy; cancel the call to stop it), but an error of the subscription's
-- workers ends the wait.
CREATE FUNCTION dht_router._wait_copied(dst_conn text, sub text, to_shard text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    st text;
    errors bigint;
BEGIN
    LOOP
        SELECT t.st, t.errors INTO st, errors FROM dblink(dst_conn, format(
            'SELECT (SELECT string_agg(r.srsubstate::text, '''') FROM pg_subscription_rel r'
            '         JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = %L),'
            '       (SELECT apply_error_count + sync_error_count FROM pg_stat_subscription_stats'
            '         WHERE subname = %L)', sub, sub)) AS t(st text, errors bigint);
        EXIT WHEN st ~ '^r+$';
        IF errors > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
                MESSAGE = format('the copy to shard %s failed', to_shard),
                DETAIL = format('Subscription %s reported %s errors.', sub, errors),
                HINT = 'The shard''s server log has them.';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;

-- Under the fence: waits until the target holds every row of first..last
-- that the source does, at most dht_router.move_fence_timeout.
CREATE FUNCTION dht_router._wait_caught_up(fence text, dst_conn text, first integer, last integer,
        to_shard text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    limit_ interval := dht_router._setting_interval('dht_router.move_fence_timeout', interval '10s');
    deadline timestamptz := clock_timestamp() + limit_;
    want text := dht_router._range_digest(fence, first, last);
BEGIN
    WHILE dht_router._range_digest(dst_conn, first, last) IS DISTINCT FROM want LOOP
        IF clock_timestamp() > deadline THEN
            RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
                MESSAGE = format('shard %s did not catch up within dht_router.move_fence_timeout (%s)',
                    to_shard, limit_),
                DETAIL = 'The write fence was lifted and the move undone; the buckets stay where they were.',
                HINT = 'See the replication lag in dht_router.move_status(); raise the setting or run the move again.';
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;

-- The source's replica identity back to DEFAULT, if the move set it to
-- FULL and no other move publishes from the source.
CREATE FUNCTION dht_router._reset_identity(src_conn text, src text, identity_set boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF identity_set AND NOT EXISTS (SELECT 1 FROM dblink(src_conn,
            'SELECT 1 FROM pg_publication WHERE pubname ~ ''^dht_move_[0-9]+$''') AS t(one integer)) THEN
        PERFORM dht_router._locked(src_conn, 'ALTER TABLE dht.token_log REPLICA IDENTITY DEFAULT', src);
    END IF;
END $$;

-- Undoes a move that failed before its switch, as far as the shards answer;
-- returns what it could not undo (NULL when all was).
CREATE FUNCTION dht_router._undo_move(sub text, first integer, last integer, src_conn text,
        dst_conn text, reopened boolean, copied boolean, identity_set boolean) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    left_ text[] := '{}';
BEGIN
    BEGIN
        IF EXISTS (SELECT 1 FROM dblink(dst_conn, format(
                'SELECT 1 FROM pg_subscription WHERE subname = %L', sub)) AS t(one integer)) THEN
            BEGIN
                PERFORM dblink_exec(dst_conn, format('DROP SUBSCRIPTION %I', sub));
            EXCEPTION WHEN OTHERS THEN
                -- the source does not answer: drop it without its slot
                PERFORM dblink_exec(dst_conn, format('ALTER SUBSCRIPTION %I DISABLE', sub));
                PERFORM dblink_exec(dst_conn, format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', sub));
                PERFORM dblink_exec(dst_conn, format('DROP SUBSCRIPTION %I', sub));
                left_ := left_ || format('replication slot %s on the source', sub);
            END;
        END IF;
        IF copied THEN      -- the target held none of these rows before (checked)
            PERFORM dblink_exec(dst_conn, format('DELETE FROM dht.token_log WHERE bucket BETWEEN %s AND %s',
                first, last));
        END IF;
        IF reopened THEN
            PERFORM dht_router._close(dst_conn, first, last, 'the target');
        END IF;
    EXCEPTION WHEN OTHERS THEN
        left_ := left_ || format('on the target: subscription %s, rows of buckets %s..%s (%s)',
            sub, first, last, SQLERRM);
    END;
    BEGIN
        PERFORM dblink_exec(src_conn, format('DROP PUBLICATION IF EXISTS %I', sub));
        PERFORM dht_router._reset_identity(src_conn, 'the source', identity_set);
    EXCEPTION WHEN OTHERS THEN
        left_ := left_ || format('on the source: publication %s (%s)', sub, SQLERRM);
    END;
    RETURN nullif(array_to_string(left_, '; '), '');
END $$;
