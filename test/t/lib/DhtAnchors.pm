
=pod

=head1 NAME

DhtAnchors - start smartlayer_dht anchors and check that they converge

=head1 SYNOPSIS

  use DhtAnchors;
  my @a = start_anchors(qw(a b c));     # init, extension, anchor_init, full mesh
  seed_registry($a[0], 'r1', 12);       # SLA class "gold" and 12 nodes
  wait_converged(\@a);                  # equal dht.state_digest() and equal logs
  check_worker_logs(\@a);               # no apply error in any server log

=head1 DESCRIPTION

Every anchor is a PostgreSQL::Test::Cluster with wal_level = logical, named
like the anchor.  Convergence is the property the tests are about: once the
writes have stopped, every anchor must show the same dht.state_digest(), and
the raw per-origin logs must hold the same rows.  Equal digests on all anchors
already imply that in-flight rows have arrived (the origin of a row has it),
so the wait needs no knowledge of the replication positions.

=cut

package DhtAnchors;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(new_anchor start_anchors add_peer mesh seed_registry token_name
  load_script start_load finish_load wait_converged log_fingerprint
  check_worker_logs digest);

our @LOG_TABLES = qw(sla_log node_log node_state_log epoch_log token_log origin_marks anchor_adoptions heartbeat_log);

# A server for one anchor.  %opt: init => 0 to skip dht.anchor_init,
# logical => 0 for a server without wal_level = logical, conf => extra lines,
# install_path => another PostgreSQL installation (test/upgrade/prepare.sh).
sub new_anchor
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name,
		$opt{install_path} ? (install_path => $opt{install_path}) : ());
	my $logical = $opt{logical} // 1;

	$node->init($logical ? (allows_streaming => 'logical') : ());
	$node->append_conf('postgresql.conf', <<'EOF');
max_replication_slots = 16
max_wal_senders = 16
max_logical_replication_workers = 12
max_sync_workers_per_subscription = 2
max_worker_processes = 24
wal_retrieve_retry_interval = '200ms'
wal_sender_timeout = '10s'
wal_receiver_timeout = '10s'
log_line_prefix = '%m [%p] %b: '
shared_buffers = '32MB'
EOF
	$node->append_conf('postgresql.conf', "wal_level = replica\n") unless $logical;
	$node->append_conf('postgresql.conf', $opt{conf}) if $opt{conf};
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION smartlayer_dht');
	$node->safe_psql('postgres', "SELECT dht.anchor_init('$name')")
	  if $opt{init} // 1;
	return $node;
}

sub add_peer
{
	my ($node, $peer) = @_;
	my $conn = $peer->connstr('postgres');
	$node->safe_psql('postgres',
		sprintf("SELECT dht.anchor_add_peer('%s', \$\$%s\$\$)", $peer->name, $conn));
	return;
}

# Every anchor subscribes to every other one.
sub mesh
{
	my @nodes = @_;
	for my $a (@nodes)
	{
		for my $b (@nodes)
		{
			add_peer($a, $b) unless $a == $b;
		}
	}
	return;
}

sub start_anchors
{
	my @names = @_;
	my @nodes = map { new_anchor($_) } @names;
	mesh(@nodes);
	return @nodes;
}

# A CAIP-19 token of one test collection (a namespace whose token ids may
# contain letters, so the ids can say where they come from).
sub token_name
{
	my ($id) = @_;
	return "test:anchors/nft:dht/$id";
}

# The SLA class "gold" (4 + 2, no diversity rule) and $count nodes, their
# keys derived from $tag so that different anchors register different nodes.
sub seed_registry
{
	my ($node, $tag, $count) = @_;
	$node->safe_psql('postgres', <<"EOF");
SELECT dht.define_sla('gold', 4, 2, diversity => 'none');
SELECT dht.register_node(k.pubkey, 'https://$tag-' || i || '.example', 'eu', 'op-$tag-' || (i % 4),
                         ('10.' || (ascii('$tag') % 200) || '.' || i || '.1')::inet, 1000, 1000)
FROM generate_series(1, $count) i,
     LATERAL dht.ed25519_keypair(sha256(convert_to('$tag' || i, 'UTF8'))) k;
EOF
	return;
}

# psql text that runs many small transactions on one anchor: allocations of
# tokens $prefix-1 .. $prefix-$n, and now and then a node state change, an
# SLA redefinition and a node re-registration.  Each acknowledged allocation
# prints "ack <token id>".
sub load_script
{
	my ($prefix, $n, %opt) = @_;
	my $sql = '';
	for my $i (1 .. $n)
	{
		my $tok = token_name("$prefix$i");
		$sql .= "SELECT 'ack $prefix$i' FROM dht.allocate('$tok', 'gold') LIMIT 1;\n";
		next unless $opt{mixed};
		if ($i % 10 == 0)
		{
			$sql .= "SELECT dht.set_node_state(node_id, CASE WHEN state = 'active' THEN 'draining' ELSE 'active' END) "
			  . "FROM (SELECT node_id, state FROM dht.nodes ORDER BY node_id OFFSET ($i / 10) % 4 LIMIT 1) n;\n";
		}
		if ($i % 25 == 0)
		{
			$sql .= "SELECT dht.define_sla('silver', 3, 1 + $i % 3, diversity => 'none');\n";
		}
		if ($i % 15 == 0)
		{
			$sql .= "SELECT dht.set_node_availability(node_id, 0.9 + ($i % 10) / 100.0) "
			  . "FROM (SELECT node_id FROM dht.nodes ORDER BY node_id DESC LIMIT 1) n;\n";
		}
		if ($i % 40 == 0)
		{
			$sql .= "SELECT dht.release('" . token_name("$prefix" . ($i - 20)) . "');\n";
		}
	}
	return $sql;
}

