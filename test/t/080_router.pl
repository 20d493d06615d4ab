# The router extension smartlayer_dht_router on real servers: a router
# (plproxy, smartlayer_dht for the types, smartlayer_dht_router) and two
# shards running smartlayer_dht.
#   1. the map: the first shard holds every bucket, half move to the second;
#      bad input (a conninfo that does not connect, a database without
#      smartlayer_dht, a duplicate name, an unknown shard, an empty range,
#      moving to the shard that holds the buckets) gets a clear error and
#      changes nothing; empty buckets move by the map switch alone;
#   2. the registry through the router reaches both shards;
#   3. 200 tokens by dht_router.allocate_many and 20 by dht_router.allocate:
#      each token is on exactly the shard dht_router.shard_for names, holders
#      as dht.place gives them on the other shard (same registry: same
#      answer as one anchor), lookup and route through the router as on the
#      shard, release, repair and state_digest;
#   4. a shard stopped fails only the calls for its buckets, with an error
#      naming it; registry calls reach the other shard and name the missed
#      one; after a restart the re-run call catches it up;
#   5. a router restarted gives the same answers; a second router follows
#      the first one's map (dht_router.follow: its bad input, and a follower
#      refuses to change the map) and gives the same answers;
#   6. an online move: a third shard takes 256 of shard b's buckets while
#      400 allocations run through the router; every acknowledged
#      allocation is held exactly once, lookups answer as before, the rows
#      left shard b and a write routed by the old map fails there; buckets
#      move back; a move while another runs, and one onto rows already on
#      the target, are refused and change nothing; the follower routes by
#      the new map as soon as the move returns;
#   7. a move whose write fence cannot get its lock within
#      dht_router.move_fence_timeout is undone (map, rows, subscription,
#      publication, constraints and replica identity as before), and bad
#      settings are refused before anything changes;
#   8. the follower stops following and keeps the map as its own.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DhtAnchors qw(start_load finish_load);

sub q1 { my ($n, $sql) = @_; return $n->safe_psql('postgres', $sql); }
sub tok { my ($i) = @_; return "test:router/nft:dht/$i"; }

sub server
{
	my ($name) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	# wal_level = logical: a shard is the source of an online bucket move
	$n->init(allows_streaming => 'logical');
	$n->append_conf('postgresql.conf', "shared_buffers = '32MB'\nwal_retrieve_retry_interval = '200ms'\n");
	$n->start;
	return $n;
}

# Runs $sql on $node, expecting an error matching $re; returns stderr.
sub fails
{
	my ($node, $sql, $re, $what) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	isnt($rc, 0, "$what: fails");
	like($err, $re, "$what: error") or diag($err);
	return $err;
}

my $r = server('router');
my $sa = server('shard_a');
my $sb = server('shard_b');
q1($_, 'CREATE EXTENSION smartlayer_dht') for ($sa, $sb);
q1($r, 'CREATE EXTENSION smartlayer_dht_router CASCADE');
my ($ca, $cb) = map { $_->connstr('postgres') } ($sa, $sb);

# --- 1. the map -------------------------------------------------------------
fails($r, "SELECT dht_router.define_sla('gold', 4, 2)", qr/the router has no shards/,
	'registry call before any shard');
fails($r, "SELECT * FROM dht_router.lookup('" . tok(1) . "')", qr/the router has no shards/,
	'a lookup before any shard');
q1($r, "SELECT dht_router.add_shard('a', \$\$$ca\$\$)");
is(q1($r, 'SELECT * FROM dht_router.shard_map()'), '0|1023|a', 'the first shard holds every bucket');
my $port = PostgreSQL::Test::Cluster::get_free_port();
fails($r, "SELECT dht_router.add_shard('x', 'host=127.0.0.1 port=$port dbname=postgres connect_timeout=5')",
	qr/shard x: cannot connect/, 'a conninfo that does not connect');
q1($sb, 'CREATE DATABASE plain');
my $plain = $sb->connstr('plain');
fails($r, "SELECT dht_router.add_shard('x', \$\$$plain\$\$)", qr/shard x does not run smartlayer_dht/,
	'a database without smartlayer_dht');
