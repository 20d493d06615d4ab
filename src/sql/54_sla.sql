-- SLA classes: the view of their latest definitions and the functions that
-- define them (src/registry_cache.c reads them; src/placement_sql.c sizes
-- parity by target).  A class codes its tokens with Reed-Solomon (any k of
-- its k + m fragments, liberasurecode) or with RaptorQ (RFC 6330, src/rq_*.c):
-- then data_shards is the number of holders whose symbols add up to a
-- source block's K = data_shards x symbols_per_holder source symbols, and
-- parity_shards the holders beyond them; each holder stores its own range of
-- ESIs, and a replacement gets a range nobody held (dht.placements shows
-- first_esi and esi_count).

CREATE VIEW dht.sla_classes AS
SELECT name, data_shards, parity_shards, min_bandwidth_mbps, min_storage_gb,
       min_availability, diversity, regions, target_availability,
       event_at AS defined_at, origin, coding, symbols_per_holder
FROM (SELECT DISTINCT ON (name) *
      FROM dht.sla_log
      ORDER BY name, event_at DESC, origin DESC) s;
COMMENT ON VIEW dht.sla_classes IS 'SLA classes: the latest definition of each name';

CREATE FUNCTION dht._check_sla_args(name text, data_shards int, parity_shards int,
        min_bandwidth_mbps int, min_storage_gb bigint, min_availability float8,
        diversity text, regions text[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,63}$' THEN
        PERFORM dht._bad_parameter(format('invalid SLA class name %L', name),
            'A class name is 1 to 63 letters, digits, "_", "." or "-".');
    END IF;
    IF data_shards IS NULL OR data_shards < 1 OR data_shards > 255 THEN
        PERFORM dht._bad_parameter(format('data_shards must be between 1 and 255, not %s', coalesce(data_shards::text, 'NULL')));
    END IF;
    -- compared as 255 - data_shards: data_shards + parity_shards overflows int
    -- (22003 instead of this message) for a parity_shards near 2^31
    IF parity_shards IS NOT NULL AND (parity_shards < 0 OR parity_shards > 255 - data_shards) THEN
        PERFORM dht._bad_parameter(format('invalid shard counts %s + %s', data_shards, parity_shards),
            'parity_shards must be at least 0 and data_shards + parity_shards at most 255.');
    END IF;
    IF min_bandwidth_mbps IS NULL OR min_bandwidth_mbps < 0 THEN
        PERFORM dht._bad_parameter('min_bandwidth_mbps must be 0 or more');
    END IF;
    IF min_storage_gb IS NULL OR min_storage_gb < 0 THEN
        PERFORM dht._bad_parameter('min_storage_gb must be 0 or more');
    END IF;
    IF min_availability IS NULL OR NOT (min_availability BETWEEN 0 AND 1) THEN
        PERFORM dht._bad_parameter('min_availability must be between 0 and 1');
    END IF;
    IF diversity IS NULL OR diversity NOT IN ('none', 'operator', 'subnet', 'region') THEN
        PERFORM dht._bad_parameter(format('invalid diversity %L', diversity),
            'Diversity is one of none, operator, subnet, region.');
    END IF;
    IF regions IS NOT NULL AND (cardinality(regions) = 0 OR array_position(regions, NULL) IS NOT NULL) THEN
        PERFORM dht._bad_parameter('regions must be NULL (any region) or a non-empty array without NULLs');
    END IF;
END $$;

CREATE FUNCTION dht._put_sla(name text, data_shards int, parity_shards int, target float8,
        min_bandwidth_mbps int, min_storage_gb bigint, min_availability float8,
        diversity text, regions text[], coding text, symbols_per_holder int) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, dht, pg_temp AS $$
    INSERT INTO dht.sla_log AS s (name, origin, data_shards, parity_shards, target_availability,
        min_bandwidth_mbps, min_storage_gb, min_availability, diversity, regions, event_at,
        coding, symbols_per_holder)
    VALUES (name, dht._write_origin(), data_shards, parity_shards, target,
        min_bandwidth_mbps, min_storage_gb, min_availability, diversity, regions,
        dht._next_event_at((SELECT max(event_at) FROM dht.sla_log l WHERE l.name = _put_sla.name)),
        coding, symbols_per_holder)
    ON CONFLICT (name, origin) DO UPDATE SET
        data_shards = excluded.data_shards, parity_shards = excluded.parity_shards,
        target_availability = excluded.target_availability,
        min_bandwidth_mbps = excluded.min_bandwidth_mbps, min_storage_gb = excluded.min_storage_gb,
        min_availability = excluded.min_availability, diversity = excluded.diversity,
        regions = excluded.regions, event_at = excluded.event_at,
        coding = excluded.coding, symbols_per_holder = excluded.symbols_per_holder
$$;

-- Every definition: its checks, then the row.  parity_shards NULL means
-- sized by target (the *_by_target forms).
CREATE FUNCTION dht._define_sla(name text, data_shards int, parity_shards int, target float8,
        min_bandwidth_mbps int, min_storage_gb bigint, min_availability float8,
        diversity text, regions text[], coding text, symbols_per_holder int, by_target text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF parity_shards IS NULL AND target IS NULL THEN
        PERFORM dht._bad_parameter('parity_shards must not be NULL',
            format('Use dht.%s to size parity from node availability.', by_target));
    END IF;
    IF parity_shards IS NULL AND NOT (target > 0 AND target < 1) THEN
        PERFORM dht._bad_parameter('target_availability must be above 0 and below 1');
    END IF;
    PERFORM dht._check_sla_args(name, data_shards, parity_shards, min_bandwidth_mbps,
        min_storage_gb, min_availability, diversity, regions);
    IF coding = 'raptorq' THEN
        PERFORM dht._check_raptorq_args(data_shards, symbols_per_holder);
    END IF;
    PERFORM dht._put_sla(name, data_shards, parity_shards, target, min_bandwidth_mbps,
        min_storage_gb, min_availability, diversity, regions, coding, symbols_per_holder);
END $$;

CREATE FUNCTION dht.define_sla(name text, data_shards int, parity_shards int,
        min_bandwidth_mbps int DEFAULT 0, min_storage_gb bigint DEFAULT 0,
        min_availability float8 DEFAULT 0, diversity text DEFAULT 'operator',
        regions text[] DEFAULT NULL) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._define_sla(name, data_shards, parity_shards, NULL, min_bandwidth_mbps, min_storage_gb,
                                 min_availability, diversity, regions, 'reed-solomon', 1, 'define_sla_by_target') $$;
COMMENT ON FUNCTION dht.define_sla(text, int, int, int, bigint, float8, text, text[]) IS
    'define or redefine an SLA class; future allocations use it';

CREATE FUNCTION dht.define_sla_by_target(name text, data_shards int, target_availability float8,
        min_bandwidth_mbps int DEFAULT 0, min_storage_gb bigint DEFAULT 0,
        min_availability float8 DEFAULT 0, diversity text DEFAULT 'operator',
        regions text[] DEFAULT NULL) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._define_sla(name, data_shards, NULL, coalesce(target_availability, 'NaN'), min_bandwidth_mbps,
                                 min_storage_gb, min_availability, diversity, regions, 'reed-solomon', 1, NULL) $$;
COMMENT ON FUNCTION dht.define_sla_by_target(text, int, float8, int, bigint, float8, text, text[]) IS
    'define an SLA class whose parity is sized at allocation time from its nodes'' measured availability';

-- RaptorQ classes: K = data_shards x symbols_per_holder source symbols a
-- block.  An anchor paused for its upgrade still syncs SLA classes with
-- peers on 0.1.0, which would read a RaptorQ class as a Reed-Solomon one.
CREATE FUNCTION dht._check_raptorq_args(data_shards int, symbols_per_holder int) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, dht, pg_temp AS $$
BEGIN
    IF symbols_per_holder IS NULL OR symbols_per_holder < 1 OR symbols_per_holder > 65535 THEN
        PERFORM dht._bad_parameter(format('symbols_per_holder must be between 1 and 65535, not %s',
            coalesce(symbols_per_holder::text, 'NULL')));
    END IF;
    IF data_shards::bigint * symbols_per_holder > 56403 THEN
        PERFORM dht._bad_parameter(format('a RaptorQ class of %s x %s symbols exceeds 56403 source symbols a block',
                data_shards, symbols_per_holder),
            'RFC 6330 codes at most 56403 source symbols in one source block: use fewer data shards or symbols per holder.');
    END IF;
    IF EXISTS (SELECT FROM dht.anchor_self WHERE sync_paused) THEN
        RAISE EXCEPTION 'RaptorQ classes cannot be defined while this anchor''s sync is paused for an upgrade'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Peers still on smartlayer_dht 0.1.0 would read the class as a Reed-Solomon one.',
                  HINT = 'Upgrade every anchor, then CALL dht.anchor_resume() on each.';
    END IF;
END $$;

CREATE FUNCTION dht.define_sla_raptorq(name text, data_shards int, parity_shards int,
        symbols_per_holder int DEFAULT 1,
        min_bandwidth_mbps int DEFAULT 0, min_storage_gb bigint DEFAULT 0,
        min_availability float8 DEFAULT 0, diversity text DEFAULT 'operator',
        regions text[] DEFAULT NULL) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._define_sla(name, data_shards, parity_shards, NULL, min_bandwidth_mbps, min_storage_gb,
                                 min_availability, diversity, regions, 'raptorq', symbols_per_holder,
                                 'define_sla_raptorq_by_target') $$;
COMMENT ON FUNCTION dht.define_sla_raptorq(text, int, int, int, int, bigint, float8, text, text[]) IS
    'define or redefine an SLA class coded with RaptorQ: data_shards x symbols_per_holder source symbols, parity_shards more holders';

CREATE FUNCTION dht.define_sla_raptorq_by_target(name text, data_shards int, target_availability float8,
        symbols_per_holder int DEFAULT 1,
        min_bandwidth_mbps int DEFAULT 0, min_storage_gb bigint DEFAULT 0,
        min_availability float8 DEFAULT 0, diversity text DEFAULT 'operator',
        regions text[] DEFAULT NULL) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, dht, pg_temp
    AS $$ SELECT dht._define_sla(name, data_shards, NULL, coalesce(target_availability, 'NaN'), min_bandwidth_mbps,
                                 min_storage_gb, min_availability, diversity, regions, 'raptorq', symbols_per_holder, NULL) $$;
COMMENT ON FUNCTION dht.define_sla_raptorq_by_target(text, int, float8, int, int, bigint, float8, text, text[]) IS
    'define a RaptorQ SLA class whose holder count is sized at allocation time (dht.rq_plan_holders) from its nodes'' measured availability';
