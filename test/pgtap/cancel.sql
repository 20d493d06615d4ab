-- Cancels, statement_timeout and size limits (issue 8).
--
-- Every call that can run long (erasure coding and RaptorQ of a 64 MiB
-- value, repair planning and repair over 600,000 tokens, recomputing the
-- digests, allocate_many of 100,000 tokens) must stop with 57014 when
-- cancelled by pg_cancel_backend and when statement_timeout fires, and
-- leave the session usable.  The inputs are large enough that each call
-- runs well beyond the 200 ms timeout uncancelled (0.9 to 6 s on a loaded
-- 2-core machine); nothing here measures time.  The data lives in a scratch database of its own (dropped at the
-- end) so that its down nodes and 600,000 tokens do not show in the other
-- files' repair plans.  Session B (dblink connection cx_b) runs the calls
-- that this session cancels; session C (cx_c) runs them under
-- statement_timeout.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

SELECT plan(22);

SELECT current_database() || '_cancel' AS cx_db,
       format('host=%s port=%s user=%s',
              split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_user) AS cx_server \gset
SELECT :'cx_server' || ' dbname=' || current_database() AS cx_here,
       :'cx_server' || format(' dbname=%s', :'cx_db') AS cx_conn \gset
SELECT dblink_exec(:'cx_here', format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'cx_db'));
SELECT dblink_exec(:'cx_here', format('CREATE DATABASE %I', :'cx_db'));

SELECT dblink_connect('cx_b', :'cx_conn');
SELECT dblink_exec('cx_b', $$
    SET client_min_messages = warning;
    CREATE EXTENSION smartlayer_dht;
    SELECT count(dht.register_node(k.pubkey, 'https://tap-cx-' || i || '.example', 'tap-cx-r', 'tap-cx-op' || i,
                                   ('10.79.' || i || '.1')::inet, 100, 100))
    FROM generate_series(0, 11) i, dht.ed25519_keypair(sha256(('tap-cx' || i)::bytea)) k;
    SELECT dht.define_sla('tap-cx', 4, 2, regions => '{tap-cx-r}');
    CREATE TABLE cx_big (v bytea);
    ALTER TABLE cx_big ALTER COLUMN v SET STORAGE EXTERNAL;
    INSERT INTO cx_big SELECT convert_to(repeat('smartlayer', 6710887), 'UTF8');
$$);
-- 600,000 tokens (verify_digests takes about a second over them).
SELECT is((SELECT n FROM dblink('cx_b', format($$
    SELECT count(*) FROM dht.allocate_many(ARRAY(
        SELECT ('eip155:1/erc721:0x00000000000000000000000000000000007a9077/' || g)::dht.token
        FROM generate_series(%s, %s) g), 'tap-cx')$$, b * 100000 + 1, b * 100000 + 100000)) AS t(n bigint)),
          600000::bigint, format('setup: batch %s of 100,000 tokens allocated', b + 1))
FROM generate_series(0, 5) b;
SELECT n FROM dblink('cx_b', $$
    SELECT count(dht.set_node_state(node_id, 'down')) FROM dht.nodes
    WHERE endpoint IN ('https://tap-cx-0.example', 'https://tap-cx-1.example', 'https://tap-cx-2.example')$$) AS t(n bigint);

-- B runs query; this session waits until B is running it and cancels it.
CREATE FUNCTION pg_temp.cx_cancel(conn text, query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    b_pid int;
BEGIN
    SELECT p INTO b_pid FROM dblink(conn, 'SELECT pg_backend_pid()') AS t(p int);
    PERFORM dblink_send_query(conn, query);
    FOR n IN 1 .. 2000 LOOP
        PERFORM pg_catalog.pg_stat_clear_snapshot();
        IF EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
                   WHERE a.pid = b_pid AND a.state = 'active' AND a.query = cx_cancel.query) THEN
            RETURN pg_catalog.pg_cancel_backend(b_pid);
        END IF;
        PERFORM pg_catalog.pg_sleep(0.005);
    END LOOP;
    RETURN false;