fails($r, "SELECT dht_router.add_shard('a', \$\$$cb\$\$)", qr/shard a already exists/, 'a duplicate name');
fails($r, "SELECT dht_router.add_shard('bad name', \$\$$cb\$\$)", qr/invalid shard name/, 'a bad name');
fails($r, "SELECT dht_router.add_shard('x', '')", qr/shard x: conninfo must not be empty/, 'an empty conninfo');
fails($r, "SELECT dht_router.add_shard('x', \$\$$ca\$\$)", qr/shard a already has this conninfo/, 'a conninfo already used');
fails($r, "SELECT plproxy.get_cluster_version('nosuch')", qr/unknown PL\/Proxy cluster 'nosuch'/, 'an unknown cluster');
is(q1($r, 'SELECT count(*) FROM dht_router.shards'), '1', 'bad shards changed nothing');
q1($r, "SELECT dht_router.add_shard('b', \$\$$cb\$\$)");
is(q1($r, 'SELECT * FROM dht_router.shard_map()'), '0|1023|a', 'a later shard gets no bucket by itself');
fails($r, "SELECT dht_router.move_buckets(0, 10, 'nosuch')", qr/shard nosuch does not exist/, 'move to an unknown shard');
fails($r, "SELECT dht_router.move_buckets(10, 9, 'b')", qr/invalid bucket range 10\.\.9/, 'an empty range');
fails($r, "SELECT dht_router.move_buckets(1000, 1024, 'b')", qr/invalid bucket range/, 'a range past 1023');
fails($r, "SELECT dht_router.move_buckets(0, 10, 'a')", qr/shard a already holds buckets of 0\.\.10/,
	'move to the shard that holds them');
my $v0 = q1($r, 'SELECT version FROM dht_router.map_version');
is(q1($r, "SELECT dht_router.move_buckets(512, 1023, 'b')"), '0', 'empty buckets move');
is(q1($r, "SELECT string_agg(format('%s-%s:%s', first_bucket, last_bucket, shard), ' ') FROM dht_router.shard_map()"),
	'0-511:a 512-1023:b', 'half the buckets on each shard');
cmp_ok(q1($r, 'SELECT version FROM dht_router.map_version'), '>', $v0, 'the move bumped the map version');
is(q1($r, "SELECT count(*) FROM plproxy.get_cluster_partitions('dht')"), '1024', "cluster 'dht': a partition per bucket");
is(q1($r, "SELECT count(DISTINCT p) FROM plproxy.get_cluster_partitions('dht_shards') p"), '2',
	"cluster 'dht_shards': the shards");

# --- 2. the registry through the router --------------------------------------
q1($r, <<'EOF');
SELECT dht_router.define_sla('gold', 4, 2, diversity => 'none');
SELECT dht_router.register_node(k.pubkey, 'https://r-' || i || '.example', 'eu', 'op-' || (i % 4),
                                ('10.7.' || i || '.1')::inet, 1000, 1000)
FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('r' || i, 'UTF8'))) k;
EOF
is(q1($r, "SELECT dht_router.begin_epoch(sha256('epoch one'))"), '1', 'begin_epoch through the router');
my $reg = "SELECT (SELECT string_agg(node_id::text || endpoint, ',' ORDER BY node_id) FROM dht.nodes)"
  . " || (SELECT string_agg(name || data_shards || parity_shards, ',') FROM dht.sla_classes)";
my $rega = q1($sa, $reg);
like($rega, qr/r-12\.example.*gold42/, 'shard a has the nodes and the SLA class');
is(q1($sb, $reg), $rega, 'shard b has the same registry');
fails($r, "SELECT dht_router.define_sla('bad', 0, 2)", qr/./, 'bad input from the shard');
is(q1($sa, "SELECT count(*) FROM dht.sla_classes WHERE name = 'bad'") . q1($sb, "SELECT count(*) FROM dht.sla_classes WHERE name = 'bad'"),
	'00', 'a registry call the shard rejects changes nothing');

# --- 3. allocations through the router ---------------------------------------
my $arr = "ARRAY(SELECT ('test:router/nft:dht/' || i)::dht.token FROM generate_series(1, 200) i)";
is(q1($r, "SELECT count(*), count(DISTINCT token) FROM dht_router.allocate_many($arr, 'gold')"), '1200|200',
	'allocate_many: 200 tokens, 6 holders each');
is(q1($r, "SELECT count(*) FROM generate_series(201, 220) i, LATERAL dht_router.allocate(('test:router/nft:dht/' || i)::dht.token, 'gold')"),
	'120', 'allocate: 20 tokens, 6 holders each');
is(q1($r, "SELECT count(*) FROM dht_router.allocate('" . tok(201) . "', 'gold')"), '6', 'allocate again: idempotent');

# Where each token is: its shard by the map, its holders there.
my $where = q1($r, "SELECT string_agg(t || '=' || dht_router.shard_for(t::dht.token), ',' ORDER BY t)"
	  . " FROM (SELECT 'test:router/nft:dht/' || i AS t FROM generate_series(1, 220) i) s");
