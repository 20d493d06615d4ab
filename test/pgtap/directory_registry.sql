-- The directory's registry, by behaviour: SLA classes (define, redefine,
-- sized by target), nodes (operator registration, signed announcements,
-- states, measured availability) and what placement makes of them.
-- Everything here is private to this file: nodes in regions tap-reg-*,
-- classes named tap-reg-*, all rolled back at the end.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, dht;

BEGIN;
SELECT plan(46);

-- 12 nodes with reproducible keys: 4 regions, 12 operators, one /24 each.
CREATE TEMP TABLE reg_nodes ON COMMIT DROP AS
SELECT i, k.pubkey, k.secret, dht.node_id(k.pubkey) AS id,
       'https://tap-reg-' || i || '.example:8443' AS endpoint,
       'tap-reg-r' || (i % 4) AS region, 'tap-reg-op' || i AS operator,
       ('10.71.' || i || '.1')::inet AS addr, 100 + 10 * i AS bandwidth_mbps,
       (2000 - i)::bigint AS storage_gb
FROM generate_series(0, 11) i, dht.ed25519_keypair(sha256(('tap-reg' || i)::bytea)) k;

-- 500 reproducible keys to place.
CREATE TEMP TABLE reg_keys ON COMMIT DROP AS
SELECT g, sha256(('tap-reg-key' || g)::bytea)::dht.key AS k FROM generate_series(1, 500) g;

CREATE TEMP TABLE reg_summary ON COMMIT DROP AS SELECT * FROM dht.network_summary;

-- register_node returns dht.node_id(pubkey); dht.nodes shows the record.
SELECT is((SELECT count(*) FROM reg_nodes
           WHERE dht.register_node(pubkey, endpoint, region, operator, addr, bandwidth_mbps,
                                   storage_gb) = id),
          12::bigint, 'register_node returns dht.node_id(pubkey) for each node');
SELECT results_eq(
    $$SELECT n.pubkey, n.endpoint, n.region, n.operator, n.addr, n.bandwidth_mbps, n.storage_gb,
             n.weight, n.state, n.availability, n.seq
      FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id ORDER BY r.i$$,
    $$SELECT pubkey, endpoint, region, operator, addr, bandwidth_mbps, storage_gb,
             1.0::float8, 'active'::text, NULL::float8, 0::bigint
      FROM reg_nodes ORDER BY i$$,
    'dht.nodes shows every field as registered (weight 1, active, unmeasured, seq 0)');
SELECT ok((SELECT bool_and(n.last_seen IS NOT NULL) FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id),
          'last_seen is set on registration');

-- Re-registering updates in place: one node row, new fields, weight.
SELECT is(dht.register_node(pubkey, endpoint || '/v2', region, operator, addr, bandwidth_mbps,
                            storage_gb, 2.5), id, 're-register returns the same id')
FROM reg_nodes WHERE i = 11;
SELECT results_eq(
    $$SELECT n.endpoint, n.weight, n.seq FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 11$$,
    $$VALUES ('https://tap-reg-11.example:8443/v2', 2.5::float8, 0::bigint)$$,
    're-registration changes the record, keeps seq');
SELECT is((SELECT count(*) FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id), 12::bigint,
          'still one row per node');

-- SLA classes: definition and redefinition.
SELECT lives_ok($$SELECT dht.define_sla('tap-reg', 3, 2, 115, 1991, 0,
                  'operator', '{tap-reg-r0,tap-reg-r1,tap-reg-r2,tap-reg-r3}')$$,
                'define_sla');
SELECT results_eq(
    $$SELECT data_shards, parity_shards, min_bandwidth_mbps, min_storage_gb, min_availability,
             diversity, regions, target_availability
      FROM dht.sla_classes WHERE name = 'tap-reg'$$,
    $$VALUES (3, 2, 115, 1991::bigint, 0::float8, 'operator'::text,
              '{tap-reg-r0,tap-reg-r1,tap-reg-r2,tap-reg-r3}'::text[], NULL::float8)$$,
    'sla_classes reflects define_sla');
SELECT set_eq(
    $$SELECT DISTINCT p.node_id::text FROM reg_keys, dht.place(k, 'tap-reg') p$$,
    $$SELECT id::text FROM reg_nodes WHERE i BETWEEN 2 AND 9$$,
    'nodes below min_bandwidth (0, 1) or min_storage (10, 11) are never placed; all others are');

