-- Anchors on one server: argument checks and the errors that need no peer.
-- Everything runs in one transaction that is rolled back, so the tests after
-- this one still see an uninitialised anchor (origin 'local').
\set VERBOSITY default
\set ON_ERROR_ROLLBACK on
BEGIN;

-- Before dht.anchor_init: rows are written under 'local'; peers need a name.
SELECT dht.local_origin();
SELECT dht.anchor_add_peer('b', 'host=/nonexistent dbname=postgres');
SELECT dht.anchor_remove_peer('b');
\set VERBOSITY sqlstate
SELECT dht.anchor_add_peer('b', 'host=/nonexistent dbname=postgres');
\set VERBOSITY default
SELECT count(*) FROM dht.anchor_status();
SELECT dht.define_sla('pre_init', 2, 1);
SELECT origin FROM dht.sla_log WHERE name = 'pre_init';

-- Anchor names: identifiers fit for publication and slot names.
SELECT dht.anchor_init('Upper');
SELECT dht.anchor_init('9lives');
SELECT dht.anchor_init('has-dash');
SELECT dht.anchor_init('');
SELECT dht.anchor_init('abcdefghijklmnopqrstuvwxyz1234');
SELECT dht.anchor_init('local');
SELECT dht.anchor_init('genesis');
SELECT dht.anchor_init(NULL);

-- Init adopts the rows written before it and publishes this anchor's rows
-- only (epoch 0, origin 'genesis', is never published).
SELECT dht.anchor_init('regress_a');
SELECT dht.local_origin();
SELECT origin FROM dht.sla_log WHERE name = 'pre_init';
SELECT pubname, pubinsert, pubupdate, pubdelete, pubtruncate
FROM pg_publication WHERE pubname = 'dht_regress_a';
SELECT schemaname, tablename, rowfilter FROM pg_publication_tables
WHERE pubname = 'dht_regress_a' ORDER BY tablename;

-- Init again: the same name is a no-op, another name an error.
SELECT dht.anchor_init('regress_a');
SELECT dht.anchor_init('regress_b');

-- Peers: names, self, connection strings, unreachable servers.
SELECT dht.anchor_add_peer('regress_a', 'host=/nonexistent dbname=postgres');
SELECT dht.anchor_add_peer('Bad', 'host=/nonexistent dbname=postgres');
SELECT dht.anchor_add_peer('b', NULL);
SELECT dht.anchor_add_peer('b', 'host=/nonexistent port=1 dbname=postgres');
SELECT dht.anchor_add_peer('b', 'nonsense');
SELECT dht.anchor_add_peer('b', 'postgresql://[::1');
SELECT dht.anchor_remove_peer('b');
SELECT dht.anchor_remove_peer('Bad');
-- Nothing was created by the failures.
SELECT count(*) FROM pg_subscription;
SELECT count(*) FROM dht.anchor_status();

-- The digest is 32 bytes, stable, and follows the directory.
SELECT length(dht.state_digest());
SELECT dht.state_digest() = dht.state_digest() AS stable;
CREATE TEMP TABLE d AS SELECT dht.state_digest() AS before;
SELECT dht.define_sla('digest_probe', 3, 1);
SELECT before <> dht.state_digest() AS changed FROM d;

-- Membership over time (the multi-anchor behaviour is in test/t/070_membership.pl).
-- Write marks are counted at commit (test/pgtap/membership.sql); nobody wrote as 'nobody'.
SELECT dht.origin_writes('nobody') AS nobody;
\set SHOW_CONTEXT never
-- Adoption: not itself, not an origin it holds no rows of, names checked.
SELECT dht.anchor_adopt('regress_a');
SELECT dht.anchor_adopt('ghost');
SELECT dht.anchor_adopt('Bad');
SELECT dht.anchor_adopt(NULL);
-- Serving an origin's rows: its own go through its main publication.
SELECT dht._serve_origin('regress_a');
SELECT dht._serve_origin('ghost');
SELECT pubname FROM pg_publication WHERE pubname LIKE 'dhr\_%';
-- Rejoining: arguments checked, and no reachable peer is an error that changes nothing.
SELECT * FROM dht._rejoin_begin(NULL, NULL);
SELECT * FROM dht._rejoin_begin('{b}', NULL);
SELECT * FROM dht._rejoin_begin('{b,c}', '{x}');
SELECT * FROM dht._rejoin_begin('{regress_a}', '{x}');
SELECT * FROM dht._rejoin_begin('{B}', '{x}');
SELECT * FROM dht._rejoin_begin('{b}', '{"host=/nonexistent port=1 dbname=postgres"}');
SELECT write_fence FROM dht.anchor_self;
-- The write fence, as a recovery sets it: every write under this anchor's name refused.
UPDATE dht.anchor_self SET write_fence = 'recovering';
SELECT dht.define_sla('fenced', 3, 1);
SELECT count(*) FROM dht.allocate('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/7', 'digest_probe');
SELECT peer, state, served_by FROM dht.anchor_status();
UPDATE dht.anchor_self SET write_fence = 'left';
SELECT dht.define_sla('fenced', 3, 1);
UPDATE dht.anchor_self SET write_fence = NULL;
SELECT dht.define_sla('fenced', 3, 1);
-- A retired origin this anchor holds rows of, served by nobody, then adopted.
INSERT INTO dht.sla_log (name, origin, data_shards, parity_shards, min_bandwidth_mbps, min_storage_gb,
                         min_availability, diversity, event_at)
VALUES ('old', 'retired_x', 2, 1, 0, 0, 0, 'none', now());
INSERT INTO dht.origin_marks VALUES ('retired_x', 0, 1);
SELECT peer, state, served_by FROM dht.anchor_status();
SELECT dht.anchor_adopt('retired_x');
SELECT dht.anchor_adopt('retired_x');
SELECT peer, state, served_by FROM dht.anchor_status();
SELECT retired, origin FROM dht.anchor_adoptions;
SELECT pubname FROM pg_publication WHERE pubname LIKE 'dhr\_%';
-- DROP EXTENSION (or DROP SCHEMA dht) while this anchor replicates: refused, with the way out.
DROP EXTENSION smartlayer_dht;
DROP SCHEMA dht CASCADE;
SELECT count(*) FROM pg_extension WHERE extname = 'smartlayer_dht';
\set SHOW_CONTEXT errors

-- The SQLSTATEs.
\set VERBOSITY sqlstate
SELECT dht.anchor_adopt('regress_a');
SELECT dht.anchor_adopt('ghost');
SELECT * FROM dht._rejoin_begin('{b}', '{"host=/nonexistent port=1 dbname=postgres"}');
UPDATE dht.anchor_self SET write_fence = 'recovering';
SELECT dht.define_sla('fenced', 3, 1);
UPDATE dht.anchor_self SET write_fence = NULL;
DROP EXTENSION smartlayer_dht;
SELECT dht.anchor_init('Bad');
SELECT dht.anchor_init('regress_b');
SELECT dht.anchor_add_peer('b', 'nonsense');
SELECT dht.anchor_add_peer('b', 'host=/nonexistent port=1 dbname=postgres');
SELECT dht.anchor_remove_peer('b');
\set VERBOSITY default

ROLLBACK;
SELECT dht.local_origin();
SELECT count(*) FROM pg_publication WHERE pubname LIKE 'dht\_%';
