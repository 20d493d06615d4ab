-- Heartbeats and measured availability: the signed bytes, good and bad
-- heartbeats (forged, wrong network, replayed, stale, outside the clock
-- window, unknown node, malformed), the batch form, the per-node bitmap and
-- the availability that dht.nodes and placement see.  Nodes in regions
-- tap-hb-*, classes tap-hb-*; all rolled back at the end.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
SET search_path = public, dht;

BEGIN;
SELECT plan(33);
SET LOCAL smartlayer_dht.heartbeat_interval = 60;
SET LOCAL smartlayer_dht.availability_window = 3600;

CREATE TEMP TABLE hb_nodes ON COMMIT DROP AS
SELECT i, k.pubkey, k.secret, dht.node_id(k.pubkey) AS id
FROM generate_series(0, 3) i, dht.ed25519_keypair(sha256(('tap-hb' || i)::bytea)) k;
SELECT count(dht.register_node(pubkey, 'https://tap-hb-' || i || '.example', 'tap-hb-r' || i,
                               'tap-hb-op' || i, ('10.72.' || i || '.1')::inet, 100, 100))
FROM hb_nodes WHERE i < 3;   -- node 3 stays unknown

CREATE FUNCTION pg_temp.now_s() RETURNS bigint LANGUAGE sql
    AS $$ SELECT extract(epoch FROM clock_timestamp())::bigint $$;
-- A heartbeat of node n, signed for the given network.
CREATE FUNCTION pg_temp.sig(n int, seq bigint, issued bigint, network text DEFAULT NULL) RETURNS bytea
    LANGUAGE sql AS $$
    SELECT dht.ed25519_sign('smartlayer_dht/heartbeat/v1'::bytea || '\x00'::bytea
        || convert_to(coalesce(network, current_setting('smartlayer_dht.network')), 'UTF8') || '\x00'::bytea
        || pubkey || int8send(seq) || int8send(issued), secret)
    FROM hb_nodes WHERE i = n $$;
CREATE FUNCTION pg_temp.beat(n int, seq bigint, issued bigint DEFAULT NULL) RETURNS void
    LANGUAGE sql AS $$
    SELECT dht.heartbeat((SELECT pubkey FROM hb_nodes WHERE i = n), seq, coalesce(issued, pg_temp.now_s()),
                         pg_temp.sig(n, seq, coalesce(issued, pg_temp.now_s()))) $$;

-- The signed bytes: prefix, 0, network, 0, pubkey, seq and issued_at big-endian.
SELECT is(dht.heartbeat_message(('\x' || repeat('ab', 32))::bytea, 258, 1700000000),
          'smartlayer_dht/heartbeat/v1'::bytea || '\x00'::bytea || convert_to(current_setting('smartlayer_dht.network'), 'UTF8')
          || '\x00'::bytea || ('\x' || repeat('ab', 32))::bytea || '\x0000000000000102'::bytea || '\x000000006553f100'::bytea,
          'heartbeat_message is the documented layout');

-- Before any heartbeat: the operator-set availability, no last heartbeat.
SELECT dht.set_node_availability(id, 0.97) FROM hb_nodes WHERE i = 0;
SELECT is((SELECT (availability, last_heartbeat IS NULL)::text FROM dht.nodes n JOIN hb_nodes h ON h.id = n.node_id WHERE h.i = 0),
          '(0.97,t)', 'a node that never sent a heartbeat keeps the availability set for it');

-- A good heartbeat.
SELECT lives_ok($$SELECT pg_temp.beat(0, 1)$$, 'a good heartbeat is accepted');
SELECT is((SELECT (seq, origin = dht.local_origin(), seen, last_slot = first_slot)::text
           FROM dht.heartbeat_log l JOIN hb_nodes h ON h.id = l.node_id WHERE h.i = 0),
          '(1,t,1,t)', 'one row per node and origin: last seq and the bitmap of its first slot');
SELECT ok((SELECT dht.ed25519_verify(dht.heartbeat_message(h.pubkey, l.seq, l.issued_at), l.signature, h.pubkey)
           FROM dht.heartbeat_log l JOIN hb_nodes h ON h.id = l.node_id WHERE h.i = 0),
          'the stored heartbeat can be re-checked by any anchor');
SELECT is((SELECT (availability, last_heartbeat IS NOT NULL)::text FROM dht.nodes n JOIN hb_nodes h ON h.id = n.node_id WHERE h.i = 0),
          '(1,t)', 'after its first heartbeat the availability is the measured one');
SELECT lives_ok($$SELECT pg_temp.beat(0, 2)$$, 'a later seq is accepted');
SELECT is((SELECT count(*) FROM dht.heartbeat_log l JOIN hb_nodes h ON h.id = l.node_id WHERE h.i = 0),
          1::bigint, 'still one row for the node');

