-- The origin a registry function writes its row under: this anchor's name,
-- once it may write (src/anchor_recover.c: not while a write fence stops
-- it, nor before its own rows were checked against its peers' after a
-- server start).  dht.local_origin() says the name without the checks.
CREATE FUNCTION dht._write_origin() RETURNS text
    AS 'MODULE_PATHNAME', 'dht_write_origin_sql' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
