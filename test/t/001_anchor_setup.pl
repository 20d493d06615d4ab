# Anchor set-up between servers: the errors of dht.anchor_init,
# anchor_add_peer and anchor_remove_peer leave nothing half-created (no slot
# on the peer, no subscription), transactions and savepoints that roll back
# take the remote slot with them, a least-privilege replication role is
# enough, and dht.anchor_status reports disabled and down peers.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DhtAnchors;

# A server without wal_level = logical cannot be an anchor.
my $plain = new_anchor('plain', logical => 0, init => 0);
my ($rc, $out, $err) = $plain->psql('postgres', "SELECT dht.anchor_init('plain')");
like($err, qr/anchors need wal_level = logical/, 'anchor_init needs wal_level = logical');
like($err, qr/HINT:.*wal_level = logical.*restart/, '... with a hint');
is($plain->safe_psql('postgres', 'SELECT dht.local_origin()'), 'local', '... and names nothing');
is($plain->safe_psql('postgres', 'SELECT count(*) FROM pg_publication'), '0', '... and publishes nothing');
$plain->stop;

my $a = new_anchor('a');
my $b = new_anchor('b');
my $u = new_anchor('u', init => 0);    # extension, no anchor_init
$b->safe_psql('postgres', 'CREATE DATABASE bare');

sub slots_on { my ($n) = @_; return $n->safe_psql('postgres', 'SELECT string_agg(slot_name, \',\' ORDER BY slot_name) FROM pg_replication_slots WHERE slot_name LIKE \'dht\\_%\''); }
sub subs_on { my ($n) = @_; return $n->safe_psql('postgres', 'SELECT string_agg(subname, \',\' ORDER BY subname) FROM pg_subscription'); }

sub add_fails
{
	my ($node, $peer, $conninfo, $re, $name) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SELECT dht.anchor_add_peer('$peer', \$\$$conninfo\$\$)");
	isnt($rc, 0, "$name: fails");
	like($err, $re, "$name: message");
	return;
}

my $bconn = $b->connstr('postgres');
my $bq = "\$\$$bconn\$\$";    # dollar-quoted: connstr has quotes
add_fails($a, 'x', $bconn, qr/the anchor at that address is "b", not "x"/, 'wrong name');
add_fails($a, 'u', $u->connstr('postgres'), qr/anchor "u" is not initialised.*\n.*HINT:.*anchor_init/, 'peer not initialised');
add_fails($a, 'b', $b->connstr('bare'), qr/has no smartlayer_dht anchor/, 'peer without the extension');
add_fails($a, 'b', $b->connstr('postgres') . ' port=1', qr/could not connect to anchor "b"/, 'unreachable peer');
add_fails($a, 'a', $a->connstr('postgres'), qr/cannot be its own peer/, 'self');
is(slots_on($b), '', 'no slot on the peer after the failures');
is(subs_on($a), '', 'no subscription after the failures');

# A transaction or savepoint that rolls back takes the remote slot with it.
$a->safe_psql('postgres', "BEGIN; SELECT dht.anchor_add_peer('b', $bq); ROLLBACK;");
is(slots_on($b), '', 'rolled-back add_peer: the slot on the peer is dropped');
is(subs_on($a), '', '... and there is no subscription');
$a->safe_psql('postgres', "BEGIN; SAVEPOINT s; SELECT dht.anchor_add_peer('b', $bq); ROLLBACK TO s; COMMIT;");
is(slots_on($b), '', 'add_peer in a rolled-back savepoint: the slot is dropped');
($rc, $out, $err) = $a->psql('postgres', "BEGIN; SELECT dht.anchor_add_peer('b', $bq); SELECT 1/0; COMMIT;");
is(slots_on($b), '', 'add_peer in a transaction that fails later: the slot is dropped');
$a->append_conf('postgresql.conf', 'max_prepared_transactions = 2');
$a->restart;
($rc, $out, $err) = $a->psql('postgres', "BEGIN; SELECT dht.anchor_add_peer('b', $bq); PREPARE TRANSACTION 'p';");
like($err, qr/cannot prepare a transaction that has added or removed an anchor peer/, 'PREPARE refused');
is(slots_on($b), '', '... and the slot is dropped');
is(subs_on($a), '', '... and there is no subscription');

# Add for real, inside a transaction block and with a savepoint released.
$a->safe_psql('postgres', "BEGIN; SAVEPOINT s; SELECT dht.anchor_add_peer('b', $bq); RELEASE s; COMMIT;");
is(slots_on($b), 'dht_b_a', 'add_peer in a committed transaction: slot dht_b_a on the peer');
is(subs_on($a), 'dht_from_b', '... and subscription dht_from_b');
add_fails($a, 'b', $bconn, qr/anchor "b" is already a peer/, 'duplicate peer');
($rc, $out, $err) = $a->psql('postgres', "\\set VERBOSITY sqlstate\nSELECT dht.anchor_add_peer('b', $bq)");
like($err, qr/42710/, 'duplicate peer is 42710');
add_peer($b, $a);

# Rows written before anchor_init are adopted and reach the peers.
$u->safe_psql('postgres', "SELECT dht.define_sla('before_init', 2, 1)");
$u->safe_psql('postgres', "SELECT dht.anchor_init('u')");
is($u->safe_psql('postgres', "SELECT origin FROM dht.sla_log WHERE name = 'before_init'"), 'u', 'pre-init rows take the anchor name');
add_peer($a, $u);
add_peer($u, $a);
$a->poll_query_until('postgres', "SELECT count(*) = 1 FROM dht.sla_classes WHERE name = 'before_init'")
  or die 'pre-init row not copied';
