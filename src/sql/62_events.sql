-- Events on a token and repair (src/events.c, src/repair.c).

CREATE FUNCTION dht.release(token dht.token) RETURNS boolean
    AS 'MODULE_PATHNAME', 'dht_release' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.release(dht.token) IS
    'forget an allocated token and its holders; false if it is not allocated';

CREATE FUNCTION dht.confirm(token dht.token, shard int, node_id dht.key) RETURNS void
    AS 'MODULE_PATHNAME', 'dht_confirm' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.confirm(dht.token, int, dht.key) IS
    'the node now holds the shard: it becomes active and the holders it replaces are dropped';

CREATE FUNCTION dht.confirm(token dht.token, shard int, node_id dht.key, digest bytea) RETURNS void
    AS 'MODULE_PATHNAME', 'dht_confirm' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.confirm(dht.token, int, dht.key, bytea) IS
    'dht.confirm, also recording the BLAKE2b-256 digest of the fragment the node holds';

---------------------------------------------------------------------------
-- Repair.  What can break a placement rule is queued (local, derived, not
-- replicated): nodes whose record, state or availability changed, SLA
-- classes that were redefined, tokens whose rows from several anchors
-- replication merged, and origins an initial copy brought (their merged
-- tokens are found in one pass).  dht.repair_plan() checks those and every node that
-- is not active; dht.repair() clears what it settled.
CREATE SEQUENCE dht.repair_queue_version;
CREATE TABLE dht.repair_queue (
    kind        "char" NOT NULL CHECK (kind IN ('n', 'c', 't', 'o')),  -- node ref, class, token, copied origin
    item        text NOT NULL,
    version     bigint NOT NULL DEFAULT pg_catalog.nextval('dht.repair_queue_version'),
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (kind, item)
);
COMMENT ON TABLE dht.repair_queue IS 'what dht.repair_plan() must re-check: changed nodes, redefined classes, merged tokens';

CREATE FUNCTION dht._enqueue(kind "char", item text) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    INSERT INTO dht.repair_queue AS q (kind, item) VALUES ($1, $2)
    ON CONFLICT (kind, item) DO UPDATE
        SET version = pg_catalog.nextval('dht.repair_queue_version'), queued_at = pg_catalog.now()
$$;

-- A node's record, when what placement rules compare changed (not its seq
-- alone), and its state or measured availability: only nodes that hold
-- something (one GIN probe), since nothing else can break a placement.
CREATE FUNCTION dht._holds_anything(node_id dht.key) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT EXISTS (SELECT FROM dht.token_log t WHERE t.holders OPERATOR(dht.@>) $1) $$;
CREATE FUNCTION dht._queue_node_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF (TG_OP = 'INSERT'
        OR (OLD.region, OLD.operator, OLD.addr, OLD.bandwidth_mbps, OLD.storage_gb, OLD.declared_state)
           IS DISTINCT FROM
           (NEW.region, NEW.operator, NEW.addr, NEW.bandwidth_mbps, NEW.storage_gb, NEW.declared_state))
       AND dht._holds_anything(NEW.node_id) THEN
        PERFORM dht._enqueue('n', dht.node_ref_of(NEW.node_id)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION dht._queue_node_state_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF dht._holds_anything(NEW.node_id) THEN
        PERFORM dht._enqueue('n', dht.node_ref_of(NEW.node_id)::text);
    END IF;
    RETURN NULL;
END $$;
-- A class whose definition changed: a new class has no tokens yet, and a
-- row that only changes hands (dht.anchor_init renames 'local') changes
-- nothing.
CREATE FUNCTION dht._queue_class_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM dht.sla_log l
               WHERE l.name = NEW.name AND (l.origin <> NEW.origin OR TG_OP = 'UPDATE')
                 AND (l.data_shards, l.parity_shards, l.target_availability, l.min_bandwidth_mbps,
                      l.min_storage_gb, l.min_availability, l.diversity, l.regions, l.coding, l.symbols_per_holder)
                     IS DISTINCT FROM
                     (NEW.data_shards, NEW.parity_shards, NEW.target_availability, NEW.min_bandwidth_mbps,
                      NEW.min_storage_gb, NEW.min_availability, NEW.diversity, NEW.regions, NEW.coding, NEW.symbols_per_holder))
       OR (TG_OP = 'UPDATE'
           AND (OLD.data_shards, OLD.parity_shards, OLD.target_availability, OLD.min_bandwidth_mbps,
                OLD.min_storage_gb, OLD.min_availability, OLD.diversity, OLD.regions, OLD.coding, OLD.symbols_per_holder)
               IS DISTINCT FROM
               (NEW.data_shards, NEW.parity_shards, NEW.target_availability, NEW.min_bandwidth_mbps,
                NEW.min_storage_gb, NEW.min_availability, NEW.diversity, NEW.regions, NEW.coding, NEW.symbols_per_holder)) THEN
        PERFORM dht._enqueue('c', NEW.name);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER queue_node_change AFTER INSERT OR UPDATE ON dht.node_log
    FOR EACH ROW EXECUTE FUNCTION dht._queue_node_change();
CREATE TRIGGER queue_node_change AFTER INSERT OR UPDATE ON dht.node_state_log
    FOR EACH ROW EXECUTE FUNCTION dht._queue_node_state_change();
CREATE TRIGGER queue_class_change AFTER INSERT OR UPDATE ON dht.sla_log
    FOR EACH ROW EXECUTE FUNCTION dht._queue_class_change();
ALTER TABLE dht.node_log ENABLE ALWAYS TRIGGER queue_node_change;
ALTER TABLE dht.node_state_log ENABLE ALWAYS TRIGGER queue_node_change;
ALTER TABLE dht.sla_log ENABLE ALWAYS TRIGGER queue_class_change;

CREATE FUNCTION dht.repair_plan()
    RETURNS TABLE (token dht.token, shard integer, from_node dht.key, to_node dht.key, reason text)
    AS 'MODULE_PATHNAME', 'dht_repair_plan' LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.repair_plan() IS
    'every holder that breaks the rules now, and its minimal-movement replacement';

CREATE FUNCTION dht.repair(max_moves int DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'dht_repair' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp;
COMMENT ON FUNCTION dht.repair(int) IS
    'apply the repair plan: replacements become pending, the holders they replace retiring';

GRANT EXECUTE ON FUNCTION dht.release(dht.token), dht.confirm(dht.token, int, dht.key),
    dht.confirm(dht.token, int, dht.key, bytea) TO dht_writer;
