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

-- The SQLSTATEs.
\set VERBOSITY sqlstate
SELECT dht.anchor_init('Bad');
SELECT dht.anchor_init('regress_b');
SELECT dht.anchor_add_peer('b', 'nonsense');
SELECT dht.anchor_add_peer('b', 'host=/nonexistent port=1 dbname=postgres');
SELECT dht.anchor_remove_peer('b');
\set VERBOSITY default

ROLLBACK;
SELECT dht.local_origin();
SELECT count(*) FROM pg_publication WHERE pubname LIKE 'dht\_%';
