-- smartlayer_dht_router 0.2.0: routes smartlayer_dht's calls to shard servers.
--
-- Design.  dht.bucket_of(token) (0..1023, frozen) is the unit of sharding.
-- dht_router.bucket_map maps each bucket to a shard; PL/Proxy's cluster 'dht'
-- has 1,024 partitions, partition i being the conninfo of bucket i's shard, so
-- "RUN ON dht.bucket_of(token)" (PL/Proxy takes value & (partitions - 1))
-- reaches the right shard with no hashing of ours.  PL/Proxy opens one
-- connection per distinct conninfo, so 1,024 partitions cost a connection per
-- shard, not per bucket.  The cluster 'dht_shards' has one partition per shard
-- (padded to a power of two by repeating the last shard; RUN ON ALL runs once
-- per distinct connection) for the calls that reach every shard.
-- dht_router.map_version is PL/Proxy's cluster version: every change to the
-- map bumps it and every router session re-reads the map on its next call.
\echo Use "CREATE EXTENSION smartlayer_dht_router" to load this file. \quit

CREATE TABLE dht_router.shards (
    name     text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    conninfo text NOT NULL UNIQUE CHECK (conninfo <> ''),
    added_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dht_router.shards IS 'the shard servers, each running smartlayer_dht';

CREATE TABLE dht_router.bucket_map (
    bucket integer PRIMARY KEY CHECK (bucket BETWEEN 0 AND 1023),
    shard  text NOT NULL REFERENCES dht_router.shards (name)
);
COMMENT ON TABLE dht_router.bucket_map IS 'which shard holds each of the 1,024 buckets of dht.bucket_of';

CREATE TABLE dht_router.map_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version integer NOT NULL
);
INSERT INTO dht_router.map_version VALUES (true, 0);
COMMENT ON TABLE dht_router.map_version IS 'bumped on every change to the map; PL/Proxy''s cluster version';

SELECT pg_catalog.pg_extension_config_dump('dht_router.shards', '');
SELECT pg_catalog.pg_extension_config_dump('dht_router.bucket_map', '');
SELECT pg_catalog.pg_extension_config_dump('dht_router.map_version', '');

---------------------------------------------------------------------------
-- PL/Proxy's configuration (schema plproxy, the names PL/Proxy calls).
CREATE SCHEMA IF NOT EXISTS plproxy;

CREATE FUNCTION dht_router._no_cluster(cluster_name text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('unknown PL/Proxy cluster %L', cluster_name),
        HINT = 'The router''s clusters are ''dht'' and ''dht_shards''.';
END $$;

CREATE FUNCTION dht_router._no_shards() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
        MESSAGE = 'the router has no shards',
        HINT = 'Add one with dht_router.add_shard(name, conninfo).';
END $$;

CREATE FUNCTION plproxy.get_cluster_partitions(cluster_name text) RETURNS SETOF text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    p integer;
BEGIN
    IF cluster_name = 'dht' THEN
        IF (SELECT count(*) FROM dht_router.bucket_map) <> 1024 THEN
            PERFORM dht_router._no_shards();
        END IF;
        RETURN QUERY SELECT s.conninfo FROM dht_router.bucket_map b
            JOIN dht_router.shards s ON s.name = b.shard ORDER BY b.bucket;
    ELSIF cluster_name = 'dht_shards' THEN
        SELECT count(*) INTO n FROM dht_router.shards;
        IF n = 0 THEN
            PERFORM dht_router._no_shards();
        END IF;
        p := 1;
        WHILE p < n LOOP p := p * 2; END LOOP;
        RETURN QUERY SELECT s.conninfo FROM generate_series(0, p - 1) g(i)
            JOIN (SELECT conninfo, row_number() OVER (ORDER BY name) - 1 AS k
                  FROM dht_router.shards) s ON s.k = least(g.i, n - 1)
            ORDER BY g.i;
    ELSE
        PERFORM dht_router._no_cluster(cluster_name);
    END IF;
END $$;

CREATE FUNCTION plproxy.get_cluster_version(cluster_name text) RETURNS integer
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cluster_name NOT IN ('dht', 'dht_shards') THEN
        PERFORM dht_router._no_cluster(cluster_name);
    END IF;
    RETURN (SELECT version FROM dht_router.map_version);
END $$;

-- disable_binary: values cross as text, so a shard whose binary formats
-- differ (another build) still reads them right.
CREATE FUNCTION plproxy.get_cluster_config(IN cluster_name text, OUT key text, OUT val text)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cluster_name NOT IN ('dht', 'dht_shards') THEN
        PERFORM dht_router._no_cluster(cluster_name);
    END IF;
    key := 'connection_lifetime'; val := '1800'; RETURN NEXT;
    key := 'disable_binary'; val := '1'; RETURN NEXT;
END $$;

---------------------------------------------------------------------------
-- The map.

-- Connects to conninfo and returns the version of smartlayer_dht there.
CREATE FUNCTION dht_router._probe(conninfo text) RETURNS text
    LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'smartlayer_dht')::text;
