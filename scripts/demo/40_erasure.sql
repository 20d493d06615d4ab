-- Erasure coding a token's data and planning its redundancy
\echo 'How many shards does a 4-data-shard token need for six nines on nodes that are up 90% of the time?'
SELECT dht.plan_redundancy(4, 0.9, 0.999999) AS total_shards;

\echo 'Encode a token''s metadata into 4 data + 2 parity fragments (liberasurecode, ISA-L Reed-Solomon).'
CREATE TEMP TABLE token_data AS
SELECT convert_to('{"name": "Smart Layer demo token #42", "image": "ipfs://bafy...", '
                  || '"attributes": [{"trait": "colour", "value": "teal"}]}', 'UTF8') AS data;
CREATE TEMP TABLE fragments AS
SELECT i - 1 AS shard, f AS fragment, dht.fragment_digest(f) AS digest
FROM token_data, unnest(dht.ec_encode(data, 4, 2)) WITH ORDINALITY u(f, i);

\echo 'Each fragment has a header liberasurecode wrote (with CRC32s); the directory keeps its BLAKE2b digest.'
SELECT shard, (dht.ec_fragment_info(fragment)).*, length(fragment) AS bytes,
       left(encode(digest, 'hex'), 16) || '...' AS digest
FROM fragments ORDER BY shard;

\echo 'The directory (dht.placements.digest) keeps every fragment''s digest.'
CREATE TEMP TABLE directory AS SELECT shard, digest FROM fragments;

\echo 'Two nodes vanish: fragments 0 and 3 are lost.'
DELETE FROM fragments WHERE shard IN (0, 3);

\echo 'Any 4 of the 6 rebuild the data; missing entries are NULL.'
SELECT convert_from(dht.ec_decode(ARRAY(SELECT fragment FROM generate_series(0, 5) s(shard)
                                        LEFT JOIN fragments USING (shard) ORDER BY shard)), 'UTF8') AS decoded,
       dht.ec_decode(ARRAY(SELECT fragment FROM fragments ORDER BY shard)) = (SELECT data FROM token_data) AS same_bytes;

\echo 'Rebuild lost fragment 0 for its new holder and check it against the digest the directory kept.'
SELECT dht.fragment_digest(rebuilt) = (SELECT digest FROM directory WHERE shard = 0) AS digest_matches,
       (dht.ec_fragment_info(rebuilt)).valid
FROM (SELECT dht.ec_reconstruct(ARRAY(SELECT fragment FROM fragments ORDER BY shard), 0) AS rebuilt) r;

\echo 'A corrupted fragment is detected, never decoded into wrong bytes: with only 3 good ones left, decoding refuses.'
UPDATE fragments SET fragment = set_byte(fragment, 100, get_byte(fragment, 100) # 255) WHERE shard = 1;
SELECT (dht.ec_fragment_info(fragment)).valid AS shard_1_valid FROM fragments WHERE shard = 1;
DO $$
BEGIN
    PERFORM dht.ec_decode(ARRAY(SELECT fragment FROM fragments ORDER BY shard));
EXCEPTION WHEN data_exception THEN
    RAISE NOTICE 'decode refused: %', SQLERRM;
END $$;
