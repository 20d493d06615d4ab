-- Heartbeats and measured availability (0.2).  Written idempotently: the
-- upgrade from 0.1.0 runs this file too.
--
-- A node signs a heartbeat every heartbeat_interval; the anchor that
-- receives it verifies it once and keeps ONE row per (node, origin): the
-- last heartbeat (seq, issued_at, signature, so any anchor can re-check it)
-- and a 64-bit bitmap of the slots of smartlayer_dht.heartbeat_interval
-- seconds (or window/64, whichever is longer) in which it got a beat, bit 0
-- being the slot of the last beat.  A beat is one upsert of a narrow row,
-- not an INSERT per beat, so a million nodes beating every minute is a
-- million row updates per minute and a table of a million rows.  The row is
-- replicated like node announcements; the resolved view ORs the bitmaps of
-- every origin (shifted to the current slot), so a node that beats to
-- different anchors is seen by all of them.

CREATE TABLE IF NOT EXISTS dht.heartbeat_log (
    node_id      dht.key NOT NULL,
    origin       text NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 0),
    issued_at    bigint NOT NULL,             -- seconds since 1970, as signed
    signature    bytea NOT NULL CHECK (length(signature) = 64),
    received_at  timestamptz NOT NULL,
    slot_seconds integer NOT NULL CHECK (slot_seconds >= 1),
    first_slot   bigint NOT NULL,             -- slot of the first beat this origin saw (in this slot size)
    last_slot    bigint NOT NULL,             -- slot of the last beat (bit 0 of seen)
    seen         bigint NOT NULL,             -- bit i: a beat in slot last_slot - i
    PRIMARY KEY (node_id, origin)
);
COMMENT ON TABLE dht.heartbeat_log IS
    'per (node, origin): the node''s last verified heartbeat and a bitmap of the slots it beat in';
SELECT pg_catalog.pg_extension_config_dump('dht.heartbeat_log', '');

-- Invalidate every backend's registry cache (a node came back, or the
-- measured availabilities moved): src/worker_sql.c.
CREATE OR REPLACE FUNCTION dht._registry_touch() RETURNS void
    AS 'MODULE_PATHNAME', 'dht_registry_touch' LANGUAGE C VOLATILE;

