-- RaptorQ tokens in the directory (src/events.c, src/lookup.c).  A RaptorQ
-- packet carries no description of its object, so the token's OTI (RFC 6330
-- 3.3.2 and 3.3.3, 12 bytes) is recorded with the token, once, by whoever
-- codes its data; readers and repairers decode with it.  Each holder stores
-- the ESIs dht.placements shows (first_esi .. first_esi + esi_count - 1 of
-- every source block); its dht.fragment_digest, given to dht.confirm,
-- keeps a corrupted or foreign holder's packets out of a decode.
CREATE FUNCTION dht.record_oti(token dht.token, oti bytea) RETURNS void
    AS 'MODULE_PATHNAME', 'dht_record_oti' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.record_oti(dht.token, bytea) IS
    'record the RaptorQ OTI a token''s data is coded with (once; the same OTI again is a no-op)';

CREATE FUNCTION dht.token_oti(token dht.token) RETURNS bytea
    AS 'MODULE_PATHNAME', 'dht_token_oti' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.token_oti(dht.token) IS
    'the RaptorQ OTI recorded for a token, or NULL';

GRANT EXECUTE ON FUNCTION dht.record_oti(dht.token, bytea) TO dht_writer;
GRANT EXECUTE ON FUNCTION dht.token_oti(dht.token) TO dht_reader;
