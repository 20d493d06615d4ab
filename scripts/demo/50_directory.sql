-- The directory: 1,000 service nodes, three SLA classes, 100,000 tokens, a failure and its repair
\timing off
\echo 'Registering 1,000 service nodes: 8 regions, 120 operators, mixed bandwidth, storage and weight.'
SELECT count(*) AS nodes_registered FROM (
    SELECT dht.register_node(
        k.pubkey,
        format('https://node%s.example.net:8443', i),
        (ARRAY['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south', 'ap-east', 'sa-east', 'af-south'])[1 + i % 8],
        format('operator-%s', i % 120),
        format('10.%s.%s.%s', (i / 250) % 256, (i / 5) % 50, i % 250)::inet,
        CASE WHEN i % 10 < 3 THEN 10000 WHEN i % 10 < 7 THEN 1000 ELSE 100 END,
        CASE WHEN i % 10 < 2 THEN 50000 WHEN i % 10 < 6 THEN 5000 ELSE 500 END,
        CASE WHEN i % 10 < 2 THEN 2.0 ELSE 1.0 END)
    FROM generate_series(1, 1000) i, LATERAL dht.ed25519_keypair(sha256(('demo node ' || i)::bytea)) k) s;

\echo 'A node can also announce itself, signed with its own Ed25519 key (dht.announce):'
CREATE TEMP TABLE demo_node AS SELECT * FROM dht.ed25519_keypair();
CREATE TEMP TABLE demo_doc AS
SELECT convert_to(json_build_object(
    'network', current_setting('smartlayer_dht.network'),
    'pubkey', encode(pubkey, 'hex'), 'seq', 1,
    'issued_at', extract(epoch FROM now())::bigint,
    'endpoint', 'https://self-announced.example.net:8443', 'region', 'eu-west',
    'operator', 'operator-self', 'addr', '192.0.2.10',
    'bandwidth_mbps', 10000, 'storage_gb', 100000)::text, 'UTF8') AS doc
FROM demo_node;
SELECT dht.announce(d.doc, dht.ed25519_sign('smartlayer_dht/announce/v1'::bytea || '\x00'::bytea || d.doc, n.secret)) AS announced_node
FROM demo_doc d, demo_node n;

\echo 'Three SLA classes: standard (4+2, operator diversity), movie (5+2, fast and big nodes, region diversity), archive (10+8, subnet diversity).'
SELECT dht.define_sla('standard', 4, 2);
SELECT dht.define_sla('movie', 5, 2, min_bandwidth_mbps => 1000, min_storage_gb => 5000, diversity => 'region');
SELECT dht.define_sla('archive', 10, 8, diversity => 'subnet');
\echo 'A placement epoch seeded by a beacon (say, a block hash): node ids could not be ground against it.'
SELECT dht.begin_epoch(decode('9c1e5bd1b4b0f1a4c2d8e7f60a1b2c3d4e5f60718293a4b5c6d7e8f901a2b3c4', 'hex')) AS epoch;
\echo 'Where would a token go? dht.place is pure: it writes nothing.'
SELECT shard, node_id FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'standard');

\echo 'Allocating 100,000 tokens in 10 transactions (70% standard, 5% movie, 25% archive) ...'
\timing on
DO $$
BEGIN
    FOR batch IN 0..9 LOOP
        PERFORM count(*) FROM generate_series(batch * 10000 + 1, batch * 10000 + 10000) i,
            LATERAL dht.allocate(format('eip155:%s/erc721:0x%s/%s', 1 + i % 3,
                                        substr(md5((i % 50)::text), 1, 20) || substr(md5((i % 50)::text), 13, 20), i)::dht.token,
                                 CASE WHEN i % 20 = 0 THEN 'movie' WHEN i % 4 = 1 THEN 'archive' ELSE 'standard' END);
        COMMIT;
    END LOOP;
END $$;
\timing off
\echo 'An allocation inside a transaction that rolls back leaves nothing behind:'
BEGIN;
SELECT count(*) AS shards_allocated FROM dht.allocate('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/42'::dht.token, 'standard');
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM dht.lookup('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/42');

\echo 'Lookups are plain SQL:'
SELECT * FROM dht.lookup((SELECT token FROM dht.tokens WHERE sla = 'movie' LIMIT 1));
SELECT * FROM dht.network_summary;

-- dht.node_load counts every holder: read it once into a table for what follows.
CREATE TEMP TABLE load_now AS SELECT * FROM dht.node_load;
\echo 'Distribution: shards per active node, by weight, against the ideal (the node''s weight share of all shards).'
\echo 'A binomial spread puts the max of ~1,000 nodes about 3 standard deviations above the mean.'
SELECT weight, count(*) AS nodes, round(avg(shards), 1) AS mean_shards,
       round((sum(sum(shards)) OVER () * avg(weight_share))::numeric, 1) AS ideal_shards,
       max(shards) AS max_shards,
       round(max(shards) / avg(shards), 3) AS max_over_mean,
       round(1 + 3 * sqrt(avg(shards)) / avg(shards), 3) AS binomial_3sd