-- A setting (loading the library first); time settings in seconds.
CREATE OR REPLACE FUNCTION dht._setting(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'dht_setting' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION dht._setting_seconds(name text) RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._setting($1)::integer $$;

-- The slot size now: heartbeat_interval, or window / 64 if longer.
CREATE OR REPLACE FUNCTION dht._heartbeat_slot_seconds() RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT greatest(dht._setting_seconds('smartlayer_dht.heartbeat_interval'),
                    ceil(dht._setting_seconds('smartlayer_dht.availability_window') / 64.0)::integer, 1)
$$;

-- The bytes a heartbeat signs (DESIGN.md section 2).
CREATE OR REPLACE FUNCTION dht.heartbeat_message(pubkey bytea, seq bigint, issued_at bigint) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT 'smartlayer_dht/heartbeat/v1'::bytea || '\x00'::bytea
           || convert_to(dht._setting('smartlayer_dht.network'), 'UTF8') || '\x00'::bytea
           || $1 || int8send($2) || int8send($3)
$$;
COMMENT ON FUNCTION dht.heartbeat_message(bytea, bigint, bigint) IS
    'the bytes a node signs for dht.heartbeat on this anchor''s network';

-- Check and record one heartbeat (src/heartbeat.c).  Returns NULLs when
-- recorded, else the refusal (message, detail): the batch form reports it
-- without a subtransaction per beat, dht.heartbeat raises it.
CREATE OR REPLACE FUNCTION dht._heartbeat_apply(pk bytea, hb_seq bigint, issued bigint, sig bytea,
        OUT message text, OUT detail text)
    AS 'MODULE_PATHNAME', 'dht_heartbeat_apply' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION dht.heartbeat(pubkey bytea, seq bigint, issued_at bigint, signature bytea) RETURNS void
    AS 'MODULE_PATHNAME', 'dht_heartbeat' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION dht.heartbeat(bytea, bigint, bigint, bytea) IS
    'record a node''s Ed25519-signed heartbeat (dht.heartbeat_message)';

-- Many heartbeats in one call (a relay, or a node agent for many nodes):
-- every beat is checked alone; the result says, per input position, whether
-- it was recorded and if not why.  Arrays must have the same length.
CREATE OR REPLACE FUNCTION dht.heartbeat_many(pubkeys bytea[], seqs bigint[], issued_ats bigint[], signatures bytea[])
        RETURNS TABLE(ord integer, accepted boolean, error text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    n integer := coalesce(cardinality(pubkeys), 0);
    r record;
BEGIN
    IF pubkeys IS NULL OR seqs IS NULL OR issued_ats IS NULL OR signatures IS NULL THEN
        PERFORM dht._bad_parameter('heartbeat arrays must not be NULL');
    END IF;
    IF cardinality(seqs) <> n OR cardinality(issued_ats) <> n OR cardinality(signatures) <> n THEN
        PERFORM dht._bad_parameter('heartbeat arrays must have the same length',
            format('Got %s pubkeys, %s seqs, %s issued_at values and %s signatures.',
                   n, cardinality(seqs), cardinality(issued_ats), cardinality(signatures)));
    END IF;
    IF n > 100000 THEN
        RAISE EXCEPTION USING ERRCODE = 'program_limit_exceeded',
            MESSAGE = 'too many heartbeats in one call',
            DETAIL = format('At most 100000 are accepted, not %s.', n);
    END IF;
    FOR i IN 1 .. n LOOP
        r := dht._heartbeat_apply(pubkeys[i], seqs[i], issued_ats[i], signatures[i]);
        ord := i;
        accepted := r.message IS NULL;
        error := CASE WHEN r.message IS NULL THEN NULL
                      WHEN r.detail IS NULL THEN r.message ELSE r.message || ': ' || r.detail END;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION dht.heartbeat_many(bytea[], bigint[], bigint[], bytea[]) IS
    'record many heartbeats; per position, whether it was recorded and why not';

-- Measured availability of one node: the fraction of the slots of the
-- window (since its first beat) in which some anchor got a beat from it;
-- the current slot counts only once it has a beat.  NULL for a node with no
-- heartbeat in the current slot size.
CREATE OR REPLACE FUNCTION dht.measured_availability(node_id dht.key) RETURNS float8
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    WITH p AS (
        SELECT dht._heartbeat_slot_seconds() AS s,
               least(64, greatest(1, ceil(dht._setting_seconds('smartlayer_dht.availability_window')
                                          / dht._heartbeat_slot_seconds()::float8)::integer)) AS n),
    q AS (SELECT p.n, floor(extract(epoch FROM clock_timestamp()) / p.s)::bigint AS now_slot FROM p),
    b AS (
        SELECT bit_or(CASE WHEN q.now_slot - h.last_slot >= 64 OR q.now_slot < h.last_slot THEN 0
                           ELSE h.seen << (q.now_slot - h.last_slot)::integer END)
                 & CASE WHEN q.n = 64 THEN -1::bigint ELSE (1::bigint << q.n) - 1 END AS bits,
               min(h.first_slot) AS first_slot, q.n, q.now_slot
        FROM dht.heartbeat_log h, p, q
        WHERE h.node_id = $1 AND h.slot_seconds = p.s
        GROUP BY q.n, q.now_slot)
    SELECT bit_count(b.bits::bit(64))::float8
           / greatest(1, least(b.n, b.now_slot - b.first_slot + 1) - (CASE WHEN b.bits & 1 = 0 THEN 1 ELSE 0 END))
    FROM b
$$;
COMMENT ON FUNCTION dht.measured_availability(dht.key) IS
    'fraction of the slots of smartlayer_dht.availability_window in which the node sent a heartbeat';

-- The resolved node, as in 50_directory.sql, with heartbeats: a node marked
-- 'down' that has beaten since (or announced itself since) is back to its
-- declared state, and availability is the measured one once the node has
-- heartbeats (until then, the value set by dht.set_node_availability).
CREATE OR REPLACE VIEW dht.nodes AS
SELECT r.node_id, r.pubkey, r.endpoint, r.region, r.operator, r.addr,
       r.bandwidth_mbps, r.storage_gb, r.weight,
       CASE
           WHEN d.state IN ('banned', 'draining') THEN d.state
           WHEN d.state = 'down' AND NOT ((r.doc IS NOT NULL AND r.recorded_at > d.state_at)
                                          OR coalesce(hb.last_beat > d.state_at, false)) THEN 'down'
           ELSE r.declared_state
       END AS state,
       CASE WHEN hb.last_beat IS NOT NULL THEN dht.measured_availability(r.node_id)
            ELSE a.availability END AS availability,   -- NULL until set or measured
       greatest(r.recorded_at, hb.last_beat) AS last_seen, r.seq, r.origin,
       hb.last_beat AS last_heartbeat
FROM (SELECT DISTINCT ON (node_id) *
      FROM dht.node_log
      ORDER BY node_id, seq DESC, recorded_at DESC, origin DESC) r
LEFT JOIN LATERAL (
      SELECT s.state, s.state_at FROM dht.node_state_log s
      WHERE s.node_id = r.node_id AND s.state IS NOT NULL
      ORDER BY s.state_at DESC, s.origin DESC LIMIT 1) d ON true
LEFT JOIN LATERAL (
      SELECT s.availability FROM dht.node_state_log s
      WHERE s.node_id = r.node_id AND s.availability IS NOT NULL
      ORDER BY s.availability_at DESC, s.origin DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (
      SELECT max(h.received_at) AS last_beat FROM dht.heartbeat_log h
      WHERE h.node_id = r.node_id) hb ON true;
COMMENT ON VIEW dht.nodes IS 'service nodes: resolved records, states and measured availability';

GRANT EXECUTE ON FUNCTION dht.heartbeat(bytea, bigint, bigint, bytea),
    dht.heartbeat_many(bytea[], bigint[], bigint[], bytea[]) TO dht_writer;
GRANT EXECUTE ON FUNCTION dht.heartbeat_message(bytea, bigint, bigint),
    dht.measured_availability(dht.key) TO dht_reader;
GRANT SELECT ON dht.heartbeat_log TO dht_replication;
