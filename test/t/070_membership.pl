# Anchor membership over the years, on real servers:
#   1. three anchors allocate concurrently and converge;
#   2. c retires (CALL dht.anchor_leave), a and b both adopt its rows, and
#      the directory is the same before and after;
#   3. d joins later and receives c's rows from one adopter: same digest,
#      every token;
#   4. b is wiped and rebuilt under its old name: it gets its own rows back
#      before it writes, rejoins, converges, and its new tokens reach everyone;
#   5. d is restored from a backup taken before some of its writes: its first
#      write is refused, dht.anchor_rejoin brings its rows back, nobody's
#      apply worker stops;
#   6. DROP EXTENSION on a is refused until dht.anchor_leave, which leaves no
#      publication, subscription or slot on a or on its peers;
# and no server log has an apply error or a conflict.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DhtAnchors;

sub q1 { my ($n, $sql) = @_; return $n->safe_psql('postgres', $sql); }
sub tokens { my ($n, $like) = @_; return q1($n, "SELECT count(*) FROM dht.tokens WHERE token::text LIKE '%/$like%'"); }
sub allocate_sql
{
	my ($prefix, $n) = @_;
	return "SELECT count(*) FROM generate_series(1, $n) i, "
	  . "LATERAL dht.allocate(('" . token_name($prefix) . "' || i)::dht.token, 'gold')";
}
sub conn_of { my ($n) = @_; return '$$' . $n->connstr('postgres') . '$$'; }

# --- 1. three anchors allocate concurrently ------------------------------
my ($a, $b, $c) = start_anchors(qw(a b c));
seed_registry($a, 'm', 12);
wait_converged([ $a, $b, $c ], name => 'registry');
my %load = map { $_->name => start_load($_, load_script($_->name . 'x', 40)) } ($a, $b, $c);
for my $k (sort keys %load)
{
	my ($out, $err) = finish_load($load{$k});
	is(scalar(() = $out =~ /^ack /mg), 40, "$k: 40 allocations acknowledged") or diag($err);
}
wait_converged([ $a, $b, $c ], name => 'three anchors after concurrent allocations');
ok(q1($a, "SELECT dht.origin_writes('c')") > 0, 'a counts the rows c wrote (write marks replicate)');
is(q1($a, "SELECT dht.origin_writes('c')"), q1($c, "SELECT dht.origin_writes('c')"),
	'a holds as many of c\'s writes as c itself');

# --- 2. c retires, a and b adopt it ----------------------------------------
my $c_rows = q1($c, "SELECT (SELECT count(*) FROM dht.token_log WHERE origin = 'c') + "
	  . "(SELECT count(*) FROM dht.sla_log WHERE origin = 'c') + (SELECT count(*) FROM dht.node_log WHERE origin = 'c') + "
	  . "(SELECT count(*) FROM dht.node_state_log WHERE origin = 'c') + (SELECT count(*) FROM dht.epoch_log WHERE origin = 'c') + "
	  . "(SELECT count(*) FROM dht.origin_marks WHERE origin = 'c') + (SELECT count(*) FROM dht.anchor_adoptions WHERE origin = 'c')");
my ($rc, $out, $err) = $a->psql('postgres', "SELECT dht.anchor_adopt('c')");
like($err, qr/anchor "c" is still a peer of this anchor/, 'adopting a live peer is refused');
($rc, $out, $err) = $c->psql('postgres', 'CALL dht.anchor_leave()');
is($rc, 0, 'c: anchor_leave') or diag($err);
is(q1($a, "SELECT count(*) FROM pg_subscription WHERE subname = 'dht_from_c'"), '0', 'a was told: it no longer subscribes to c');
is(q1($b, "SELECT count(*) FROM pg_subscription WHERE subname = 'dht_from_c'"), '0', 'b was told: it no longer subscribes to c');
is(q1($c, "SELECT count(*) FROM pg_replication_slots") . q1($c, 'SELECT count(*) FROM pg_subscription')
	  . q1($c, 'SELECT count(*) FROM pg_publication'), '000', 'c: no slot, subscription or publication left');