END $$;
-- The SQLSTATE and message query raises.  pgTAP's throws_ok cannot be
-- used: PL/pgSQL's WHEN OTHERS does not catch query_canceled (57014).
CREATE FUNCTION pg_temp.cx_error(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION
    WHEN query_canceled THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- B runs query and this session cancels it: B's error, or why there is none.
CREATE FUNCTION pg_temp.cx_cancelled(conn text, query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    sent boolean := pg_temp.cx_cancel(conn, query);
    result text := pg_temp.cx_error(format('SELECT * FROM dblink_get_result(%L) AS t(n bigint)', conn));
BEGIN
    PERFORM * FROM dblink_get_result(conn, false) AS t(n bigint);
    RETURN CASE WHEN sent THEN result ELSE 'no cancel sent (B not seen running it): ' || result END;
END $$;

CREATE TEMP TABLE cx_calls (i int, what text, query text);
INSERT INTO cx_calls VALUES
    (1, 'ec_encode of 64 MiB', 'SELECT count(*) FROM cx_big, unnest(dht.ec_encode(v, 10, 4, ''liberasurecode_rs_vand''))'),
    (2, 'rq_encode of 64 MiB', 'SELECT count(*) FROM cx_big, unnest(dht.rq_encode(v, dht.rq_oti(length(v), 1024, 8), 2000))'),
    (3, 'repair_plan over 600,000 tokens', 'SELECT count(*) FROM dht.repair_plan()'),
    (4, 'repair over 600,000 tokens', 'SELECT dht.repair(100000)'),
    (5, 'verify_digests', 'SELECT count(*) FROM dht.verify_digests()'),
    (6, 'allocate_many of 100,000 tokens',
     $$SELECT count(*) FROM dht.allocate_many(ARRAY(
           SELECT ('eip155:1/erc721:0x00000000000000000000000000000000007a9078/' || g)::dht.token
           FROM generate_series(1, 100000) g), 'tap-cx')$$);

-- 1. pg_cancel_backend: each call stops with 57014, and B goes on working.
SELECT is(pg_temp.cx_cancelled('cx_b', query), '57014: canceling statement due to user request',
          what || ' stops on pg_cancel_backend')
FROM cx_calls ORDER BY i;
SELECT is((SELECT n FROM dblink('cx_b', 'SELECT count(*) FROM dht.tokens') AS t(n bigint)), 600000::bigint,
          'after the cancels B works, and the cancelled allocate_many and repair left nothing behind');

-- 2. statement_timeout: the same calls in C stop with 57014.
SELECT dblink_connect('cx_c', :'cx_conn');
SELECT dblink_exec('cx_c', 'SET statement_timeout = ''200ms''');
SELECT is(pg_temp.cx_error(format('SELECT * FROM dblink(''cx_c'', %L) AS t(n bigint)', query)),
          '57014: canceling statement due to statement timeout', what || ' stops on statement_timeout')
FROM cx_calls ORDER BY i;
SELECT dblink_exec('cx_c', 'RESET statement_timeout');
SELECT is((SELECT n FROM dblink('cx_c', 'SELECT count(*) FROM dht.tokens') AS t(n bigint)), 600000::bigint,
          'after the timeouts C works, and nothing was left behind');

-- 3. Limits: 54000 naming the limit, refused before any work.
SELECT throws_ok($$SELECT * FROM dblink('cx_c', 'SELECT count(*) FROM dht.allocate_many(array_fill(NULL::dht.token, ARRAY[10000000]), ''tap-cx'')') AS t(n bigint)$$,
                 '54000', 'dht.allocate_many takes at most 1000000 tokens, not 10000000',
                 'an array of 10M tokens is 54000, naming the limit');
SELECT throws_ok($$SELECT dht.ec_encode(convert_to(repeat('x', 268435457), 'UTF8'), 10, 4)$$,
                 '54000', 'data too large to encode: 268435457 bytes',
                 'a value over the 256 MiB erasure coding limit is 54000');

SELECT dblink_disconnect('cx_b');
SELECT dblink_disconnect('cx_c');
SELECT dblink_exec(:'cx_here', format('DROP DATABASE %I WITH (FORCE)', :'cx_db'));
SELECT * FROM finish();
