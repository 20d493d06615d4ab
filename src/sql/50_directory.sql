-- The directory: per-origin event logs (written by functions only, replicated
-- between anchors) and the resolved read API (views).
--
-- Every row of a *_log table carries the anchor that wrote it (origin) in its
-- primary key, and an anchor only ever writes rows of its own origin, so
-- logical replication between anchors never conflicts.  The read API
-- (dht.sla_classes, dht.nodes, dht.epochs, dht.tokens, dht.placements) is a
-- set of views that resolve the logs by one deterministic rule:
--   * SLA classes and epochs: per key, the event with the greatest (event
--     time, origin) wins;
--   * tokens: one row per (token, origin) whose dht.holders value packs the
--     holders that origin recorded; the rule of src/holders.h resolves them
--     (metadata from the greatest (meta stamp, origin), holders the union,
--     per (shard, node) the greatest (stamp, origin));
--   * node records: per node, the greatest (signed seq, recorded time, origin);
--   * node state: operators' decisions by (time, origin), combined with the
--     node's own signed announcements (see dht.nodes).
-- Because the views are pure functions of the set of log rows, two anchors
-- with the same rows show the same directory, whatever order they got them
-- in.  Event times are hybrid clocks: an event that supersedes another one is
-- stamped after it even when the local clock lags (dht._next_event_at).

-- This anchor's name (one row at most); 'local' until dht.anchor_init.
CREATE TABLE dht.anchor_self (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    singleton   boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    sync_paused boolean NOT NULL DEFAULT false,    -- token rows not published (an upgrade)
    -- 0.2 (added by the upgrade from 0.1 as columns at the end)
    write_fence text,           -- why this anchor writes nothing under its name now (src/anchor_recover.c)
    verified_at timestamptz     -- when its own rows were last checked against its peers'
);

CREATE FUNCTION dht.local_origin() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT coalesce((SELECT name FROM dht.anchor_self), 'local') $$;
COMMENT ON FUNCTION dht.local_origin() IS 'the origin name this anchor writes its rows under';

-- An event time after both the clock and the given time (the event it supersedes).
CREATE FUNCTION dht._next_event_at(after timestamptz) RETURNS timestamptz
    LANGUAGE sql VOLATILE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT greatest(clock_timestamp(), after + interval '1 microsecond') $$;

---------------------------------------------------------------------------
-- SLA classes
CREATE TABLE dht.sla_log (
    name                text NOT NULL,
    origin              text NOT NULL,
    data_shards         integer NOT NULL CHECK (data_shards BETWEEN 1 AND 255),
    parity_shards       integer CHECK (parity_shards BETWEEN 0 AND 254),
    target_availability float8 CHECK (target_availability > 0 AND target_availability < 1),
    min_bandwidth_mbps  integer NOT NULL CHECK (min_bandwidth_mbps >= 0),
    min_storage_gb      bigint NOT NULL CHECK (min_storage_gb >= 0),
    min_availability    float8 NOT NULL CHECK (min_availability BETWEEN 0 AND 1),
    diversity           text NOT NULL CHECK (diversity IN ('none', 'operator', 'subnet', 'region')),
    regions             text[],
    event_at            timestamptz NOT NULL,
    PRIMARY KEY (name, origin),
    CHECK ((parity_shards IS NULL) <> (target_availability IS NULL)),
    -- 0.2 (added by the upgrade from 0.1 as columns at the end)
    coding              text NOT NULL DEFAULT 'reed-solomon' CHECK (coding IN ('reed-solomon', 'raptorq')),
    symbols_per_holder  integer NOT NULL DEFAULT 1 CHECK (symbols_per_holder BETWEEN 1 AND 65535)
);


