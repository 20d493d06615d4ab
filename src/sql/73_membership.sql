-- Anchor membership over time (src/anchor_feed.c, src/anchor_adopt.c,
-- src/anchor_recover.c, src/anchor_leave.c, src/origin_marks.c).
--
-- Write marks.  Every anchor counts the rows it writes under its own name,
-- per backend slot (no two sessions update one row), in dht.origin_marks,
-- which is replicated like the logs.  An anchor's total for an origin is how
-- much of that origin's history it holds: each peer applies an origin's
-- transactions in commit order, so of two anchors the one with the greater
-- total holds everything the other does.  A rebuilt anchor (total 0) or one
-- restored from a backup (a smaller total than its peers hold for it) is
-- told apart from a healthy one by comparing totals, cheaply.
CREATE TABLE dht.origin_marks (
    origin  text NOT NULL,
    slot    integer NOT NULL,       -- backend id of the writer; 0: rows that predate 0.2
    writes  bigint NOT NULL,
    PRIMARY KEY (origin, slot)
);
COMMENT ON TABLE dht.origin_marks IS 'rows written by each origin, per backend slot (replicated; their sum says how much of its history an anchor holds)';
SELECT pg_catalog.pg_extension_config_dump('dht.origin_marks', '');

CREATE FUNCTION dht.origin_writes(origin text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT coalesce(sum(m.writes), 0)::bigint FROM dht.origin_marks m WHERE m.origin = $1 $$;
COMMENT ON FUNCTION dht.origin_writes(text) IS
    'how many of an origin''s row writes this anchor holds (a rebuilt or restored anchor holds fewer of its own than its peers do)';

-- Status: peers, then the other origins this anchor holds rows of.
CREATE FUNCTION dht.anchor_status(
        OUT peer text, OUT state text, OUT lag_bytes bigint, OUT last_msg timestamptz,
        OUT apply_error_count bigint, OUT sync_error_count bigint, OUT tables_syncing integer,
        OUT slot_status text, OUT worker_pid integer, OUT error text, OUT served_by text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'anchor_status' LANGUAGE C VOLATILE SECURITY DEFINER ROWS 4
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dht.anchor_status() IS
    'one row per peer (streaming, catching up, disabled, failing, down or paused, and how far behind), then per other origin this anchor holds rows of: who serves it';

GRANT EXECUTE ON FUNCTION dht.anchor_status() TO dht_reader;

-- Adoptions: a live anchor serving the rows of a retired one to anchors
-- that join later (replicated, one row per adopter).
CREATE TABLE dht.anchor_adoptions (
    retired     text NOT NULL,
    origin      text NOT NULL,          -- the adopter
    adopted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (retired, origin)
);
COMMENT ON TABLE dht.anchor_adoptions IS 'retired anchors whose rows an adopter (origin) serves to anchors that join later';
SELECT pg_catalog.pg_extension_config_dump('dht.anchor_adoptions', '');

CREATE FUNCTION dht.anchor_adopt(retired text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'anchor_adopt' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dht.anchor_adopt(text) IS
    'serve the rows of a retired anchor to anchors that join later; returns how many rows';

-- Serving an origin's rows to an anchor that fetches them (anchor_feed.c):
-- called by that anchor over its replication connection.
CREATE FUNCTION dht._serve_origin(origin text) RETURNS text
    AS 'MODULE_PATHNAME', 'anchor_serve_origin' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
-- This anchor's membership state, for a peer's checks: its name, its write
-- fence, how many of its own writes it holds, and whether it is leaving.
CREATE FUNCTION dht._anchor_state(OUT name text, OUT write_fence text, OUT own_writes bigint)
    AS 'MODULE_PATHNAME', 'anchor_state' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

-- Recovering a rebuilt or restored anchor (anchor_recover.c).  A procedure,
-- as it commits between steps: a peer's old slot is dropped when its
-- removal commits, before the new one is created, and the copy of this
-- anchor's own rows is waited for.  (So it has no SET clause, which would
-- forbid COMMIT; every name in it is qualified.)
CREATE FUNCTION dht._rejoin_begin(peers text[], conninfos text[],
        OUT peer text, OUT conninfo text, OUT own_writes bigint, OUT reachable boolean)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'anchor_rejoin_begin' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._rejoin_drop(peer text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_rejoin_drop' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._rejoin_add(peer text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_rejoin_add' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._rejoin_recover(source text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_rejoin_recover' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._rejoin_progress(OUT done boolean, OUT tables_left integer)
    AS 'MODULE_PATHNAME', 'anchor_rejoin_progress' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._rejoin_end() RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_rejoin_end' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._ask_peer_refresh(peer text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_ask_peer_refresh' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE PROCEDURE dht.anchor_rejoin(peers text[] DEFAULT NULL, conninfos text[] DEFAULT NULL)
    LANGUAGE plpgsql AS $$
DECLARE
    r record;
    src record;
    p record;
    why text;
    waited int := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.dht_rejoin_peers
        (peer text, conninfo text, own_writes bigint, reachable boolean) ON COMMIT PRESERVE ROWS;
    DELETE FROM pg_temp.dht_rejoin_peers;
    INSERT INTO pg_temp.dht_rejoin_peers SELECT * FROM dht._rejoin_begin(peers, conninfos);
    COMMIT;
    -- Copy every peer's rows again: this anchor's copy of them may have holes.
    FOR r IN SELECT * FROM pg_temp.dht_rejoin_peers WHERE reachable ORDER BY peer LOOP
        PERFORM dht._rejoin_drop(r.peer);
        COMMIT;
        PERFORM dht._rejoin_add(r.peer, r.conninfo);
        COMMIT;
        RAISE NOTICE 'anchor "%": its rows are being copied again', r.peer;
    END LOOP;
    -- This anchor's own rows, from the peer that holds the most of them.
    SELECT * INTO src FROM pg_temp.dht_rejoin_peers WHERE reachable
    ORDER BY own_writes DESC, peer LIMIT 1;
    IF src.peer IS NOT NULL AND src.own_writes > dht.origin_writes((SELECT name FROM dht.anchor_self)) THEN
        PERFORM dht._rejoin_recover(src.peer, src.conninfo);
        COMMIT;
        RAISE NOTICE 'copying this anchor''s own rows back from anchor "%"', src.peer;
    END IF;
    LOOP
        SELECT * INTO p FROM dht._rejoin_progress();
        EXIT WHEN p.done;
        IF waited % 30 = 0 THEN
            RAISE NOTICE 'waiting for the copy of this anchor''s own rows (% tables left)', p.tables_left;
        END IF;
        PERFORM pg_catalog.pg_sleep(1);
        waited := waited + 1;
        COMMIT;
    END LOOP;
    PERFORM dht._rejoin_end();
    COMMIT;
    -- The peers copy this anchor's rows again (their slots on it are gone).
    FOR r IN SELECT * FROM pg_temp.dht_rejoin_peers WHERE reachable ORDER BY peer LOOP
        BEGIN
            PERFORM dht._ask_peer_refresh(r.peer, r.conninfo);
            RAISE NOTICE 'anchor "%" copies this anchor''s rows again', r.peer;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            RAISE WARNING 'anchor "%" could not be asked to copy this anchor''s rows again: %', r.peer, why
                USING HINT = format('On that anchor, run SELECT dht.anchor_remove_peer(%L); then dht.anchor_add_peer again.',
                                    (SELECT name FROM dht.anchor_self));
        END;
        COMMIT;
    END LOOP;
    DROP TABLE pg_temp.dht_rejoin_peers;
END $$;
COMMENT ON PROCEDURE dht.anchor_rejoin(text[], text[]) IS
    'after a rebuild or a restore: copy every peer''s rows and this anchor''s own rows back, then have the peers copy this anchor again';

-- A peer asks this anchor to copy its rows again after it rejoined (called
-- over that peer's replication connection; the steps check that it holds
-- at least as much of its own history as this anchor does).
CREATE FUNCTION dht._refresh_peer_remove(peer text) RETURNS text
    AS 'MODULE_PATHNAME', 'anchor_refresh_peer_remove' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._refresh_peer_add(peer text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_refresh_peer_add' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE PROCEDURE dht._refresh_peer(peer text)
    LANGUAGE plpgsql AS $$
DECLARE
    conninfo text;
BEGIN
    conninfo := dht._refresh_peer_remove(peer);
    COMMIT;
    PERFORM dht._refresh_peer_add(peer, conninfo);
    COMMIT;
END $$;

-- Leaving the network (anchor_leave.c), before DROP EXTENSION.
CREATE FUNCTION dht._leave_begin(OUT peer text, OUT conninfo text) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'anchor_leave_begin' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._leave_tell_peer(peer text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_leave_tell_peer' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._leave_end() RETURNS bigint
    AS 'MODULE_PATHNAME', 'anchor_leave_end' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE PROCEDURE dht.anchor_leave()
    LANGUAGE plpgsql AS $$
DECLARE
    r record;
    why text;
    n bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.dht_leave_peers (peer text, conninfo text) ON COMMIT PRESERVE ROWS;
    DELETE FROM pg_temp.dht_leave_peers;
    INSERT INTO pg_temp.dht_leave_peers SELECT * FROM dht._leave_begin();
    COMMIT;
    FOR r IN SELECT * FROM pg_temp.dht_leave_peers ORDER BY peer LOOP
        BEGIN
            PERFORM dht._leave_tell_peer(r.peer, r.conninfo);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            RAISE WARNING 'anchor "%" could not be told that this anchor leaves: %', r.peer, why
                USING HINT = format('On that anchor, run SELECT dht.anchor_remove_peer(%L);', (SELECT name FROM dht.anchor_self));
        END;
        COMMIT;
    END LOOP;
    n := dht._leave_end();
    COMMIT;
    RAISE NOTICE 'this anchor left: % subscriptions, publications and slots removed', n;
    DROP TABLE pg_temp.dht_leave_peers;
END $$;
COMMENT ON PROCEDURE dht.anchor_leave() IS
    'leave the network: peers stop subscribing to this anchor, and its subscriptions, publications and slots are removed (run before DROP EXTENSION)';
-- A leaving peer tells this anchor (over its replication connection); this
-- anchor checks with the peer that it is leaving before it drops the
-- subscription.
CREATE FUNCTION dht._peer_leaving(peer text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_peer_leaving' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

-- DROP EXTENSION smartlayer_dht (or DROP SCHEMA dht) while this anchor
-- still replicates would leave its publications, subscriptions and slots
-- behind: refused with the way out.
CREATE FUNCTION dht._guard_drop() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'anchor_guard_drop' LANGUAGE C;
CREATE EVENT TRIGGER dht_guard_drop ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION dht._guard_drop();

GRANT SELECT ON dht.origin_marks, dht.anchor_adoptions TO dht_replication;
GRANT EXECUTE ON FUNCTION dht._serve_origin(text), dht._anchor_state(),
    dht._refresh_peer_remove(text), dht._refresh_peer_add(text, text), dht._peer_leaving(text),
    dht.origin_writes(text) TO dht_replication;
GRANT EXECUTE ON PROCEDURE dht._refresh_peer(text) TO dht_replication;
GRANT EXECUTE ON FUNCTION dht.origin_writes(text) TO dht_reader;
