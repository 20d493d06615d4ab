-- Repair in batches: dht.repair(max_moves) commits a few moves at a time,
-- stops planning once it has them, and each later plan reads tokens whose
-- old row versions are now dead (a btree scan that meets dead tuples
-- allocates its list of killed items as it goes: that memory must belong
-- to the scan, not to the per-token context planning resets).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET search_path = public, dht;

CREATE TEMP TABLE rkeys AS
SELECT i, decode(lpad(to_hex(1000 + i), 64, '0'), 'hex') AS pubkey FROM generate_series(1, 8) i;
SELECT count(dht.register_node(pubkey, 'https://rb' || i || '.example', 'rb', 'rb-op' || i,
                               ('198.51.100.' || i)::inet, 100, 1000)) FROM rkeys;
SELECT dht.define_sla('rb', 3, 2, regions => '{rb}');
SELECT count(*) FROM generate_series(1, 40) g,
    dht.allocate(('eip155:1/erc721:0x00000000000000000000000000000000000000eb/' || g)::dht.token, 'rb');

-- One node down: its holders are planned, then repaired two at a time.
SELECT dht.set_node_state((SELECT dht.node_id(pubkey) FROM rkeys WHERE i = 1), 'down');
SELECT count(*) AS to_move FROM dht.repair_plan() WHERE token::text LIKE '%/erc721:0x00000000000000000000000000000000000000eb/%';
SELECT dht.repair(max_moves => 2);
SELECT dht.repair(max_moves => 2);
SELECT count(*) AS left_to_move FROM dht.repair_plan() WHERE token::text LIKE '%/erc721:0x00000000000000000000000000000000000000eb/%';
BEGIN;
SELECT dht.repair(max_moves => 3);
SELECT count(*) AS left_in_transaction FROM dht.repair_plan() WHERE token::text LIKE '%/erc721:0x00000000000000000000000000000000000000eb/%';
COMMIT;
SELECT dht.repair(max_moves => 0);
SELECT dht.repair() > 0 AS the_rest;
SELECT count(*) AS left_at_the_end FROM dht.repair_plan() WHERE token::text LIKE '%/erc721:0x00000000000000000000000000000000000000eb/%';

-- Nothing lost: every token keeps its five holders, plus one pending per move.
SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
       count(*) FILTER (WHERE state = 'retiring') AS retiring,
       count(DISTINCT token) AS tokens
FROM dht.placements WHERE token::text LIKE '%/erc721:0x00000000000000000000000000000000000000eb/%';
SELECT count(*) AS tokens_short_of_holders FROM (
    SELECT token FROM dht.placements
    WHERE token::text LIKE '%/erc721:0x00000000000000000000000000000000000000eb/%' AND state <> 'retiring'
    GROUP BY token HAVING count(DISTINCT shard) < 5) t;

-- max_moves below 0 is refused.
SELECT dht.repair(max_moves => -1);

-- A row applied as an apply worker writes it (replica role, so the digest
-- trigger counts the token's rows through the scan it keeps open for the
-- transaction): the statement ends with no buffer pin of that scan left
-- under its resource owner (0.2.0 warned "buffer refcount leak").
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO dht.token_log (token, origin, bucket, sla, holders)
SELECT token, 'regress_other', bucket, sla, holders FROM dht.token_log
WHERE token = 'eip155:1/erc721:0x00000000000000000000000000000000000000eb/1' AND origin = dht.local_origin();
SELECT count(*) AS rows_of_the_token FROM dht.token_log
WHERE token = 'eip155:1/erc721:0x00000000000000000000000000000000000000eb/1';
SET LOCAL session_replication_role = origin;
COMMIT;
SELECT count(*) AS verify_digests FROM dht.verify_digests();
