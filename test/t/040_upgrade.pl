# Upgrade from 0.1.0, one anchor at a time, on a live directory.
#
# Three anchors run 0.1.0 (built from its release commit by
# test/upgrade/prepare.sh) with a directory that has every kind of holder:
# active, pending and retiring after a repair, confirmed with digests,
# released and allocated again, allocated by one anchor and repaired by
# another.  Then each anchor in turn is restarted on the new build and
# updated with ALTER EXTENSION smartlayer_dht UPDATE, with writes on the
# upgraded and the not yet upgraded anchors in between:
#   - an updated anchor shows exactly the tokens and holders it showed before;
#   - its schema is identical to a fresh 0.2.0 install's;
#   - no anchor's apply worker fails at any point;
#   - once all three run 0.2.0, CALL dht.anchor_resume() on each, and they
#     converge: equal digests, equal rows, every token of every phase.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use DhtAnchors;
use PostgreSQL::Test::Utils;
use Test::More;

my $updir = $ENV{DHT_UPGRADE_DIR};
plan skip_all => 'DHT_UPGRADE_DIR is not set (scripts/test-tap.sh prepares it)' unless $updir;
my $major = 15;
sub install { my ($x, $v) = @_; return "$updir/pg-$x-$v/usr/lib/postgresql/$major"; }

my @names = qw(a b c);
my %n = map { $_ => new_anchor($_, install_path => install($_, 'old')) } @names;
my @nodes = map { $n{$_} } @names;
mesh(@nodes);
is($n{a}->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'smartlayer_dht'"),
	'0.1.0', 'the anchors start on 0.1.0');

# A 0.1.0 directory with every kind of holder.
seed_registry($n{a}, 'a', 12);
$n{a}->safe_psql('postgres', "SELECT dht.define_sla('small', 2, 1, diversity => 'none')");
sub allocate_sql
{
	my ($prefix, $n, $class) = @_;
	return "SELECT count(*) FROM generate_series(1, $n) g, "
	  . "LATERAL dht.allocate(('test:anchors/nft:dht/$prefix' || g)::dht.token, '$class')";
}
sub wait_tokens
{
	my ($node, $count, $what) = @_;
	$node->poll_query_until('postgres', "SELECT count(*) >= $count FROM dht.tokens")
	  or die "$what: tokens did not arrive";
}
$n{a}->poll_query_until('postgres', "SELECT count(*) = 12 FROM dht.nodes") or die;
$n{b}->poll_query_until('postgres', "SELECT count(*) = 12 FROM dht.nodes") or die;
$n{c}->poll_query_until('postgres', "SELECT count(*) = 12 FROM dht.nodes") or die;
$n{a}->safe_psql('postgres', allocate_sql('a', 200, 'gold'));
$n{b}->safe_psql('postgres', allocate_sql('b', 150, 'small'));
$n{c}->safe_psql('postgres', allocate_sql('c', 100, 'gold'));
wait_tokens($_, 450, 'phase 0') for @nodes;
$n{a}->safe_psql('postgres', <<'EOF');
SELECT count(dht.release(('test:anchors/nft:dht/a' || g)::dht.token)) FROM generate_series(1, 20) g;
SELECT count(*) FROM generate_series(1, 10) g, LATERAL dht.allocate(('test:anchors/nft:dht/a' || g)::dht.token, 'small');
EOF
# b repairs a's tokens off a node of a's registry, and confirms some with digests.
$n{b}->poll_query_until('postgres', "SELECT count(*) = 440 FROM dht.tokens") or die;
$n{b}->safe_psql('postgres', <<'EOF');
SELECT dht.set_node_state((SELECT node_id FROM dht.nodes ORDER BY node_id LIMIT 1), 'down');
SELECT dht.repair();
SELECT count(dht.confirm(token, shard, node_id, sha256(convert_to(token::text || shard, 'UTF8'))))
FROM (SELECT * FROM dht.placements WHERE state = 'pending' ORDER BY token, shard LIMIT 40) p;
EOF

# What every anchor shows, in a form both versions print alike.
my $q_holders = q{SELECT string_agg(format('%s %s %s %s %s %s', token, shard, node_id, state, epoch,
                  encode(digest, 'hex')), E'\n' ORDER BY token::text, shard, node_id::text) FROM dht.placements};
my $q_tokens = q{SELECT string_agg(format('%s %s %s %s %s %s', token, key, sla, data_shards, parity_shards, epoch),
                 E'\n' ORDER BY token::text) FROM dht.tokens};
my $q_lookup = q{SELECT string_agg(format('%s %s %s %s', t.token, l.shard, l.node_id, l.state), E'\n'
                 ORDER BY t.token::text, l.shard, l.node_id::text) FROM dht.tokens t, LATERAL dht.lookup(t.token) l};
sleep 2;    # let the last changes travel (equality is checked per anchor below)
my %before;
for my $x (@names)
{
	$before{$x} = join("\n---\n", map { $n{$x}->safe_psql('postgres', $_) } $q_holders, $q_tokens, $q_lookup);
}
like($before{a}, qr/retiring/, '0.1.0 directory has retiring holders');
like($before{a}, qr/pending/, '... pending ones');
like($before{a}, qr/ [0-9a-f]{64}$/m, '... and confirmed digests');