---------------------------------------------------------------------------
-- Nodes: records (operator registrations and signed announcements) ...
CREATE TABLE dht.node_log (
    node_id         dht.key NOT NULL,
    origin          text NOT NULL,
    pubkey          bytea NOT NULL CHECK (length(pubkey) = 32),
    endpoint        text NOT NULL,
    region          text NOT NULL,
    operator        text NOT NULL,
    addr            inet NOT NULL,
    bandwidth_mbps  integer NOT NULL CHECK (bandwidth_mbps >= 0),
    storage_gb      bigint NOT NULL CHECK (storage_gb >= 0),
    weight          float8 NOT NULL CHECK (weight >= 1e-6 AND weight <= 1e6),
    declared_state  text NOT NULL CHECK (declared_state IN ('active', 'draining')),
    seq             bigint NOT NULL CHECK (seq >= 0),
    issued_at       timestamptz,
    recorded_at     timestamptz NOT NULL,
    doc             bytea,
    signature       bytea,
    PRIMARY KEY (node_id, origin),
    CHECK ((doc IS NULL) = (signature IS NULL))
);
COMMENT ON COLUMN dht.node_log.doc IS 'the signed announcement, exactly as received (NULL for dht.register_node)';

-- ... and anchors' decisions about them (state, measured availability).
CREATE TABLE dht.node_state_log (
    node_id         dht.key NOT NULL,
    origin          text NOT NULL,
    state           text CHECK (state IN ('active', 'draining', 'down', 'banned')),
    state_at        timestamptz,
    availability    float8 CHECK (availability BETWEEN 0 AND 1),
    availability_at timestamptz,
    PRIMARY KEY (node_id, origin)
);

-- The resolved node: the record with the greatest (seq, recorded_at, origin);
-- the state is the operators' latest decision, except that a node marked
-- 'down' that has announced itself since (a signed record recorded after the
-- decision) is back to its declared state, and that 'active' defers to the
-- node's own 'draining'.  'banned' and an
-- operator's 'draining' hold until an operator says otherwise.
CREATE VIEW dht.nodes AS
SELECT r.node_id, r.pubkey, r.endpoint, r.region, r.operator, r.addr,
       r.bandwidth_mbps, r.storage_gb, r.weight,
       CASE
           WHEN d.state IN ('banned', 'draining') THEN d.state
           WHEN d.state = 'down' AND NOT (r.doc IS NOT NULL AND r.recorded_at > d.state_at) THEN 'down'
           ELSE r.declared_state
       END AS state,
       a.availability,                 -- NULL until measured
       r.recorded_at AS last_seen, r.seq, r.origin
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
      ORDER BY s.availability_at DESC, s.origin DESC LIMIT 1) a ON true;
COMMENT ON VIEW dht.nodes IS 'service nodes: resolved records and states';

---------------------------------------------------------------------------
-- Epochs: epoch 0 (seed of 32 zero bytes) exists on every anchor from the start.
CREATE TABLE dht.epoch_log (
    epoch       bigint NOT NULL CHECK (epoch >= 0),
    origin      text NOT NULL,
    seed        bytea NOT NULL CHECK (length(seed) = 32),
    event_at    timestamptz NOT NULL,
    PRIMARY KEY (epoch, origin)
);
INSERT INTO dht.epoch_log VALUES (0, 'genesis', '\x0000000000000000000000000000000000000000000000000000000000000000', '-infinity');

CREATE VIEW dht.epochs AS
SELECT epoch, seed, event_at AS began_at, origin
FROM (SELECT DISTINCT ON (epoch) *
      FROM dht.epoch_log
      ORDER BY epoch, event_at DESC, origin DESC) e;
COMMENT ON VIEW dht.epochs IS 'placement epochs and their seeds; new allocations use the greatest';

-- pg_dump keeps the rows (not epoch 0, which the extension script creates).
SELECT pg_catalog.pg_extension_config_dump('dht.anchor_self', '');
SELECT pg_catalog.pg_extension_config_dump('dht.sla_log', '');
SELECT pg_catalog.pg_extension_config_dump('dht.node_log', '');
SELECT pg_catalog.pg_extension_config_dump('dht.node_state_log', '');
SELECT pg_catalog.pg_extension_config_dump('dht.epoch_log', $$WHERE origin <> 'genesis'$$);

GRANT EXECUTE ON FUNCTION dht.local_origin() TO dht_reader;