is(q1($a, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dht_a_c'"), '0', 'a: the slot c read it through is gone');
$c->stop;
my $before_adopt = digest($a);
is(q1($a, "SELECT dht.anchor_adopt('c')"), $c_rows, 'a adopts c: as many rows as c held of its own');
is(q1($b, "SELECT dht.anchor_adopt('c')"), $c_rows, 'b adopts c too');
is(digest($a), $before_adopt, 'the directory is the same after the adoption');
wait_converged([ $a, $b ], name => 'two adopters');
is(q1($a, q{SELECT string_agg(peer || ':' || state || ':' || coalesce(served_by, '-'), ',' ORDER BY peer) FROM dht.anchor_status()}),
	'b:streaming:b,c:adopted:a,b', 'a: anchor_status says who serves c');

# --- 3. d joins later ------------------------------------------------------
my $d = new_anchor('d');
add_peer($d, $a);
add_peer($d, $b);
add_peer($a, $d);
add_peer($b, $d);
wait_converged([ $a, $b, $d ], name => 'd joined after c retired');
is(tokens($d, 'cx'), '40', 'd holds every token c allocated');
is(tokens($d, ''), tokens($a, ''), 'd holds every token');
is(q1($d, "SELECT count(*) FROM pg_subscription WHERE subname LIKE 'dht\\_feed\\_%'"), '1',
	'd took c\'s rows from one adopter only');
# The next configuration call drops the finished feed: here d adopts c too.
is(q1($d, "SELECT dht.anchor_adopt('c')"), $c_rows, 'd holds all of c\'s rows, and adopts it as well');
is(q1($d, "SELECT count(*) FROM pg_subscription WHERE subname LIKE 'dht\\_feed\\_%'"), '0',
	'the finished feed is dropped at the next configuration call');
like(q1($d, q{SELECT string_agg(peer || ':' || state, ',' ORDER BY peer) FROM dht.anchor_status()}),
	qr/c:adopted/, 'd: c is served by its adopters');
my $d_backup = 'd_before';
$d->backup($d_backup);
q1($d, allocate_sql('d-after-backup-', 25));

# --- 4. b is wiped and rebuilt under its old name --------------------------
wait_converged([ $a, $b, $d ], name => 'before b is wiped');
my $b_tokens = q1($a, "SELECT count(*) FROM dht.tokens WHERE origin = 'b'");
my $b_port = $b->port;
$b->stop;
$b->teardown_node;
my $b2 = PostgreSQL::Test::Cluster->new('b2', port => $b_port);
$b2->init(allows_streaming => 'logical');
$b2->append_conf('postgresql.conf', "max_replication_slots = 16\nmax_wal_senders = 16\n"
	  . "max_logical_replication_workers = 12\nmax_worker_processes = 24\nwal_retrieve_retry_interval = '200ms'\n");
$b2->start;
q1($b2, 'CREATE EXTENSION smartlayer_dht');
q1($b2, "SELECT dht.anchor_init('b')");
($rc, $out, $err) = $b2->psql('postgres', sprintf("SELECT dht.anchor_add_peer('a', %s)", conn_of($a)));
is($rc, 0, 'rebuilt b adds a') or diag($err);
like($err, qr/holds \d+ writes of this anchor's own rows: copying them back/, 'and copies its own rows back from a');
($rc, $out, $err) = $b2->psql('postgres', "SELECT dht.define_sla('too_soon', 2, 1)");
like($err, qr/writes nothing under its name while it copies its own rows back/,
	'it writes nothing under its name meanwhile');
($rc, $out, $err) = $d->psql('postgres', "SELECT dht.anchor_remove_peer('b')");
($rc, $out, $err) = $d->psql('postgres', sprintf("SELECT dht.anchor_add_peer('b', %s)", conn_of($b2)));
like($err, qr/anchor "b" is recovering its own rows/, 'd does not copy b while b recovers');
($rc, $out, $err) = $b2->psql('postgres', sprintf("SELECT dht.anchor_add_peer('d', %s)", conn_of($d)));
is($rc, 0, 'rebuilt b adds d') or diag($err);
($rc, $out, $err) = $b2->psql('postgres', 'CALL dht.anchor_rejoin()');
is($rc, 0, 'b: anchor_rejoin') or diag($err);
like($err, qr/anchor "a" copies this anchor's rows again/, 'a copies b again');
is(q1($b2, 'SELECT write_fence IS NULL FROM dht.anchor_self'), 't', 'b writes again');
# d had dropped b above: it adds it again, now that b holds its rows.
q1($d, sprintf("SELECT dht.anchor_add_peer('b', %s)", conn_of($b2)))
  unless q1($d, "SELECT count(*) FROM pg_subscription WHERE subname = 'dht_from_b'");
wait_converged([ $a, $b2, $d ], name => 'b rebuilt and rejoined');
is(q1($b2, "SELECT count(*) FROM dht.tokens WHERE origin = 'b'"), $b_tokens, 'b has its own tokens back');
q1($b2, allocate_sql('b-rebuilt-', 20));
wait_converged([ $a, $b2, $d ], name => 'after b writes again');
is(tokens($a, 'b-rebuilt-') . tokens($d, 'b-rebuilt-'), '2020', 'tokens the rebuilt b allocates reach every peer');

# --- 5. d is restored from a backup taken before 25 of its allocations ------
my $d_port = $d->port;
my $d_all = tokens($a, 'd-after-backup-');
is($d_all, '25', 'a holds the 25 tokens d allocated after the backup');
$d->stop;
my $d2 = PostgreSQL::Test::Cluster->new('d2', port => $d_port);
$d2->init_from_backup($d, $d_backup);
$d2->start;
is(tokens($d2, 'd-after-backup-'), '0', 'the restored d lacks them');
($rc, $out, $err) = $d2->psql('postgres', allocate_sql('d-restored-too-soon-', 1));
like($err, qr/this anchor is behind anchor "[ab]" on its own rows/, 'the restored d refuses to write: its peers hold newer rows of its own');
($rc, $out, $err) = $d2->psql('postgres', 'CALL dht.anchor_rejoin()');
is($rc, 0, 'd: anchor_rejoin') or diag($err);
wait_converged([ $a, $b2, $d2 ], name => 'd restored and rejoined', timeout => 120);
is(tokens($d2, 'd-after-backup-'), '25', 'the restored d has its lost tokens back');
q1($d2, allocate_sql('d-restored-', 10));
wait_converged([ $a, $b2, $d2 ], name => 'after the restored d writes again');
is(tokens($a, 'd-restored-') . tokens($b2, 'd-restored-'), '1010', 'its new tokens reach every peer');

# --- 6. DROP EXTENSION on a ------------------------------------------------
($rc, $out, $err) = $a->psql('postgres', 'DROP EXTENSION smartlayer_dht');
like($err, qr/cannot drop smartlayer_dht while anchor "a" replicates.*anchor_leave/s, 'DROP EXTENSION is refused while a replicates');
($rc, $out, $err) = $a->psql('postgres', 'CALL dht.anchor_leave()');
is($rc, 0, 'a: anchor_leave') or diag($err);
($rc, $out, $err) = $a->psql('postgres', 'DROP EXTENSION smartlayer_dht');
is($rc, 0, 'then DROP EXTENSION succeeds') or diag($err);
is(q1($a, 'SELECT count(*) FROM pg_publication') . q1($a, 'SELECT count(*) FROM pg_subscription')
	  . q1($a, 'SELECT count(*) FROM pg_replication_slots'), '000', 'a: nothing left behind');
for my $n ($b2, $d2)
{
	is(q1($n, "SELECT count(*) FROM pg_subscription WHERE subname = 'dht_from_a'"), '0', $n->name . ': no subscription to a');
	is(q1($n, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%\\_a'"), '0', $n->name . ': no slot of a');
}
wait_converged([ $b2, $d2 ], name => 'the two anchors left');

check_worker_logs([ $a, $b2, $d2 ]);
done_testing();
