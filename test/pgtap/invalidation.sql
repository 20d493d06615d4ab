-- Invalidations that arrive in the middle of a call.
--
-- Any lock acquisition processes pending invalidations.  0.1 kept the oids
-- of the log tables in static variables that a relcache callback cleared,
-- so an ANALYZE committed while dht.lookup or dht.allocate waited for an
-- index lock cleared them mid-call and the next open failed with "could
-- not open relation with OID 0" (issue 8).  Here session B (a dblink
-- connection) calls the function while this session holds the primary key
-- index locked by REINDEX and has analysed the table; B waits for the lock,
-- and this session commits: B then processes the invalidations inside its
-- call.  Both the first call of a backend (nothing cached) and a later one
-- (oids cached) are covered, for the read path and the allocation path.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

SELECT plan(16);

SELECT count(dht.register_node(k.pubkey, 'https://tap-inv-' || i || '.example', 'tap-inv-r', 'tap-inv-op' || i,
                               ('10.78.' || i || '.1')::inet, 100, 100))
FROM generate_series(0, 7) i, dht.ed25519_keypair(sha256(('tap-inv' || i)::bytea)) k;
SELECT dht.define_sla('tap-inv', 3, 2, regions => '{tap-inv-r}')
WHERE NOT EXISTS (SELECT FROM dht.sla_classes WHERE name = 'tap-inv' AND data_shards = 3 AND parity_shards = 2);

SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS run \gset
\set tok 'eip155:1/erc721:0x00000000000000000000000000000000007a9006/' :run
SELECT count(*) FROM dht.allocate((:'tok' || '0')::dht.token, 'tap-inv');

