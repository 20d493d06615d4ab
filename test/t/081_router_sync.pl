# Anchors whose directories are sharded sync shard to shard: two anchors,
# "one" and "two", each a router (smartlayer_dht_router) over two shards
# running smartlayer_dht, and each shard an anchor (one_a, one_b, two_a,
# two_b) peered with its counterpart by the existing anchor functions.
#   1. the maps: each router names its shards after its anchor (one_a, one_b
#      on router one; two_a, two_b on router two), gives the first all 1,024
#      buckets and moves 512..1023 to the second while empty: the two maps
#      are the same bucket ranges on counterpart shards;
#   2. the peering: one_a <-> two_a and one_b <-> two_b, both directions,
#      by dht.anchor_add_peer (no peering across the a/b halves);
#   3. the registry through router one (2 SLA classes, 12 nodes in 3 regions
#      and 6 operators, an epoch) reaches router two's shards by
#      replication alone;
#   4. allocations through both routers, at the same time: 150 tokens by
#      dht_router.allocate_many through each and 20 by dht_router.allocate
#      through each, 60 of them allocated on both sides;
#   5. each shard pair converges (equal dht.state_digest() and logs), and
#      then: dht_router.state_digest() is equal on the two routers, every
#      token looks up the same through either router (holders and states),
#      each token's rows are only on the shard the map names on both sides,
#      the tokens allocated on both sides have no extra holders, and no
#      apply error happened;
#   6. moving buckets between shards that sync with other anchors is refused
#      (55000, "shard one_a syncs with other anchors": move_buckets checks
#      the shards concerned in name order) and changes nothing: a move on
#      one anchor alone would delete the moved rows on the peer's shard (the
#      delete replicates) while the peer's map still looks for them there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use DhtAnchors qw(new_anchor add_peer start_load finish_load wait_converged check_worker_logs);

sub q1 { my ($n, $sql) = @_; return $n->safe_psql('postgres', $sql); }
sub tok { my ($i) = @_; return "test:sync/nft:dht/$i"; }
sub toks { my ($lo, $hi) = @_; return "ARRAY(SELECT ('test:sync/nft:dht/' || i)::dht.token FROM generate_series($lo, $hi) i)"; }

# A router server (wal_level = logical like the shards, small shared_buffers).
sub router
{
	my ($name) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init(allows_streaming => 'logical');
	$n->append_conf('postgresql.conf', "shared_buffers = '32MB'\nwal_retrieve_retry_interval = '200ms'\n");
	$n->start;
	q1($n, 'CREATE EXTENSION smartlayer_dht_router CASCADE');
	return $n;
}

# Polls $sql on $node until it returns $want; fails with what it saw last.
sub poll_until
{
	my ($node, $sql, $want, $what, $timeout) = @_;
	$timeout //= 180;
	my $deadline = time + $timeout;
	my $got;
	while (1)
	{
		$got = q1($node, $sql);
		last if $got eq $want;
		if (time > $deadline)
		{
			diag("$what: not reached after $timeout s; last saw:\n$got\nwanted:\n$want");
			return fail($what);
		}
		usleep(200_000);
	}
	return pass($what);
}

# --- 1. the maps -------------------------------------------------------------
# Shards: anchors named like the servers (DhtAnchors::new_anchor runs
# CREATE EXTENSION smartlayer_dht and dht.anchor_init with the server's name).
my %sh = map { $_ => new_anchor($_) } qw(one_a one_b two_a two_b);
my %r = (one => router('router_one'), two => router('router_two'));
for my $anchor (qw(one two))
{
	for my $half (qw(a b))
	{
		my $c = $sh{"${anchor}_$half"}->connstr('postgres');
		q1($r{$anchor}, "SELECT dht_router.add_shard('${anchor}_$half', \$\$$c\$\$)");
	}
	is(q1($r{$anchor}, "SELECT dht_router.move_buckets(512, 1023, '${anchor}_b')"), '0',
		"router $anchor: buckets 512..1023 move to ${anchor}_b while empty");
}
# The map with each shard as its half (a or b): the routers' names differ by
# the anchor's prefix only.
my $map = "SELECT string_agg(format('%s-%s:%s', first_bucket, last_bucket, regexp_replace(shard, '^(one|two)_', '')), ' ')"
  . " FROM dht_router.shard_map()";