-- A token allocated under the first definition keeps its placement.
SELECT is((SELECT count(*) FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9001/1', 'tap-reg')),
          5::bigint, 'allocate under 3 + 2 gives 5 shards');
SELECT dht.define_sla('tap-reg', 2, 1, 0, 0, 0, 'region', '{tap-reg-r0,tap-reg-r1,tap-reg-r2,tap-reg-r3}');
SELECT results_eq(
    $$SELECT count(*), min(data_shards), min(parity_shards), min(diversity), min(min_bandwidth_mbps)
      FROM dht.sla_classes WHERE name = 'tap-reg'$$,
    $$VALUES (1::bigint, 2, 1, 'region'::text, 0)$$,
    'a redefinition replaces the class (one row, new values)');
SELECT ok((SELECT bool_and(c = 3) FROM (SELECT count(*) c FROM reg_keys, dht.place(k, 'tap-reg') GROUP BY g) s),
          'the redefinition changes future placements (3 shards now)');
SELECT is((SELECT count(*) FROM (SELECT g FROM reg_keys, dht.place(k, 'tap-reg') p
                                 JOIN reg_nodes r ON r.id = p.node_id
                                 GROUP BY g HAVING count(DISTINCT r.region) <> 3) s),
          0::bigint, 'future placements follow the new diversity rule (region)');
SELECT ok((SELECT count(*) FROM reg_keys, dht.place(k, 'tap-reg') p WHERE p.node_id IN (SELECT id FROM reg_nodes WHERE i < 2)) > 0,
          'nodes excluded by the old minimums are eligible again');
SELECT results_eq(
    $$SELECT data_shards, parity_shards FROM dht.tokens WHERE token = 'eip155:1/erc721:0x00000000000000000000000000000000007a9001/1'$$,
    $$VALUES (3, 2)$$, 'an existing token keeps its shard counts');
SELECT is((SELECT count(*) FROM dht.lookup('eip155:1/erc721:0x00000000000000000000000000000000007a9001/1')),
          5::bigint, 'and its 5 holders');
SELECT is((SELECT count(*) FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9001/1', 'tap-reg')),
          5::bigint, 'allocating it again returns the existing 5 holders');
SELECT is((SELECT count(*) FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9001/2', 'tap-reg')),
          3::bigint, 'a new token gets the new 2 + 1');

-- Node states: down, draining and banned nodes are never placed.
SELECT dht.define_sla('tap-reg-any', 3, 1, diversity => 'none',
                      regions => '{tap-reg-r0,tap-reg-r1,tap-reg-r2,tap-reg-r3}');
SELECT ok((SELECT count(DISTINCT p.node_id) FROM reg_keys, dht.place(k, 'tap-reg-any') p) = 12,
          'with every node active, all 12 get shards');
SELECT dht.set_node_state(id, CASE i WHEN 3 THEN 'down' WHEN 4 THEN 'draining' ELSE 'banned' END)
FROM reg_nodes WHERE i IN (3, 4, 5);
SELECT results_eq(
    $$SELECT n.state FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i IN (3, 4, 5) ORDER BY r.i$$,
    $$VALUES ('down'::text), ('draining'), ('banned')$$,
    'set_node_state shows in dht.nodes');
SELECT is((SELECT count(*) FROM reg_keys, dht.place(k, 'tap-reg-any') p
           WHERE p.node_id IN (SELECT id FROM reg_nodes WHERE i IN (3, 4, 5))),
          0::bigint, 'down, draining and banned nodes never appear in 500 placements');
SELECT is((SELECT count(DISTINCT p.node_id) FROM reg_keys, dht.place(k, 'tap-reg-any') p), 9::bigint,
          'the 9 others all still do');
SELECT dht.set_node_state(id, 'active') FROM reg_nodes WHERE i = 4;
SELECT ok((SELECT count(*) FROM reg_keys, dht.place(k, 'tap-reg-any') p
           WHERE p.node_id = (SELECT id FROM reg_nodes WHERE i = 4)) > 0,
          'a node set back to active is placed again');

-- Signed announcements: update a registered node and bump seq.
CREATE FUNCTION pg_temp.reg_doc(n int, seq bigint, extra jsonb DEFAULT '{}') RETURNS bytea
LANGUAGE sql AS $$
    SELECT convert_to((jsonb_build_object(
        'network', 'smartlayer', 'pubkey', encode(pubkey, 'hex'), 'seq', seq,
        'issued_at', extract(epoch FROM now())::bigint,
        'endpoint', 'https://announced-' || n || '.example', 'region', region,
        'operator', operator, 'addr', '2001:db8:71:' || n || '::1',
        'bandwidth_mbps', 5000, 'storage_gb', 9000) || extra)::text, 'UTF8')
    FROM reg_nodes WHERE i = n
$$;
CREATE FUNCTION pg_temp.reg_announce(n int, seq bigint, extra jsonb DEFAULT '{}') RETURNS dht.key
LANGUAGE sql AS $$
    SELECT dht.announce(pg_temp.reg_doc(n, seq, extra),
        dht.ed25519_sign('smartlayer_dht/announce/v1'::bytea || '\x00'::bytea || pg_temp.reg_doc(n, seq, extra), secret))
    FROM reg_nodes WHERE i = n
$$;
SELECT is(pg_temp.reg_announce(0, 1), (SELECT id FROM reg_nodes WHERE i = 0), 'announce returns the node id');
SELECT results_eq(
    $$SELECT n.endpoint, n.addr, n.bandwidth_mbps, n.storage_gb, n.seq, n.state
      FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 0$$,
    $$VALUES ('https://announced-0.example', '2001:db8:71:0::1'::inet, 5000, 9000::bigint, 1::bigint, 'active'::text)$$,
    'an announcement updates the registered node and its seq');
SELECT is(pg_temp.reg_announce(0, 7), (SELECT id FROM reg_nodes WHERE i = 0), 'a later seq is accepted');
SELECT is((SELECT n.seq FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 0), 7::bigint,
          'seq is bumped to 7');
SELECT ok((SELECT doc = pg_temp.reg_doc(0, 7) AND dht.ed25519_verify('smartlayer_dht/announce/v1'::bytea || '\x00'::bytea || doc, signature, pubkey)
           FROM dht.node_log l WHERE l.node_id = (SELECT id FROM reg_nodes WHERE i = 0)),
          'the signed document is kept as received, and its signature verifies');
-- The operator's weight survives an announcement; a registration keeps the seq.
SELECT is(pg_temp.reg_announce(11, 3), (SELECT id FROM reg_nodes WHERE i = 11), 'announce a weighted node');
SELECT results_eq(
    $$SELECT n.weight, n.seq, n.endpoint FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 11$$,
    $$VALUES (2.5::float8, 3::bigint, 'https://announced-11.example'::text)$$,
    'an announcement keeps the operator-set weight');
SELECT dht.register_node(pubkey, 'https://tap-reg-11.example/v3', region, operator, addr, 100, 100, 2.5)
FROM reg_nodes WHERE i = 11;
SELECT results_eq(
    $$SELECT n.endpoint, n.seq FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 11$$,
    $$VALUES ('https://tap-reg-11.example/v3'::text, 3::bigint)$$,
    'a registration after an announcement wins and keeps the seq');
-- A node's own draining, and its return from 'down' by announcing; 'banned' holds.
SELECT pg_temp.reg_announce(0, 8, '{"state": "draining"}');
SELECT is((SELECT n.state FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 0), 'draining',
          'a node can announce itself draining');
SELECT is((SELECT count(*) FROM reg_keys, dht.place(k, 'tap-reg-any') p
           WHERE p.node_id = (SELECT id FROM reg_nodes WHERE i = 0)), 0::bigint,
          'a self-draining node is not placed');
SELECT dht.set_node_state(id, 'active') FROM reg_nodes WHERE i = 0;
SELECT is((SELECT n.state FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 0), 'draining',
          'an operator''s "active" defers to the node''s own draining');
SELECT pg_temp.reg_announce(3, 1);
SELECT is((SELECT n.state FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 3), 'active',
          'a down node that announces itself is active again');
SELECT pg_temp.reg_announce(5, 1);
SELECT is((SELECT n.state FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i = 5), 'banned',
          'a banned node stays banned whatever it announces');

-- Measured availability: shown, and filtered on by min_availability.
SELECT dht.set_node_availability(id, CASE WHEN i % 2 = 0 THEN 0.99 ELSE 0.5 END)
FROM reg_nodes WHERE i BETWEEN 1 AND 10;
SELECT results_eq(
    $$SELECT n.availability FROM dht.nodes n JOIN reg_nodes r ON r.id = n.node_id WHERE r.i IN (1, 2, 11) ORDER BY r.i$$,
    $$VALUES (0.5::float8), (0.99::float8), (NULL::float8)$$,
    'set_node_availability shows in dht.nodes (NULL until measured)');
SELECT dht.define_sla('tap-reg-avail', 2, 1, min_availability => 0.9, diversity => 'none',
                      regions => '{tap-reg-r0,tap-reg-r1,tap-reg-r2,tap-reg-r3}');
SELECT set_eq(
    $$SELECT DISTINCT p.node_id::text FROM reg_keys, dht.place(k, 'tap-reg-avail') p$$,
    $$SELECT id::text FROM reg_nodes WHERE i IN (2, 4, 6, 8, 10)$$,
    'min_availability: only measured nodes at or above it (not unmeasured, not down/banned/draining)');

-- A class sized by target availability: parity from the mean measured availability.
SELECT dht.define_sla_by_target('tap-reg-target', 2, 0.999, diversity => 'none', min_availability => 0.9,
                                regions => '{tap-reg-r0,tap-reg-r1,tap-reg-r2,tap-reg-r3}');
SELECT results_eq(
    $$SELECT data_shards, parity_shards, target_availability FROM dht.sla_classes WHERE name = 'tap-reg-target'$$,
    $$VALUES (2, NULL::int, 0.999::float8)$$,
    'define_sla_by_target records the target, not a parity count');
SELECT is((SELECT count(*)::int FROM dht.place((SELECT k FROM reg_keys WHERE g = 1), 'tap-reg-target')),
          dht.plan_redundancy(2, 0.99, 0.999),
          'its placements have plan_redundancy(2, mean availability, target) shards');
SELECT is((SELECT count(*)::int FROM dht.allocate('eip155:1/erc721:0x00000000000000000000000000000000007a9001/3', 'tap-reg-target')),
          dht.plan_redundancy(2, 0.99, 0.999), 'and so does an allocation');
SELECT results_eq(
    $$SELECT data_shards, parity_shards FROM dht.tokens WHERE token = 'eip155:1/erc721:0x00000000000000000000000000000000007a9001/3'$$,
    format('VALUES (2, %s)', dht.plan_redundancy(2, 0.99, 0.999) - 2),
    'the token records the parity it got');

-- Epochs: numbers increase; the view lists them with their seeds.
CREATE TEMP TABLE reg_epochs (n int, e bigint) ON COMMIT DROP;
INSERT INTO reg_epochs VALUES (1, dht.begin_epoch(sha256('tap-reg-e1'::bytea)));
INSERT INTO reg_epochs VALUES (2, dht.begin_epoch(sha256('tap-reg-e2'::bytea)));
SELECT is((SELECT e FROM reg_epochs WHERE n = 2), (SELECT e + 1 FROM reg_epochs WHERE n = 1),
          'begin_epoch returns increasing numbers');
SELECT is((SELECT e FROM reg_epochs WHERE n = 2), (SELECT max(epoch) FROM dht.epochs),
          'begin_epoch returns the new greatest epoch');
SELECT is((SELECT seed FROM dht.epochs ORDER BY epoch DESC LIMIT 1), sha256('tap-reg-e2'::bytea),
          'dht.epochs shows its seed');

-- The summary moved by what this file did.
SELECT results_eq(
    $$SELECT s.nodes - o.nodes, s.down_nodes - o.down_nodes, s.banned_nodes - o.banned_nodes,
             s.draining_nodes - o.draining_nodes, s.regions - o.regions, s.sla_classes - o.sla_classes,
             s.tokens - o.tokens, s.epoch - o.epoch
      FROM dht.network_summary s, reg_summary o$$,
    $$VALUES (12::bigint, 0::bigint, 1::bigint, 1::bigint, 4::bigint, 4::bigint, 3::bigint, 2::bigint)$$,
    'network_summary counts the new nodes, states, regions, classes, tokens and epoch');

SELECT * FROM finish();
ROLLBACK;
