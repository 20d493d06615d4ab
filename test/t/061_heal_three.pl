# Self-healing with the background worker on THREE anchors and sixty nodes
# heartbeating from a script (a background psql loop signing heartbeats):
#   1. three nodes stop their heartbeats: after heartbeat_timeout every holder
#      on them is replaced exactly once network-wide (the moves the three
#      workers applied add up to the holders on those nodes, no shard has two
#      replacements) and, once the replacements confirm, dht.tokens_at_risk
#      is empty on every anchor;
#   2. a node whose heartbeats pause for less than heartbeat_timeout keeps
#      its holders and stays active;
#   3. the anchor that owns some tokens' repair is killed (stop -m immediate)
#      after it has applied part of a node's repair (repair_batch 1 there, so
#      the repair takes several runs): the two survivors finish it, still one
#      replacement per shard.
# 060_heal.pl covers a replacement that never confirms, restart and cancel.
# Every wait polls; nothing asserts timing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use DhtAnchors;

my $nodes = 60;
my $conf = <<'EOF';
shared_preload_libraries = 'smartlayer_dht'
smartlayer_dht.database = 'postgres'
smartlayer_dht.heartbeat_timeout = '8s'
smartlayer_dht.heartbeat_interval = '1s'
smartlayer_dht.availability_window = '60s'
smartlayer_dht.confirm_timeout = '120s'
smartlayer_dht.repair_interval = '1s'
smartlayer_dht.repair_batch = 4
wal_receiver_timeout = '4s'
search_path = 'public, dht'
EOF
my @anchors = map { new_anchor($_, conf => $conf) } qw(a b c);
my ($a, $b, $c) = @anchors;
mesh(@anchors);
seed_registry($a, 'h', $nodes);
$a->safe_psql('postgres', "SELECT count(*) FROM dht.allocate_many(ARRAY(SELECT '"
	  . token_name('three') . "-' || i FROM generate_series(1, 150) i)::dht.token[], 'gold')");
wait_converged(\@anchors, name => 'registry and 150 tokens');

# Node agents: a background session on anchor a beats for nodes h1..h60 twice
# a second, except those listed in public.silent.
$a->safe_psql('postgres', <<"EOF");
CREATE TABLE public.silent (i int PRIMARY KEY);
CREATE FUNCTION public.beat_all() RETURNS bigint LANGUAGE sql AS \$\$
    SELECT count(*) FROM (
        SELECT dht.heartbeat(k.pubkey, s.seq, s.t, dht.ed25519_sign(dht.heartbeat_message(k.pubkey, s.seq, s.t), k.secret))
        FROM generate_series(1, $nodes) i,
             LATERAL dht.ed25519_keypair(sha256(convert_to('h' || i, 'UTF8'))) k,
             LATERAL (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS seq,
                             extract(epoch FROM clock_timestamp())::bigint AS t) s
        WHERE i NOT IN (SELECT i FROM public.silent)) x
\$\$;
EOF
my $beats = IPC::Run::start(['psql', '-XAtq', '-d', $a->connstr('postgres'), '-c',
		'DO $$ BEGIN LOOP PERFORM public.beat_all(); COMMIT; PERFORM pg_sleep(0.5); END LOOP; END $$;'],
	'<', \undef, '>', \my $out, '2>', \my $err);
for my $n ($b, $c)
{
	$n->poll_query_until('postgres', "SELECT count(*) = $nodes FROM dht.nodes WHERE last_heartbeat IS NOT NULL")
	  or die 'heartbeats do not arrive on ' . $n->name;
}
ok(1, "heartbeats of the $nodes nodes arrive on every anchor");
is(join(',', map { $_->safe_psql('postgres', 'SELECT worker_running FROM dht.maintenance_status()') } @anchors),
	't,t,t', 'the maintenance worker runs on the three anchors');