pass('pre-init rows reach a peer by the initial copy');
add_peer($b, $u);
add_peer($u, $b);

seed_registry($a, 'a', 8);
$b->safe_psql('postgres', "SELECT dht.define_sla('silver', 3, 1)");
wait_converged([ $a, $b, $u ], name => 'three anchors after set-up');

# Removing a peer inside a transaction that rolls back changes nothing.
$a->safe_psql('postgres', "BEGIN; SELECT dht.anchor_remove_peer('b'); ROLLBACK;");
is(subs_on($a), 'dht_from_b,dht_from_u', 'rolled-back remove_peer keeps the subscription');
like(slots_on($b), qr/dht_b_a/, '... and the slot');
$b->safe_psql('postgres', "SELECT dht.define_sla('after_rollback', 2, 2)");
wait_converged([ $a, $b, $u ], name => 'streaming resumes after a rolled-back remove_peer');

# Status: streaming, disabled, down.
$a->poll_query_until('postgres',
	"SELECT bool_and(state = 'streaming' AND lag_bytes IS NOT NULL AND error IS NULL) FROM dht.anchor_status()")
  or die 'not streaming';
pass('anchor_status: streaming with a lag');
$a->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_b DISABLE');
is($a->safe_psql('postgres', "SELECT state FROM dht.anchor_status() WHERE peer = 'b'"), 'disabled', 'anchor_status: disabled');
$a->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_b ENABLE');
$b->stop('fast');
is($a->safe_psql('postgres', "SELECT state || ',' || (lag_bytes IS NULL) || ',' || (error IS NOT NULL) FROM dht.anchor_status() WHERE peer = 'b'"),
	'down,true,true', 'anchor_status: down, no lag, the reason');

# Removing a peer that is down: the subscription goes, the slot is named.
($rc, $out, $err) = $a->psql('postgres', "SELECT dht.anchor_remove_peer('b')");
is($rc, 0, 'remove_peer of a peer that is down succeeds');
like($err, qr/WARNING:  could not drop replication slot "dht_b_a" on anchor "b".*\n(?:.*\n)*.*HINT:.*pg_drop_replication_slot\('dht_b_a'\)/,
	'... and warns which slot to drop by hand');
is(subs_on($a), 'dht_from_u', '... the subscription is gone');
$b->start;
like(slots_on($b), qr/dht_b_a/, 'the slot is left on the peer');
add_fails($a, 'b', $bconn, qr/replication slot "dht_b_a" already exists on anchor "b"/, 're-adding with the slot left over');
is(subs_on($a), 'dht_from_u', '... creates no subscription');
$b->safe_psql('postgres', "SELECT pg_drop_replication_slot('dht_b_a')");
$b->safe_psql('postgres', "SELECT dht.define_sla('while_removed', 2, 3)");
add_peer($a, $b);
wait_converged([ $a, $b, $u ], name => 're-added peer catches up by the initial copy');

# remove_peer of a reachable peer drops the slot there; the peer's rows stay.
$u->safe_psql('postgres', "SELECT dht.anchor_remove_peer('a')");
is(subs_on($u), 'dht_from_b', 'remove_peer drops the subscription');
unlike(slots_on($a), qr/dht_a_u/, '... and the slot on the peer');
is($u->safe_psql('postgres', "SELECT count(*) FROM dht.node_log WHERE origin = 'a'"), '8', "... and keeps the peer's rows");
($rc, $out, $err) = $u->psql('postgres', "\\set VERBOSITY sqlstate\nSELECT dht.anchor_remove_peer('a')");
like($err, qr/42704/, 'removing an unknown peer is 42704');
add_peer($u, $a);

# A non-superuser dht_admin must connect with a password.
$a->safe_psql('postgres', 'CREATE ROLE op LOGIN; GRANT dht_admin TO op');
$a->safe_psql('postgres', "SELECT dht.anchor_remove_peer('u')");
($rc, $out, $err) = $a->psql('postgres', "SET ROLE op; SELECT dht.anchor_add_peer('u', \$\$" . $u->connstr('postgres') . "\$\$)");
like($err, qr/password is required to connect to anchor "u"/, 'non-superuser add_peer without a password is refused');
unlike(slots_on($u), qr/dht_u_a/, '... with no slot on the peer');
($rc, $out, $err) = $a->psql('postgres', "SET ROLE op; SELECT peer FROM dht.anchor_status()");
is($rc, 0, 'dht_admin may read anchor_status');

# Least privilege: a replication role with only dht_replication's grants.
$u->safe_psql('postgres', 'CREATE ROLE repl LOGIN REPLICATION IN ROLE dht_replication');
add_peer_as($a, $u, 'repl');
$u->safe_psql('postgres', "SELECT dht.define_sla('via_repl', 2, 1)");
wait_converged([ $a, $b, $u ], name => 'a peer read through a least-privilege replication role');

sub add_peer_as
{
	my ($node, $peer, $user) = @_;
	my $conn = $peer->connstr('postgres') . " user=$user";
	$node->safe_psql('postgres', sprintf("SELECT dht.anchor_add_peer('%s', \$\$%s\$\$)", $peer->name, $conn));
	return;
}

check_worker_logs([ $a, $b, $u ]);
done_testing();
