-- Self-healing maintenance (0.2): what the background worker of
-- src/worker.c runs every smartlayer_dht.repair_interval, callable by hand
-- too.  Written idempotently: the upgrade from 0.1.0 runs this file too.

-- Repair a token from one anchor at a time: the live anchors (this one, and
-- each peer whose subscription is connected and heard from within
-- heartbeat_timeout) ordered by a hash of (anchor name, token key); the
-- first one owns the token's repair.  A peer that goes down loses its
-- tokens to the next one in their orders.  When two anchors briefly
-- disagree on who is live, both may repair one token, but from the same
-- registry they choose the same replacement (the placement order is a
-- function of epoch seed, token and node ids), so a shard never gets two.
CREATE OR REPLACE FUNCTION dht.live_anchors() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT dht.local_origin()
    UNION
    SELECT substr(s.subname, 10)
    FROM pg_catalog.pg_stat_subscription s
    WHERE s.subname LIKE 'dht\_from\_%' AND s.relid IS NULL AND s.pid IS NOT NULL
      AND s.last_msg_receipt_time > pg_catalog.clock_timestamp()
                                    - make_interval(secs => dht._setting_seconds('smartlayer_dht.heartbeat_timeout'))
$$;
COMMENT ON FUNCTION dht.live_anchors() IS
    'this anchor and the peers it hears from (their subscriptions receive within heartbeat_timeout)';

CREATE OR REPLACE FUNCTION dht.repair_owner(token dht.token) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT a FROM dht.live_anchors() a
    ORDER BY pg_catalog.sha256(pg_catalog.convert_to(a || '/' || dht.token_key($1)::text, 'UTF8')), a
    LIMIT 1
$$;
COMMENT ON FUNCTION dht.repair_owner(dht.token) IS
    'the live anchor that repairs this token now (first in the rendezvous order of anchor names by token key)';

CREATE OR REPLACE FUNCTION dht._repair_owned(max_moves int) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dht_repair_owned' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;

-- One row per maintenance run (local, not replicated; a day is kept).
CREATE TABLE IF NOT EXISTS dht.maintenance_log (
    run             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    nodes_down      integer NOT NULL,     -- nodes this run marked down
    holders_expired integer NOT NULL,     -- pending holders past confirm_timeout found
    repairs_applied bigint NOT NULL,      -- moves applied (replacements made pending)
    repairs_pending bigint NOT NULL       -- moves still planned after the run (any owner)
);
COMMENT ON TABLE dht.maintenance_log IS 'the self-healing runs of this anchor (dht.maintenance_run)';

-- One run: mark silent nodes down, let placement see the new
-- availabilities, queue tokens whose pending holders expired, apply at most
-- max_moves moves of the tokens this anchor owns.  Returns the run's row.
CREATE OR REPLACE FUNCTION dht.maintenance_run(max_moves int DEFAULT NULL)
        RETURNS dht.maintenance_log
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    r dht.maintenance_log;
    n record;
    timeout interval := make_interval(secs => dht._setting_seconds('smartlayer_dht.heartbeat_timeout'));
    confirm interval := make_interval(secs => dht._setting_seconds('smartlayer_dht.confirm_timeout'));