-- Bad heartbeats.
SELECT throws_ok($$SELECT pg_temp.beat(0, 2)$$, '22023', 'stale heartbeat', 'a replayed heartbeat is refused');
SELECT throws_ok($$SELECT pg_temp.beat(0, 1)$$, '22023', 'stale heartbeat', 'an older seq is refused');
SELECT throws_ok($$SELECT dht.heartbeat((SELECT pubkey FROM hb_nodes WHERE i = 0), 3, pg_temp.now_s(), pg_temp.sig(1, 3, pg_temp.now_s()))$$,
                 '22023', 'invalid heartbeat signature', 'a heartbeat signed by another key is refused');
SELECT throws_ok($$SELECT dht.heartbeat((SELECT pubkey FROM hb_nodes WHERE i = 0), 4, pg_temp.now_s(), pg_temp.sig(0, 3, pg_temp.now_s()))$$,
                 '22023', 'invalid heartbeat signature', 'a signature over another seq is refused');
SELECT throws_ok($$SELECT dht.heartbeat((SELECT pubkey FROM hb_nodes WHERE i = 0), 3, pg_temp.now_s(), pg_temp.sig(0, 3, pg_temp.now_s(), 'othernet'))$$,
                 '22023', 'invalid heartbeat signature', 'a heartbeat for another network is refused');
SELECT throws_ok($$SELECT pg_temp.beat(0, 3, pg_temp.now_s() + 400)$$, '22023',
                 'heartbeat issued_at is outside the accepted window', 'a heartbeat from the future is refused');
SELECT throws_ok($$SELECT pg_temp.beat(0, 3, pg_temp.now_s() - 400)$$, '22023',
                 'heartbeat issued_at is outside the accepted window', 'an old heartbeat is refused');
SELECT throws_ok($$SELECT pg_temp.beat(3, 1)$$, '22023',
                 format('node %s is not registered', (SELECT id FROM hb_nodes WHERE i = 3)), 'a heartbeat of an unknown node is refused');
SELECT throws_ok($$SELECT dht.heartbeat('\x00', 3, pg_temp.now_s(), pg_temp.sig(0, 3, pg_temp.now_s()))$$,
                 '22023', 'invalid heartbeat pubkey', 'a short pubkey is refused');
SELECT throws_ok($$SELECT dht.heartbeat((SELECT pubkey FROM hb_nodes WHERE i = 0), 3, pg_temp.now_s(), '\x00')$$,
                 '22023', 'invalid heartbeat signature', 'a short signature is refused');
SELECT throws_ok($$SELECT dht.heartbeat(NULL, 3, pg_temp.now_s(), pg_temp.sig(0, 3, pg_temp.now_s()))$$,
                 '22023', 'heartbeat pubkey, seq, issued_at and signature must not be NULL', 'NULL is refused');
SELECT throws_ok($$SELECT dht.heartbeat((SELECT pubkey FROM hb_nodes WHERE i = 0), -1, pg_temp.now_s(), pg_temp.sig(0, -1, pg_temp.now_s()))$$,
                 '22023', 'heartbeat seq must be 0 or more', 'a negative seq is refused');
SELECT is((SELECT seq FROM dht.heartbeat_log l JOIN hb_nodes h ON h.id = l.node_id WHERE h.i = 0),
          2::bigint, 'refused heartbeats changed nothing');

-- The batch form: each beat on its own.
CREATE FUNCTION pg_temp.pk(n int) RETURNS bytea LANGUAGE sql AS $$ SELECT pubkey FROM hb_nodes WHERE i = n $$;
SELECT results_eq(
    $$SELECT ord, accepted, split_part(error, ':', 1)
      FROM dht.heartbeat_many(
          ARRAY[pg_temp.pk(0), pg_temp.pk(1), pg_temp.pk(2), pg_temp.pk(2), pg_temp.pk(1), pg_temp.pk(3)],
          ARRAY[5, 1, 1, 1, 2, 1]::bigint[], array_fill(pg_temp.now_s(), ARRAY[6]),
          ARRAY[pg_temp.sig(0, 5, pg_temp.now_s()), pg_temp.sig(1, 1, pg_temp.now_s()),
                pg_temp.sig(2, 1, pg_temp.now_s()), pg_temp.sig(2, 1, pg_temp.now_s()),
                pg_temp.sig(0, 2, pg_temp.now_s()), pg_temp.sig(3, 1, pg_temp.now_s())])$$,
    $$VALUES (1, true, NULL::text), (2, true, NULL), (3, true, NULL), (4, false, 'stale heartbeat'),
             (5, false, 'invalid heartbeat signature'),
             (6, false, format('node %s is not registered', (SELECT id FROM hb_nodes WHERE i = 3)))$$,
    'heartbeat_many records the good beats and says why the others were refused');
SELECT throws_ok($$SELECT * FROM dht.heartbeat_many(ARRAY['\x00'::bytea], ARRAY[1, 2]::bigint[], ARRAY[1]::bigint[], ARRAY['\x00'::bytea])$$,
                 '22023', 'heartbeat arrays must have the same length', 'arrays of different lengths are refused');
