# Convergence of three anchors, then four:
#   1. allocations, announcements, node state and SLA changes on all three at
#      once (some tokens allocated on several anchors at the same time): once
#      quiet, every anchor has the same dht.state_digest() and the same rows;
#   2. one token allocated on two anchors whose node views differ: one token
#      row everywhere and every holder either anchor handed out is kept;
#   5. a new anchor joining the populated network gets the whole directory
#      by the initial copy and stays in sync;
#   6. no apply error in any server log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DhtAnchors;

my @anchors = start_anchors(qw(a b c));
my ($a, $b, $c) = @anchors;
seed_registry($a, 'r', 12);
wait_converged(\@anchors, name => 'registry seeded on one anchor');

# --- 1. concurrent writes everywhere ------------------------------------
# Signed announcements from a node that lives on anchor c.
my $announce = <<'EOF';
SELECT dht.announce(convert_to(d, 'UTF8'),
                    dht.ed25519_sign('smartlayer_dht/announce/v1'::bytea || '\x00'::bytea || convert_to(d, 'UTF8'), k.secret))
FROM dht.ed25519_keypair(sha256('announcer'::bytea)) k,
     LATERAL (SELECT format('{"network":"smartlayer","pubkey":"%s","seq":%s,"issued_at":%s,"endpoint":"https://ann.example","region":"eu","operator":"op-ann","addr":"10.9.9.9","bandwidth_mbps":500,"storage_gb":500}',
                            encode(k.pubkey, 'hex'), s, extract(epoch FROM now())::bigint) AS d
              FROM generate_series(SEQ, SEQ) s) x;
EOF
my %load;
for my $n (@anchors)
{
	my $p = $n->name;
	my $sql = load_script($p, 150, mixed => 1);
	# tokens that all three allocate at about the same time
	$sql .= join('', map { "SELECT 'ack shared$_' FROM dht.allocate('" . token_name("shared$_") . "', 'gold') LIMIT 1;\n" } 1 .. 40);
	if ($p eq 'c')
	{
		$sql .= join('', map { my $s = $announce; $s =~ s/SEQ/$_/g; $s } 1 .. 5);
	}
	$load{$p} = start_load($n, $sql);
}
my %acked;
for my $p (sort keys %load)
{
	my ($out, $err) = finish_load($load{$p});
	my @acks = ($out =~ /^ack (\S+)$/mg);
	$acked{$_} = 1 for @acks;
	is(scalar(@acks), 190, "load on $p: every allocation acknowledged");
	is($err, '', "load on $p: no error") or diag($err);
}
wait_converged(\@anchors, name => 'concurrent writes on three anchors');

for my $n (@anchors)
{
	my $missing = $n->safe_psql('postgres',
		"SELECT count(*) FROM unnest(ARRAY[" . join(',', map { "'" . token_name($_) . "'" } sort keys %acked)
		  . "]::dht.token[]) t(token) WHERE NOT EXISTS (SELECT FROM dht.token_log l WHERE l.token OPERATOR(dht.=) t.token)");
	is($missing, '0', $n->name . ': every acknowledged allocation is there');
}
for my $n (@anchors)
{
	is($n->safe_psql('postgres', "SELECT seq FROM dht.nodes WHERE endpoint = 'https://ann.example'"),
		'5', $n->name . ': announced node at seq 5');
	is($n->safe_psql('postgres',
			"SELECT count(*) FROM dht.tokens WHERE token::text LIKE '%/shared%'"),
		'40', $n->name . ': one metadata row per shared token');
	is($n->safe_psql('postgres',
			"SELECT count(*) FROM (SELECT token, shard FROM dht.placements GROUP BY 1, 2) s "
			  . "JOIN dht.tokens t ON t.token OPERATOR(dht.=) s.token WHERE s.shard >= t.data_shards + t.parity_shards"),
		'0', $n->name . ': no shard outside its token');
}