$$;

CREATE FUNCTION dht_router.add_shard(name text, conninfo text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v text;
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,63}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('invalid shard name %L', name),
            HINT = 'A shard name is 1 to 63 letters, digits, "_", "." or "-".';
    END IF;
    IF conninfo IS NULL OR conninfo = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('shard %s: conninfo must not be empty', name);
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.shards s WHERE s.name = add_shard.name) THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
            MESSAGE = format('shard %s already exists', name);
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.shards s WHERE s.conninfo = add_shard.conninfo) THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
            MESSAGE = format('shard %s already has this conninfo',
                (SELECT s.name FROM dht_router.shards s WHERE s.conninfo = add_shard.conninfo));
    END IF;
    BEGIN
        v := dht_router._probe(conninfo);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = 'connection_exception',
            MESSAGE = format('shard %s: cannot connect', name),
            DETAIL = SQLERRM;
    END;
    IF v IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('shard %s does not run smartlayer_dht', name),
            HINT = 'Run CREATE EXTENSION smartlayer_dht in the shard''s database first.';
    END IF;
    LOCK TABLE dht_router.bucket_map IN EXCLUSIVE MODE;
    INSERT INTO dht_router.shards (name, conninfo) VALUES (add_shard.name, add_shard.conninfo);
    -- The first shard holds every bucket; later shards get buckets by move_buckets.
    INSERT INTO dht_router.bucket_map (bucket, shard)
        SELECT b, add_shard.name FROM generate_series(0, 1023) b
        WHERE NOT EXISTS (SELECT 1 FROM dht_router.bucket_map);
    UPDATE dht_router.map_version SET version = version + 1;
END $$;
COMMENT ON FUNCTION dht_router.add_shard(text, text) IS
    'add a shard server (it must connect and run smartlayer_dht); the first shard holds all 1,024 buckets';