my %shard_of = map { split /=/ } split /,/, $where;
my %on = (a => [], b => []);
push @{ $on{ $shard_of{$_} } }, $_ for sort keys %shard_of;
cmp_ok(scalar @{ $on{a} }, '>', 50, 'shard a holds a fair share of the tokens');
cmp_ok(scalar @{ $on{b} }, '>', 50, 'shard b holds a fair share of the tokens');
my $holders = "SELECT string_agg(token::text || ':' || shard || ':' || node_id::text, ',' ORDER BY token::text, shard)"
  . " FROM dht.placements";
my %direct = (a => q1($sa, $holders), b => q1($sb, $holders));
for my $s (qw(a b))
{
	my $n = $s eq 'a' ? $sa : $sb;
	my $in = join(',', map { "'$_'" } @{ $on{$s} });
	is(q1($n, "SELECT count(DISTINCT token::text) FROM dht.placements"), scalar @{ $on{$s} },
		"shard $s holds exactly the tokens the map gives it");
	is(q1($n, "SELECT count(*) FROM dht.placements WHERE token::text NOT IN ($in)"), '0',
		"shard $s holds no token of the other shard");
	# dht_router.lookup for each of its tokens, as dht.lookup gives it there.
	my $look = "SELECT string_agg(t || ':' || l.shard || ':' || l.node_id::text || ':' || l.state, ',' ORDER BY t, l.shard)"
	  . " FROM unnest(ARRAY[$in]) t, LATERAL %s.lookup(t::dht.token) l";
	is(q1($r, sprintf($look, 'dht_router')), q1($n, sprintf($look, 'dht')), "shard $s: lookups through the router");
	# The other shard, with the same registry, places them the same way.
	my $o = $s eq 'a' ? $sb : $sa;
	is(q1($o, "SELECT string_agg(t || ':' || p.shard || ':' || p.node_id::text, ',' ORDER BY t, p.shard)"
			  . " FROM unnest(ARRAY[$in]) t, LATERAL dht.place(dht.token_key(t::dht.token), 'gold') p"),
		q1($n, "SELECT string_agg(t || ':' || l.shard || ':' || l.node_id::text, ',' ORDER BY t, l.shard)"
			  . " FROM unnest(ARRAY[$in]) t, LATERAL dht.lookup(t::dht.token) l"),
		"shard $s: holders as one anchor with the same registry places them");
}
my $status = "SELECT string_agg(concat_ws('|', shard, buckets, bucket_ranges, reachable, nodes, epoch, tokens, placements, anchor_peers, coalesce(anchor_lag_bytes, -1)), ' ' ORDER BY shard)"
  . " FROM dht_router.shard_status()";
is(q1($r, $status), join(' ', "a|512|0..511|t|12|1|" . scalar(@{ $on{a} }) . '|' . 6 * @{ $on{a} } . '|0|-1',
		"b|512|512..1023|t|12|1|" . scalar(@{ $on{b} }) . '|' . 6 * @{ $on{b} } . '|0|-1'),
	'shard_status: buckets, nodes, epoch, tokens and placements per shard, no anchor peers');
my $t1 = tok(1);
is(q1($r, "SELECT count(*) FROM dht_router.route('$t1') r JOIN dht_router.lookup('$t1') l"
	  . " ON (l.shard, l.node_id::text, l.endpoint) = (r.shard, r.node_id::text, r.endpoint)"),
	'1', 'route: one of the holders');
is(q1($r, "SELECT dht_router.release('" . tok(220) . "')"), 't', 'release');
is(q1($r, "SELECT dht_router.release('" . tok(220) . "')"), 'f', 'release again: false');
is(q1($r, "SELECT count(*) FROM dht_router.lookup('" . tok(220) . "')"), '0', 'a released token has no holders');
is(q1($r, 'SELECT dht_router.repair()'), '0', 'repair: nothing to do');
my ($da, $db) = (q1($sa, 'SELECT dht.state_digest()'), q1($sb, 'SELECT dht.state_digest()'));
my $expect = q1($r, "SELECT sha256(convert_to(string_agg(encode(d, 'hex'), '' ORDER BY d), 'UTF8'))"
	  . " FROM unnest(ARRAY['$da'::bytea, '$db'::bytea]) d");
is(q1($r, 'SELECT dht_router.state_digest()'), $expect, "state_digest: SHA-256 of the shards' digests");

# --- 4. a shard down ----------------------------------------------------------
my ($ta, $tb) = ($on{a}[0], $on{b}[0]);
$sb->stop;
is(q1($r, "SELECT count(*) FROM dht_router.lookup('$ta')"), '6', 'shard b down: lookups on shard a answer');
my $ta2 = q1($r, "SELECT t FROM generate_series(300, 400) i, LATERAL (SELECT 'test:router/nft:dht/' || i AS t) s"
	  . " WHERE dht_router.shard_for(t::dht.token) = 'a' LIMIT 1");
