-- smartlayer_dht 0.1.0 -> 0.2.0 (the Makefile replaces each "--@include
-- FILE" line by src/sql/FILE, the same definitions a fresh 0.2.0 install
-- runs; test/t/040_upgrade.pl checks that the two schemas are identical).
--
-- 0.2.0 keeps a token's holders packed in one row per (token, origin)
-- instead of a row per holder.  The steps:
--   1. pause this anchor's token sync, if it is an anchor: peers still on
--      0.1.0 could not apply the new rows, nor this anchor theirs;
--   2. drop the views and functions that change, and set the 0.1.0 token
--      tables aside;
--   3. create 0.2.0's objects;
--   4. convert every token and holder (src/upgrade.c), keeping how they
--      resolve, then drop the 0.1.0 tables;
--   5. queue every SLA class for one repair check.
-- Once every anchor runs 0.2.0: CALL dht.anchor_resume() on each.

-- 1. Pause.
ALTER TABLE dht.anchor_self ADD COLUMN sync_paused boolean NOT NULL DEFAULT false,
    ADD COLUMN write_fence text, ADD COLUMN verified_at timestamptz;
--@include 72_resume.sql
DO $pause$
DECLARE
    me text := (SELECT name FROM dht.anchor_self);
    sub record;
BEGIN
    IF me IS NULL THEN
        RETURN;
    END IF;
    UPDATE dht.anchor_self SET sync_paused = true;
    -- 0.1.0 peers know sla_log without 0.2.0's columns: publish 0.1.0's
    -- until dht.anchor_resume.
    EXECUTE format('ALTER PUBLICATION %I DROP TABLE dht.sla_log', 'dht_' || me);
    EXECUTE format('ALTER PUBLICATION %I ADD TABLE dht.sla_log (name, origin, data_shards, '
                   'parity_shards, target_availability, min_bandwidth_mbps, min_storage_gb, '
                   'min_availability, diversity, regions, event_at) WHERE (origin = %L)', 'dht_' || me, me);
    IF EXISTS (SELECT FROM pg_catalog.pg_publication_tables
               WHERE pubname = 'dht_' || me AND schemaname = 'dht' AND tablename = 'token_log') THEN
        EXECUTE format('ALTER PUBLICATION %I DROP TABLE dht.token_log, dht.placement_log', 'dht_' || me);
    END IF;
    FOR sub IN SELECT subname FROM pg_catalog.pg_subscription
               WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                 AND subname LIKE 'dht\_from\_%' LOOP
        EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', sub.subname);
        INSERT INTO dht.anchor_resync (peer) VALUES (substr(sub.subname, 10));
    END LOOP;
END
$pause$;

-- 2. What changes.
DROP VIEW dht.network_summary, dht.tokens_at_risk, dht.node_load, dht.placements, dht.tokens,
    dht.sla_classes;
DROP FUNCTION dht.anchor_status();
DROP FUNCTION dht.define_sla(text, int, int, int, bigint, float8, text, text[]),
    dht.define_sla_by_target(text, int, float8, int, bigint, float8, text, text[]),
    dht._put_sla(text, int, int, float8, int, bigint, float8, text, text[]),
    dht._check_sla_args(text, int, int, int, bigint, float8, text, text[]);
ALTER TABLE dht.sla_log
    ADD COLUMN coding text NOT NULL DEFAULT 'reed-solomon' CHECK (coding IN ('reed-solomon', 'raptorq')),
    ADD COLUMN symbols_per_holder integer NOT NULL DEFAULT 1 CHECK (symbols_per_holder BETWEEN 1 AND 65535);
DROP FUNCTION dht.release(dht.token), dht.confirm(dht.token, int, dht.key),
    dht.confirm(dht.token, int, dht.key, bytea), dht._confirm(dht.token, int, dht.key, bytea),
    dht.repair(int), dht.repair_plan(), dht._put_placement(dht.token, int, dht.key, text, bigint, bytea, timestamptz),
    dht._token_latest(dht.token), dht._lock_token(dht.token), dht.state_digest();