sub node_id
{
	my ($i) = @_;
	return $a->safe_psql('postgres', "SELECT dht.node_id(pubkey) FROM dht.ed25519_keypair(sha256(convert_to('h$i', 'UTF8')))");
}
sub applied_sum
{
	my $sum = 0;
	$sum += $_->safe_psql('postgres', 'SELECT repairs_applied FROM dht.maintenance_status()') for @_;
	return $sum;
}
sub no_double
{
	my ($n, $what) = @_;
	is($n->safe_psql('postgres', <<'EOF'), '0', "no shard has two replacements on " . $n->name . " ($what)");
SELECT count(*) FROM (SELECT token, shard FROM dht.placements WHERE state = 'pending'
                      GROUP BY 1, 2 HAVING count(*) > 1) x
EOF
}
# Node agents confirm every pending holder; the retiring holders then go.
sub confirm_all
{
	$a->safe_psql('postgres', "SELECT count(dht.confirm(token, shard, node_id)) FROM dht.placements WHERE state = 'pending'");
	for my $n (@_)
	{
		$n->poll_query_until('postgres', <<'EOF') or die 'not settled on ' . $n->name;
SELECT NOT EXISTS (SELECT FROM dht.placements WHERE state IN ('pending', 'retiring'))
   AND NOT EXISTS (SELECT FROM dht.tokens_at_risk)
EOF
	}
}

# --- 1. three nodes fall silent ------------------------------------------------
my @silent = (7, 23, 41);
my $ids = join(', ', map { "'" . node_id($_) . "'::dht.key" } @silent);
my $held = $a->safe_psql('postgres', "SELECT count(*) FROM dht.placements WHERE node_id IN ($ids) AND state = 'active'");
cmp_ok($held, '>', 12, "the three nodes hold $held shards");
my $before = applied_sum(@anchors);
$a->safe_psql('postgres', 'INSERT INTO public.silent VALUES ' . join(', ', map { "($_)" } @silent));
my $replaced = <<"EOF";
SELECT (SELECT count(*) FROM dht.nodes WHERE node_id IN ($ids) AND state = 'down') = 3
   AND NOT EXISTS (SELECT FROM dht.placements WHERE node_id IN ($ids) AND state IN ('active', 'pending'))
   AND (SELECT count(*) FROM dht.placements WHERE state = 'pending') = $held
EOF
for my $n (@anchors)
{
	$n->poll_query_until('postgres', $replaced) or die 'the silent nodes are not repaired on ' . $n->name;
}
ok(1, 'the three silent nodes are marked down and all their holders replaced, on every anchor');
no_double($_, 'three silent nodes') for @anchors;
is(applied_sum(@anchors) - $before, $held,
	'the three workers applied exactly one move per replaced holder between them');
is($a->safe_psql('postgres', 'SELECT count(DISTINCT dht.repair_owner(token)) FROM dht.tokens'), '3',
	'each of the three anchors owns some tokens');
confirm_all(@anchors);
ok(1, 'once the replacements confirm, no token is at risk on any anchor');

# --- 2. a short pause keeps the holders ------------------------------------------
my $np = node_id(12);
my $holders_sql = "SELECT string_agg(token::text || '/' || shard, ',' ORDER BY token, shard) FROM dht.placements WHERE node_id = '$np'::dht.key AND state = 'active'";
my $holders12 = $a->safe_psql('postgres', $holders_sql);
isnt($holders12, '', 'node h12 holds shards');
my $runs = $b->safe_psql('postgres', 'SELECT runs FROM dht.maintenance_status()');
$before = applied_sum(@anchors);
$a->safe_psql('postgres', 'INSERT INTO public.silent VALUES (12)');
# Paused: its last heartbeat ages past 2 s (under the 8 s timeout) and the
# workers run meanwhile; then it beats again.
$b->poll_query_until('postgres', <<"EOF") or die 'the pause is not seen';
SELECT (SELECT last_heartbeat < clock_timestamp() - interval '2s' FROM dht.nodes WHERE node_id = '$np'::dht.key)
   AND (SELECT runs > $runs + 1 FROM dht.maintenance_status())
