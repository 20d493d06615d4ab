# The directory beside routine maintenance (issue 8), on one server:
# three sessions loop over the directory functions (allocate, allocate_many,
# lookup, route, release, set_node_state, repair, confirm, state_digest), one
# of them under REPEATABLE READ, for about 20 seconds, while another loop runs
# ANALYZE, VACUUM, VACUUM FULL, REINDEX INDEX CONCURRENTLY of each of
# dht.token_log's indexes and GRANT / REVOKE on it (each of which sends
# relcache invalidations).  No session may see an error other than 40001 (a
# serialization failure, under REPEATABLE READ), and the maintained digests
# must equal a recomputation afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use DhtAnchors;

my $seconds = 20;
my $node = new_anchor('maint', logical => 0, init => 0);
seed_registry($node, 'm', 12);
$node->safe_psql('postgres', 'CREATE ROLE dht_maint_reader');

# A psql script that repeats the directory calls until the deadline; every
# error is printed with its SQLSTATE.
sub worker_script
{
	my ($w, $iterations, $deadline, $isolation) = @_;
	my $sql = "\\set VERBOSITY verbose\nSET default_transaction_isolation = '$isolation';\n";
	for my $i (1 .. $iterations)
	{
		my $tok = token_name("m$w-$i");
		my $many = join(',', map { "'" . token_name("m$w-$i-$_") . "'" } 1 .. 20);
		$sql .= "SELECT extract(epoch FROM clock_timestamp()) < $deadline AS go \\gset\n\\if :go\n";
		$sql .= "SELECT count(*) FROM dht.allocate('$tok', 'gold');\n";
		$sql .= "SELECT count(*) FROM dht.allocate_many(ARRAY[$many]::dht.token[], 'gold');\n";
		$sql .= "SELECT count(*) FROM dht.lookup('$tok');\n";
		$sql .= "SELECT count(*) FROM dht.route('$tok');\n";
		$sql .= "SELECT dht.release('" . token_name("m$w-" . ($i - 2)) . "');\n" if $i % 3 == 0 && $i > 2;
		if ($i % 10 == 0)
		{
			# drain one node of this worker's four, repair, confirm pending
			# holders of this worker's own tokens (another worker may release
			# its own meanwhile), and make the node active again (at most three
			# of the twelve drain at once)
			my $pick = "(SELECT node_id FROM dht.nodes ORDER BY node_id OFFSET " . ($w * 4 + ($i / 10) % 4) . " LIMIT 1)";
			$sql .= "SELECT dht.set_node_state($pick, 'draining');\n";
			$sql .= "SELECT dht.repair(20);\n";
			$sql .= "SELECT count(dht.confirm(token, shard, node_id)) FROM "
			  . "(SELECT token, shard, node_id FROM dht.placements WHERE state = 'pending' "
			  . "AND token::text LIKE '" . token_name("m$w-") . "%' LIMIT 10) p;\n";
			$sql .= "SELECT dht.set_node_state($pick, 'active');\n";
		}
		$sql .= "SELECT length(dht.state_digest());\n";
		$sql .= "\\endif\n";
	}
	return $sql;
}

my $deadline = time() + $seconds;
my @workers = map {
	start_load($node, worker_script($_, 4000, $deadline, $_ == 2 ? 'repeatable read' : 'read committed'))
} 0 .. 2;

my @indexes = split /\n/, $node->safe_psql('postgres',
	"SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'dht.token_log'::regclass ORDER BY 1");
my @maintenance = (
	'ANALYZE dht.token_log', 'VACUUM dht.token_log', 'VACUUM FULL dht.token_log',
	(map { "REINDEX INDEX CONCURRENTLY $_" } @indexes),
	'GRANT SELECT ON dht.token_log TO dht_maint_reader', 'ANALYZE dht.node_log',
	'REVOKE SELECT ON dht.token_log FROM dht_maint_reader', 'VACUUM ANALYZE dht.node_log');
my ($rounds, @maint_errors) = (0);
while (time() < $deadline)
{
	for my $cmd (@maintenance)
	{
		my ($rc, $out, $err) = $node->psql('postgres', $cmd);
		push @maint_errors, "$cmd: $err" if $rc != 0;
	}
	$rounds++;
}
ok($rounds > 0, "maintenance ran $rounds rounds");
is(join("\n", @maint_errors), '', 'every maintenance command succeeded');

my %states;
for my $w (0 .. 2)
{
	my ($out, $err) = finish_load($workers[$w]);
	my @errors = $err =~ /ERROR:\s+([0-9A-Z]{5}): (.*)/g;
	my @bad;
	while (my ($state, $msg) = splice(@errors, 0, 2))
	{
		$states{$state}++;
		# 40001 under REPEATABLE READ; and a confirm of a pending holder that
		# another worker's repair replaced between this worker's SELECT of its
		# pending holders and the confirm (its node was drained meanwhile): the
		# documented 22023 of confirming what is no longer pending
		next if $state eq '40001';
		next if $state eq '22023' && $msg =~ /has no pending or active shard \d+ on node/;
		push @bad, "$state: $msg";
	}
	my $calls = () = $out =~ /^\d+$/mg;
	ok($calls > 100, "worker $w made $calls calls");
	is(join("\n", @bad), '', "worker $w: no error but the documented ones (40001, a confirm overtaken by a repair)");
}
note('errors by SQLSTATE: ' . join(', ', map { "$_ $states{$_}" } sort keys %states));

is($node->safe_psql('postgres', 'SELECT count(*) FROM dht.verify_digests()'), '0',
	'the maintained digests equal a recomputation from the rows');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM dht.tokens t WHERE NOT EXISTS (SELECT FROM dht.lookup(t.token))"),
	'0', 'every token has holders');

# Repairs rolled back leave dead row versions behind, which the next
# repair's index probe meets: it must not free the scan's memory per token
# (0.2 crashed in btendscan here, with ANALYZE beside it).
$node->safe_psql('postgres', <<'EOF');
SELECT count(*) FROM dht.allocate_many(ARRAY(
    SELECT ('test:anchors/nft:dht/mr-' || g)::dht.token FROM generate_series(1, 20000) g), 'gold');
SELECT count(dht.set_node_state(node_id, 'down')) FROM (SELECT node_id FROM dht.nodes ORDER BY node_id LIMIT 2) n;
EOF
my $repairs = start_load($node, "\\set VERBOSITY verbose\n"
	  . ("BEGIN;\nSELECT dht.repair(3000);\nROLLBACK;\n" x 12));
my $analyze = start_load($node, "SELECT pg_sleep(0.05);\nANALYZE dht.token_log;\n" x 100);
my ($rout, $rerr) = finish_load($repairs);
finish_load($analyze);
my @moved = $rout =~ /^(\d+)$/mg;
is(scalar(grep { $_ > 0 } @moved), 12, 'twelve repairs, each rolled back')
  or diag("moves: @moved\n$rerr");
is($node->safe_psql('postgres', 'SELECT count(*) FROM dht.verify_digests()'), '0',
	'the digests still equal a recomputation');

$node->stop;
done_testing();
