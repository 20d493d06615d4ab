-- The registry's write API: SLA classes, nodes (operator path and signed
-- announcements), node states and epochs.  Every function writes only rows of
-- this anchor's origin, through SECURITY DEFINER with a pinned search_path.
-- (CREATE OR REPLACE throughout: the upgrade from 0.1.0 runs this file again.)

-- Signature check used by dht.announce (src/signing.c).
CREATE OR REPLACE FUNCTION dht.ed25519_verify(message bytea, signature bytea, pubkey bytea) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ed25519_verify(bytea, bytea, bytea) IS 'whether signature is a valid Ed25519 signature of message by pubkey';

-- Raise 22023 with a message and an optional detail.
CREATE OR REPLACE FUNCTION dht._bad_parameter(message text, detail text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF detail IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = message;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = message, DETAIL = detail;
END $$;

-- Every change to the registry tells every backend to drop its cached
-- eligible-node sets (src/placement_sql.c); the trigger fires for local
-- writes and for rows applied by logical replication alike.
CREATE OR REPLACE FUNCTION dht._registry_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'registry_changed' LANGUAGE C;
CREATE OR REPLACE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON dht.sla_log
    FOR EACH ROW EXECUTE FUNCTION dht._registry_changed();
CREATE OR REPLACE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON dht.node_log
    FOR EACH ROW EXECUTE FUNCTION dht._registry_changed();
CREATE OR REPLACE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON dht.node_state_log
    FOR EACH ROW EXECUTE FUNCTION dht._registry_changed();
CREATE OR REPLACE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON dht.epoch_log
    FOR EACH ROW EXECUTE FUNCTION dht._registry_changed();
CREATE OR REPLACE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON dht.anchor_self
    FOR EACH ROW EXECUTE FUNCTION dht._registry_changed();
CREATE OR REPLACE TRIGGER registry_changed_truncate AFTER TRUNCATE ON dht.node_log
    FOR EACH STATEMENT EXECUTE FUNCTION dht._registry_changed();
ALTER TABLE dht.sla_log ENABLE ALWAYS TRIGGER registry_changed;
ALTER TABLE dht.node_log ENABLE ALWAYS TRIGGER registry_changed;
ALTER TABLE dht.node_state_log ENABLE ALWAYS TRIGGER registry_changed;
ALTER TABLE dht.epoch_log ENABLE ALWAYS TRIGGER registry_changed;
ALTER TABLE dht.anchor_self ENABLE ALWAYS TRIGGER registry_changed;

---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION dht._check_node_args(endpoint text, region text, operator text, addr inet,
        bandwidth_mbps int, storage_gb bigint) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF endpoint IS NULL OR endpoint = '' OR length(endpoint) > 1024 THEN
        PERFORM dht._bad_parameter('endpoint must be a non-empty string of at most 1024 characters');
    END IF;
    IF region IS NULL OR region = '' OR length(region) > 255 THEN
        PERFORM dht._bad_parameter('region must be a non-empty string of at most 255 characters');
    END IF;
    IF operator IS NULL OR operator = '' OR length(operator) > 255 THEN
        PERFORM dht._bad_parameter('operator must be a non-empty string of at most 255 characters');
    END IF;
    IF addr IS NULL THEN
        PERFORM dht._bad_parameter('addr must not be NULL');
    END IF;
    IF bandwidth_mbps IS NULL OR bandwidth_mbps < 0 THEN
        PERFORM dht._bad_parameter('bandwidth_mbps must be 0 or more');
    END IF;
    IF storage_gb IS NULL OR storage_gb < 0 THEN
        PERFORM dht._bad_parameter('storage_gb must be 0 or more');
    END IF;
END $$;

CREATE OR REPLACE FUNCTION dht.register_node(pubkey bytea, endpoint text, region text, operator text,
        addr inet, bandwidth_mbps int, storage_gb bigint, weight float8 DEFAULT 1.0)
        RETURNS dht.key
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    id dht.key;
    cur record;
BEGIN
    IF pubkey IS NULL THEN
        PERFORM dht._bad_parameter('pubkey must not be NULL');
    END IF;
    id := dht.node_id(pubkey);
    PERFORM dht._check_node_args(endpoint, region, operator, addr, bandwidth_mbps, storage_gb);
    IF weight IS NULL OR NOT (weight >= 1e-6 AND weight <= 1e6) THEN
        PERFORM dht._bad_parameter(format('weight must be between 1e-6 and 1e6, not %s', coalesce(weight::text, 'NULL')));
    END IF;
    SELECT n.seq, n.declared_state, n.recorded_at INTO cur
    FROM dht.node_log n WHERE n.node_id = id
    ORDER BY n.seq DESC, n.recorded_at DESC, n.origin DESC LIMIT 1;
    INSERT INTO dht.node_log AS n (node_id, origin, pubkey, endpoint, region, operator, addr,
        bandwidth_mbps, storage_gb, weight, declared_state, seq, issued_at, recorded_at, doc, signature)
    VALUES (id, dht._write_origin(), pubkey, endpoint, region, operator, addr, bandwidth_mbps,
        storage_gb, weight, coalesce(cur.declared_state, 'active'), coalesce(cur.seq, 0), NULL,
        dht._next_event_at(cur.recorded_at), NULL, NULL)
    ON CONFLICT (node_id, origin) DO UPDATE SET
        endpoint = excluded.endpoint, region = excluded.region, operator = excluded.operator,
        addr = excluded.addr, bandwidth_mbps = excluded.bandwidth_mbps,
        storage_gb = excluded.storage_gb, weight = excluded.weight,
        declared_state = excluded.declared_state, seq = excluded.seq, issued_at = NULL,
        recorded_at = excluded.recorded_at, doc = NULL, signature = NULL;
    RETURN id;
END $$;
COMMENT ON FUNCTION dht.register_node(bytea, text, text, text, inet, int, bigint, float8) IS
    'register or update a service node (operator path); returns its node id';

---------------------------------------------------------------------------
-- A field of an announcement: present, of the right JSON type.
CREATE OR REPLACE FUNCTION dht._announce_field(doc jsonb, field text, kind text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF NOT doc ? field THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = format('Field "%s" is missing.', field);
    END IF;
    IF jsonb_typeof(doc -> field) <> kind
       OR (kind = 'number' AND (doc ->> field)::numeric <> trunc((doc ->> field)::numeric)) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = format('Field "%s" must be %s.', field,
                            CASE kind WHEN 'number' THEN 'an integer' ELSE 'a string' END);
    END IF;
    RETURN doc -> field;
END $$;

CREATE OR REPLACE FUNCTION dht._announce_int(doc jsonb, field text, lo numeric, hi numeric) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    v numeric := (dht._announce_field(doc, field, 'number') #>> '{}')::numeric;
BEGIN
    IF v < lo OR v > hi THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = format('Field "%s" must be between %s and %s.', field, lo, hi);
    END IF;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION dht._announce_doc(doc bytea) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    j jsonb;
BEGIN
    BEGIN
        j := convert_from(doc, 'UTF8')::jsonb;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = 'The document is not UTF-8 JSON: ' || SQLERRM;
    END;
    IF jsonb_typeof(j) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = 'The document must be a JSON object.';
    END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION dht.announce(doc bytea, signature bytea) RETURNS dht.key
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    j jsonb;
    pk bytea;
    id dht.key;
    network text;
    seq bigint;
    issued bigint;
    skew float8;
    addr inet;
    state text := 'active';
    cur record;
BEGIN
    IF doc IS NULL OR signature IS NULL THEN
        PERFORM dht._bad_parameter('announcement and signature must not be NULL');
    END IF;
    IF length(signature) <> 64 THEN
        PERFORM dht._bad_parameter('invalid announcement signature',
            format('An Ed25519 signature is 64 bytes, not %s.', length(signature)));
    END IF;
    j := dht._announce_doc(doc);
    IF (dht._announce_field(j, 'pubkey', 'string') #>> '{}') !~ '^[0-9a-fA-F]{64}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = 'Field "pubkey" must be 64 hex digits.';
    END IF;
    pk := decode(j ->> 'pubkey', 'hex');
    IF NOT dht.ed25519_verify('smartlayer_dht/announce/v1'::bytea || '\x00'::bytea || doc, signature, pk) THEN
        PERFORM dht._bad_parameter('invalid announcement signature',
            'The signature does not verify against the announced pubkey.');
    END IF;
    network := dht._announce_field(j, 'network', 'string') #>> '{}';
    IF network IS DISTINCT FROM current_setting('smartlayer_dht.network') THEN
        PERFORM dht._bad_parameter(format('announcement is for network %L', network),
            format('This anchor serves network %L (smartlayer_dht.network).', current_setting('smartlayer_dht.network')));
    END IF;
    seq := dht._announce_int(j, 'seq', 0, 9223372036854775807);
    issued := dht._announce_int(j, 'issued_at', 0, 253402300799);
    skew := extract(epoch FROM clock_timestamp()) - issued;
    IF abs(skew) > 300 THEN
        PERFORM dht._bad_parameter('announcement issued_at is outside the accepted window',
            format('It was issued %s s %s this anchor''s clock; at most 300 s are accepted.',
                   round(abs(skew)::numeric), CASE WHEN skew < 0 THEN 'ahead of' ELSE 'behind' END));
    END IF;
    PERFORM dht._check_node_args(dht._announce_field(j, 'endpoint', 'string') #>> '{}',
        dht._announce_field(j, 'region', 'string') #>> '{}',
        dht._announce_field(j, 'operator', 'string') #>> '{}', '0.0.0.0'::inet, 0, 0);
    BEGIN
        addr := (dht._announce_field(j, 'addr', 'string') #>> '{}')::inet;
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
            MESSAGE = 'malformed node announcement',
            DETAIL = format('Field "addr" is not an IP address: %s', j ->> 'addr');
    END;
    PERFORM dht._announce_int(j, 'bandwidth_mbps', 0, 2147483647);
    PERFORM dht._announce_int(j, 'storage_gb', 0, 9223372036854775807);
    IF j ? 'state' THEN
        state := dht._announce_field(j, 'state', 'string') #>> '{}';
        IF state NOT IN ('active', 'draining') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_text_representation',
                MESSAGE = 'malformed node announcement',
                DETAIL = 'Field "state" must be "active" or "draining".';
        END IF;
    END IF;
    id := dht.node_id(pk);
    PERFORM pg_advisory_xact_lock(hashtextextended('smartlayer_dht/node/' || id::text, 0));
    SELECT n.seq, n.weight, n.recorded_at INTO cur
    FROM dht.node_log n WHERE n.node_id = id
    ORDER BY n.seq DESC, n.recorded_at DESC, n.origin DESC LIMIT 1;
    IF cur.seq IS NOT NULL AND seq <= cur.seq THEN
        PERFORM dht._bad_parameter('stale node announcement',
            format('Its seq %s is not above the stored seq %s.', seq, cur.seq));
    END IF;
    INSERT INTO dht.node_log AS n (node_id, origin, pubkey, endpoint, region, operator, addr,
        bandwidth_mbps, storage_gb, weight, declared_state, seq, issued_at, recorded_at, doc, signature)
    VALUES (id, dht._write_origin(), pk, j ->> 'endpoint', j ->> 'region', j ->> 'operator', addr,
        (j ->> 'bandwidth_mbps')::int, (j ->> 'storage_gb')::bigint, coalesce(cur.weight, 1.0),
        state, seq, to_timestamp(issued),
        dht._next_event_at(greatest(cur.recorded_at,
            (SELECT max(s.state_at) FROM dht.node_state_log s WHERE s.node_id = id))), doc, signature)
    ON CONFLICT (node_id, origin) DO UPDATE SET
        pubkey = excluded.pubkey, endpoint = excluded.endpoint, region = excluded.region,
        operator = excluded.operator, addr = excluded.addr, bandwidth_mbps = excluded.bandwidth_mbps,
        storage_gb = excluded.storage_gb, weight = excluded.weight,
        declared_state = excluded.declared_state, seq = excluded.seq, issued_at = excluded.issued_at,
        recorded_at = excluded.recorded_at, doc = excluded.doc, signature = excluded.signature;
    RETURN id;
END $$;
COMMENT ON FUNCTION dht.announce(bytea, bytea) IS
    'record a node''s own Ed25519-signed announcement; returns its node id';

---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION dht._require_node(id dht.key) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF id IS NULL OR NOT EXISTS (SELECT 1 FROM dht.node_log n WHERE n.node_id = id) THEN
        PERFORM dht._bad_parameter(format('node %s is not registered', coalesce(id::text, 'NULL')));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION dht.set_node_state(node_id dht.key, state text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    PERFORM dht._require_node(node_id);
    IF state IS NULL OR state NOT IN ('active', 'draining', 'down', 'banned') THEN
        PERFORM dht._bad_parameter(format('invalid node state %L', state),
            'A node state is one of active, draining, down, banned.');
    END IF;
    INSERT INTO dht.node_state_log AS s (node_id, origin, state, state_at)
    VALUES (node_id, dht._write_origin(), state,
        dht._next_event_at(greatest(
            (SELECT max(l.state_at) FROM dht.node_state_log l WHERE l.node_id = set_node_state.node_id),
            (SELECT max(l.recorded_at) FROM dht.node_log l WHERE l.node_id = set_node_state.node_id))))
    ON CONFLICT ON CONSTRAINT node_state_log_pkey DO UPDATE SET
        state = excluded.state, state_at = excluded.state_at;
END $$;
COMMENT ON FUNCTION dht.set_node_state(dht.key, text) IS
    'an operator''s decision on a node: active, draining, down or banned';

CREATE OR REPLACE FUNCTION dht.set_node_availability(node_id dht.key, availability float8) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    PERFORM dht._require_node(node_id);
    IF availability IS NULL OR NOT (availability BETWEEN 0 AND 1) THEN
        PERFORM dht._bad_parameter('availability must be between 0 and 1');
    END IF;
    INSERT INTO dht.node_state_log AS s (node_id, origin, availability, availability_at)
    VALUES (node_id, dht._write_origin(), availability,
        dht._next_event_at((SELECT max(l.availability_at) FROM dht.node_state_log l
                            WHERE l.node_id = set_node_availability.node_id)))
    ON CONFLICT ON CONSTRAINT node_state_log_pkey DO UPDATE SET
        availability = excluded.availability, availability_at = excluded.availability_at;
END $$;
COMMENT ON FUNCTION dht.set_node_availability(dht.key, float8) IS
    'record a node''s measured availability (fraction of time up)';

---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION dht.begin_epoch(seed bytea) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp AS $$
DECLARE
    new_epoch bigint;
BEGIN
    IF seed IS NULL OR length(seed) <> 32 THEN
        PERFORM dht._bad_parameter('invalid epoch seed',
            format('A seed is 32 bytes (a beacon such as a block hash), not %s.', coalesce(length(seed)::text, 'NULL')));
    END IF;
    LOCK TABLE dht.epoch_log IN SHARE ROW EXCLUSIVE MODE;
    new_epoch := (SELECT max(epoch) + 1 FROM dht.epoch_log);
    INSERT INTO dht.epoch_log (epoch, origin, seed, event_at)
    VALUES (new_epoch, dht._write_origin(), seed, clock_timestamp());
    RETURN new_epoch;
END $$;
COMMENT ON FUNCTION dht.begin_epoch(bytea) IS
    'start a placement epoch with a 32-byte beacon seed; returns its number';

GRANT EXECUTE ON FUNCTION dht.announce(bytea, bytea) TO dht_writer;
GRANT EXECUTE ON FUNCTION dht.ed25519_verify(bytea, bytea, bytea) TO dht_reader;