is(q1($r, "SELECT count(*) FROM dht_router.allocate('$ta2', 'gold')"), '6', 'shard b down: allocations on shard a succeed');
my $err = fails($r, "SELECT * FROM dht_router.lookup('$tb')", qr/shard b cannot be reached/,
	'shard b down: a lookup of its bucket');
fails($r, "SELECT * FROM dht_router.allocate_many($arr, 'gold')", qr/shard b cannot be reached/,
	'shard b down: allocate_many over both shards');
fails($r, "SELECT dht_router.define_sla('silver', 3, 1, diversity => 'none')",
	qr/dht_router\.define_sla did not reach shard b/, 'shard b down: a registry call names it');
is(q1($sa, "SELECT count(*) FROM dht.sla_classes WHERE name = 'silver'"), '1', 'shard a got it all the same');
fails($r, 'SELECT dht_router.state_digest()', qr/shard b cannot be reached/, 'shard b down: state_digest');
is(q1($r, "SELECT string_agg(concat_ws('|', shard, reachable, tokens, error ~ 'PQconnect'), ' ' ORDER BY shard) FROM dht_router.shard_status()"),
	"a|t|" . (1 + @{ $on{a} } - ($shard_of{ tok(220) } eq 'a' ? 1 : 0)) . " b|f|t", 'shard b down: shard_status reports it and still reports a');
fails($r, "SELECT * FROM dht_router.route('$tb')", qr/shard b cannot be reached/, 'shard b down: route');
fails($r, "SELECT dht_router.release('$tb')", qr/shard b cannot be reached/, 'shard b down: release');
fails($r, 'SELECT dht_router.repair()', qr/shard b cannot be reached/, 'shard b down: repair');
fails($r, "SELECT dht_router.move_buckets(600, 700, 'a')", qr/shard b cannot be reached/, 'shard b down: move_buckets');
$err = fails($r, "SELECT dht_router.begin_epoch(sha256('epoch two'))", qr/did not reach shard b/,
	'shard b down: begin_epoch');
like($err, qr/run dht\.begin_epoch with the same seed on it directly/, 'begin_epoch: the hint says how to catch up');
$sb->start;
is(q1($r, "SELECT count(*) FROM dht_router.lookup('$tb')"), '6', 'shard b back: its lookups answer again');
q1($r, "SELECT dht_router.define_sla('silver', 3, 1, diversity => 'none')");
is(q1($sb, $reg), q1($sa, $reg), 'the re-run registry call caught shard b up');
q1($sb, "SELECT dht.begin_epoch(sha256('epoch two'))");
is(q1($r, "SELECT dht_router.begin_epoch(sha256('epoch three'))"), '3',
	'shard b caught up by dht.begin_epoch directly: the shards agree again');
q1($sa, "SELECT dht.begin_epoch(sha256('epoch on a alone'))");
$err = fails($r, "SELECT dht_router.begin_epoch(sha256('epoch five'))", qr/the shards numbered the new epoch differently/,
	'begin_epoch when a shard has an epoch the other lacks');
like($err, qr/a: 5, b: 4/, 'the error gives each shard\'s number');

# --- privileges: PL/Proxy connects to the shard as the caller's role ---------
q1($_, "CREATE ROLE app LOGIN; GRANT dht_reader TO app") for ($r, $sa, $sb);
is(q1($r, "SET ROLE app; SELECT count(*) FROM dht_router.lookup('$ta')"), '6', 'a dht_reader looks up through the router');
fails($r, "SET ROLE app; SELECT * FROM dht_router.allocate('$ta', 'gold')", qr/permission denied for function allocate/,
	'a dht_reader cannot allocate through the router');
fails($r, "SET ROLE app; SELECT dht_router.define_sla('x', 2, 1)", qr/permission denied for function define_sla/,
	'a dht_reader cannot change the registry through the router');
fails($r, "SET ROLE app; SELECT dht_router._probe('host=127.0.0.1')", qr/permission denied for function _probe/,
	'a dht_reader cannot make the router connect to a conninfo of its choice');
fails($r, "SET ROLE app; SELECT * FROM dht_router.shard_status()", qr/permission denied for function shard_status/,
	'shard_status is for dht_admin');
q1($r, 'GRANT dht_writer TO app');
fails($r, "SET ROLE app; SELECT * FROM dht_router.allocate('$ta', 'gold')", qr/REMOTE ERROR: permission denied/,
	'a writer on the router only: the shard refuses (the call runs as the caller there)');