FROM load_now WHERE state = 'active' GROUP BY weight ORDER BY weight;

-- Chart data (docs/holders_per_node.png, scripts/demo/charts.gp): the holders
-- of each weight-1.0 node the movie class cannot use (too little bandwidth or
-- storage), the largest group of nodes that are alike, against the binomial
-- of a node that takes each of the standard and archive classes' holders with
-- the group's mean share.  From load_now, one scan of dht.node_load.
\o :chartdir/holders_per_node.dat
COPY (SELECT l.shards FROM load_now l JOIN dht.nodes n USING (node_id)
      WHERE l.state = 'active' AND n.weight = 1.0 AND (n.bandwidth_mbps < 1000 OR n.storage_gb < 5000)) TO STDOUT;
\o :chartdir/holders_per_node.gp
COPY (SELECT format('N = %s.0; p = %s; nodes = %s', h.n, avg(l.shards) / h.n, count(*))
      FROM load_now l JOIN dht.nodes n USING (node_id),
           (SELECT sum(data_shards + parity_shards) AS n FROM dht.tokens WHERE sla IN ('standard', 'archive')) h
      WHERE l.state = 'active' AND n.weight = 1.0 AND (n.bandwidth_mbps < 1000 OR n.storage_gb < 5000)
      GROUP BY h.n) TO STDOUT;
\o

\echo 'A node fails: the operator marks it down; the repair plan moves each of its shards to the next node of that shard position''s own rendezvous order.'
CREATE TEMP TABLE failed AS
SELECT node_id FROM load_now WHERE state = 'active' ORDER BY shards DESC, node_id LIMIT 1;
SELECT dht.set_node_state((SELECT node_id FROM failed), 'down');
SELECT reason, count(*) AS shards FROM dht.repair_plan() GROUP BY reason;
SELECT count(*) AS tokens_at_risk FROM dht.tokens_at_risk;
CREATE TEMP TABLE repair_progress (seconds float8, moves_left bigint, pending bigint, on_failed_node bigint);
-- a batch's progress: moves the plan still has, replacements waiting for
-- their new holder's confirmation (one per retiring holder of the failed
-- node), and holders the failed node still has
CREATE FUNCTION pg_temp.record_progress(started timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO repair_progress
    SELECT extract(epoch FROM clock_timestamp() - started), (SELECT count(*) FROM dht.repair_plan()),
           count(*) FILTER (WHERE a.state = 'retiring'), count(*)
    FROM dht.node_assignments((SELECT node_id FROM failed)) a
$$;
SELECT set_config('dht_demo.repair_started', clock_timestamp()::text, false) AS repair_started \gset
DO $$ BEGIN PERFORM pg_temp.record_progress(current_setting('dht_demo.repair_started')::timestamptz); END $$;
\echo 'Repair in batches (dht.repair(max_moves => 50)): the first batch'
SELECT dht.repair(max_moves => 50) AS moves_applied;
\echo 'Replacements are pending and the failed holders retiring until the new holders confirm they hold the data:'
SELECT l.state, count(*)
FROM dht.node_assignments((SELECT node_id FROM failed)) a, LATERAL dht.lookup(a.token) l
WHERE a.state = 'retiring' AND l.shard = a.shard GROUP BY l.state ORDER BY l.state;
\echo 'The rest, each batch''s new holders confirming a batch later (they fetch the data meanwhile); docs/repair_progress.png charts it.'
DO $$
DECLARE
    failed dht.key := (SELECT node_id FROM failed);
    started timestamptz := current_setting('dht_demo.repair_started')::timestamptz;
    moved bigint := 1;
    confirmed bigint := 1;
BEGIN
    WHILE moved > 0 OR confirmed > 0 LOOP
        PERFORM pg_temp.record_progress(started);
        COMMIT;
        -- the previous batch's new holders have the data: confirm them (a
        -- retiring holder of the failed node, and its shard's pending one)
        SELECT count(*) INTO confirmed FROM (
            SELECT dht.confirm(a.token, a.shard, l.node_id)
            FROM dht.node_assignments(failed) a, LATERAL dht.lookup(a.token) l
            WHERE a.state = 'retiring' AND l.shard = a.shard AND l.state = 'pending') c;
        moved := dht.repair(max_moves => 50);
    END LOOP;
END $$;
SELECT count(*) AS batches, max(seconds)::numeric(6, 2) AS seconds FROM repair_progress;
\o :chartdir/repair_progress.dat
COPY (SELECT * FROM repair_progress ORDER BY seconds) TO STDOUT;
\o
SELECT count(*) AS shards_left_on_failed_node FROM dht.node_assignments((SELECT node_id FROM failed));
SELECT count(*) AS remaining_repairs FROM dht.repair_plan();