my $map_one = q1($r{one}, $map);
is($map_one, '0-511:a 512-1023:b', 'router one: half the buckets on each shard');
is(q1($r{two}, $map), $map_one, "router two: the same map (on its counterpart shards)");
is(q1($r{one}, "SELECT string_agg(shard, ' ' ORDER BY first_bucket) FROM dht_router.shard_map()")
	  . ' / ' . q1($r{two}, "SELECT string_agg(shard, ' ' ORDER BY first_bucket) FROM dht_router.shard_map()"),
	'one_a one_b / two_a two_b', 'each router names its own shards');

# --- 2. the peering: each shard with its counterpart --------------------------
for my $half (qw(a b))
{
	add_peer($sh{"one_$half"}, $sh{"two_$half"});
	add_peer($sh{"two_$half"}, $sh{"one_$half"});
}
is(join(' ', map { "$_:" . q1($sh{$_}, "SELECT string_agg(subname, ',' ORDER BY subname) FROM pg_subscription") }
		sort keys %sh),
	'one_a:dht_from_two_a one_b:dht_from_two_b two_a:dht_from_one_a two_b:dht_from_one_b',
	'each shard subscribes to its counterpart only');

# --- 3. the registry through router one ---------------------------------------
q1($r{one}, <<'EOF');
SELECT dht_router.define_sla('gold', 4, 2);
SELECT dht_router.define_sla('silver', 2, 1, diversity => 'region');
SELECT dht_router.register_node(k.pubkey, 'https://s-' || i || '.example', (ARRAY['eu', 'us', 'ap'])[1 + i % 3],
                                'op-' || (i % 6), ('10.8.' || i || '.1')::inet, 1000, 1000)
FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('s' || i, 'UTF8'))) k;
EOF
is(q1($r{one}, "SELECT dht_router.begin_epoch(sha256('sync epoch one'))"), '1', 'begin_epoch through router one');
my $reg = "SELECT (SELECT string_agg(concat_ws('/', node_id, endpoint, region, operator, state), ',' ORDER BY node_id) FROM dht.nodes)"
  . " || ' ' || (SELECT string_agg(concat_ws('/', name, data_shards, parity_shards, diversity), ',' ORDER BY name) FROM dht.sla_classes)"
  . " || ' ' || (SELECT string_agg(epoch || '/' || encode(seed, 'hex'), ',' ORDER BY epoch) FROM dht.epochs)";