SELECT throws_ok($$SELECT * FROM dht.heartbeat_many(NULL, ARRAY[1]::bigint[], ARRAY[1]::bigint[], ARRAY['\x00'::bytea])$$,
                 '22023', 'heartbeat arrays must not be NULL', 'NULL arrays are refused');
SELECT throws_ok($$SELECT * FROM dht.heartbeat_many(array_fill(NULL::bytea, ARRAY[100001]), array_fill(1::bigint, ARRAY[100001]),
                                                   array_fill(1::bigint, ARRAY[100001]), array_fill(NULL::bytea, ARRAY[100001]))$$,
                 '54000', 'too many heartbeats in one call', 'a batch above 100000 is refused');

-- Availability from the bitmap: 60 slots of 60 s in a 1 h window.
CREATE TEMP TABLE hb_now ON COMMIT DROP AS SELECT floor(extract(epoch FROM clock_timestamp()) / 60)::bigint AS slot;
-- node 1: beat in 30 of the last 60 slots (every other one, the current one included).
UPDATE dht.heartbeat_log l SET seen = x'5555555555555555'::bigint, last_slot = (SELECT slot FROM hb_now),
       first_slot = (SELECT slot FROM hb_now) - 200
FROM hb_nodes h WHERE h.id = l.node_id AND h.i = 1;
SELECT is(dht.measured_availability((SELECT id FROM hb_nodes WHERE i = 1)), 0.5::float8,
          'a node that beat in every other slot of the window is 50% available');
-- The same bitmap, last updated 10 slots ago: shifted, the 10 silent slots count against it.
UPDATE dht.heartbeat_log l SET last_slot = (SELECT slot FROM hb_now) - 10
FROM hb_nodes h WHERE h.id = l.node_id AND h.i = 1;
SELECT is(dht.measured_availability((SELECT id FROM hb_nodes WHERE i = 1)), 25::float8 / 59,
          'silent slots since the last beat count as missed (the current slot only once it has a beat)');
-- A beat received by another anchor fills the gaps: bitmaps of all origins are ORed.
INSERT INTO dht.heartbeat_log (node_id, origin, seq, issued_at, signature, received_at, slot_seconds, first_slot, last_slot, seen)
SELECT id, 'tap-hb-other', 0, 0, ('\x' || repeat('00', 64))::bytea, clock_timestamp(), 60, (SELECT slot FROM hb_now) - 200,
       (SELECT slot FROM hb_now), -1
FROM hb_nodes WHERE i = 1;
SELECT is(dht.measured_availability((SELECT id FROM hb_nodes WHERE i = 1)), 1::float8,
          'availability counts a slot if any anchor got a beat in it');
-- A node that started beating 4 slots ago and missed one is 75% available.
UPDATE dht.heartbeat_log l SET seen = 13, last_slot = (SELECT slot FROM hb_now), first_slot = (SELECT slot FROM hb_now) - 3
FROM hb_nodes h WHERE h.id = l.node_id AND h.i = 2;
SELECT is(dht.measured_availability((SELECT id FROM hb_nodes WHERE i = 2)), 0.75::float8,
          'only slots since the first beat count');
-- A row in another slot size (the settings changed) is not mixed in.
SET LOCAL smartlayer_dht.heartbeat_interval = 30;
SELECT is(dht.measured_availability((SELECT id FROM hb_nodes WHERE i = 2)), NULL::float8,
          'rows of another slot size are ignored until the node beats again');
SET LOCAL smartlayer_dht.heartbeat_interval = 60;

-- Placement uses the measured value: a class that needs 0.9 takes nodes 0 and 1 but not node 2.
SELECT dht._registry_touch();
SELECT dht.define_sla('tap-hb-c', 1, 0, min_availability => 0.9, diversity => 'none',
                      regions => ARRAY['tap-hb-r0', 'tap-hb-r1', 'tap-hb-r2']);
SELECT is((SELECT availability FROM dht.nodes n JOIN hb_nodes h ON h.id = n.node_id WHERE h.i = 2), 0.75::float8,
          'dht.nodes shows the measured availability');
SELECT set_eq($$SELECT DISTINCT p.node_id FROM generate_series(1, 64) g, dht.place(sha256(('tap-hb-k' || g)::bytea)::dht.key, 'tap-hb-c') p$$,
              $$SELECT id FROM hb_nodes WHERE i IN (0, 1)$$,
              'SLA min_availability is checked against the measured availability');
UPDATE dht.heartbeat_log l SET seen = 15 FROM hb_nodes h WHERE h.id = l.node_id AND h.i = 2;
SELECT dht._registry_touch();
SELECT set_eq($$SELECT DISTINCT p.node_id FROM generate_series(1, 64) g, dht.place(sha256(('tap-hb-k' || g)::bytea)::dht.key, 'tap-hb-c') p$$,
              $$SELECT id FROM hb_nodes WHERE i IN (0, 1, 2)$$,
              'a node whose measured availability rose is eligible again');

SELECT * FROM finish();
ROLLBACK;
