-- Concurrent allocations of one token on one anchor produce one placement.
-- Session A is this one; session B is a dblink connection to the same
-- database.  This needs committed data, so there is no enclosing
-- transaction: the nodes and class (region tap-cc-r, class tap-cc) are
-- re-registered idempotently, tokens are fresh per run (their id carries
-- the run's clock) except one fixed token that exercises re-allocation, and
-- every token is released at the end.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

SELECT plan(36);

SELECT count(dht.register_node(k.pubkey, 'https://tap-cc-' || i || '.example', 'tap-cc-r', 'tap-cc-op' || i,
                               ('10.77.' || i || '.1')::inet, 100, 100))
FROM generate_series(0, 7) i, dht.ed25519_keypair(sha256(('tap-cc' || i)::bytea)) k;
SELECT dht.define_sla('tap-cc', 3, 2, regions => '{tap-cc-r}')
WHERE NOT EXISTS (SELECT FROM dht.sla_classes WHERE name = 'tap-cc' AND data_shards = 3 AND parity_shards = 2);

SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS run \gset
\set t1 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'1'''
\set t2 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'2'''
\set t3 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'3'''
\set t6 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'6'''
\set t7 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'7'''
\set t8 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'8'''
\set t9 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'9'''
\set t10 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'10'''
\set t11 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/':run'11'''
\set t4 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/4'''
\set t5 '''eip155:1/erc721:0x00000000000000000000000000000000007a9005/5'''
-- Tokens a failed earlier run may have left allocated are released first.
SELECT count(dht.release(token)) FROM dht.tokens
WHERE token::text LIKE 'eip155:1/erc721:0x00000000000000000000000000000000007a9005/%';
SELECT count(*) FROM dht.allocate(:t4, 'tap-cc');
SELECT count(*) FROM dht.allocate(:t5, 'tap-cc');
SELECT dht.release(:t4), dht.release(:t5);

SELECT format('host=%s port=%s user=%s dbname=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_user, current_database()) AS cc_base \gset
SELECT dblink_connect('cc_b', :'cc_base');
SELECT b_pid FROM dblink('cc_b', 'SELECT pg_backend_pid()') AS t(b_pid int) \gset
SELECT dblink_exec('cc_b', 'SET search_path = public, dht');

-- Whether backend pid is waiting for a lock (polls up to 10 s).
CREATE FUNCTION pg_temp.cc_waits(pid int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1 .. 1000 LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE l.pid = cc_waits.pid AND NOT l.granted) THEN
            RETURN true;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;
-- Whether the dblink connection is done (polls up to 10 s).
CREATE FUNCTION pg_temp.cc_done(conn text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1 .. 1000 LOOP
        IF dblink_is_busy(conn) = 0 THEN
            RETURN true;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;
CREATE TEMP TABLE cc_b (run text, shard int, node text, endpoint text);
-- Collects B's rows of its last query (and the closing empty result).
CREATE FUNCTION pg_temp.cc_collect(label text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO cc_b SELECT label, * FROM dblink_get_result('cc_b') AS t(shard int, node text, endpoint text);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM * FROM dblink_get_result('cc_b') AS t(shard int, node text, endpoint text);
    RETURN n;
END $$;

-- 1. A allocates and commits while B waits: both get A's rows, one placement set.
BEGIN;
CREATE TEMP TABLE cc_a1 AS SELECT shard, node_id::text AS node, endpoint FROM dht.allocate(:t1, 'tap-cc');
SELECT dblink_send_query('cc_b', format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-cc')$$, :t1));
SELECT ok(pg_temp.cc_waits(:b_pid), 'B''s allocation of the same token waits for A''s transaction');
COMMIT;
SELECT ok(pg_temp.cc_done('cc_b'), 'B returns once A commits');
SELECT is(pg_temp.cc_collect('1'), 5::bigint, 'B gets 5 rows');
SELECT results_eq($$SELECT shard, node, endpoint FROM cc_b WHERE run = '1' ORDER BY shard$$,
                  $$SELECT shard, node, endpoint FROM cc_a1 ORDER BY shard$$, 'B got exactly A''s placement');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t1), 5::bigint,
          'the token has one placement set (data + parity rows)');
SELECT is((SELECT count(*) FROM dht.token_log WHERE token = :t1), 1::bigint, 'and one token record');

-- 2. A rolls back instead: B's allocation stands.
BEGIN;
SELECT count(*) AS a2 FROM dht.allocate(:t2, 'tap-cc') \gset
SELECT dblink_send_query('cc_b', format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-cc')$$, :t2));
SELECT pg_temp.cc_waits(:b_pid) AS b2_waited \gset
ROLLBACK;
SELECT ok(:'b2_waited'::boolean, 'B waited for A''s transaction (which rolled back)');
SELECT ok(pg_temp.cc_done('cc_b'), 'B returns once A rolls back');
SELECT is(pg_temp.cc_collect('2'), 5::bigint, 'B gets 5 rows');
SELECT results_eq($$SELECT shard, node FROM cc_b WHERE run = '2' ORDER BY shard$$,
                  format($$SELECT shard, node_id::text FROM dht.lookup(%L)$$, :t2),
                  'B''s allocation is the token''s placement');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t2), 5::bigint, 'one placement set');

-- 3. Different tokens do not wait for each other.
BEGIN;
SELECT count(*) FROM dht.allocate(:t3, 'tap-cc');
SELECT dblink_send_query('cc_b', format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-cc')$$,
                                        :t3 || '0'));
SELECT ok(pg_temp.cc_done('cc_b'), 'B allocates another token while A''s transaction is open');
COMMIT;
SELECT is(pg_temp.cc_collect('3'), 5::bigint, 'B gets its 5 rows');

-- 4. Re-allocation of a released token, A commits: one placement set.
BEGIN;
CREATE TEMP TABLE cc_a4 AS SELECT shard, node_id::text AS node, endpoint FROM dht.allocate(:t4, 'tap-cc');
SELECT dblink_send_query('cc_b', format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-cc')$$, :t4));
SELECT ok(pg_temp.cc_waits(:b_pid), 're-allocation: B waits for A');
COMMIT;
SELECT ok(pg_temp.cc_done('cc_b'), 're-allocation: B returns once A commits');
SELECT is(pg_temp.cc_collect('4'), 5::bigint, 're-allocation: B gets 5 rows');
SELECT results_eq($$SELECT shard, node, endpoint FROM cc_b WHERE run = '4' ORDER BY shard$$,
                  $$SELECT shard, node, endpoint FROM cc_a4 ORDER BY shard$$, 're-allocation: B got A''s placement');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t4), 5::bigint, 're-allocation: one placement set');

