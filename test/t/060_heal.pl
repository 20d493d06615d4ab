# Self-healing with the background worker on two anchors (the library in
# shared_preload_libraries, smartlayer_dht.database set, small timeouts):
#   1. a node stops its heartbeats: both workers mark it down and its holders
#      are replaced without an operator call, each exactly once network-wide
#      (the anchors split the tokens by repair owner; the moves they applied
#      add up to the holders replaced);
#   2. a replacement that never confirms is replaced after confirm_timeout by
#      the next candidate; once it confirms, the holders it replaces go;
#   3. a server restarts with the worker on and the worker runs again, and a
#      cancel stops a run, not the worker;
#   4. the other anchor is killed: the survivor takes over its tokens;
#   5. a node agent LISTENing on smartlayer_dht_assignment is told its node id.
# Every wait polls; nothing asserts timing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use DhtAnchors;

my $conf = <<'EOF';
shared_preload_libraries = 'smartlayer_dht'
smartlayer_dht.database = 'postgres'
smartlayer_dht.heartbeat_timeout = '8s'
smartlayer_dht.heartbeat_interval = '1s'
smartlayer_dht.availability_window = '60s'
smartlayer_dht.confirm_timeout = '10s'
smartlayer_dht.repair_interval = '1s'
smartlayer_dht.repair_batch = 100
wal_receiver_timeout = '4s'
search_path = 'public, dht'
EOF
my @anchors = map { new_anchor($_, conf => $conf) } qw(a b);
my ($a, $b) = @anchors;
mesh(@anchors);
seed_registry($a, 'h', 12);
$a->safe_psql('postgres', join('', map {
	"SELECT count(*) FROM dht.allocate('" . token_name("heal$_") . "', 'gold');\n" } 1 .. 30));
wait_converged(\@anchors, name => 'registry and 30 tokens');

# Node agents: a background session beats for nodes h1..h12 twice a second,
# except those listed in public.silent of the anchor it talks to.
my $beat_sql = <<'EOF';
CREATE TABLE public.silent (i int PRIMARY KEY);
CREATE FUNCTION public.beat_all() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT dht.heartbeat(k.pubkey, s.seq, s.t, dht.ed25519_sign(dht.heartbeat_message(k.pubkey, s.seq, s.t), k.secret))
        FROM generate_series(1, 12) i,
             LATERAL dht.ed25519_keypair(sha256(convert_to('h' || i, 'UTF8'))) k,
             LATERAL (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS seq,
                             extract(epoch FROM clock_timestamp())::bigint AS t) s
        WHERE i NOT IN (SELECT i FROM public.silent)) x
$$;
EOF
$_->safe_psql('postgres', $beat_sql) for @anchors;
sub start_beats
{
	my ($node) = @_;
	my $sql = 'DO $$ BEGIN LOOP PERFORM public.beat_all(); COMMIT; PERFORM pg_sleep(0.5); END LOOP; END $$;';
	return IPC::Run::start(['psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql],
		'<', \undef, '>', \my $out, '2>', \my $err);
}
my $beats = start_beats($b);
sub node_id
{
	my ($node, $i) = @_;
	return $node->safe_psql('postgres', "SELECT dht.node_id(pubkey) FROM dht.ed25519_keypair(sha256(convert_to('h$i', 'UTF8')))");
}
$a->poll_query_until('postgres', 'SELECT count(*) = 12 FROM dht.nodes WHERE last_heartbeat IS NOT NULL')
  or die 'heartbeats do not arrive';
ok(1, 'heartbeats of the 12 nodes arrive on the other anchor');
is($a->safe_psql('postgres', 'SELECT worker_running FROM dht.maintenance_status()'), 't',
	'the maintenance worker runs');

# --- 1. a node falls silent -------------------------------------------------
my $n3 = node_id($a, 3);
my $held = $a->safe_psql('postgres', "SELECT count(*) FROM dht.placements WHERE node_id = '$n3'::dht.key AND state = 'active'");
cmp_ok($held, '>', 0, 'node h3 holds shards');
$b->safe_psql('postgres', 'INSERT INTO public.silent VALUES (3)');
my $replaced = <<"EOF";
SELECT (SELECT state FROM dht.nodes WHERE node_id = '$n3'::dht.key) = 'down'
   AND NOT EXISTS (SELECT FROM dht.placements WHERE node_id = '$n3'::dht.key AND state IN ('active', 'pending'))
   AND (SELECT count(*) FROM dht.placements WHERE state = 'pending') = $held
EOF
for my $n (@anchors)
{
	$n->poll_query_until('postgres', $replaced) or die 'h3 is not repaired on ' . $n->name;
}
ok(1, 'the silent node is marked down and all its holders replaced, on both anchors, without an operator call');
for my $n (@anchors)
{
	is($n->safe_psql('postgres', <<'EOF'), '0', 'no shard has two replacements on ' . $n->name);
SELECT count(*) FROM (SELECT token, shard FROM dht.placements WHERE state = 'pending'
                      GROUP BY 1, 2 HAVING count(*) > 1) x
EOF
}
my $applied = 0;
$applied += $_->safe_psql('postgres', 'SELECT repairs_applied FROM dht.maintenance_status()') for @anchors;
is($applied, $held, 'the two workers applied exactly one move per replaced holder between them');
my $owners = $a->safe_psql('postgres', "SELECT count(DISTINCT dht.repair_owner(token)) FROM dht.tokens");
is($owners, '2', 'both anchors own some tokens');

# --- 2. a replacement that never confirms ------------------------------------
my ($tok, $shard, $stuck) = split /\|/, $a->safe_psql('postgres',
	"SELECT token, shard, node_id FROM dht.placements WHERE state = 'pending' ORDER BY token, shard LIMIT 1");
$a->safe_psql('postgres', <<"EOF");
SELECT count(dht.confirm(token, shard, node_id)) FROM dht.placements
WHERE state = 'pending' AND NOT (token = '$tok'::dht.token AND shard = $shard)
EOF
my $next_sql = "SELECT node_id FROM dht.placements WHERE token = '$tok'::dht.token AND shard = $shard AND state = 'pending'";
$a->poll_query_until('postgres', "SELECT coalesce(($next_sql) <> '$stuck'::dht.key, false)")
  or die 'the stuck replacement is not replaced';
my $next = $a->safe_psql('postgres', $next_sql);
isnt($next, $stuck, 'a pending holder past confirm_timeout is replaced by another node');
cmp_ok($a->safe_psql('postgres', 'SELECT holders_expired FROM dht.maintenance_status()'), '>', 0,
	'maintenance_status counts the expired holder');
$a->safe_psql('postgres', "SELECT dht.confirm('$tok', $shard, '$next')");
$a->poll_query_until('postgres', <<"EOF") or die 'retiring holders stay';
SELECT NOT EXISTS (SELECT FROM dht.placements WHERE token = '$tok'::dht.token AND shard = $shard AND node_id IN ('$stuck'::dht.key, '$n3'::dht.key))
EOF
ok(1, 'once the replacement confirms, the holders it replaces are dropped');
$_->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT FROM dht.tokens_at_risk)') or die 'tokens at risk' for @anchors;
ok(1, 'no token is at risk on either anchor');

