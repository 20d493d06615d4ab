-- Several routers sharing one map.  One router, the map's home, changes
-- the map (add_shard, move_buckets); others follow it: dht_router.follow
-- subscribes them to the home's map tables by logical replication
-- (publication dht_router_map: shards, bucket_map, map_version, moves).
-- dht_router.map_version is PL/Proxy's cluster version on every router, so
-- a follower's sessions re-read the map on their next call after a change
-- arrives, milliseconds after the home commits it.  In between, a write
-- routed by the old map fails on the old shard (the moved-out constraint),
-- and a move waits for every follower to confirm the switch (its slot on the
-- home passing the switch's LSN, at most dht_router.follower_timeout)
-- before the rows leave the old shard, so a follower's lookups never find a
-- moved token missing.  A follower refuses to change the map itself;
-- dht_router.unfollow() makes its copy its own (a new home, if the old one
-- is lost).

-- The slot a follower's subscription uses on the home: one per follower
-- database (system identifier and database oid), so several can follow.
CREATE FUNCTION dht_router._follower_slot() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('dht_router_map_%s_%s', (SELECT system_identifier FROM pg_control_system()),
                  (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- Whether this router follows another's map.
CREATE FUNCTION dht_router._follows() RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_subscription
                   WHERE subname = 'dht_router_map'
                     AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- The error for a map change on a follower.
CREATE FUNCTION dht_router._refuse_if_follower(what text) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF dht_router._follows() THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'this router follows the map of another router',
            DETAIL = 'Its map arrives by logical replication (subscription dht_router_map).',
            HINT = format('Run dht_router.%s on the map''s home router; dht_router.unfollow() makes this router''s copy its own.', what);
    END IF;
END $$;

-- Checks that the router at conn can be the home of a map.
CREATE FUNCTION dht_router._check_home(conn text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    r record;
BEGIN
    BEGIN
        SELECT * INTO r FROM dblink(conn,
            'SELECT (SELECT extversion FROM pg_extension WHERE extname = ''smartlayer_dht_router''),'
            ' current_setting(''wal_level''),'
            ' EXISTS (SELECT 1 FROM pg_subscription WHERE subname = ''dht_router_map'''
            '   AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))')
            AS t(version text, wal_level text, follows boolean);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = 'connection_exception',
            MESSAGE = 'cannot connect to the router to follow', DETAIL = SQLERRM;
    END;
    IF r.version IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'the server to follow does not run smartlayer_dht_router';
    ELSIF r.wal_level <> 'logical' THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'the router to follow needs wal_level = logical',
            HINT = 'Set wal_level = logical in its postgresql.conf and restart it.';
    ELSIF r.follows THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'the router to follow follows another router itself',
            HINT = 'Follow the map''s home router.';
    END IF;
END $$;

-- Makes this router follow the map of the router at conninfo; returns the
-- map version it has then.
CREATE FUNCTION dht_router.follow(conninfo text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    self text := dht_router._self_conninfo();
BEGIN
    IF conninfo IS NULL OR conninfo = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'the conninfo of the router to follow must not be empty';
    END IF;
    IF dht_router._follows() THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'this router follows a map already',
            HINT = 'Run dht_router.unfollow() first.';
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.shards) THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'this router has a map of its own',
            DETAIL = format('It has shards %s.', (SELECT string_agg(name, ', ' ORDER BY name) FROM dht_router.shards)),
            HINT = 'Only a router without shards can follow another; make the calls of this one on the other.';
    END IF;
    PERFORM dht_router._check_home(conninfo);
    IF NOT EXISTS (SELECT 1 FROM dblink(conninfo,
            'SELECT 1 FROM pg_publication WHERE pubname = ''dht_router_map''') AS t(one integer)) THEN
        PERFORM dblink_exec(conninfo, 'CREATE PUBLICATION dht_router_map FOR TABLE dht_router.shards,'
            ' dht_router.bucket_map, dht_router.map_version, dht_router.moves');
    END IF;
    -- the home's rows replace these (committed at once: the copy inserts them)
    PERFORM dblink_exec(self, 'DELETE FROM dht_router.moves; DELETE FROM dht_router.map_version');
    BEGIN
        PERFORM dblink_exec(self, format(
            'CREATE SUBSCRIPTION dht_router_map CONNECTION %L PUBLICATION dht_router_map WITH (slot_name = %L)',
            conninfo, dht_router._follower_slot()));
    EXCEPTION WHEN OTHERS THEN
        PERFORM dblink_exec(self, 'INSERT INTO dht_router.map_version VALUES (true, 0) ON CONFLICT DO NOTHING');
        RAISE;
    END;
    PERFORM dht_router._wait_copied(self, 'dht_router_map', 'this router');
    RETURN (SELECT t.v FROM dblink(self, 'SELECT version FROM dht_router.map_version') AS t(v integer));
END $$;
COMMENT ON FUNCTION dht_router.follow(text) IS
    'follow the map of the router at conninfo (logical replication of its map tables); this router then routes by that map';

-- Stops following: this router's copy of the map becomes its own.
CREATE FUNCTION dht_router.unfollow() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    self text := dht_router._self_conninfo();
BEGIN
    IF NOT dht_router._follows() THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'this router follows no other router';
    END IF;
    BEGIN
        PERFORM dblink_exec(self, 'DROP SUBSCRIPTION dht_router_map');
    EXCEPTION WHEN OTHERS THEN
        -- the home does not answer: drop the subscription without its slot
        PERFORM dblink_exec(self, 'ALTER SUBSCRIPTION dht_router_map DISABLE');
        PERFORM dblink_exec(self, 'ALTER SUBSCRIPTION dht_router_map SET (slot_name = NONE)');
        PERFORM dblink_exec(self, 'DROP SUBSCRIPTION dht_router_map');
        RAISE WARNING 'the home router did not answer: its replication slot % is left there', dht_router._follower_slot()
            USING HINT = 'Drop it there with pg_drop_replication_slot once it is back, or it keeps WAL.';
    END;
END $$;
COMMENT ON FUNCTION dht_router.unfollow() IS
    'stop following another router''s map: this router''s copy becomes its own';

-- On the home, after a switch: waits until every follower's slot has
-- confirmed WAL past the switch, at most dht_router.follower_timeout; then
-- warns about those that have not.
CREATE FUNCTION dht_router._wait_followers(switch_lsn pg_lsn, first integer, last integer, src text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    limit_ interval := dht_router._setting_interval('dht_router.follower_timeout', interval '10s');
    deadline timestamptz := clock_timestamp() + limit_;
    late text;
BEGIN
    LOOP
        SELECT string_agg(slot_name::text, ', ' ORDER BY slot_name) INTO late FROM pg_replication_slots
        WHERE slot_name LIKE 'dht\_router\_map\_%' AND database = current_database()
          AND (confirmed_flush_lsn IS NULL OR confirmed_flush_lsn < switch_lsn);
        EXIT WHEN late IS NULL;
        IF clock_timestamp() > deadline THEN
            RAISE WARNING 'routers following this map did not confirm the move of buckets %..% within dht_router.follower_timeout (%)',
                first, last, limit_
                USING DETAIL = format('Their slots: %s. Until they do, their calls for these buckets reach shard %s: writes fail there, lookups find nothing.', late, src);
            RETURN;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;

-- This router's place: the home of its map or a follower, the map version,
-- and on the home one row per follower (its slot, whether it is connected,
-- and the bytes of WAL it has not confirmed).
CREATE FUNCTION dht_router.map_status(OUT router text, OUT role text, OUT map_version integer,
        OUT connected boolean, OUT lag_bytes numeric)
    RETURNS SETOF record
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'this router', CASE WHEN dht_router._follows() THEN 'follower' ELSE 'home' END,
           (SELECT version FROM dht_router.map_version), NULL::boolean, NULL::numeric
    UNION ALL
    SELECT slot_name::text, 'follower', NULL, active,
           pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)
    FROM pg_replication_slots
    WHERE slot_name LIKE 'dht\_router\_map\_%' AND database = current_database()
$$;
COMMENT ON FUNCTION dht_router.map_status() IS
    'this router (home of its map or follower) and its map version; on the home, its followers and their lag';
