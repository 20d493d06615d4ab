-- Tokens and their holders (src/holders.c, src/tokenrows.c, src/lookup.c):
-- node references, dht.token_log, and the views dht.tokens and
-- dht.placements that resolve it.

---------------------------------------------------------------------------
-- Node references.  A token's holders name their nodes by an 8-byte
-- reference, the node id's first 8 bytes (the prefix placement ranks nodes
-- by), so every anchor derives it alike without coordination.  This local
-- table (not replicated: every anchor builds it from dht.node_log) maps it
-- back.  Two registered node ids with one prefix (2^-64 by chance; an
-- attacker's grinding otherwise) make the reference ambiguous: neither node
-- is eligible for placement, and repair moves its holders away.
CREATE TABLE dht.node_ref (
    ref         bigint PRIMARY KEY,
    node_id     dht.key NOT NULL UNIQUE,
    ambiguous   boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE dht.node_ref IS 'node reference (the node id''s first 8 bytes) -> node id; derived from dht.node_log';

CREATE FUNCTION dht.node_ref_of(node_id dht.key) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dht_node_ref_of' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.node_ref_of(dht.key) IS 'the 8-byte reference holders use for a node: its id''s first 8 bytes';

CREATE FUNCTION dht._node_ref_add() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    INSERT INTO dht.node_ref AS r (ref, node_id) VALUES (dht.node_ref_of(NEW.node_id), NEW.node_id)
    ON CONFLICT (ref) DO UPDATE
        SET ambiguous = r.ambiguous OR r.node_id OPERATOR(dht.<>) excluded.node_id,
            node_id = LEAST(r.node_id, excluded.node_id);
    RETURN NULL;
END $$;
CREATE TRIGGER node_ref_add AFTER INSERT ON dht.node_log
    FOR EACH ROW EXECUTE FUNCTION dht._node_ref_add();
ALTER TABLE dht.node_log ENABLE ALWAYS TRIGGER node_ref_add;

---------------------------------------------------------------------------
-- Tokens and their holders: one row per (token, origin), the holders
-- packed (dht.holders, src/holders.c).  It takes every allocation, so it
-- carries no CHECK constraints (each costs a parse per statement): only the
-- functions write it, and they validate.  bucket is dht.bucket_of(token),
-- the unit of sharding and anti-entropy, kept as a plain column so that a
-- publication's row filter can select a range of buckets.
CREATE TABLE dht.token_log (
    token           dht.token NOT NULL,
    origin          text NOT NULL,
    bucket          smallint NOT NULL,
    sla             text NOT NULL,
    holders         dht.holders NOT NULL,   -- with the shape, epoch and allocation stamp
    PRIMARY KEY (token, origin)
);
-- "Which tokens does this node hold": the node references of live entries.
CREATE INDEX token_log_node_idx ON dht.token_log USING gin (holders);

-- The token: the row with the greatest (meta stamp, origin); hidden once it
-- says released.
CREATE VIEW dht.tokens AS
SELECT token, dht.token_key(token) AS key, sla,
       dht._holders_data_shards(holders) AS data_shards,
       dht._holders_parity_shards(holders) AS parity_shards,
       dht._holders_epoch(holders) AS epoch, dht._holders_allocated_at(holders) AS allocated_at,
       origin, dht._holders_coding(holders) AS coding,
       dht._holders_symbols_per_holder(holders) AS symbols_per_holder
FROM (SELECT DISTINCT ON (token) *
      FROM dht.token_log
      ORDER BY token, dht._holders_meta_stamp(holders) DESC, origin DESC) t
WHERE NOT dht._holders_released(holders);
COMMENT ON VIEW dht.tokens IS 'allocated tokens';

-- The winning holders of one row of a token (src/lookup.c): its live entries
-- that no other row of the token supersedes, with the token's epoch.
CREATE FUNCTION dht._placements_of(token dht.token, origin text, holders dht.holders,
        OUT shard integer, OUT ref bigint, OUT state text, OUT epoch bigint,
        OUT digest bytea, OUT updated_at timestamptz, OUT first_esi integer, OUT esi_count integer)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'dht_placements_of' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 6;

-- Holders: the union of every row's entries, per (shard, node) the latest.
-- The join's second condition repeats the first for the planner: it lets
-- "WHERE node_id = ..." start from the node and find its rows by the GIN
-- index, while "WHERE token = ..." starts from the token's primary key.
CREATE VIEW dht.placements AS
SELECT t.token, h.shard, n.node_id, h.state, h.epoch, h.digest, h.updated_at, t.origin,
       h.first_esi, h.esi_count
FROM dht.token_log t
CROSS JOIN LATERAL dht._placements_of(t.token, t.origin, t.holders) h
LEFT JOIN dht.node_ref n ON n.ref = h.ref AND t.holders OPERATOR(dht.@>) n.node_id;
COMMENT ON VIEW dht.placements IS 'which node holds which shard of which token';

-- The views call these as the querying role.
GRANT EXECUTE ON FUNCTION dht._placements_of(dht.token, text, dht.holders),
    dht._holders_meta_stamp(dht.holders), dht._holders_released(dht.holders),
    dht._holders_data_shards(dht.holders), dht._holders_parity_shards(dht.holders),
    dht._holders_epoch(dht.holders), dht._holders_allocated_at(dht.holders),
    dht._holders_coding(dht.holders), dht._holders_symbols_per_holder(dht.holders),
    dht.holders_contains_node(dht.holders, dht.key) TO dht_reader;

SELECT pg_catalog.pg_extension_config_dump('dht.token_log', '');
GRANT SELECT ON dht.token_log TO dht_replication;