# Run a psql script against a node in the background; returns a handle.
# Script and output are files, so that psql runs on its own while the test
# does other things (IPC::Run only feeds and drains pipes when pumped).
my $load_seq = 0;
sub start_load
{
	my ($node, $sql) = @_;
	my $base = PostgreSQL::Test::Utils::tempdir() . '/load' . $load_seq++;
	append_to_file("$base.sql", $sql);
	my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'), '-f', "$base.sql");
	my %h = (base => $base);
	$h{run} = IPC::Run::start(\@cmd, '<', \undef, '>', "$base.out", '2>', "$base.err");
	return \%h;
}

# Wait for a background load; returns (stdout, stderr).
sub finish_load
{
	my ($h) = @_;
	$h->{run}->finish;
	return (slurp_file("$h->{base}.out"), slurp_file("$h->{base}.err"));
}

sub digest
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT dht.state_digest()');
}

# count and md5 of every log table's rows, in a fixed order.
sub log_fingerprint
{
	my ($node) = @_;
	my @parts = map {
		"SELECT '$_' || ':' || count(*) || ':' || "
		  . "coalesce(md5(string_agg(t::text, '|' ORDER BY t::text COLLATE \"C\")), '') FROM dht.$_ t"
	} @LOG_TABLES;
	return $node->safe_psql('postgres', join(' UNION ALL ', @parts) . ' ORDER BY 1');
}

# Wait until every anchor shows the same digest (and has finished its
# initial copies), then check that the raw logs are the same too.
sub wait_converged
{
	my ($nodes, %opt) = @_;
	my $timeout = $opt{timeout} // 60;
	my $deadline = time + $timeout;
	my @digests;
	while (1)
	{
		my $copying = 0;
		for my $n (@$nodes)
		{
			$copying += $n->safe_psql('postgres',
				"SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'");
		}
		@digests = map { digest($_) } @$nodes;
		my %distinct = map { $_ => 1 } @digests;
		last if !$copying && keys %distinct == 1;
		if (time > $deadline)
		{
			diag("not converged after $timeout s: "
				  . join(', ', map { $nodes->[$_]->name . '=' . $digests[$_] } 0 .. $#$nodes));
			for my $n (@$nodes)
			{
				diag($n->name . " status:\n"
					  . $n->safe_psql('postgres', 'SELECT * FROM dht.anchor_status()'));
				diag($n->name . " logs:\n" . log_fingerprint($n));
			}
			fail($opt{name} // 'anchors converge');
			return 0;
		}
		usleep(200_000);
	}
	my $ref = log_fingerprint($nodes->[0]);
	my $same = 1;
	for my $n (@$nodes[ 1 .. $#$nodes ])
	{
		my $fp = log_fingerprint($n);
		if ($fp ne $ref)
		{
			$same = 0;
			diag($nodes->[0]->name . ":\n$ref\n" . $n->name . ":\n$fp");
		}
	}
	# The digests maintained by triggers (local writes, apply, initial
	# copies) must equal a recomputation from the rows.
	for my $n (@$nodes)
	{
		my $bad = $n->safe_psql('postgres', 'SELECT string_agg(bucket::text, \',\') FROM dht.verify_digests()');
		next if $bad eq '';
		$same = 0;
		diag($n->name . ": maintained digests differ from the rows in buckets $bad");
	}
	ok($same, ($opt{name} // 'anchors converge') . ': equal digests and equal logs');
	return $same;
}

# Errors a logical replication worker may log when a peer is down or was
# restarted: connection trouble, not apply trouble.
my @benign = (
	'could not connect to the publisher',
	'could not receive data from WAL stream',
	'could not send data to WAL stream',
	'could not send end-of-streaming message',
	'server closed the connection',
	'terminating logical replication worker due to administrator command',
	'terminating connection due to administrator command',
	'terminating connection because of crash of another server process',
	'the database system is (?:starting up|shutting down|in recovery|not yet accepting connections)',
	'Connection refused',
	'No such file or directory',
	'unexpected EOF',
	'replication slot .* is active for PID',
	# a worker restarted (a subscription refreshed, dropped and created
	# again) before the one it replaces has released its origin: the
	# launcher starts it again a moment later
	'replication origin with ID \\d+ is already active for PID',
	# a peer rebuilt or restored from a backup has lost the slots its peers
	# read it through, until it rejoins and they copy it again
	'replication slot "dh[tr]_[a-z0-9_]+" does not exist',
	'logical replication (?:apply|table synchronization) worker for subscription .* will (?:stop|restart) because');
my $benign = join('|', @benign);
$benign = qr/$benign/;

# No apply or table synchronisation error (other than a peer being away)
# and no conflict in any server log.
sub check_worker_logs
{
	my ($nodes) = @_;
	my @bad;
	for my $n (@$nodes)
	{
		my $log = slurp_file($n->logfile);
		for my $line (split /\n/, $log)
		{
			if ($line =~ /logical replication worker: (?:ERROR|FATAL|PANIC):/ && $line !~ $benign)
			{
				push @bad, $n->name . ": $line";
			}
			elsif ($line =~ /conflict|duplicate key/i)
			{
				push @bad, $n->name . ": $line";
			}
		}
	}
	diag(join("\n", @bad)) if @bad;
	ok(!@bad, 'no apply error and no conflict in any server log');
	return;
}

1;
