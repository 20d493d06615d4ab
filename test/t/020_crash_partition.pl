# Faults:
#   3. an anchor crashes (immediate shutdown: no checkpoint, crash recovery)
#      during a write load on it and on a peer, and restarts: it catches up
#      and no acknowledged write is lost anywhere;
#   4. a partition while both sides keep writing, healed: first by disabling
#      the subscriptions across it, then by stopping a server;
#   6. no apply error in any server log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use DhtAnchors;

my @anchors = start_anchors(qw(a b c));
my ($a, $b, $c) = @anchors;
seed_registry($a, 'r', 12);
wait_converged(\@anchors, name => 'seeded');

# Every acknowledged token must be in token_log on every anchor.
sub check_acked
{
	my ($what, @tokens) = @_;
	my $list = join(',', map { "'" . token_name($_) . "'" } @tokens);
	for my $n (@anchors)
	{
		my $missing = $n->safe_psql('postgres',
			"SELECT count(*) FROM unnest(ARRAY[$list]::dht.token[]) t(token) "
			  . "WHERE NOT EXISTS (SELECT FROM dht.token_log l WHERE l.token OPERATOR(dht.=) t.token)");
		is($missing, '0', $n->name . ": no acknowledged write lost ($what)");
	}
	return;
}

# --- 3. crash during a write load ----------------------------------------
my $la = start_load($a, load_script('crash', 4000));
my $lb = start_load($b, load_script('peer', 600, mixed => 1));
# let a commit a good number of allocations first
$a->poll_query_until('postgres', "SELECT count(*) >= 300 FROM dht.token_log WHERE origin = 'a'")
  or die 'load did not start';
$a->stop('immediate');
my ($out_a) = finish_load($la);
my @acked_a = ($out_a =~ /^ack (\S+)$/mg);
cmp_ok(scalar(@acked_a), '>=', 300, 'a acknowledged allocations before it crashed');
cmp_ok(scalar(@acked_a), '<', 4000, '... and the crash cut the load short');
# b keeps writing while a is down; restart a in the middle of it
usleep(500_000);
$a->start;
my ($out_b) = finish_load($lb);
my @acked_b = ($out_b =~ /^ack (\S+)$/mg);
is(scalar(@acked_b), 600, 'b acknowledged its whole load');
wait_converged(\@anchors, name => 'after the crash and restart');
check_acked('crash', @acked_a, @acked_b);

# --- 4a. partition by disabled subscriptions -----------------------------
# c hears nothing and nobody hears c, while everyone writes.
$c->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_a DISABLE; ALTER SUBSCRIPTION dht_from_b DISABLE');
$a->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_c DISABLE');
$b->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_c DISABLE');
is($c->safe_psql('postgres', "SELECT string_agg(state, ',') FROM dht.anchor_status()"),
	'disabled,disabled', 'anchor_status on c: both peers disabled');
my %l = map { $_->name => start_load($_, load_script($_->name . 'part', 200, mixed => 1)) } @anchors;
my @acked;
for my $p (sort keys %l)
{
	my ($out) = finish_load($l{$p});
	push @acked, ($out =~ /^ack (\S+)$/mg);
}
isnt(digest($c), digest($a), 'the partitioned anchor has diverged');
$c->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_a ENABLE; ALTER SUBSCRIPTION dht_from_b ENABLE');
$a->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_c ENABLE');
$b->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_c ENABLE');
wait_converged(\@anchors, name => 'after the partition healed');
check_acked('disabled subscriptions', @acked);

# --- 4b. partition by a stopped server -----------------------------------
$c->stop('fast');
%l = map { $_->name => start_load($_, load_script($_->name . 'down', 200, mixed => 1)) } ($a, $b);
is($a->safe_psql('postgres', "SELECT state FROM dht.anchor_status() WHERE peer = 'c'"),
	'down', 'anchor_status on a: c is down');
cmp_ok($a->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dht_a_c' AND wal_status IN ('reserved', 'extended')"),
	'==', 1, "a keeps c's slot and its WAL");
@acked = ();
for my $p (sort keys %l)
{
	my ($out) = finish_load($l{$p});
	push @acked, ($out =~ /^ack (\S+)$/mg);
}
$c->start;
wait_converged(\@anchors, name => 'after the stopped anchor came back');
check_acked('stopped server', @acked);
$a->poll_query_until('postgres', "SELECT bool_and(state = 'streaming') FROM dht.anchor_status()")
  or die 'not streaming';
pass('anchor_status on a: streaming again');

check_worker_logs(\@anchors);
done_testing();