# The schema a fresh 0.2.0 install has (from a's new installation).
my $fresh = PostgreSQL::Test::Cluster->new('fresh', install_path => install('a', 'new'));
$fresh->init;
$fresh->start;
$fresh->safe_psql('postgres', 'CREATE EXTENSION smartlayer_dht');
my $fingerprint_sql = slurp_file("$updir/schema_fingerprint.sql");
my $fresh_schema = $fresh->safe_psql('postgres', $fingerprint_sql);
$fresh->stop;

my $phase = 0;
my ($rc0, $out0, $err0);
sub upgrade
{
	my ($x) = @_;
	my $node = $n{$x};
	$node->stop;
	$node->{_install_path} = install($x, 'new');
	$node->start;
	my ($rc, $out, $err) = $node->psql('postgres', 'ALTER EXTENSION smartlayer_dht UPDATE');
	is($rc, 0, "$x: ALTER EXTENSION UPDATE succeeds") or diag($err);
	like($err, qr/paused until every anchor runs smartlayer_dht 0\.2\.0/, "$x: it says sync is paused");
	is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'smartlayer_dht'"),
		'0.2.0', "$x: now 0.2.0");
	my $after = join("\n---\n", map { $node->safe_psql('postgres', $_) } $q_holders, $q_tokens, $q_lookup);
	is($after, $before{$x}, "$x: every token and holder as before the update") if $phase == 0;
	is($node->safe_psql('postgres', $fingerprint_sql), $fresh_schema, "$x: the schema equals a fresh 0.2.0 install's");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM dht.verify_digests()'), '0', "$x: digests match the rows");
	is($node->safe_psql('postgres', q{SELECT string_agg(peer || '=' || state, ',' ORDER BY peer) FROM dht.anchor_status()}),
		join(',', map { "$_=paused" } grep { $_ ne $x } @names), "$x: its peers show paused");
}

# a first; writes continue on a (0.2.0) and on b, c (0.1.0).
upgrade('a');
$phase = 1;
$n{a}->safe_psql('postgres', allocate_sql('a2-', 50, 'gold'));
$n{b}->safe_psql('postgres', allocate_sql('b2-', 50, 'gold'));
$n{a}->safe_psql('postgres', "SELECT dht.define_sla('after', 3, 1, diversity => 'none')");
$n{b}->poll_query_until('postgres', "SELECT count(*) = 1 FROM dht.sla_classes WHERE name = 'after'")
  or die 'registry rows from an upgraded anchor did not reach a 0.1.0 one';
pass('registry changes still flow from an upgraded anchor to a 0.1.0 one');
($rc0, $out0, $err0) = $n{a}->psql('postgres', "SELECT dht.define_sla_raptorq('rq', 3, 2)");
like($err0, qr/RaptorQ classes cannot be defined while this anchor's sync is paused/,
	'a: no RaptorQ class while 0.1.0 peers would misread it');
upgrade('b');
$n{c}->safe_psql('postgres', allocate_sql('c2-', 50, 'gold'));
$n{b}->safe_psql('postgres', allocate_sql('b3-', 30, 'small'));
upgrade('c');

# a resumes first: b and c have not resumed yet, so they are not ready.
my ($rc, $out, $err) = $n{a}->psql('postgres', 'CALL dht.anchor_resume()');
is($rc, 0, 'a: anchor_resume succeeds');
like($err, qr/anchor "b" is not ready: .*paused its token sync/, 'a: b is not ready yet, and why');
$n{b}->safe_psql('postgres', 'CALL dht.anchor_resume()');
$n{c}->safe_psql('postgres', 'CALL dht.anchor_resume()');
# The documented second pass, on the anchors that reported peers not ready.
for my $x (qw(a b))
{
	($rc, $out, $err) = $n{$x}->psql('postgres', 'CALL dht.anchor_resume()');
	unlike($err, qr/not ready/, "$x: called again, every peer is ready");
}
is(join(',', map { $n{$_}->safe_psql('postgres', 'SELECT count(*) FROM dht.anchor_resync') } @names), '0,0,0',
	'nothing left to resume anywhere');

wait_converged(\@nodes, name => 'after the rolling upgrade', timeout => 120);
my $expect = 440 + 50 + 50 + 50 + 30;
for my $x (@names)
{
	is($n{$x}->safe_psql('postgres', 'SELECT count(*) FROM dht.tokens'), $expect, "$x: every token of every phase");
}
is($n{c}->safe_psql('postgres', $q_holders), $n{a}->safe_psql('postgres', $q_holders),
	'a and c show the same holders');

# And the network keeps working: a new allocation reaches everyone, and a
# RaptorQ class reaches them with every column (sla_log is published whole
# again once resumed).
$n{c}->safe_psql('postgres', allocate_sql('z', 5, 'gold'));
$n{a}->safe_psql('postgres', "SELECT dht.define_sla_raptorq('rq', 3, 2, symbols_per_holder => 4, diversity => 'none')");
$n{c}->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM dht.sla_classes WHERE name = 'rq' AND coding = 'raptorq' AND symbols_per_holder = 4")
  or die 'a RaptorQ class did not reach c whole';
pass('after the resume, a RaptorQ class reaches the other anchors with its coding');
wait_converged(\@nodes, name => 'after new writes');
check_worker_logs(\@nodes);
done_testing();
