-- The registry: the same on every shard, since placement depends on it.
-- These calls go to each shard in turn (they are rare), each committing there
-- on its own; a shard that cannot be reached does not stop the others, and the
-- call then fails with an error naming the shards it missed.  register_node,
-- define_sla and set_node_state are idempotent: re-run the call once the shard
-- is back.  begin_epoch is not: run dht.begin_epoch with the same seed on the
-- shards that missed it.

CREATE FUNCTION dht_router._s_register_node(conninfo text, pubkey bytea, endpoint text, region text,
        operator text, addr inet, bandwidth_mbps integer, storage_gb bigint, weight float8)
    RETURNS dht.key LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT dht.register_node(pubkey, endpoint, region, operator, addr, bandwidth_mbps, storage_gb, weight);
$$;

CREATE FUNCTION dht_router._s_define_sla(conninfo text, name text, data_shards integer,
        parity_shards integer, min_bandwidth_mbps integer, min_storage_gb bigint,
        min_availability float8, diversity text, regions text[])
    RETURNS integer LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT 1 FROM dht.define_sla(name, data_shards, parity_shards, min_bandwidth_mbps,
        min_storage_gb, min_availability, diversity, regions);
$$;

CREATE FUNCTION dht_router._s_set_node_state(conninfo text, node_id dht.key, state text)
    RETURNS integer LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT 1 FROM dht.set_node_state(node_id, state);
$$;

CREATE FUNCTION dht_router._s_begin_epoch(conninfo text, seed bytea)
    RETURNS bigint LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT dht.begin_epoch(seed);
$$;

-- The error for a registry call that missed some shards.
CREATE FUNCTION dht_router._missed(what text, missed text[], errs text[]) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cardinality(missed) = 0 THEN
        RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'connection_failure',
        MESSAGE = format('dht_router.%s did not reach shard %s', what, array_to_string(missed, ', ')),
        DETAIL = array_to_string(errs, E'\n'),
        HINT = CASE WHEN what = 'begin_epoch'
            THEN 'The other shards began the epoch. Once the shard is back, run dht.begin_epoch with the same seed on it directly.'
            ELSE 'The other shards have it. The call is idempotent: run it again once the shard is back.' END;
END $$;

-- The shards, or an error when there are none.
CREATE FUNCTION dht_router._every_shard(OUT name text, OUT conninfo text) RETURNS SETOF record
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM dht_router.shards) THEN
        PERFORM dht_router._no_shards();
    END IF;
    RETURN QUERY SELECT s.name, s.conninfo FROM dht_router.shards s ORDER BY s.name;
END $$;

CREATE FUNCTION dht_router.register_node(pubkey bytea, endpoint text, region text, operator text,
        addr inet, bandwidth_mbps integer, storage_gb bigint, weight float8 DEFAULT 1.0)
    RETURNS dht.key LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    id dht.key;
    one dht.key;
    missed text[] := '{}';
    errs text[] := '{}';
BEGIN
    FOR s IN SELECT * FROM dht_router._every_shard() LOOP
        BEGIN
            one := dht_router._s_register_node(s.conninfo, pubkey, endpoint, region,
                operator, addr, bandwidth_mbps, storage_gb, weight);
            id := coalesce(id, one);
        EXCEPTION WHEN internal_error THEN
            IF SQLERRM NOT LIKE 'PL/Proxy function %' THEN RAISE; END IF;
            missed := missed || s.name;
            errs := errs || format('%s: %s', s.name, SQLERRM);
        END;
    END LOOP;
    PERFORM dht_router._missed('register_node', missed, errs);
    RETURN id;
END $$;
COMMENT ON FUNCTION dht_router.register_node(bytea, text, text, text, inet, integer, bigint, float8) IS
    'dht.register_node on every shard (idempotent: re-run it if a shard was missed)';

CREATE FUNCTION dht_router.define_sla(name text, data_shards integer, parity_shards integer,
        min_bandwidth_mbps integer DEFAULT 0, min_storage_gb bigint DEFAULT 0,
        min_availability float8 DEFAULT 0, diversity text DEFAULT 'operator',
        regions text[] DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    missed text[] := '{}';
    errs text[] := '{}';
BEGIN
    FOR s IN SELECT * FROM dht_router._every_shard() LOOP
        BEGIN
            PERFORM dht_router._s_define_sla(s.conninfo, define_sla.name, data_shards, parity_shards,
                min_bandwidth_mbps, min_storage_gb, min_availability, diversity, regions);
        EXCEPTION WHEN internal_error THEN
            IF SQLERRM NOT LIKE 'PL/Proxy function %' THEN RAISE; END IF;
            missed := missed || s.name;
            errs := errs || format('%s: %s', s.name, SQLERRM);
        END;
    END LOOP;
    PERFORM dht_router._missed('define_sla', missed, errs);
END $$;
COMMENT ON FUNCTION dht_router.define_sla(text, integer, integer, integer, bigint, float8, text, text[]) IS
    'dht.define_sla on every shard (idempotent: re-run it if a shard was missed)';

CREATE FUNCTION dht_router.set_node_state(node_id dht.key, state text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    missed text[] := '{}';
    errs text[] := '{}';
BEGIN
    FOR s IN SELECT * FROM dht_router._every_shard() LOOP
        BEGIN
            PERFORM dht_router._s_set_node_state(s.conninfo, node_id, state);
        EXCEPTION WHEN internal_error THEN
            IF SQLERRM NOT LIKE 'PL/Proxy function %' THEN RAISE; END IF;
            missed := missed || s.name;
            errs := errs || format('%s: %s', s.name, SQLERRM);
        END;
    END LOOP;
    PERFORM dht_router._missed('set_node_state', missed, errs);
END $$;
COMMENT ON FUNCTION dht_router.set_node_state(dht.key, text) IS
    'dht.set_node_state on every shard (idempotent: re-run it if a shard was missed)';

-- Every shard gets the same epoch number when they have seen the same
-- epochs; if they answer differently the call fails naming the numbers.
CREATE FUNCTION dht_router.begin_epoch(seed bytea) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    e bigint;
    epochs text[] := '{}';
    missed text[] := '{}';
    errs text[] := '{}';
BEGIN
    FOR s IN SELECT * FROM dht_router._every_shard() LOOP
        BEGIN
            e := dht_router._s_begin_epoch(s.conninfo, seed);
            epochs := epochs || format('%s: %s', s.name, e);
        EXCEPTION WHEN internal_error THEN
            IF SQLERRM NOT LIKE 'PL/Proxy function %' THEN RAISE; END IF;
            missed := missed || s.name;
            errs := errs || format('%s: %s', s.name, SQLERRM);
        END;
    END LOOP;
    PERFORM dht_router._missed('begin_epoch', missed, errs);
    IF (SELECT count(DISTINCT split_part(x, ': ', 2)) FROM unnest(epochs) x) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'data_exception',
            MESSAGE = 'the shards numbered the new epoch differently',
            DETAIL = array_to_string(epochs, ', '),
            HINT = 'A shard missed an earlier dht_router.begin_epoch: run the epochs it missed on it directly.';
    END IF;
    RETURN e;
END $$;
COMMENT ON FUNCTION dht_router.begin_epoch(bytea) IS
    'dht.begin_epoch on every shard; a shard that missed it gets it by dht.begin_epoch directly';

