-- The directory's bad input: every error names the problem, carries the
-- right SQLSTATE, and leaves the directory unchanged.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET search_path = public, dht;

-- A small network: 6 nodes, 3 operators, 2 regions, fixed keys.
CREATE TEMP TABLE keys AS
SELECT i, decode(lpad(to_hex(i), 64, '0'), 'hex') AS pubkey FROM generate_series(1, 6) i;
SELECT count(dht.register_node(pubkey, 'https://n' || i || '.example', 'r' || i % 2, 'op' || i % 3,
                               ('192.0.2.' || i)::inet, 100, 1000)) FROM keys;
SELECT dht.define_sla('small', 2, 1, regions => '{r0,r1}');

-- SLA classes: unknown, shard counts out of range, bad diversity, bad names.
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'nope');
SELECT dht.define_sla('bad', 0, 1);
SELECT dht.define_sla('bad', 256, 0);
SELECT dht.define_sla('bad', 200, 56);
SELECT dht.define_sla('bad', 4, -1);
-- parity near 2^31 used to overflow data_shards + parity_shards (22003)
SELECT dht.define_sla('bad', 4, 2147483647);
SELECT dht.define_sla('bad', 4, NULL);
SELECT dht.define_sla('bad', 4, 2, diversity => 'planet');
SELECT dht.define_sla('bad', 4, 2, min_availability => 1.5);
SELECT dht.define_sla('bad', 4, 2, min_bandwidth_mbps => -1);
SELECT dht.define_sla('bad', 4, 2, regions => '{}');
SELECT dht.define_sla('bad name', 4, 2);
SELECT dht.define_sla('', 4, 2);
SELECT dht.define_sla_by_target('bad', 4, 1.0);
SELECT dht.define_sla_by_target('bad', 4, NULL);
SELECT dht.define_sla_by_target('bad', 0, 0.99);
SELECT count(*) AS classes FROM dht.sla_classes;
-- A class sized by target availability needs measured nodes.
SELECT dht.define_sla_by_target('durable', 2, 0.999, regions => '{r0,r1}');
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'durable');
SELECT count(dht.set_node_availability(dht.node_id(pubkey), 0.5)) FROM keys;
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'durable');
SELECT count(dht.set_node_availability(dht.node_id(pubkey), 0.99)) FROM keys;
SELECT count(*) AS shards FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'durable');

-- Not enough eligible nodes: 53000 with the counts.
SELECT dht.define_sla('wide', 4, 2, regions => '{r0,r1}');
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'wide');
SELECT * FROM dht.allocate('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1', 'wide');
SELECT count(*) AS tokens FROM dht.tokens;
SELECT * FROM dht.place(NULL, 'small');
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), NULL);

-- Nodes: bad pubkey, bad fields, unknown node, bad state.
SELECT dht.register_node('\x0102', 'e', 'r', 'o', '192.0.2.1', 1, 1);
SELECT dht.register_node(NULL, 'e', 'r', 'o', '192.0.2.1', 1, 1);
SELECT dht.register_node(decode(repeat('aa', 32), 'hex'), '', 'r', 'o', '192.0.2.1', 1, 1);
SELECT dht.register_node(decode(repeat('aa', 32), 'hex'), 'e', 'r', 'o', NULL, 1, 1);
SELECT dht.register_node(decode(repeat('aa', 32), 'hex'), 'e', 'r', 'o', '192.0.2.1', -1, 1);
SELECT dht.register_node(decode(repeat('aa', 32), 'hex'), 'e', 'r', 'o', '192.0.2.1', 1, 1, 0);
SELECT dht.register_node(decode(repeat('aa', 32), 'hex'), 'e', 'r', 'o', '192.0.2.1', 1, 1, 'NaN');
SELECT dht.set_node_state(dht.node_id(decode(repeat('bb', 32), 'hex')), 'down');
SELECT dht.set_node_state((SELECT dht.node_id(pubkey) FROM keys WHERE i = 1), 'sleeping');
SELECT dht.set_node_availability((SELECT dht.node_id(pubkey) FROM keys WHERE i = 1), 2);
SELECT count(*) AS nodes, count(*) FILTER (WHERE state = 'active') AS active FROM dht.nodes WHERE operator LIKE 'op_';

-- Epochs: the seed is 32 bytes.
SELECT dht.begin_epoch('\x00');
SELECT dht.begin_epoch(NULL);
SELECT max(epoch) AS epoch FROM dht.epochs;

-- Tokens: releasing an unknown token is false (release is idempotent, as
-- allocate is); confirming what is not pending is an error.
SELECT dht.release('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/404');
SELECT dht.confirm('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/404', 0,
                   dht.node_id(decode(repeat('bb', 32), 'hex')));
SELECT count(*) FROM dht.allocate('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/7', 'small');
SELECT dht.confirm('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/7', 0,
                   (SELECT node_id FROM dht.lookup('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/7') WHERE shard = 0),
                   '\x00');
SELECT dht.repair(-1);
SELECT * FROM dht.allocate(NULL, 'small');

-- The same errors as bare SQLSTATEs.
\set VERBOSITY sqlstate
SELECT dht.define_sla('bad', 0, 1);
SELECT dht.define_sla('bad', 4, 2, diversity => 'planet');
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'nope');
SELECT * FROM dht.place(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1'), 'wide');
SELECT dht.register_node('\x0102', 'e', 'r', 'o', '192.0.2.1', 1, 1);
SELECT dht.set_node_state(dht.node_id(decode(repeat('bb', 32), 'hex')), 'down');
SELECT dht.begin_epoch('\x00');
