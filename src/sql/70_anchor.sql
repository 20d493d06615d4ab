-- Anchors: sync of the directory between anchors by PostgreSQL 15 logical
-- replication (src/anchor.c).  Each anchor publishes the rows of its own
-- origin (publication dht_<name>, a row filter per log table) and subscribes
-- to every peer (subscription dht_from_<peer>, slot dht_<peer>_<name> on the
-- peer).  No two anchors write the same row, so apply never conflicts; the
-- views of 50_directory.sql resolve the logs the same way everywhere.

CREATE FUNCTION dht.anchor_init(name text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_init' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dht.anchor_init(text) IS
    'name this anchor (once) and publish the rows it writes';

CREATE FUNCTION dht.anchor_add_peer(name text, conninfo text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_add_peer' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dht.anchor_add_peer(text, text) IS
    'subscribe to a peer anchor''s rows, initial copy included';

CREATE FUNCTION dht.anchor_remove_peer(name text) RETURNS void
    AS 'MODULE_PATHNAME', 'anchor_remove_peer' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dht.anchor_remove_peer(text) IS
    'stop receiving a peer''s rows and drop its slot on the peer (its rows stay)';

-- What a peer's replication user needs (the role is created in 00_prelude.sql).
GRANT SELECT ON dht.anchor_self, dht.sla_log, dht.node_log, dht.node_state_log,
    dht.epoch_log TO dht_replication;


