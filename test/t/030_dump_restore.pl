# pg_dump keeps the directory: the log tables are registered with
# pg_extension_config_dump, so a dump of an anchor's database restored into
# a fresh one shows the same resolved directory (same dht.state_digest(),
# same lookups), without epoch 0 twice, and the restored copy keeps working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DhtAnchors;

my $node = new_anchor('dumped', init => 0, logical => 0);
seed_registry($node, 'd', 12);
$node->safe_psql('postgres', <<'EOF');
SELECT dht.begin_epoch(sha256('dump test seed'::bytea));
SELECT count(*) FROM generate_series(1, 200) i,
    LATERAL dht.allocate(('test:anchors/nft:dht/dump-' || i)::dht.token, 'gold');
SELECT dht.release('test:anchors/nft:dht/dump-7');
SELECT dht.set_node_state(node_id, 'down') FROM dht.nodes ORDER BY node_id LIMIT 1;
SELECT dht.repair();
EOF

my $dump = "${PostgreSQL::Test::Utils::tmp_check}/dht.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump of an anchor database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'pg_restore into a fresh database');

my $q = q{SELECT encode(dht.state_digest(), 'hex'), (SELECT count(*) FROM dht.tokens),
                 (SELECT count(*) FROM dht.placements WHERE state = 'pending'),
                 (SELECT count(*) FROM dht.epoch_log)};
my $before = $node->safe_psql('postgres', $q);
my $after = $node->safe_psql('restored', $q);
is($after, $before, 'the restored directory has the same digest, tokens, pending repairs and epochs');
like($before, qr/\|199\|[1-9]\d*\|2$/, 'the directory had 199 tokens, pending repairs and two epochs');

my $lookup = q{SELECT shard, node_id, endpoint, state FROM dht.lookup('test:anchors/nft:dht/dump-42')};
is($node->safe_psql('restored', $lookup), $node->safe_psql('postgres', $lookup),
	'a lookup answers the same after the restore');
is($node->safe_psql('restored',
		q{SELECT count(*) FROM dht.allocate('test:anchors/nft:dht/dump-new', 'gold')}),
	'6', 'the restored directory allocates');

$node->stop;
done_testing();