BEGIN
    IF max_moves IS NOT NULL AND max_moves < 0 THEN
        PERFORM dht._bad_parameter('max_moves must be 0 or more, or NULL for no limit');
    END IF;
    r.started_at := clock_timestamp();
    r.nodes_down := 0;
    -- Nodes that beat once and then fell silent (a node that never sent a
    -- heartbeat is left to its operator, as in 0.1).
    FOR n IN SELECT node_id, last_heartbeat FROM dht.nodes
             WHERE state = 'active' AND last_heartbeat < clock_timestamp() - timeout LOOP
        PERFORM dht.set_node_state(n.node_id, 'down');
        r.nodes_down := r.nodes_down + 1;
        RAISE LOG 'smartlayer_dht: node % marked down: no heartbeat since %', n.node_id, n.last_heartbeat;
    END LOOP;
    -- Measured availabilities move with time: every backend re-reads them.
    PERFORM dht._registry_touch();
    -- Pending holders never confirmed: their tokens are re-planned.
    SELECT count(*)::integer INTO r.holders_expired FROM (
        SELECT dht._enqueue('t', t.token::text)
        FROM (SELECT DISTINCT p.token FROM dht.placements p
              WHERE p.state = 'pending' AND p.updated_at < clock_timestamp() - confirm) t) x;
    IF r.holders_expired > 0 THEN
        RAISE LOG 'smartlayer_dht: % tokens have holders pending for more than %', r.holders_expired, confirm;
    END IF;
    r.repairs_applied := dht._repair_owned(max_moves);
    SELECT count(*) INTO r.repairs_pending FROM dht.repair_plan() p WHERE p.to_node IS NOT NULL;
    r.finished_at := clock_timestamp();
    IF r.repairs_applied > 0 OR r.nodes_down > 0 THEN
        RAISE LOG 'smartlayer_dht: maintenance run: % nodes marked down, % repairs applied, % pending',
            r.nodes_down, r.repairs_applied, r.repairs_pending;
    END IF;
    INSERT INTO dht.maintenance_log (started_at, finished_at, nodes_down, holders_expired, repairs_applied, repairs_pending)
    VALUES (r.started_at, r.finished_at, r.nodes_down, r.holders_expired, r.repairs_applied, r.repairs_pending)
    RETURNING * INTO r;
    DELETE FROM dht.maintenance_log l WHERE l.finished_at < clock_timestamp() - interval '1 day';
    RETURN r;
END $$;
COMMENT ON FUNCTION dht.maintenance_run(int) IS
    'one self-healing run (what the background worker does every repair_interval)';

-- What the worker did (over the runs kept, a day) and whether it runs.
CREATE OR REPLACE FUNCTION dht.maintenance_status(
        OUT worker_running boolean, OUT runs bigint, OUT last_run_at timestamptz,
        OUT nodes_marked_down bigint, OUT repairs_applied bigint, OUT repairs_pending bigint,
        OUT holders_expired bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
                   WHERE a.backend_type = 'smartlayer_dht maintenance' AND a.datname = pg_catalog.current_database()),
           count(*), max(l.finished_at), coalesce(sum(l.nodes_down), 0)::bigint,
           coalesce(sum(l.repairs_applied), 0)::bigint,
           (SELECT l2.repairs_pending FROM dht.maintenance_log l2 ORDER BY l2.run DESC LIMIT 1),
           coalesce(sum(l.holders_expired), 0)::bigint
    FROM dht.maintenance_log l
$$;
COMMENT ON FUNCTION dht.maintenance_status() IS
    'the self-healing worker: whether it runs, its runs, nodes marked down, repairs applied and pending, expired holders';

-- A long repair: the runs from the first one that found work after an idle
-- run (nothing applied, nothing pending) to now; once it is done, the last
-- repair, with nothing pending.
CREATE OR REPLACE VIEW dht.repair_progress AS
WITH busy AS (
    SELECT max(l.run) AS run FROM dht.maintenance_log l WHERE l.repairs_applied > 0 OR l.repairs_pending > 0),
since AS (
    SELECT coalesce((SELECT max(l.run) FROM dht.maintenance_log l, busy
                     WHERE l.run < busy.run AND l.repairs_pending = 0 AND l.repairs_applied = 0), 0) AS run),
cur AS (
    SELECT min(l.started_at) AS started_at, max(l.finished_at) AS last_run_at,
           coalesce(sum(l.repairs_applied), 0)::bigint AS applied,
           (SELECT l2.repairs_pending FROM dht.maintenance_log l2 ORDER BY l2.run DESC LIMIT 1) AS pending
    FROM dht.maintenance_log l, since, busy WHERE l.run > since.run AND l.run <= busy.run)
SELECT cur.started_at, cur.last_run_at, cur.applied AS repairs_applied,
       coalesce(cur.pending, 0) AS repairs_pending,
       CASE WHEN cur.applied + coalesce(cur.pending, 0) = 0 THEN 1.0
            ELSE round(cur.applied::numeric / (cur.applied + cur.pending), 4) END AS fraction_done,
       CASE WHEN cur.applied > 0 AND cur.pending > 0
            THEN (cur.last_run_at - cur.started_at) * (cur.pending::float8 / cur.applied) END AS estimated_remaining
FROM cur;
COMMENT ON VIEW dht.repair_progress IS 'the repair under way: moves applied since it began, moves left, estimate';

GRANT EXECUTE ON FUNCTION dht.maintenance_status(), dht.repair_owner(dht.token), dht.live_anchors() TO dht_reader;