EOF
my $last = $a->safe_psql('postgres', "SELECT last_heartbeat FROM dht.nodes WHERE node_id = '$np'::dht.key");
$a->safe_psql('postgres', 'DELETE FROM public.silent WHERE i = 12');
for my $n (@anchors)
{
	$n->poll_query_until('postgres', "SELECT last_heartbeat > '$last' FROM dht.nodes WHERE node_id = '$np'::dht.key")
	  or die 'h12 does not beat again on ' . $n->name;
	is($n->safe_psql('postgres', "SELECT state FROM dht.nodes WHERE node_id = '$np'::dht.key"), 'active',
		'a node back before the timeout stays active on ' . $n->name);
	is($n->safe_psql('postgres', $holders_sql), $holders12, 'and keeps its holders on ' . $n->name);
}
is(applied_sum(@anchors), $before, 'no move was applied for the paused node');

# --- 3. the repair owner dies mid-way ----------------------------------------------
# Rendezvous order of the anchor names by token key, as dht.repair_owner with
# the three anchors live.
my $owner = "(SELECT o FROM (VALUES ('a'), ('b'), ('c')) v(o) ORDER BY sha256(convert_to(o || '/' || dht.token_key(p.token)::text, 'UTF8')), o LIMIT 1)";
is($a->safe_psql('postgres', "SELECT count(*) FROM dht.tokens p WHERE dht.repair_owner(p.token) <> $owner"), '0',
	'the rendezvous order above is dht.repair_owner');
my ($victim, $c_held) = split /\|/, $a->safe_psql('postgres', <<"EOF");
SELECT i, count(*) FILTER (WHERE $owner = 'c')
FROM generate_series(1, $nodes) i,
     LATERAL dht.ed25519_keypair(sha256(convert_to('h' || i, 'UTF8'))) k,
     dht.placements p
WHERE i NOT IN (7, 12, 23, 41) AND p.node_id = dht.node_id(k.pubkey) AND p.state = 'active'
GROUP BY i ORDER BY 2 DESC, 1 LIMIT 1
EOF
cmp_ok($c_held, '>=', 3, "node h$victim has $c_held holders whose repair anchor c owns");
my $nv = node_id($victim);
my $heldv = $a->safe_psql('postgres', "SELECT count(*) FROM dht.placements WHERE node_id = '$nv'::dht.key AND state = 'active'");
# c repairs one holder a run, so its share takes several runs.
$c->append_conf('postgresql.conf', 'smartlayer_dht.repair_batch = 1');
$c->reload;
$a->safe_psql('postgres', "INSERT INTO public.silent VALUES ($victim)");
# Seen from a: c has replaced some of its holders on the node, not all.
my $c_left = "SELECT count(*) FROM dht.placements p WHERE node_id = '$nv'::dht.key AND state = 'active' AND $owner = 'c'";
$a->poll_query_until('postgres', "SELECT ($c_left) BETWEEN 1 AND $c_held - 1")
  or die 'c does not start repairing';
$c->stop('immediate');
my $left = $a->safe_psql('postgres', $c_left);
cmp_ok($left, '>', 0, "c is killed mid-way, $left of its $c_held holders on h$victim not replaced yet");
my $done = <<"EOF";
SELECT NOT EXISTS (SELECT FROM dht.placements WHERE node_id = '$nv'::dht.key AND state IN ('active', 'pending'))
   AND (SELECT count(*) FROM dht.placements WHERE state = 'pending') = $heldv
EOF
for my $n ($a, $b)
{
	$n->poll_query_until('postgres', $done) or die "h$victim is not repaired on " . $n->name . ' after c died';
}
ok(1, "a and b finish the repair of h$victim that c began: every holder replaced");
no_double($_, 'after c died') for ($a, $b);
# Liveness is each anchor's own view of its subscriptions, so it settles
# rather than flips: poll for it.
ok($a->poll_query_until('postgres',
		"SELECT string_agg(DISTINCT o, ',' ORDER BY o) FROM (SELECT dht.repair_owner(token) o FROM dht.tokens) x",
		'a,b'),
	'the survivors own every token now')
  or diag('live on a: ' . $a->safe_psql('postgres', 'SELECT string_agg(a, \',\' ORDER BY a) FROM dht.live_anchors() a'));
confirm_all($a, $b);
ok(1, 'once confirmed, no token is at risk on a or b');

$beats->kill_kill;
check_worker_logs([$a, $b]);
done_testing();
