-- Resuming anchor sync after an upgrade (src/anchor.c).

-- Upgrades.  An upgrade that changes the token rows' format pauses their
-- sync (peers on the old version could not apply them, nor this anchor
-- theirs): the token table leaves this anchor's publication and its
-- subscriptions are disabled, noted here.  Once every anchor runs the new
-- version, CALL dht.anchor_resume() on each re-publishes and re-copies.
CREATE TABLE dht.anchor_resync (
    peer        text PRIMARY KEY,
    paused_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE dht.anchor_resync IS 'peers whose rows dht.anchor_resume() must copy again (after an upgrade)';

CREATE FUNCTION dht._anchor_unpause() RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_unpause' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
-- ERROR unless the peer is reachable, runs this version and publishes its tokens.
CREATE FUNCTION dht._anchor_check_ready(peer text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_check_ready' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION dht._anchor_resync_done(peer text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ DELETE FROM dht.anchor_resync WHERE anchor_resync.peer = $1 $$;

-- A procedure, as it commits between peers: a peer's old slot is dropped
-- when its removal commits, before the new one is created.  (So it has no
-- SET clause, which would forbid COMMIT; every name in it is qualified.)
CREATE PROCEDURE dht.anchor_resume()
    LANGUAGE plpgsql AS $$
DECLARE
    r record;
    why text;
    left_over int := 0;
BEGIN
    PERFORM dht._anchor_unpause();
    COMMIT;
    FOR r IN SELECT s.peer, c.subconninfo
             FROM dht.anchor_resync s
             JOIN pg_catalog.pg_subscription c ON c.subname = 'dht_from_' || s.peer
             ORDER BY s.peer LOOP
        BEGIN
            PERFORM dht._anchor_check_ready(r.peer, r.subconninfo);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
            RAISE NOTICE 'anchor "%" is not ready: %', r.peer, why;
            left_over := left_over + 1;
            CONTINUE;
        END;
        PERFORM dht.anchor_remove_peer(r.peer);
        COMMIT;
        PERFORM dht.anchor_add_peer(r.peer, r.subconninfo);
        PERFORM dht._anchor_resync_done(r.peer);
        COMMIT;
        RAISE NOTICE 'anchor "%": its rows are being copied again', r.peer;
    END LOOP;
    PERFORM dht._anchor_resync_done(s.peer) FROM dht.anchor_resync s
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_subscription c WHERE c.subname = 'dht_from_' || s.peer);
    IF left_over > 0 THEN
        RAISE NOTICE '% peers are not ready yet', left_over
            USING HINT = 'Upgrade them and CALL dht.anchor_resume() there, then call it here again.';
    END IF;
END $$;
COMMENT ON PROCEDURE dht.anchor_resume() IS
    'after an upgrade, once every anchor runs this version: publish this anchor''s token rows again and copy its peers'' again';