# --- 2. one token, two anchors, different node views ---------------------
$a->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_b DISABLE');
$b->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_a DISABLE');
# Heavy nodes that only a knows about, and others only b knows about.
for my $pair ([ $a, 'xa' ], [ $b, 'xb' ])
{
	my ($n, $tag) = @$pair;
	$n->safe_psql('postgres', <<"EOF");
SELECT dht.register_node(k.pubkey, 'https://$tag-' || i || '.example', 'eu', 'op-$tag', ('10.77.' || i || '.' || length('$tag'))::inet, 1000, 1000, 50.0)
FROM generate_series(1, 6) i, LATERAL dht.ed25519_keypair(sha256(convert_to('$tag' || i, 'UTF8'))) k;
EOF
}
my $tok = token_name('contested');
my $la = start_load($a, "SELECT shard || ':' || node_id FROM dht.allocate('$tok', 'gold');");
my $lb = start_load($b, "SELECT shard || ':' || node_id FROM dht.allocate('$tok', 'gold');");
my ($holders_a) = finish_load($la);
my ($holders_b) = finish_load($lb);
my @handed = (split(/\n/, $holders_a), split(/\n/, $holders_b));
is(scalar(split(/\n/, $holders_a)), 6, 'a handed out six holders');
isnt($holders_a, $holders_b, 'a and b chose differently (their node views differ)');
$a->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_b ENABLE');
$b->safe_psql('postgres', 'ALTER SUBSCRIPTION dht_from_a ENABLE');
wait_converged(\@anchors, name => 'after the contested allocation');
for my $n (@anchors)
{
	is($n->safe_psql('postgres', "SELECT count(*) FROM dht.tokens WHERE token OPERATOR(dht.=) '$tok'"),
		'1', $n->name . ': one metadata row for the contested token');
	my %have = map { $_ => 1 } split /\n/,
	  $n->safe_psql('postgres', "SELECT shard || ':' || node_id FROM dht.placements WHERE token OPERATOR(dht.=) '$tok'");
	my @lost = grep { !$have{$_} } @handed;
	is(scalar(@lost), 0, $n->name . ': no holder either anchor handed out is missing')
	  or diag("missing: @lost");
	my %lookup = map { $_ => 1 } split /\n/,
	  $n->safe_psql('postgres', "SELECT shard || ':' || node_id FROM dht.lookup('$tok')");
	is(scalar(grep { !$lookup{$_} } @handed), 0, $n->name . ': dht.lookup returns them all');
}
# Replication merged the two anchors' rows of the token: each anchor queued
# it for the repair check (a merge is the one change to a token's holders
# that no local write made), and a repair settles the queue.  What a's
# repair writes reaches b as one more merge, so b repairs after it has a's
# rows, and the queues are read once both repairs have replicated.
for my $n ($a, $b)
{
	is($n->safe_psql('postgres', "SELECT count(*) FROM dht.repair_queue WHERE kind = 't' AND item = '$tok'"),
		'1', $n->name . ': the merged token is queued for repair');
	$n->safe_psql('postgres', 'SELECT dht.repair()');
	wait_converged(\@anchors, name => $n->name . "'s repair replicated");
}
$_->safe_psql('postgres', 'SELECT dht.repair()') for ($a, $b);
for my $n ($a, $b)
{
	is($n->safe_psql('postgres', "SELECT count(*) FROM dht.repair_queue WHERE kind = 't'"),
		'0', $n->name . ': dht.repair settles it');
}

# --- 5. a new anchor joins the populated network -------------------------
my $d = new_anchor('d');
for my $n (@anchors)
{
	add_peer($d, $n);
	add_peer($n, $d);
}
push @anchors, $d;
wait_converged(\@anchors, name => 'new anchor after its initial copy');
is($d->safe_psql('postgres', 'SELECT count(*) FROM dht.tokens'),
	$a->safe_psql('postgres', 'SELECT count(*) FROM dht.tokens'), 'the new anchor has every token');
# Its initial copy brought the contested token's rows from two origins in
# bulk: the copy queued those origins, and the repair plan finds the merged
# token among them; a repair settles the queue.
is($d->safe_psql('postgres', "SELECT count(*) > 0 FROM dht.repair_queue WHERE kind = 'o'"),
	't', 'd: the origins its initial copy brought are queued');
is($d->safe_psql('postgres', 'SELECT count(*) FROM dht.repair_plan()'),
	$a->safe_psql('postgres', 'SELECT count(*) FROM dht.repair_plan()'),
	'd plans what a plans (the copied merged token included)');
$d->safe_psql('postgres', 'SELECT dht.repair()');
is($d->safe_psql('postgres', "SELECT count(*) FROM dht.repair_queue WHERE kind IN ('o', 't')"),
	'0', 'd: dht.repair settles the copied origins');
my %more = map { $_->name => start_load($_, load_script($_->name . 'late', 30, mixed => 1)) } @anchors;
finish_load($more{$_}) for sort keys %more;
wait_converged(\@anchors, name => 'four anchors writing after the join');
is($d->safe_psql('postgres', "SELECT count(*) FROM dht.tokens WHERE token::text LIKE '%/alate%'"),
	'30', 'the new anchor receives later writes');

check_worker_logs(\@anchors);
done_testing();