-- 5. Re-allocation, A rolls back: B's stands.
BEGIN;
SELECT count(*) AS a5 FROM dht.allocate(:t5, 'tap-cc') \gset
SELECT dblink_send_query('cc_b', format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-cc')$$, :t5));
SELECT pg_temp.cc_waits(:b_pid) AS b5_waited \gset
ROLLBACK;
SELECT ok(:'b5_waited'::boolean AND pg_temp.cc_done('cc_b') AND pg_temp.cc_collect('5') = 5,
          're-allocation: B waited, and returned 5 rows once A rolled back');
SELECT results_eq($$SELECT shard, node FROM cc_b WHERE run = '5' ORDER BY shard$$,
                  format($$SELECT shard, node_id::text FROM dht.lookup(%L)$$, :t5),
                  're-allocation: B''s placement stands');

-- 6. Under REPEATABLE READ, B's snapshot cannot see A's committed
-- allocation: B gets a serialization failure to retry on, never a second
-- placement or an empty answer.
SELECT dblink_exec('cc_b', 'BEGIN ISOLATION LEVEL REPEATABLE READ');
SELECT * FROM dblink('cc_b', 'SELECT 1') AS t(x int);
SELECT count(*) FROM dht.allocate(:t6, 'tap-cc');
SELECT is((SELECT count(*) FROM dblink('cc_b', format($$SELECT shard, node_id::text, endpoint FROM dht.allocate(%L, 'tap-cc')$$, :t6), false)
                                 AS t(shard int, node text, endpoint text)), 0::bigint,
          'REPEATABLE READ: B gets no rows ...');
SELECT matches(dblink_error_message('cc_b'), 'could not serialize access', '... but a serialization failure');
SELECT dblink_exec('cc_b', 'ROLLBACK');
SELECT is((SELECT count(*) FROM dht.placements WHERE token = :t6), 5::bigint, 'REPEATABLE READ: one placement set');

-- 7. A registry change committed while an allocation waits for a lock (its
-- invalidation arrives in the middle of dht.allocate) must not pull the
-- node set from under it: this crashed the backend before the cache was
-- pinned (commit 8093cab).  3000 nodes, so that the freed memory is reused.
-- In a scratch database: A allocates, C holds the lock and changes a node.
SELECT dblink_exec(replace(:'cc_base', 'dbname=' || current_database(), 'dbname=postgres'),
                   'DROP DATABASE IF EXISTS dht_tap_cc_scratch');
SELECT dblink_exec(replace(:'cc_base', 'dbname=' || current_database(), 'dbname=postgres'),
                   'CREATE DATABASE dht_tap_cc_scratch');
SELECT dblink_connect('cc_a', replace(:'cc_base', 'dbname=' || current_database(), 'dbname=dht_tap_cc_scratch'));
SELECT dblink_connect('cc_c', replace(:'cc_base', 'dbname=' || current_database(), 'dbname=dht_tap_cc_scratch'));
SELECT dblink_exec('cc_a', $$CREATE EXTENSION smartlayer_dht$$);
SELECT dblink_exec('cc_a', $q$DO $do$ BEGIN
    PERFORM dht.register_node(k.pubkey, 'https://tap-cc-x' || i || '.example', 'r', 'op' || i,
                              ('10.79.' || (i % 250) || '.' || (i / 250))::inet, 100, 100)
    FROM generate_series(0, 2999) i, dht.ed25519_keypair(sha256(('tap-cc-x' || i)::bytea)) k;
    PERFORM dht.define_sla('x', 3, 2);
    PERFORM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9005/7', 'x');
    PERFORM dht.release('eip155:1/erc721:0x00000000000000000000000000000000007a9005/7');
END $do$$q$);
SELECT * FROM dblink('cc_a', $$SELECT count(*) FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9005/8', 'x')$$) AS t(n bigint);
SELECT a_pid FROM dblink('cc_a', 'SELECT pg_backend_pid()') AS t(a_pid int) \gset
SELECT dblink_exec('cc_c', 'BEGIN');
SELECT dblink_exec('cc_c', 'LOCK TABLE dht.token_log IN ACCESS EXCLUSIVE MODE');
SELECT dblink_send_query('cc_a', $$SELECT shard, node_id::text, endpoint FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9005/7', 'x')$$);
SELECT ok(pg_temp.cc_waits(:a_pid), 'A''s allocation waits for C''s lock');
SELECT * FROM dblink('cc_c', $$SELECT dht.set_node_availability(node_id, 0.5)::text FROM dht.nodes ORDER BY node_id LIMIT 1$$) AS t(x text);
SELECT dblink_exec('cc_c', 'COMMIT');
SELECT ok(pg_temp.cc_done('cc_a'), 'A returns once C commits its node change');
CREATE TEMP TABLE cc_a7 AS SELECT * FROM dblink_get_result('cc_a', false) AS t(shard int, node text, endpoint text);
SELECT is(dblink_error_message('cc_a'), 'OK', 'A''s allocation succeeded (no crash)');
SELECT results_eq($$SELECT shard, node, endpoint FROM cc_a7 ORDER BY shard$$,
                  $$SELECT * FROM dblink('cc_c', 'SELECT shard, node_id::text, endpoint FROM dht.lookup(''eip155:1/erc721:0x00000000000000000000000000000000007a9005/7'')')
                    AS t(shard int, node text, endpoint text)$$,
                  'and returned the placement it recorded');
SELECT dblink_disconnect('cc_a');
SELECT dblink_disconnect('cc_c');
SELECT dblink_exec(replace(:'cc_base', 'dbname=' || current_database(), 'dbname=postgres'),
                   'DROP DATABASE dht_tap_cc_scratch');

-- 8. dht.allocate_many inserts a batch in one statement; a token of the
-- batch that A is allocating makes B's batch wait, and when A commits B
-- falls back to token by token: B returns A's placement for that token
-- and its own for the others, and no token gets two placement sets.
CREATE TEMP TABLE cc_b8 (token text, shard int, node text, endpoint text);
BEGIN;
CREATE TEMP TABLE cc_a8 AS SELECT shard, node_id::text AS node, endpoint FROM dht.allocate(:t8, 'tap-cc');
SELECT dblink_send_query('cc_b', format($$SELECT token::text, shard, node_id::text, endpoint
                                          FROM dht.allocate_many(ARRAY[%L, %L, %L]::dht.token[], 'tap-cc')$$,
                                        :t7, :t8, :t9));
SELECT ok(pg_temp.cc_waits(:b_pid), 'allocate_many: B''s batch waits for A''s allocation of one of its tokens');
COMMIT;
SELECT ok(pg_temp.cc_done('cc_b'), 'allocate_many: B returns once A commits');
INSERT INTO cc_b8 SELECT * FROM dblink_get_result('cc_b') AS t(token text, shard int, node text, endpoint text);
SELECT * FROM dblink_get_result('cc_b') AS t(token text, shard int, node text, endpoint text);
SELECT is((SELECT count(*) FROM cc_b8), 15::bigint, 'allocate_many: B gets 5 rows for each of its 3 tokens');
SELECT results_eq($$SELECT shard, node, endpoint FROM cc_b8 WHERE token = $$ || quote_literal(:t8) || $$ ORDER BY shard$$,
                  $$SELECT shard, node, endpoint FROM cc_a8 ORDER BY shard$$,
                  'allocate_many: for A''s token B got A''s placement');
SELECT results_eq($$SELECT token, shard, node FROM cc_b8 ORDER BY token, shard$$,
                  format($$SELECT t::text, l.shard, l.node_id::text
                           FROM unnest(ARRAY[%L, %L, %L]::dht.token[]) t, dht.lookup(t) l ORDER BY 1, 2$$, :t7, :t8, :t9),
                  'allocate_many: what B returned is what the directory holds');
SELECT is((SELECT count(*) FROM dht.token_log WHERE token IN (:t7, :t8, :t9)), 3::bigint,
          'allocate_many: one token record each');

-- 9. A rolls back instead: B's batch goes in as it is, its placement stands.
DELETE FROM cc_b8;
BEGIN;
SELECT count(*) FROM dht.allocate(:t11, 'tap-cc');
SELECT dblink_send_query('cc_b', format($$SELECT token::text, shard, node_id::text, endpoint
                                          FROM dht.allocate_many(ARRAY[%L, %L]::dht.token[], 'tap-cc')$$,
                                        :t10, :t11));
SELECT pg_temp.cc_waits(:b_pid) AS b9_waited \gset
ROLLBACK;
SELECT ok(:'b9_waited'::boolean AND pg_temp.cc_done('cc_b'), 'allocate_many: B waited, and returned once A rolled back');
INSERT INTO cc_b8 SELECT * FROM dblink_get_result('cc_b') AS t(token text, shard int, node text, endpoint text);
SELECT * FROM dblink_get_result('cc_b') AS t(token text, shard int, node text, endpoint text);
SELECT results_eq($$SELECT token, shard, node FROM cc_b8 ORDER BY token, shard$$,
                  format($$SELECT t::text, l.shard, l.node_id::text
                           FROM unnest(ARRAY[%L, %L]::dht.token[]) t, dht.lookup(t) l ORDER BY 1, 2$$,
                         :t10, :t11),
                  'allocate_many: B''s placements stand, 10 rows');

-- Clean up: release every token of this run.
SELECT dblink_disconnect('cc_b');
SELECT count(dht.release(t::dht.token)) FROM unnest(ARRAY[:t1, :t2, :t3, :t3 || '0', :t4, :t5, :t6, :t7, :t8, :t9, :t10, :t11]) t;
SELECT is((SELECT count(*) FROM dht.tokens WHERE token::text LIKE 'eip155:1/erc721:0x00000000000000000000000000000000007a9005/%'),
          0::bigint, 'every token of this file is released');
SELECT * FROM finish();