my $reg_a = q1($sh{one_a}, $reg);
like($reg_a, qr/s-12\.example.*gold\/4\/2\/operator,silver\/2\/1\/region 0\/0+,1\//, 'one_a has the nodes, the classes and the epochs');
is(q1($sh{one_b}, $reg), $reg_a, 'one_b has the same registry');
# Router two's shards got no registry call: it reaches them by replication.
poll_until($sh{two_a}, $reg, $reg_a, 'the registry reaches two_a from one_a');
poll_until($sh{two_b}, $reg, $reg_a, 'the registry reaches two_b from one_b');
is(q1($sh{two_a}, "SELECT string_agg(DISTINCT origin, ',') FROM dht.node_log")
	  . ' ' . q1($sh{two_b}, "SELECT string_agg(DISTINCT origin, ',') FROM dht.node_log"),
	'one_a one_b', "router two's shards hold the registry under their counterparts' origins");

# --- 4. allocations through both routers, at the same time ----------------------
# allocate_many: 1..150 through router one, 101..250 through router two;
# allocate: 251..270 through router one, 261..280 through router two.
# 101..150 and 261..270 are allocated on both sides.
my @many = (start_load($r{one}, "SELECT count(*), count(DISTINCT token) FROM dht_router.allocate_many(" . toks(1, 150) . ", 'gold');\n"),
	start_load($r{two}, "SELECT count(*), count(DISTINCT token) FROM dht_router.allocate_many(" . toks(101, 250) . ", 'gold');\n"));
my ($out1, $err1) = finish_load($many[0]);
my ($out2, $err2) = finish_load($many[1]);
is("$out1$err1", "900|150\n", 'allocate_many through router one: 150 tokens, 6 holders each');
is("$out2$err2", "900|150\n", 'allocate_many through router two: 150 tokens, 6 holders each');
my @one = (start_load($r{one}, join('', map { "SELECT 'ack $_ ' || count(*) FROM dht_router.allocate('" . tok($_) . "', 'silver');\n" } 251 .. 270)),
	start_load($r{two}, join('', map { "SELECT 'ack $_ ' || count(*) FROM dht_router.allocate('" . tok($_) . "', 'silver');\n" } 261 .. 280)));
($out1, $err1) = finish_load($one[0]);
($out2, $err2) = finish_load($one[1]);
is($err1 . scalar(() = $out1 =~ /^ack \d+ 3$/mg), '20', 'allocate through router one: 20 tokens, 3 holders each') or diag($out1);
is($err2 . scalar(() = $out2 =~ /^ack \d+ 3$/mg), '20', 'allocate through router two: 20 tokens, 3 holders each') or diag($out2);

# --- 5. each shard pair converges; then both anchors agree ------------------------
wait_converged([ $sh{one_a}, $sh{two_a} ], timeout => 240, name => 'one_a and two_a converge');
wait_converged([ $sh{one_b}, $sh{two_b} ], timeout => 240, name => 'one_b and two_b converge');
is(q1($r{one}, 'SELECT dht_router.state_digest()'), q1($r{two}, 'SELECT dht_router.state_digest()'),
	'dht_router.state_digest() is equal on the two routers');

my $all = "(SELECT 'test:sync/nft:dht/' || i AS t FROM generate_series(1, 280) i) s";
my $look = "SELECT count(*) || ' ' || string_agg(concat_ws(':', t, l.shard, l.node_id, l.endpoint, l.state), ','"
  . " ORDER BY t, l.shard, l.node_id::text) FROM $all, LATERAL dht_router.lookup(t::dht.token) l";
my $look_one = q1($r{one}, $look);
like($look_one, qr/^1590 /, 'lookups through router one: 250 tokens of 6 holders and 30 of 3, none extra');
is(q1($r{two}, $look), $look_one, 'every token looks up the same through router two');

# Where each token is, by each router's map.
my $where = "SELECT string_agg(t || '=' || dht_router.shard_for(t::dht.token), ',' ORDER BY t) FROM $all";
my %shard_of = map { split /=/ } split /,/, q1($r{one}, $where);
my %shard_of2 = map { split /=/ } split /,/, q1($r{two}, $where);
is(scalar(grep { $shard_of2{$_} ne ($shard_of{$_} =~ s/^one_/two_/r) } keys %shard_of), 0,
	'router two places every token on the counterpart of its shard on router one');
my %on = (a => [], b => []);
push @{ $on{ $shard_of{$_} =~ s/^one_//r } }, $_ for sort keys %shard_of;
cmp_ok(scalar @{ $on{a} }, '>', 70, 'the a shards hold a fair share of the tokens');
cmp_ok(scalar @{ $on{b} }, '>', 70, 'the b shards hold a fair share of the tokens');
for my $half (qw(a b))
{
	my $other = $half eq 'a' ? 'b' : 'a';
	my $in = join(',', map { "'$_'" } @{ $on{$half} });
	for my $anchor (qw(one two))
	{
		my ($n, $o) = ($sh{"${anchor}_$half"}, $sh{"${anchor}_$other"});
		is(q1($n, "SELECT count(DISTINCT token::text) || '/' || count(*) FILTER (WHERE token::text NOT IN ($in)) FROM dht.token_log"),
			scalar(@{ $on{$half} }) . '/0', "${anchor}_$half holds exactly the tokens the map gives it");
		is(q1($o, "SELECT count(*) FROM dht.token_log WHERE token::text IN ($in)"), '0',
			"${anchor}_$other holds none of them");
	}
}
my $bucket_ok = "SELECT count(*) FROM dht.token_log WHERE bucket %s 512";
is(join('', map { q1($sh{$_}, sprintf($bucket_ok, /_a$/ ? '>=' : '<')) } sort keys %sh), '0000',
	'no shard holds rows of buckets outside its map range');

# The tokens allocated on both sides: the same holders, whichever side
# allocated them (or both, if the allocations crossed).
my $both = "SELECT count(*) FROM dht.token_log WHERE token::text IN (SELECT 'test:sync/nft:dht/' || i FROM generate_series(101, 150) i"
  . " UNION ALL SELECT 'test:sync/nft:dht/' || i FROM generate_series(261, 270) i)";
my $rows_both = q1($sh{one_a}, $both) + q1($sh{one_b}, $both);
cmp_ok($rows_both, '>=', 60, 'the tokens allocated on both sides are held');
note("token_log rows of the 60 tokens allocated on both sides: $rows_both (rows above 60 are allocations that crossed)");
my $owners = "SELECT string_agg(origin || ':' || n, ' ' ORDER BY origin) FROM (SELECT origin, count(*) n FROM dht.token_log GROUP BY origin) s";
note("token_log rows by origin: " . join('; ', map { "$_ " . q1($sh{$_}, $owners) } sort keys %sh));

is(join(' ', map { q1($sh{$_}, 'SELECT coalesce(sum(apply_error_count + sync_error_count), 0) FROM pg_stat_subscription_stats') } sort keys %sh),
	'0 0 0 0', 'pg_stat_subscription_stats: no apply or sync error on any shard');
check_worker_logs([ map { $sh{$_} } sort keys %sh ]);
is(q1($r{one}, "SELECT string_agg(shard || ':' || anchor_peers || ':' || (anchor_lag_bytes IS NOT NULL), ' ' ORDER BY shard) FROM dht_router.shard_status()"),
	'one_a:1:true one_b:1:true', 'shard_status through router one: each shard has one anchor peer, and its lag');

# --- 6. moving buckets between shards that sync with other anchors ---------------
# Refused: a move on anchor one alone would let the rows of 768..1023 leave
# one_b and the deletion of one_b's own rows replicate to two_b, while
# their copies on one_a keep their origins (one_b, two_b) and are not
# published, so two_a would never get them: anchor two would lose the
# holders one_b had written. The timeout only keeps a move that does not
# end from hanging the test.
my $map_before = q1($r{one}, 'SELECT * FROM dht_router.shard_map()');
my $digest_before = q1($r{one}, 'SELECT dht_router.state_digest()');
my $moves_before = q1($r{one}, 'SELECT count(*) FROM dht_router.moves');
my ($rc, $out, $err) = $r{one}->psql('postgres',
	"\\set VERBOSITY verbose\nSET statement_timeout = '300s';\nSELECT dht_router.move_buckets(768, 1023, 'one_a');");
isnt($rc, 0, 'moving buckets between shards that sync with other anchors: fails') or diag("returned: $out");
# Both shards concerned (one_b, the source, and one_a, the target) sync with
# other anchors: the error names the first in name order.
like($err, qr/ERROR:\s+55000: shard one_a syncs with other anchors/, '... with 55000, naming the first shard concerned') or diag($err);
is(q1($r{one}, 'SELECT * FROM dht_router.shard_map()'), $map_before, '... and the map is unchanged');
is(q1($r{one}, 'SELECT count(*) FROM dht_router.moves') . ' ' . q1($r{one}, 'SELECT dht_router.state_digest()')
	  . ' ' . q1($sh{one_b}, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'dht_move_%'"),
	"$moves_before $digest_before 0", '... no move recorded, the directory unchanged, no move publication on one_b');

done_testing();