# --- 5. a router restarted, and a second router with the same map ---------------
my $all = "SELECT string_agg(t || ':' || l.shard || ':' || l.node_id::text, ',' ORDER BY t, l.shard)"
  . " FROM (SELECT 'test:router/nft:dht/' || i AS t FROM generate_series(1, 219) i) s,"
  . " LATERAL dht_router.lookup(t::dht.token) l";
my $before = q1($r, $all);
$r->restart;
is(q1($r, $all), $before, 'the router restarted: the same map and answers');
my $r2 = server('router2');
q1($r2, 'CREATE EXTENSION smartlayer_dht_router CASCADE');
my $rconn = $r->connstr('postgres');
# a second router follows the first one's map
fails($r2, "SELECT dht_router.follow('')", qr/the conninfo of the router to follow must not be empty/, 'follow: an empty conninfo');
fails($r2, "SELECT dht_router.follow('host=127.0.0.1 port=$port dbname=postgres connect_timeout=5')",
	qr/cannot connect to the router to follow/, 'follow: a conninfo that does not connect');
fails($r2, "SELECT dht_router.follow(\$\$$ca\$\$)", qr/the server to follow does not run smartlayer_dht_router/,
	'follow: a shard, not a router');
my $nolog = PostgreSQL::Test::Cluster->new('router_nolog');
$nolog->init;
$nolog->start;
q1($nolog, 'CREATE EXTENSION smartlayer_dht_router CASCADE');
fails($r2, "SELECT dht_router.follow(\$\$" . $nolog->connstr('postgres') . "\$\$)",
	qr/the router to follow needs wal_level = logical/, 'follow: a router without wal_level = logical');
q1($nolog, "SELECT dht_router.add_shard('a', \$\$$ca\$\$)");
fails($nolog, "SELECT dht_router.follow(\$\$$rconn\$\$)", qr/this router has a map of its own/,
	'follow: a router with shards of its own');
$nolog->stop;
fails($r2, 'SELECT dht_router.unfollow()', qr/this router follows no other router/, 'unfollow on a home');
is(q1($r2, 'SELECT count(*) FROM pg_subscription'), '0', 'the failed follows left nothing behind');
is(q1($r2, "SELECT dht_router.follow(\$\$$rconn\$\$)"), q1($r, 'SELECT version FROM dht_router.map_version'),
	'follow: the second router has the first one\'s map version');
is(q1($r2, 'SELECT * FROM dht_router.shard_map()'), q1($r, 'SELECT * FROM dht_router.shard_map()'),
	'the follower has the same map');
fails($r2, "SELECT dht_router.follow(\$\$$rconn\$\$)", qr/this router follows a map already/, 'follow twice');
fails($r2, "SELECT dht_router.add_shard('x', \$\$$ca\$\$)", qr/this router follows the map of another router/,
	'add_shard on a follower');
fails($r2, "SELECT dht_router.move_buckets(0, 1, 'b')", qr/this router follows the map of another router/,
	'move_buckets on a follower');
is(q1($r2, "SELECT role FROM dht_router.map_status()"), 'follower', 'map_status on the follower');
is(q1($r, "SELECT string_agg(role || ':' || coalesce(connected::text, '-'), ' ' ORDER BY router DESC) FROM dht_router.map_status()"),
	'home:- follower:true', 'map_status on the home: one follower, connected');
is(q1($r2, $all), $before, 'the second router gives the same answers');
is(q1($r2, "SELECT count(*) FROM dht_router.allocate('" . tok(1) . "', 'gold')"), '6',
	'allocate through the second router: the token the first allocated, idempotent');

# --- 6. an online move under load: a third shard takes buckets 768..1023 -------
my $sc = server('shard_c');
q1($sc, 'CREATE EXTENSION smartlayer_dht');
# shard c gets shard b's registry: the same nodes, classes and epochs
q1($sc, <<'EOF');
SELECT dht.define_sla('gold', 4, 2, diversity => 'none');
SELECT dht.define_sla('silver', 3, 1, diversity => 'none');
SELECT dht.register_node(k.pubkey, 'https://r-' || i || '.example', 'eu', 'op-' || (i % 4),
                         ('10.7.' || i || '.1')::inet, 1000, 1000)
FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('r' || i, 'UTF8'))) k;
SELECT dht.begin_epoch(sha256(convert_to(s, 'UTF8'))) FROM unnest(ARRAY['epoch one', 'epoch two', 'epoch three', 'epoch five']) s;
EOF
is(q1($sc, $reg), q1($sb, $reg), 'shard c has shard b\'s registry');
my $cc = $sc->connstr('postgres');
q1($r, "SELECT dht_router.add_shard('c', \$\$$cc\$\$)");
my $moved_look = "SELECT string_agg(t || ':' || l.shard || ':' || l.node_id::text, ',' ORDER BY t, l.shard)"
  . " FROM (SELECT 'test:router/nft:dht/' || i AS t FROM generate_series(1, 219) i) s,"
  . " LATERAL dht_router.lookup(t::dht.token) l WHERE dht.bucket_of(t::dht.token) >= 768";
my $look_before = q1($r, $moved_look);
my $rows_b = q1($sb, 'SELECT count(*) FROM dht.token_log WHERE bucket >= 768');
cmp_ok($rows_b, '>', 0, 'shard b holds rows of buckets 768..1023');
my $load = join('', map { "SELECT 'ack $_' FROM (SELECT count(*) FROM dht_router.allocate('test:router/nft:dht/$_', 'gold')) x;\n" } 1001 .. 1400);
my $h = start_load($r, $load);
my $vbefore = q1($r, 'SELECT version FROM dht_router.map_version');
my ($mrc, $moved, $merr) = $r->psql('postgres', "SELECT dht_router.move_buckets(768, 1023, 'c')");
is($mrc, 0, 'move_buckets under load') or diag($merr);
my ($lout, $lerr) = finish_load($h);
my @acked = ($lout =~ /^ack (\d+)$/mg);
cmp_ok(scalar(@acked), '>', 300, scalar(@acked) . ' of 400 allocations acknowledged during the move');
note("rejected during the move (routed by the old map): $lerr") if $lerr;
my @bad = grep { /ERROR/ && !/dht_moved_out_768_1023/ } split /\n/, $lerr;
is(scalar(@bad), 0, 'the only rejections are writes routed by the old map') or diag($lerr);
cmp_ok($moved, '>=', $rows_b, "$moved rows moved");
is(q1($r, "SELECT string_agg(format('%s-%s:%s', first_bucket, last_bucket, shard), ' ') FROM dht_router.shard_map()"),
	'0-511:a 512-767:b 768-1023:c', 'the map after the move');
