-- Write marks (src/origin_marks.c), which the membership checks compare: an
-- anchor counts the rows it writes under its own name, once per committed
-- transaction, in its backend's slot; rolled-back work and savepoints rolled
-- back count nothing; rows written before dht.anchor_init count for nobody.
-- In a scratch database (an anchor of its own), through dblink, as the
-- counts appear only at commit.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

SELECT plan(12);

SELECT format('host=%s port=%s user=%s dbname=',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_user) AS base \gset
SELECT dblink_exec(:'base' || current_database(), 'DROP DATABASE IF EXISTS dht_tap_marks');
SELECT dblink_exec(:'base' || current_database(), 'CREATE DATABASE dht_tap_marks');
SELECT dblink_connect('m1', :'base' || 'dht_tap_marks');
SELECT dblink_connect('m2', :'base' || 'dht_tap_marks');
SELECT dblink_exec('m1', 'CREATE EXTENSION smartlayer_dht');
-- Run a query there for its effect.
CREATE FUNCTION pg_temp.run(conn text, sql text) RETURNS void LANGUAGE sql AS $$
    SELECT FROM dblink(conn, 'SELECT 1 FROM (' || sql || ') q LIMIT 1') AS t(x int) $$;
SELECT pg_temp.run('m1', $$SELECT count(dht.register_node(k.pubkey, 'https://m' || i || '.example', 'r', 'op' || i,
                                   ('10.80.' || i || '.1')::inet, 100, 100))
                         FROM generate_series(1, 6) i, dht.ed25519_keypair(sha256(('tap-marks' || i)::bytea)) k$$);
SELECT pg_temp.run('m1', $$SELECT dht.define_sla('m', 2, 1)$$);
-- The marks of one origin, as the scratch database sees them.
CREATE FUNCTION pg_temp.writes(origin text) RETURNS bigint LANGUAGE sql AS $$
    SELECT w FROM dblink('m1', format('SELECT dht.origin_writes(%L)', origin)) AS t(w bigint) $$;
CREATE FUNCTION pg_temp.tok(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'eip155:1/erc721:0x00000000000000000000000000000000007a9010/' || i $$;

SELECT is(pg_temp.writes('local'), 0::bigint, 'rows written before anchor_init count for nobody');
SELECT pg_temp.run('m1', $$SELECT dht.anchor_init('marks')$$);
SELECT w0 FROM (SELECT pg_temp.writes('marks') AS w0) x \gset
SELECT ok(:w0 >= 7, 'anchor_init takes over the 7 registry rows it wrote under ''local'' as its own writes');

SELECT pg_temp.run('m1', format($$SELECT count(*) FROM dht.allocate_many(ARRAY[%L, %L, %L, %L, %L]::dht.token[], 'm')$$,
                                pg_temp.tok(1), pg_temp.tok(2), pg_temp.tok(3), pg_temp.tok(4), pg_temp.tok(5)));
SELECT is(pg_temp.writes('marks') - :w0, 5::bigint, 'allocate_many of 5 tokens: 5 writes');
SELECT pg_temp.run('m1', format($$SELECT dht.release(%L)$$, pg_temp.tok(1)));
SELECT is(pg_temp.writes('marks') - :w0, 6::bigint, 'a release: 1 more');
SELECT pg_temp.run('m1', format($$SELECT dht.release(%L)$$, pg_temp.tok(1)));
SELECT is(pg_temp.writes('marks') - :w0, 6::bigint, 'a release that writes nothing: none');

SELECT dblink_exec('m1', 'BEGIN');
SELECT pg_temp.run('m1', format($$SELECT count(*) FROM dht.allocate(%L, 'm')$$, pg_temp.tok(6)));
SELECT dblink_exec('m1', 'ROLLBACK');
SELECT is(pg_temp.writes('marks') - :w0, 6::bigint, 'a rolled-back allocation counts nothing');

SELECT dblink_exec('m1', 'BEGIN');
SELECT pg_temp.run('m1', format($$SELECT count(*) FROM dht.allocate(%L, 'm')$$, pg_temp.tok(7)));
SELECT dblink_exec('m1', 'SAVEPOINT s');
SELECT pg_temp.run('m1', format($$SELECT count(*) FROM dht.allocate(%L, 'm')$$, pg_temp.tok(8)));
SELECT dblink_exec('m1', 'ROLLBACK TO SAVEPOINT s');
SELECT dblink_exec('m1', 'COMMIT');
SELECT is(pg_temp.writes('marks') - :w0, 7::bigint, 'a savepoint rolled back takes its writes with it');

-- A second session writes into its own slot.
SELECT pg_temp.run('m2', format($$SELECT count(*) FROM dht.allocate(%L, 'm')$$, pg_temp.tok(9)));
SELECT is(pg_temp.writes('marks') - :w0, 8::bigint, 'another session''s allocation counts too');
SELECT cmp_ok((SELECT n FROM dblink('m1', $$SELECT count(*) FROM dht.origin_marks WHERE origin = 'marks' AND slot > 0$$)
               AS t(n bigint)), '>=', 2::bigint, 'in a slot of its own (no two sessions update one row)');
-- Registry writes count as well; other origins' rows (as replication applies them) do not.
SELECT pg_temp.run('m1', $$SELECT dht.define_sla('m2', 3, 1)$$);
SELECT is(pg_temp.writes('marks') - :w0, 9::bigint, 'a registry write: 1 more');
SELECT dblink_exec('m1', $$SET session_replication_role = replica$$);
SELECT dblink_exec('m1', $$INSERT INTO dht.sla_log (name, origin, data_shards, parity_shards, min_bandwidth_mbps,
                               min_storage_gb, min_availability, diversity, event_at)
                           VALUES ('applied', 'marks', 2, 1, 0, 0, 0, 'none', now())$$);
SELECT dblink_exec('m1', $$SET session_replication_role = origin$$);
SELECT is(pg_temp.writes('marks') - :w0, 9::bigint, 'a row applied by replication is not this anchor''s write');
SELECT is((SELECT n FROM dblink('m1', $$SELECT count(*) FROM dht.origin_marks WHERE origin <> 'marks'$$) AS t(n bigint)),
          0::bigint, 'no marks for other origins on this anchor');

SELECT dblink_disconnect('m1');
SELECT dblink_disconnect('m2');
SELECT dblink_exec(:'base' || current_database(), 'DROP DATABASE dht_tap_marks');
SELECT * FROM finish();