ALTER TABLE dht.token_log RENAME TO token_log_v01;
ALTER INDEX dht.token_log_pkey RENAME TO token_log_v01_pkey;
ALTER INDEX dht.token_log_key_idx RENAME TO token_log_v01_key_idx;
ALTER TABLE dht.placement_log RENAME TO placement_log_v01;
ALTER INDEX dht.placement_log_pkey RENAME TO placement_log_v01_pkey;
ALTER INDEX dht.placement_log_node_idx RENAME TO placement_log_v01_node_idx;
GRANT USAGE ON SCHEMA dht TO dht_replication;

-- 3. 0.2.0's objects.
--@include 45_raptorq.sql
--@include 48_holders.sql
--@include 51_tokens.sql
--@include 52_digest.sql
--@include 53_write_origin.sql
--@include 54_sla.sql
--@include 55_registry.sql
--@include 56_heartbeat.sql
--@include 61_feeds.sql
--@include 62_events.sql
--@include 64_coding.sql
--@include 65_operations.sql
--@include 66_maintenance.sql
--@include 73_membership.sql

-- 4. Convert: node references of the registered nodes, then the tokens.
INSERT INTO dht.node_ref (ref, node_id, ambiguous)
SELECT dht.node_ref_of(node_id), min(node_id), count(DISTINCT node_id) > 1
FROM dht.node_log GROUP BY 1;
CREATE FUNCTION dht._upgrade_convert_v01() RETURNS bigint
    AS 'MODULE_PATHNAME', 'upgrade_convert_v01' LANGUAGE C VOLATILE;
DO $convert$
DECLARE
    n bigint := dht._upgrade_convert_v01();
BEGIN
    RAISE NOTICE 'smartlayer_dht 0.2.0: % tokens converted', n;
END
$convert$;
DROP FUNCTION dht._upgrade_convert_v01();
-- They were configuration tables (pg_dump keeps their rows): forget them as
-- such, as ALTER EXTENSION ... DROP TABLE would, then drop them.
UPDATE pg_catalog.pg_extension e
SET extconfig = x.cfg, extcondition = x.cond
FROM (SELECT array_agg(c ORDER BY i) AS cfg, array_agg(w ORDER BY i) AS cond
      FROM pg_catalog.pg_extension, unnest(extconfig, extcondition) WITH ORDINALITY AS u(c, w, i)
      WHERE extname = 'smartlayer_dht'
        AND c NOT IN ('dht.token_log_v01'::regclass, 'dht.placement_log_v01'::regclass)) x
WHERE e.extname = 'smartlayer_dht';
DROP TABLE dht.token_log_v01, dht.placement_log_v01;

-- Write marks start at 1 for every origin this anchor holds rows of (0.1.0
-- counted nothing), so that a rebuilt anchor (0) is told apart.
INSERT INTO dht.origin_marks (origin, slot, writes)
SELECT o, 0, 1 FROM (SELECT origin FROM dht.token_log UNION SELECT origin FROM dht.sla_log
                     UNION SELECT origin FROM dht.node_log UNION SELECT origin FROM dht.node_state_log
                     UNION SELECT origin FROM dht.epoch_log) x(o)
WHERE o NOT IN ('genesis', 'local');

-- 5. One repair check of every class (0.2.0 plans from a queue of changes).
INSERT INTO dht.repair_queue (kind, item) SELECT 'c', name FROM dht.sla_classes
ON CONFLICT DO NOTHING;

--@include 99_privileges.sql

DO $notice$
BEGIN
    IF EXISTS (SELECT FROM dht.anchor_self WHERE sync_paused) THEN
        -- A WARNING: extension scripts run with client_min_messages = warning.
        RAISE WARNING 'this anchor''s token sync is paused until every anchor runs smartlayer_dht 0.2.0'
            USING HINT = 'Then run CALL dht.anchor_resume(); on every anchor.';
    END IF;
END
$notice$;