SELECT format('host=%s port=%s user=%s dbname=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_user, current_database()) AS inv_base \gset

-- Whether backend pid is waiting for a lock (polls up to 10 s).
CREATE FUNCTION pg_temp.inv_waits(pid int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1 .. 1000 LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE l.pid = inv_waits.pid AND NOT l.granted) THEN
            RETURN true;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;

-- B runs query while this session holds table's primary key locked and has
-- analysed the table; returns B's single bigint result, or its error.
CREATE FUNCTION pg_temp.inv_call(conn text, tbl text, query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    b_pid int;
    waited boolean;
    result text;
BEGIN
    SELECT p INTO b_pid FROM dblink(conn, 'SELECT pg_backend_pid()') AS t(p int);
    EXECUTE format('REINDEX INDEX dht.%I', tbl || '_pkey');
    EXECUTE format('ANALYZE dht.%I', tbl);
    PERFORM dblink_send_query(conn, query);
    waited := pg_temp.inv_waits(b_pid);
    RETURN CASE WHEN waited THEN 'waited' ELSE 'did not wait' END;
END $$;
CREATE FUNCTION pg_temp.inv_result(conn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    SELECT n::text INTO result FROM dblink_get_result(conn, false) AS t(n bigint);
    IF dblink_error_message(conn) <> 'OK' THEN
        result := dblink_error_message(conn);
    END IF;
    PERFORM * FROM dblink_get_result(conn, false) AS t(n bigint);
    RETURN result;
END $$;

-- 1. dht.lookup, first call of the backend.
SELECT dblink_connect('inv_b', :'inv_base');
BEGIN;
SELECT is(pg_temp.inv_call('inv_b', 'token_log',
          format('SELECT count(*) FROM dht.lookup(%L)', :'tok' || '0')), 'waited',
          'lookup (first call) waits for the primary key lock');
COMMIT;
SELECT is(pg_temp.inv_result('inv_b'), '5', 'lookup (first call): invalidated mid-call, it still returns the 5 holders');

-- 2. dht.lookup again in the same backend: the oids are cached now.
BEGIN;
SELECT is(pg_temp.inv_call('inv_b', 'token_log',
          format('SELECT count(*) FROM dht.lookup(%L)', :'tok' || '0')), 'waited',
          'lookup (cached) waits for the primary key lock');
COMMIT;
SELECT is(pg_temp.inv_result('inv_b'), '5', 'lookup (cached): invalidated mid-call, it still returns the 5 holders');
SELECT dblink_disconnect('inv_b');

-- 3. dht.allocate of a new token, first call of the backend.
SELECT dblink_connect('inv_b', :'inv_base');
BEGIN;
SELECT is(pg_temp.inv_call('inv_b', 'token_log',
          format($$SELECT count(*) FROM dht.allocate(%L, 'tap-inv')$$, :'tok' || '1')), 'waited',
          'allocate (first call) waits for the primary key lock');
COMMIT;
SELECT is(pg_temp.inv_result('inv_b'), '5', 'allocate (first call): invalidated mid-call, it allocates 5 shards');

-- 4. dht.allocate again, cached.
BEGIN;
SELECT is(pg_temp.inv_call('inv_b', 'token_log',
          format($$SELECT count(*) FROM dht.allocate(%L, 'tap-inv')$$, :'tok' || '2')), 'waited',
          'allocate (cached) waits for the primary key lock');
COMMIT;
SELECT is(pg_temp.inv_result('inv_b'), '5', 'allocate (cached): invalidated mid-call, it allocates 5 shards');

-- 5. The token log's key rebuilt under a new oid (REINDEX CONCURRENTLY)
-- between two calls of one backend: the next call finds the new index.
SELECT is((SELECT n FROM dblink('inv_b', format('SELECT count(*) FROM dht.lookup(%L)', :'tok' || '1')) AS t(n bigint)),
          5::bigint, 'lookup before REINDEX CONCURRENTLY');
-- (from a shell: REINDEX CONCURRENTLY waits for every older snapshot, this
-- session's included while it runs a statement)
\setenv PGHOST :HOST
\setenv PGPORT :PORT
\setenv PGUSER :USER
\setenv PGDATABASE :DBNAME
\! psql -X -q -c 'REINDEX TABLE CONCURRENTLY dht.token_log'
SELECT is((SELECT n FROM dblink('inv_b', format('SELECT count(*) FROM dht.lookup(%L)', :'tok' || '1')) AS t(n bigint)),
          5::bigint, 'lookup after REINDEX CONCURRENTLY uses the new index');
SELECT is((SELECT n FROM dblink('inv_b', format($$SELECT count(*) FROM dht.allocate(%L, 'tap-inv')$$, :'tok' || '3')) AS t(n bigint)),
          5::bigint, 'allocate after REINDEX CONCURRENTLY uses the new index');
SELECT is((SELECT n FROM dblink('inv_b', format($$SELECT count(*) FROM dht.allocate(%L, 'tap-inv')$$, :'tok' || '3')) AS t(n bigint)),
          5::bigint, '... and finds the token it allocated through it');

-- 6. The placements B recorded are the ones lookup returns, and each token
-- has one placement set.
SELECT is((SELECT count(*) FROM dht.placements WHERE token::text LIKE (:'tok' || '_')), 20::bigint,
          'four tokens, five holders each');
SELECT is((SELECT count(DISTINCT token) FROM dht.token_log WHERE token::text LIKE (:'tok' || '_')), 4::bigint,
          'four token records');

-- 7. VACUUM FULL rewrites the table under the same oid and a new file.
SELECT dblink_exec(:'inv_base', 'VACUUM FULL dht.token_log');
SELECT is((SELECT n FROM dblink('inv_b', format('SELECT count(*) FROM dht.lookup(%L)', :'tok' || '2')) AS t(n bigint)),
          5::bigint, 'lookup after VACUUM FULL');
SELECT dblink_disconnect('inv_b');

SELECT count(dht.release((:'tok' || g)::dht.token)) FROM generate_series(0, 3) g;
SELECT is((SELECT count(*) FROM dht.tokens WHERE token::text LIKE (:'tok' || '_')), 0::bigint,
          'every token of this file is released');
SELECT * FROM finish();