CREATE FUNCTION dht_router.shard_map() RETURNS TABLE (first_bucket integer, last_bucket integer, shard text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT min(bucket), max(bucket), m.shard
    FROM (SELECT b.bucket, b.shard,
                 b.bucket - row_number() OVER (PARTITION BY b.shard ORDER BY b.bucket) AS grp
          FROM dht_router.bucket_map b) m
    GROUP BY m.shard, m.grp
    ORDER BY 1;
$$;
COMMENT ON FUNCTION dht_router.shard_map() IS 'the bucket map as ranges of consecutive buckets';

CREATE FUNCTION dht_router.shard_for(token dht.token) RETURNS text
    LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT shard FROM dht_router.bucket_map WHERE bucket = dht.bucket_of(token);
$$;
COMMENT ON FUNCTION dht_router.shard_for(dht.token) IS
    'the shard that holds the token: connect there for an allocation atomic with your own rows';

-- Moving buckets online.  dht.token_log has a plain bucket column, so the
-- source shard publishes just the moving buckets (a PG 15 row filter) and
-- the target subscribes; while the copy runs and catches up, calls keep
-- going to the source.  Then a short write fence: the source's token_log is
-- locked in SHARE mode (writes wait, lookups answer) until the target's
-- digests of the moving buckets equal the source's, i.e. every committed
-- row is there; the map switches (committed at once, through a dblink
-- connection back to this router, so routers route to the target before the
-- fence lifts); a NOT VALID check constraint on the source then rejects any
-- write to the moved buckets for good (a call routed by the old map fails
-- and the application retries it: allocate is idempotent); the
-- subscription goes and the rows leave the source.  Row filters need the
-- filtered column in the replica identity for updates and deletes, so the
-- source's token_log has REPLICA IDENTITY FULL during a move.  Buckets that
-- hold no rows on the source skip the copy: the fence, a check that they
-- are still empty, the switch.  move_buckets commits on the shards as it
-- goes: call it on its own, not inside a transaction of yours.  A move that
-- fails is recorded as 'failed' in dht_router.moves; what it left (a
-- subscription dht_move_<id> on the target, a publication of that name on
-- the source, rows of the buckets on the target) is for the operator to
-- drop before moving those buckets again.

CREATE TABLE dht_router.moves (
    id           bigserial PRIMARY KEY,
    first_bucket integer NOT NULL,
    last_bucket  integer NOT NULL,
    from_shard   text NOT NULL,
    to_shard     text NOT NULL,
    state        text NOT NULL DEFAULT 'copying' CHECK (state IN ('copying', 'fenced', 'done', 'failed')),
    rows_moved   bigint,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
COMMENT ON TABLE dht_router.moves IS 'bucket moves, done and in progress (dht_router.move_status adds the replication lag)';
SELECT pg_catalog.pg_extension_config_dump('dht_router.moves', '');
SELECT pg_catalog.pg_extension_config_dump('dht_router.moves_id_seq', '');

-- A conninfo of this router's database, for writes that must commit at once
-- whatever the calling transaction does.
CREATE FUNCTION dht_router._self_conninfo() RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('host=%s port=%s dbname=%s user=%s',
                  split_part(current_setting('unix_socket_directories'), ',', 1),
                  current_setting('port'), quote_ident(current_database()), quote_ident(current_user))
$$;

-- The non-empty digests of buckets first..last on a shard, as one text.
CREATE FUNCTION dht_router._range_digest(conn text, first integer, last integer) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT d FROM dblink(conn, format(
        'SELECT coalesce(string_agg(bucket || '':'' || encode(digest, ''hex''), '','' ORDER BY bucket), '''')'
        ' FROM dht.bucket_digests() WHERE bucket BETWEEN %s AND %s'
        '   AND digest <> decode(repeat(''00'', 32), ''hex'')', first, last)) AS t(d text)
$$;

-- The target takes buckets first..last: drop its dht_moved_out_A_B
-- constraints (left by moves out of it) that cover them, keeping the parts
-- outside first..last.
CREATE FUNCTION dht_router._reopen(conn text, first integer, last integer) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT t.name, split_part(t.name, '_', 4)::integer AS a, split_part(t.name, '_', 5)::integer AS b
             FROM dblink(conn, 'SELECT conname::text FROM pg_constraint WHERE conrelid = ''dht.token_log''::regclass'
                               ' AND conname ~ ''^dht_moved_out_[0-9]+_[0-9]+$''') AS t(name text) LOOP
        CONTINUE WHEN c.b < first OR c.a > last;
        PERFORM dblink_exec(conn, format('ALTER TABLE dht.token_log DROP CONSTRAINT %I', c.name));
        IF c.a < first THEN
            PERFORM dblink_exec(conn, format('ALTER TABLE dht.token_log ADD CONSTRAINT %I'
                ' CHECK (bucket NOT BETWEEN %s AND %s) NOT VALID', 'dht_moved_out_' || c.a || '_' || (first - 1),
                c.a, first - 1));
        END IF;
        IF c.b > last THEN
            PERFORM dblink_exec(conn, format('ALTER TABLE dht.token_log ADD CONSTRAINT %I'
                ' CHECK (bucket NOT BETWEEN %s AND %s) NOT VALID', 'dht_moved_out_' || (last + 1) || '_' || c.b,
                last + 1, c.b));
        END IF;
    END LOOP;
END $$;

-- One range of one source shard to to_shard; the rows moved.
CREATE FUNCTION dht_router._move_range(first integer, last integer, src text, src_conn text,
        to_shard text, dst_conn text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    self text := dht_router._self_conninfo();
    move_id bigint;
    sub text;
    n bigint;
    switched boolean := false;
    empty boolean;
BEGIN
    IF EXISTS (SELECT 1 FROM dht_router.moves mv WHERE mv.state IN ('copying', 'fenced')
               AND (mv.from_shard IN (src, to_shard) OR mv.to_shard IN (src, to_shard))) THEN
        RAISE EXCEPTION USING ERRCODE = 'object_in_use',
            MESSAGE = format('a move between shards %s and %s is in progress', src, to_shard),
            HINT = 'See dht_router.move_status().';
    END IF;
    SELECT t.n = 0 INTO empty FROM dblink(src_conn, format(
        'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN %s AND %s', first, last)) AS t(n bigint);
    IF NOT empty AND dht_router._range_digest(dst_conn, first, last) <> '' THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = format('shard %s already has rows of buckets %s..%s', to_shard, first, last),
            HINT = 'A failed move left them (see dht_router.move_status()); delete them on that shard first.';
    END IF;

    -- recorded at once, so monitoring sees the move while it runs
    SELECT t.id INTO move_id FROM dblink(self, format(
        'INSERT INTO dht_router.moves (first_bucket, last_bucket, from_shard, to_shard) VALUES (%s, %s, %L, %L)'
        ' RETURNING id', first, last, src, to_shard)) AS t(id bigint);
    sub := format('dht_move_%s', move_id);
    BEGIN
        PERFORM dht_router._reopen(dst_conn, first, last);
        IF NOT empty THEN
            -- copy and follow
            PERFORM dblink_exec(src_conn, 'ALTER TABLE dht.token_log REPLICA IDENTITY FULL');
            PERFORM dblink_exec(src_conn, format(
                'CREATE PUBLICATION %I FOR TABLE dht.token_log WHERE (bucket BETWEEN %s AND %s)'
                ' WITH (publish = ''insert, update, delete'')', sub, first, last));
            PERFORM dblink_exec(dst_conn, format(
                'CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I', sub, src_conn, sub));
        END IF;

        -- the write fence
        PERFORM dblink_connect('dht_router_fence', src_conn);
        BEGIN
            PERFORM dblink_exec('dht_router_fence', 'BEGIN');
            PERFORM dblink_exec('dht_router_fence', 'LOCK TABLE dht.token_log IN SHARE MODE');
            PERFORM dblink_exec(self, format('UPDATE dht_router.moves SET state = ''fenced'' WHERE id = %s', move_id));
            IF empty THEN
                SELECT t.n INTO n FROM dblink('dht_router_fence', format(
                    'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN %s AND %s', first, last)) AS t(n bigint);
                IF n > 0 THEN
                    RAISE EXCEPTION USING ERRCODE = 'object_in_use',
                        MESSAGE = format('buckets %s..%s on shard %s took rows while the move began', first, last, src),
                        HINT = 'Run the move again: it copies them.';
                END IF;
            ELSE
                WHILE dht_router._range_digest(dst_conn, first, last) IS DISTINCT FROM
                      dht_router._range_digest('dht_router_fence', first, last) LOOP
                    PERFORM pg_sleep(0.01);
                END LOOP;
            END IF;
            -- the switch, committed before the fence lifts
            PERFORM dblink_exec(self, format(
                'UPDATE dht_router.bucket_map SET shard = %L WHERE bucket BETWEEN %s AND %s;'
                ' UPDATE dht_router.map_version SET version = version + 1', to_shard, first, last));
            switched := true;
            -- (another router over these shards may have moved them already)
            IF NOT EXISTS (SELECT 1 FROM dblink('dht_router_fence', format(
                    'SELECT 1 FROM pg_constraint WHERE conrelid = ''dht.token_log''::regclass AND conname = %L',
                    'dht_moved_out_' || first || '_' || last)) AS t(one integer)) THEN
                PERFORM dblink_exec('dht_router_fence', format(
                    'ALTER TABLE dht.token_log ADD CONSTRAINT %I CHECK (bucket NOT BETWEEN %s AND %s) NOT VALID',
                    'dht_moved_out_' || first || '_' || last, first, last));
            END IF;
            PERFORM dblink_exec('dht_router_fence', 'COMMIT');
            PERFORM dblink_disconnect('dht_router_fence');
        EXCEPTION WHEN OTHERS THEN
            PERFORM dblink_disconnect('dht_router_fence');
            RAISE;
        END;

        -- after the switch: the copy stops and the rows leave the source
        n := 0;
        IF NOT empty THEN
            PERFORM dblink_exec(dst_conn, format('DROP SUBSCRIPTION %I', sub));
            PERFORM dblink_exec(src_conn, format('DROP PUBLICATION %I', sub));
            SELECT t.n INTO n FROM dblink(src_conn, format(
                'WITH d AS (DELETE FROM dht.token_log WHERE bucket BETWEEN %s AND %s RETURNING 1) SELECT count(*) FROM d',
                first, last)) AS t(n bigint);
            PERFORM dblink_exec(src_conn, 'ALTER TABLE dht.token_log REPLICA IDENTITY DEFAULT');
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- switched: the move itself is done, the clean-up of the source is not
        PERFORM dblink_exec(self, format(
            'UPDATE dht_router.moves SET state = %L, finished_at = now() WHERE id = %s',
            CASE WHEN switched THEN 'done' ELSE 'failed' END, move_id));
        RAISE;
    END;
    PERFORM dblink_exec(self, format(
        'UPDATE dht_router.moves SET state = ''done'', rows_moved = %s, finished_at = now() WHERE id = %s',
        n, move_id));
    RETURN n;
END $$;

-- As the owner (a superuser): dblink connects without a password only for
-- superusers.  It connects only to the registered shards and this router.
CREATE FUNCTION dht_router.move_buckets(first integer, last integer, to_shard text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    s record;
    dst_conn text;
    total bigint := 0;
BEGIN
    IF first IS NULL OR last IS NULL OR first < 0 OR last > 1023 OR first > last THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('invalid bucket range %s..%s', coalesce(first::text, 'NULL'),
                coalesce(last::text, 'NULL')),
            HINT = 'Buckets are 0 to 1023, the first no greater than the last.';
    END IF;
    SELECT sh.conninfo INTO dst_conn FROM dht_router.shards sh WHERE sh.name = to_shard;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('shard %s does not exist', coalesce(to_shard, 'NULL')),
            HINT = 'Add it with dht_router.add_shard(name, conninfo).';
    END IF;
    IF EXISTS (SELECT 1 FROM dht_router.bucket_map b
               WHERE b.bucket BETWEEN first AND last AND b.shard = to_shard) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('shard %s already holds buckets of %s..%s', to_shard, first, last),
            DETAIL = format('It holds %s.', (SELECT string_agg(format('%s..%s', m.first_bucket, m.last_bucket), ', ')
                FROM dht_router.shard_map() m WHERE m.shard = to_shard
                AND m.first_bucket <= last AND m.last_bucket >= first));
    END IF;
    -- one move at a time from this router (a move's checks read the moves table)
    PERFORM pg_advisory_xact_lock(hashtext('dht_router.move_buckets'));
    -- every shard concerned answers before anything changes
    FOR s IN SELECT DISTINCT b.shard AS sname, sh.conninfo AS sconn FROM dht_router.bucket_map b
             JOIN dht_router.shards sh ON sh.name = b.shard WHERE b.bucket BETWEEN first AND last
             UNION SELECT to_shard, dst_conn ORDER BY 1 LOOP
        BEGIN
            PERFORM dht_router._probe(s.sconn);
        EXCEPTION WHEN OTHERS THEN
            PERFORM dht_router._shard_failed(ARRAY[s.sname], SQLERRM);
        END;
    END LOOP;
    -- one online move per range of consecutive buckets of one shard
    FOR s IN SELECT greatest(m.first_bucket, first) AS lo, least(m.last_bucket, last) AS hi,
                    m.shard AS sname, sh.conninfo AS sconn
             FROM dht_router.shard_map() m JOIN dht_router.shards sh ON sh.name = m.shard
             WHERE m.first_bucket <= last AND m.last_bucket >= first ORDER BY 1 LOOP
        total := total + dht_router._move_range(s.lo, s.hi, s.sname, s.sconn, to_shard, dst_conn);
    END LOOP;
    RETURN total;
END $$;
COMMENT ON FUNCTION dht_router.move_buckets(integer, integer, text) IS
    'move buckets first..last online to to_shard (logical replication, a short write fence, the map switch); the rows moved';

-- The moves with the replication lag of those in progress (bytes of the
-- source's WAL the target's subscription has not confirmed).
CREATE FUNCTION dht_router.move_status(OUT id bigint, OUT first_bucket integer, OUT last_bucket integer,
        OUT from_shard text, OUT to_shard text, OUT state text, OUT rows_moved bigint,
        OUT lag_bytes numeric, OUT started_at timestamptz, OUT finished_at timestamptz)
    RETURNS SETOF record
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    mv record;
BEGIN
    FOR mv IN SELECT m.*, s.conninfo AS src FROM dht_router.moves m
                JOIN dht_router.shards s ON s.name = m.from_shard ORDER BY m.id LOOP
        id := mv.id; first_bucket := mv.first_bucket; last_bucket := mv.last_bucket;
        from_shard := mv.from_shard; to_shard := mv.to_shard; state := mv.state;
        rows_moved := mv.rows_moved; started_at := mv.started_at; finished_at := mv.finished_at;
        lag_bytes := NULL;
        IF mv.state IN ('copying', 'fenced') THEN
            BEGIN
                SELECT t.lag INTO lag_bytes FROM dblink(mv.src || ' connect_timeout=5', format(
                    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)'
                    ' FROM pg_replication_slots WHERE slot_name = %L', 'dht_move_' || mv.id)) AS t(lag numeric);
            EXCEPTION WHEN OTHERS THEN
                lag_bytes := NULL;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION dht_router.move_status() IS
    'bucket moves, done and in progress, with the replication lag (bytes) of those in progress';

---------------------------------------------------------------------------
-- Calls for one token: to the shard of its bucket.  PL/Proxy runs each call
-- on the shard in autocommit: it commits there on its own.  The _p_
-- functions are the PL/Proxy calls; the public ones wrap them so that a shard
-- that cannot be reached is named in the error (PL/Proxy names the database
-- only), and pass every error of the shard's own through unchanged.

-- A PL/Proxy failure (not an error raised by the shard) as an error naming
-- the shards.
CREATE FUNCTION dht_router._shard_failed(shards text[], message text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'connection_failure',
        MESSAGE = format('shard %s cannot be reached', array_to_string(shards, ', ')),
        DETAIL = message,
        HINT = 'Calls for the buckets of other shards are not affected; retry once it is back.';
END $$;

-- Which of these shards do not answer now (for a call that reached several).
-- As the owner: it connects only to registered shards and reads one
-- catalog row there, so callers need no right to connect anywhere they like
-- (dht_router._probe, which takes any conninfo, is for dht_admin only).
CREATE FUNCTION dht_router._unreachable(shards text[]) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    down text[] := '{}';
BEGIN
    FOR s IN SELECT sh.name AS sname, sh.conninfo AS sconn FROM dht_router.shards sh
             WHERE sh.name = ANY (shards) ORDER BY sh.name LOOP
        BEGIN
            PERFORM dht_router._probe(s.sconn);
        EXCEPTION WHEN OTHERS THEN
            down := down || s.sname;
        END;
    END LOOP;
    IF cardinality(down) = 0 THEN
        RETURN shards;      -- it came back meanwhile: name every candidate
    END IF;
    RETURN down;
END $$;

CREATE FUNCTION dht_router._p_allocate(token dht.token, sla text)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.allocate;
$$;

CREATE FUNCTION dht_router._p_lookup(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text, state text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.lookup;
$$;

CREATE FUNCTION dht_router._p_route(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.route;
$$;

CREATE FUNCTION dht_router._p_release(token dht.token) RETURNS boolean
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    RUN ON dht.bucket_of(token);
    TARGET dht.release;
$$;

-- SPLIT: PL/Proxy evaluates the RUN ON expression for each element and sends
-- each shard one call with its elements, the shards in parallel (checked:
-- partitions that share a conninfo share one call).
CREATE FUNCTION dht_router._p_allocate_many(tokens dht.token[], sla text)
    RETURNS TABLE (token dht.token, shard integer, node_id dht.key, endpoint text)
    LANGUAGE plproxy AS $$
    CLUSTER 'dht';
    SPLIT tokens;
    RUN ON dht.bucket_of(tokens);
    TARGET dht.allocate_many;
$$;

CREATE FUNCTION dht_router.allocate(token dht.token, sla text)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plpgsql ROWS 16 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_allocate(allocate.token, allocate.sla);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(allocate.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.allocate(dht.token, text) IS
    'dht.allocate on the token''s shard (commits there on its own; idempotent, so retry on error)';

CREATE FUNCTION dht_router.lookup(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text, state text)
    LANGUAGE plpgsql STRICT ROWS 16 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_lookup(lookup.token);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(lookup.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.lookup(dht.token) IS 'dht.lookup on the token''s shard';

CREATE FUNCTION dht_router.route(token dht.token)
    RETURNS TABLE (shard integer, node_id dht.key, endpoint text)
    LANGUAGE plpgsql STRICT ROWS 1 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_route(route.token);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(route.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.route(dht.token) IS 'dht.route on the token''s shard';

CREATE FUNCTION dht_router.release(token dht.token) RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN dht_router._p_release(release.token);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(ARRAY[dht_router.shard_for(release.token)], SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.release(dht.token) IS 'dht.release on the token''s shard';

CREATE FUNCTION dht_router.allocate_many(tokens dht.token[], sla text)
    RETURNS TABLE (token dht.token, shard integer, node_id dht.key, endpoint text)
    LANGUAGE plpgsql ROWS 1000 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM dht_router._p_allocate_many(allocate_many.tokens, allocate_many.sla);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(dht_router._unreachable(ARRAY(
            SELECT DISTINCT dht_router.shard_for(t) FROM unnest(allocate_many.tokens) t)), SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.allocate_many(dht.token[], text) IS
    'dht.allocate_many split by shard, the shards in parallel (each part commits on its shard on its own)';

---------------------------------------------------------------------------
-- Calls for every shard, in parallel (cluster 'dht_shards', one partition
-- per shard).

CREATE FUNCTION dht_router._p_state_digests() RETURNS SETOF bytea
    LANGUAGE plproxy AS $$
    CLUSTER 'dht_shards';
    RUN ON ALL;
    TARGET dht.state_digest;
$$;

CREATE FUNCTION dht_router._p_repair(max_moves integer) RETURNS SETOF bigint
    LANGUAGE plproxy AS $$
    CLUSTER 'dht_shards';
    RUN ON ALL;
    TARGET dht.repair;
$$;

-- One shard: its dht.state_digest(), so a router over one shard answers as
-- the anchor does.  Several: SHA-256 of the shards' digests in byte order,
-- equal for two sharded directories whose shards have converged pairwise
-- (whatever the shards are called).
CREATE FUNCTION dht_router.state_digest() RETURNS bytea
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ds bytea[];
BEGIN
    ds := ARRAY(SELECT d FROM dht_router._p_state_digests() d ORDER BY d);
    IF cardinality(ds) = 1 THEN
        RETURN ds[1];
    END IF;
    RETURN sha256(array_to_string(ARRAY(SELECT encode(d, 'hex') FROM unnest(ds) d), '')::bytea);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(dht_router._unreachable(ARRAY(
            SELECT name FROM dht_router.shards)), SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.state_digest() IS
    'one shard: its dht.state_digest(); several: SHA-256 of the shards'' digests in byte order';

CREATE FUNCTION dht_router.repair(max_moves integer DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(sum(n), 0)::bigint FROM dht_router._p_repair(repair.max_moves) n);
EXCEPTION WHEN internal_error THEN
    IF SQLERRM LIKE 'PL/Proxy function %' THEN
        PERFORM dht_router._shard_failed(dht_router._unreachable(ARRAY(
            SELECT name FROM dht_router.shards)), SQLERRM);
    END IF;
    RAISE;
END $$;
COMMENT ON FUNCTION dht_router.repair(integer) IS
    'dht.repair on every shard in parallel (max_moves applies to each shard); the sum of the moves';

---------------------------------------------------------------------------
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

---------------------------------------------------------------------------
-- Monitoring: one row per shard, every shard asked in turn; a shard that
-- cannot be reached is a row with reachable false and the error, so the
-- view of the others survives it.  The counts are dht.network_summary's,
-- which scans the shard's directory: a report, not a probe to run every
-- second on a large one.
CREATE FUNCTION dht_router._s_summary(conninfo text,
        OUT nodes bigint, OUT epoch bigint, OUT tokens bigint, OUT placements bigint)
    LANGUAGE plproxy AS $$
    CONNECT conninfo;
    SELECT nodes, epoch, tokens, placements FROM dht.network_summary;
$$;

CREATE FUNCTION dht_router.shard_status()
    RETURNS TABLE (shard text, buckets integer, bucket_ranges text, reachable boolean,
                   nodes bigint, epoch bigint, tokens bigint, placements bigint, error text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    r record;
BEGIN
    FOR s IN SELECT sh.name AS sname, sh.conninfo AS sconn,
                    (SELECT count(*) FROM dht_router.bucket_map b WHERE b.shard = sh.name)::integer AS n,
                    (SELECT string_agg(CASE WHEN m.first_bucket = m.last_bucket THEN m.first_bucket::text
                                            ELSE m.first_bucket || '..' || m.last_bucket END, ', ' ORDER BY m.first_bucket)
                     FROM dht_router.shard_map() m WHERE m.shard = sh.name) AS ranges
             FROM dht_router.shards sh ORDER BY sh.name LOOP
        shard := s.sname; buckets := s.n; bucket_ranges := s.ranges;
        BEGIN
            r := dht_router._s_summary(s.sconn);
            reachable := true; error := NULL;
            nodes := r.nodes; epoch := r.epoch; tokens := r.tokens; placements := r.placements;
        EXCEPTION WHEN internal_error THEN
            IF SQLERRM NOT LIKE 'PL/Proxy function %' THEN RAISE; END IF;
            reachable := false; error := SQLERRM;
            nodes := NULL; epoch := NULL; tokens := NULL; placements := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION dht_router.shard_status() IS
    'per shard: its buckets, whether it answers, and its nodes, epoch, tokens and placements (dht.network_summary)';

---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; the roles of smartlayer_dht.  Functions
-- that take a conninfo (_probe, _s_*) and shard_status (a scan of every
-- shard) are for dht_admin only.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dht_router FROM PUBLIC;
REVOKE ALL ON FUNCTION plproxy.get_cluster_partitions(text), plproxy.get_cluster_version(text),
    plproxy.get_cluster_config(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA dht_router, plproxy TO dht_reader, dht_writer, dht_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA dht_router TO dht_reader, dht_writer, dht_admin;
GRANT EXECUTE ON FUNCTION plproxy.get_cluster_partitions(text), plproxy.get_cluster_version(text),
    plproxy.get_cluster_config(text), dht_router._shard_failed(text[], text),
    dht_router._unreachable(text[]), dht_router._no_shards(),
    dht_router._no_cluster(text), dht_router.shard_for(dht.token), dht_router.shard_map(),
    dht_router._p_lookup(dht.token), dht_router.lookup(dht.token),
    dht_router._p_route(dht.token), dht_router.route(dht.token),
    dht_router._p_state_digests(), dht_router.state_digest()
    TO dht_reader, dht_writer, dht_admin;
GRANT EXECUTE ON FUNCTION dht_router._p_allocate(dht.token, text), dht_router.allocate(dht.token, text),
    dht_router._p_allocate_many(dht.token[], text), dht_router.allocate_many(dht.token[], text),
    dht_router._p_release(dht.token), dht_router.release(dht.token)
    TO dht_writer, dht_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA dht_router TO dht_admin;
