-- Buckets and per-bucket digests, maintained as rows change (src/digest.c,
-- src/bucket.c).

CREATE FUNCTION dht.bucket_of(token dht.token) RETURNS integer
    AS 'MODULE_PATHNAME', 'dht_bucket_of' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.bucket_of(dht.token) IS
    'the token''s bucket, 0..1023: the top 10 bits of dht.token_key; the unit of sharding and anti-entropy';

-- Each backend adds to its own rows (slot = its backend id), so concurrent
-- writers never wait on each other here.  Local: every anchor computes its
-- own from its rows; not dumped (a restore rebuilds it through the triggers).
CREATE TABLE dht.bucket_sums (
    bucket  smallint NOT NULL,      -- -1: the registry (SLA classes, nodes, epochs)
    slot    integer NOT NULL,
    sums    bytea NOT NULL,         -- four 64-bit lanes, little-endian, added modulo 2^64
    PRIMARY KEY (bucket, slot)
);
COMMENT ON TABLE dht.bucket_sums IS 'per-bucket sums of row hashes (dht.bucket_digests), per writing backend';

CREATE FUNCTION dht._lanes_add(bytea, bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'digest_lanes_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- No SET clause (it would cost a GUC save and restore per row).  Only apply
-- and table-sync workers, which run as the subscription's owner, queue
-- merged tokens through it.
CREATE FUNCTION dht._digest_row() RETURNS trigger
    AS 'MODULE_PATHNAME', 'digest_row' LANGUAGE C;
CREATE FUNCTION dht._digest_flush_needed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'digest_flush_needed' LANGUAGE C VOLATILE;
-- Runs at commit, as the extension's owner: the writer may be an
-- application role that called a SECURITY DEFINER function.
CREATE FUNCTION dht._digest_flush() RETURNS trigger
    AS 'MODULE_PATHNAME', 'digest_flush' LANGUAGE C SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
CREATE FUNCTION dht._rebuild_digests() RETURNS void
    AS 'MODULE_PATHNAME', 'digest_rebuild' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht._rebuild_digests() IS 'recompute every bucket''s sum from the rows (after a TRUNCATE or an upgrade)';
CREATE FUNCTION dht._digest_truncated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    PERFORM dht._rebuild_digests();
    RETURN NULL;
END $$;

DO $triggers$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sla_log', 'node_log', 'node_state_log', 'epoch_log', 'token_log'] LOOP
        -- BEFORE on token_log (no event queue), AFTER on the registry tables
        -- (their upserts; src/digest.c says why).
        EXECUTE format('CREATE TRIGGER digest_row %s INSERT OR UPDATE OR DELETE ON dht.%I '
                       'FOR EACH ROW EXECUTE FUNCTION dht._digest_row()',
                       CASE t WHEN 'token_log' THEN 'BEFORE' ELSE 'AFTER' END, t);
        EXECUTE format('CREATE CONSTRAINT TRIGGER digest_flush AFTER INSERT OR UPDATE OR DELETE ON dht.%I '
                       'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (dht._digest_flush_needed()) '
                       'EXECUTE FUNCTION dht._digest_flush()', t);
        EXECUTE format('CREATE TRIGGER digest_truncated AFTER TRUNCATE ON dht.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION dht._digest_truncated()', t);
        EXECUTE format('ALTER TABLE dht.%I ENABLE ALWAYS TRIGGER digest_row', t);
        EXECUTE format('ALTER TABLE dht.%I ENABLE ALWAYS TRIGGER digest_flush', t);
        EXECUTE format('ALTER TABLE dht.%I ENABLE ALWAYS TRIGGER digest_truncated', t);
    END LOOP;
END
$triggers$;

-- Epoch 0's row was inserted before the triggers existed.
SELECT dht._rebuild_digests();

CREATE FUNCTION dht.bucket_digests(OUT bucket integer, OUT digest bytea)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'bucket_digests' LANGUAGE C STABLE SECURITY DEFINER ROWS 1024
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.bucket_digests() IS
    'per-bucket digests of the directory''s rows (an order-independent sum of row hashes); equal on converged anchors';

CREATE FUNCTION dht.state_digest() RETURNS bytea
    AS 'MODULE_PATHNAME', 'state_digest' LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.state_digest() IS
    'BLAKE2b-256 of every bucket''s digest and the registry''s: equal on anchors that have converged';

CREATE FUNCTION dht.verify_digests(OUT bucket integer, OUT kept bytea, OUT recomputed bytea)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'digest_verify' LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.verify_digests() IS
    'buckets (-1: the registry) whose maintained digest differs from a recomputation from the rows; empty when all is well';

GRANT EXECUTE ON FUNCTION dht.bucket_of(dht.token), dht.bucket_digests(), dht.state_digest()
    TO dht_reader;