cmp_ok(q1($r, 'SELECT version FROM dht_router.map_version'), '>', $vbefore, 'the move bumped the map version');
is(q1($sb, 'SELECT count(*) FROM dht.token_log WHERE bucket >= 768'), '0', 'the rows left shard b');
is(q1($sc, 'SELECT count(*) FROM dht.token_log WHERE bucket < 768'), '0', 'shard c holds only its buckets');
is(q1($sb, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'dht_move_%'")
	  . q1($sc, 'SELECT count(*) FROM pg_subscription'), '00', 'the publication and the subscription are gone');
# every acknowledged allocation is held exactly once, on the shard of its bucket
my %held;
for my $n ($sa, $sb, $sc)
{
	$held{$_}++ for split /,/, q1($n, "SELECT string_agg(token::text, ',') FROM dht.tokens");
}
my @missing = grep { !$held{"test:router/nft:dht/$_"} } @acked;
is(scalar(@missing), 0, 'no acknowledged allocation is lost') or diag("@missing");
my @twice = grep { $held{$_} > 1 } keys %held;
is(scalar(@twice), 0, 'no token is held on two shards') or diag("@twice");
my $in = join(',', map { "'test:router/nft:dht/$_'" } @acked);
my @oc = split /,/, q1($r, "SELECT string_agg(t, ',') FROM unnest(ARRAY[$in]) t WHERE dht_router.shard_for(t::dht.token) = 'c'");
cmp_ok(scalar(@oc), '>', 50, 'a fair share of the acknowledged tokens is in the moved buckets');
my $inc = join(',', map { "'$_'" } @oc);
is(q1($sc, "SELECT count(*) FROM dht.tokens WHERE token::text IN ($inc)"), scalar(@oc),
	'shard c holds every acknowledged token the map gives it');
is(q1($r, $moved_look), $look_before, 'lookups of the moved tokens through the router, as before the move');
# the follower routes by the new map as soon as the move returns
is(q1($r2, 'SELECT * FROM dht_router.shard_map()'), q1($r, 'SELECT * FROM dht_router.shard_map()'),
	'the follower has the map after the move');
is(q1($r2, $moved_look), $look_before, 'lookups of the moved tokens through the follower, as before the move');
my $fresh = q1($r, "SELECT t FROM generate_series(9001, 13000) i, LATERAL (SELECT 'test:router/nft:dht/' || i AS t) s"
	  . " WHERE dht.bucket_of(t::dht.token) >= 768 LIMIT 1");
is(q1($r2, "SELECT count(*) FROM dht_router.allocate('$fresh', 'gold')"), '6',
	'an allocation in the moved buckets through the follower');
is(q1($sc, "SELECT count(*) FROM dht.tokens WHERE token::text = '$fresh'"), '1', '... lands on shard c');
is(q1($r2, 'SELECT string_agg(id || state, \',\' ORDER BY id) FROM dht_router.move_status()'),
	q1($r, 'SELECT string_agg(id || state, \',\' ORDER BY id) FROM dht_router.move_status()'),
	'the follower shows the moves');
my $lk = "SELECT string_agg(t || ':' || l.shard || ':' || l.node_id::text, ',' ORDER BY t, l.shard)"
  . " FROM unnest(ARRAY[$inc]) t, LATERAL dht_router.lookup(t::dht.token) l";
my $pl = "SELECT string_agg(t || ':' || p.shard || ':' || p.node_id::text, ',' ORDER BY t, p.shard)"
  . " FROM unnest(ARRAY[$inc]) t, LATERAL dht.place(dht.token_key(t::dht.token), 'gold') p";
is(q1($r, $lk), q1($sb, $pl), 'lookups of those tokens: the holders one anchor with the registry places');
my $old = q1($r, "SELECT t FROM generate_series(5000, 9000) i, LATERAL (SELECT 'test:router/nft:dht/' || i AS t) s"
	  . " WHERE dht.bucket_of(t::dht.token) >= 768 LIMIT 1");
my ($rc0, $o0, $e0) = $sb->psql('postgres', "SELECT count(*) FROM dht.allocate('$old', 'gold')");
like($e0, qr/dht_moved_out_768_1023/, 'a write routed by the old map fails on shard b');
is(q1($r, "SELECT string_agg(concat_ws('|', shard, buckets, bucket_ranges, reachable), ' ' ORDER BY shard) FROM dht_router.shard_status()"),
	'a|512|0..511|t b|256|512..767|t c|256|768..1023|t', 'shard_status after the move');
is(q1($r, "SELECT string_agg(concat_ws('|', first_bucket, last_bucket, from_shard, to_shard, state, rows_moved, lag_bytes IS NULL, finished_at IS NOT NULL), ' ' ORDER BY id) FROM dht_router.move_status()"),
	"512|1023|a|b|done|0|t|t 768|1023|b|c|done|$moved|t|t", 'move_status: the empty move and the online one');
fails($r, "SELECT dht_router.move_buckets(768, 800, 'c')", qr/shard c already holds buckets of 768\.\.800/,
	'moving buckets to the shard that has them');
# buckets back from c to b: b's constraint for them goes, the rest of it stays
cmp_ok(q1($r, "SELECT dht_router.move_buckets(800, 810, 'b')"), '>', 0, 'buckets 800..810 back to shard b');
is(q1($sb, "SELECT string_agg(conname, ' ' ORDER BY conname) FROM pg_constraint WHERE conname LIKE 'dht_moved_out%'"),
	'dht_moved_out_768_799 dht_moved_out_811_1023', 'shard b takes buckets 800..810 again, not the others');
is(q1($r, "SELECT count(*) FROM dht_router.allocate_many(ARRAY(SELECT ('test:router/nft:dht/' || i)::dht.token"
	  . " FROM generate_series(1001, 1400) i), 'gold')"), '2400', 'allocate_many of the 400 tokens after the moves');
is(q1($sa, 'SELECT count(*) FROM dht.token_log WHERE bucket >= 512') . q1($sb, 'SELECT count(*) FROM dht.token_log WHERE bucket NOT BETWEEN 512 AND 767 AND bucket NOT BETWEEN 800 AND 810')
	  . q1($sc, 'SELECT count(*) FROM dht.token_log WHERE bucket < 768 OR bucket BETWEEN 800 AND 810'), '000',
	'every shard holds only rows of its buckets');

# a move's errors: another move in progress, rows of the buckets already on the target
my $nmoves = q1($r, 'SELECT count(*) FROM dht_router.moves');
q1($r, "INSERT INTO dht_router.moves (first_bucket, last_bucket, from_shard, to_shard) VALUES (0, 0, 'a', 'c')");
fails($r, "SELECT dht_router.move_buckets(500, 511, 'b')", qr/a move between shards a and b is in progress/,
	'a move while another one involving the shards runs');
q1($r, "DELETE FROM dht_router.moves WHERE id = (SELECT max(id) FROM dht_router.moves)");
my $stray = q1($r, "SELECT t FROM generate_series(5000, 9000) i, LATERAL (SELECT 'test:router/nft:dht/' || i AS t) s"
	  . " WHERE dht.bucket_of(t::dht.token) BETWEEN 100 AND 200 AND dht_router.shard_for(t::dht.token) = 'a' LIMIT 1");
q1($sc, "SELECT count(*) FROM dht.allocate('$stray', 'gold')");
fails($r, "SELECT dht_router.move_buckets(0, 511, 'c')", qr/shard c already has rows of buckets 0\.\.511/,
	'rows of the buckets already on the target (a failed move\'s leftovers)');
is(q1($r, 'SELECT count(*) FROM dht_router.moves') . ' ' . q1($r, "SELECT string_agg(format('%s-%s:%s', first_bucket, last_bucket, shard), ' ') FROM dht_router.shard_map()"),
	"$nmoves 0-511:a 512-767:b 768-799:c 800-810:b 811-1023:c", '... and the refused moves changed nothing');

# --- 7. a move that cannot fence in time is undone ---------------------------
q1($sc, 'DELETE FROM dht.token_log WHERE bucket BETWEEN 0 AND 511');    # the stray row
fails($r, "SET dht_router.move_fence_timeout = 'soon'; SELECT dht_router.move_buckets(800, 810, 'c')",
	qr/invalid value for parameter "dht_router.move_fence_timeout": "soon"/, 'a bad fence timeout');
fails($r, "SET dht_router.follower_timeout = '-1s'; SELECT dht_router.move_buckets(800, 810, 'c')",
	qr/invalid value for parameter "dht_router.follower_timeout"/, 'a bad follower timeout');
my $map_before = q1($r, 'SELECT version FROM dht_router.map_version');
my $rows_800 = q1($sb, 'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN 800 AND 810');
cmp_ok($rows_800, '>', 0, 'shard b holds rows of buckets 800..810');
# A transaction about to write on shard b (its lock taken, no transaction id
# yet: one with an id would hold up the creation of the move's replication
# slot instead, which waits for running transactions) holds the fence off.
# The replica identity the move needs is set already, so the move gets as
# far as the copy.
q1($sb, 'ALTER TABLE dht.token_log REPLICA IDENTITY FULL');
my $hold = start_load($sb, "BEGIN; LOCK TABLE dht.token_log IN ROW EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;\n");
$sb->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
	  . " WHERE c.relname = 'token_log' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()")
  or die 'the writing transaction did not start';
