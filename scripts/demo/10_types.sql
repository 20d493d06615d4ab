-- Keys and node identities
\echo 'CREATE EXTENSION smartlayer_dht creates schema dht and the roles dht_reader, dht_writer, dht_admin.'
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;
\echo 'Operators on dht types resolve through search_path: add dht to it (new sessions pick it up).'
ALTER DATABASE postgres SET search_path = "$user", public, dht;
\echo 'A node id is the BLAKE2b-256 of its Ed25519 public key: a node cannot choose it.'
SELECT encode(pubkey, 'hex') AS pubkey, dht.node_id(pubkey) AS node_id
FROM dht.ed25519_keypair();
\echo 'dht.key takes 0x, \\x and upper case, and prints 64 lower-case hex digits.'
SELECT '0xABCDEF0000000000000000000000000000000000000000000000000000000001'::dht.key AS key;