# --- 3. restart with the worker on --------------------------------------------
my $runs = $a->safe_psql('postgres', 'SELECT runs FROM dht.maintenance_status()');
$a->restart;
$a->poll_query_until('postgres', "SELECT worker_running AND runs > $runs FROM dht.maintenance_status()")
  or die 'the worker does not run after a restart';
ok(1, 'after a restart the worker runs again');
# A cancel interrupts a run, not the worker.
$runs = $a->safe_psql('postgres', 'SELECT runs FROM dht.maintenance_status()');
$a->safe_psql('postgres', "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_type = 'smartlayer_dht maintenance'");
$a->poll_query_until('postgres', "SELECT worker_running AND runs > $runs + 1 FROM dht.maintenance_status()")
  or die 'the worker does not survive a cancel';
ok(1, 'the worker goes on after a cancel');

# --- 4. the other anchor dies; the survivor takes over --------------------------
$beats->kill_kill;
$b->stop('immediate');
$beats = start_beats($a);
my $n4 = node_id($a, 4);
my $held4 = $a->safe_psql('postgres', "SELECT count(*) FROM dht.placements WHERE node_id = '$n4'::dht.key AND state = 'active'");
my $b_owned = $a->safe_psql('postgres', <<"EOF");
SELECT count(*) FROM dht.placements p WHERE node_id = '$n4'::dht.key AND state = 'active'
   AND (SELECT o FROM (VALUES ('a'), ('b')) v(o)
        ORDER BY sha256(convert_to(o || '/' || dht.token_key(p.token)::text, 'UTF8')), o LIMIT 1) = 'b'
EOF
cmp_ok($b_owned, '>', 0, 'some of h4\'s tokens were b\'s to repair');
$a->safe_psql('postgres', 'INSERT INTO public.silent VALUES (4)');
$a->poll_query_until('postgres', <<"EOF") or die 'h4 is not repaired after b died';
SELECT NOT EXISTS (SELECT FROM dht.placements WHERE node_id = '$n4'::dht.key AND state IN ('active', 'pending'))
EOF
ok(1, 'with b down, a repairs every holder of the silent node, b\'s tokens included');
is($a->safe_psql('postgres', <<'EOF'), '0', 'still no shard with two replacements');
SELECT count(*) FROM (SELECT token, shard FROM dht.placements WHERE state = 'pending'
                      GROUP BY 1, 2 HAVING count(*) > 1) x
EOF

# --- 5. NOTIFY for a new pending holder ---------------------------------------------
my $n5 = node_id($a, 5);
my $agent = $a->background_psql('postgres');
$agent->query_safe('LISTEN smartlayer_dht_assignment');
$a->safe_psql('postgres', "SELECT dht.set_node_state('$n5', 'banned')");
$a->poll_query_until('postgres', <<"EOF") or die 'h5 is not repaired';
SELECT NOT EXISTS (SELECT FROM dht.placements WHERE node_id = '$n5'::dht.key AND state IN ('active', 'pending'))
EOF
my $heard = $agent->query_safe('SELECT 1');
$agent->quit;
like($heard, qr/Asynchronous notification "smartlayer_dht_assignment" with payload "[0-9a-f]{64}"/,
	'a LISTENing node agent is told the node id that has a new pending holder');

$beats->kill_kill;
check_worker_logs([$a]);
done_testing();