fails($r, "SET dht_router.move_fence_timeout = '1s'; SELECT dht_router.move_buckets(800, 810, 'c')",
	qr/shard b: the move did not get its lock on dht.token_log within dht_router.move_fence_timeout \(00:00:01\)/,
	'a fence that cannot get its lock in time');
finish_load($hold);
is(q1($r, "SELECT state || ':' || (error LIKE '%did not get its lock%') FROM dht_router.move_status() ORDER BY id DESC LIMIT 1"),
	'failed:true', 'move_status: the move failed, and why');
is(q1($r, 'SELECT version FROM dht_router.map_version'), $map_before, 'the map did not change');
is(q1($sc, 'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN 800 AND 810') . ':'
	  . q1($sc, 'SELECT count(*) FROM pg_subscription') . ':'
	  . q1($sc, "SELECT count(*) FROM pg_constraint WHERE conname = 'dht_moved_out_800_810'"),
	'0:0:1', 'on the target: the copied rows and the subscription gone, its constraint back');
is(q1($sb, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'dht_move_%'") . ':'
	  . q1($sb, "SELECT relreplident FROM pg_class WHERE oid = 'dht.token_log'::regclass") . ':'
	  . q1($sb, 'SELECT count(*) FROM dht.token_log WHERE bucket BETWEEN 800 AND 810'),
	"0:f:$rows_800", 'on the source: no publication, the replica identity as before, the rows kept');
is(q1($sb, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'dht_move_%'"), '0', 'no slot left');
cmp_ok(q1($r, "SELECT dht_router.move_buckets(800, 810, 'c')"), '>=', $rows_800, 'the same move once the writer is gone');
is(q1($sb, "SELECT relreplident FROM pg_class WHERE oid = 'dht.token_log'::regclass"), 'f',
	'a replica identity the move did not set stays');
q1($sb, 'ALTER TABLE dht.token_log REPLICA IDENTITY DEFAULT');

# --- 8. the follower stops following ------------------------------------------
q1($r2, 'SELECT dht_router.unfollow()');
is(q1($r, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'dht_router_map_%'"), '0',
	'unfollow drops the follower\'s slot on the home');
is(q1($r2, 'SELECT * FROM dht_router.shard_map()'), q1($r, 'SELECT * FROM dht_router.shard_map()'),
	'the former follower keeps the map');
is(q1($r2, 'SELECT role FROM dht_router.map_status()'), 'home', '... as its own');

done_testing();
