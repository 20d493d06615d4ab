-- RaptorQ: a token's data in Storj's shape (29 source symbols, 80 holders), 40 holders lost
\echo 'A token''s data cut into 29 source symbols of 1 KiB (RFC 6330 RaptorQ), for 80 holders of one symbol each: Storj''s 29-of-80, which no Reed-Solomon backend of liberasurecode fits (k + m <= 32).'
CREATE TEMP TABLE token_object AS
SELECT d AS data, dht.rq_oti(length(d), 1024) AS oti
FROM (SELECT substring(string_agg(sha256(int4send(i)), '' ORDER BY i) FROM 1 FOR 29 * 1024 - 100) AS d
      FROM generate_series(0, 29 * 1024 / 32) i) s;
SELECT length(data) AS bytes, i.* FROM token_object, dht.rq_oti_info(oti) i;

\echo 'How many holders of one symbol each for six nines, on nodes up 90% of the time? (RFC 6330''s failure model)'
SELECT dht.rq_plan_holders(29, 1, 0.9, 0.999999) AS holders;

\echo 'Each holder stores its own ESI (0..28 are the data itself, 29..79 repair symbols); the directory keeps a BLAKE2b digest of each.'
CREATE TEMP TABLE holder AS
SELECT h AS esi, dht.rq_holder_fragment(data, oti, h, 1) AS fragment
FROM token_object, generate_series(0, 79) h;
ALTER TABLE holder ADD digest bytea;
UPDATE holder SET digest = dht.fragment_digest(fragment);
SELECT esi, length(fragment) AS bytes, left(encode(fragment, 'hex'), 8) AS payload_id,
       left(encode(digest, 'hex'), 16) || '...' AS digest
FROM holder WHERE esi IN (0, 1, 28, 29, 79) ORDER BY esi;
CREATE TEMP TABLE directory AS SELECT esi, digest FROM holder;

\echo '40 of the 80 holders vanish at random, most of those that held the data itself among them.'
DELETE FROM holder WHERE esi IN (SELECT esi FROM holder ORDER BY md5('demo' || esi) LIMIT 40);
SELECT count(*) AS holders_left, count(*) FILTER (WHERE esi < 29) AS source_symbols_left FROM holder;

\echo 'The 40 left decode, in SQL, checked against the digests the directory kept (any 29 distinct symbols almost always do; each one more makes a failure about 100 times less likely).'
SELECT dht.rq_decode(oti, ARRAY(SELECT fragment FROM holder ORDER BY esi),
                     ARRAY(SELECT d.digest FROM holder JOIN directory d USING (esi) ORDER BY esi))
       = data AS decoded_exactly
FROM token_object;

\echo 'A holder that lost its data is replaced: the newcomer gets a fresh ESI nobody ever held (80), made from the data, no other holder re-encoded.'
INSERT INTO holder SELECT 80, f, dht.fragment_digest(f)
FROM token_object, dht.rq_holder_fragment(data, oti, 80, 1) f;
INSERT INTO directory SELECT esi, digest FROM holder WHERE esi = 80;
SELECT esi, left(encode(fragment, 'hex'), 8) AS payload_id,
       NOT EXISTS (SELECT FROM directory d WHERE d.esi <> 80 AND d.digest = h.digest) AS nobody_else_has_it
FROM holder h WHERE esi = 80;

\echo 'A corrupt holder is left out by its digest; without digests the same packets decode into wrong bytes silently (RFC 6330 packets carry no checksum).'
UPDATE holder SET fragment = set_byte(fragment, 10, get_byte(fragment, 10) # 255)
WHERE esi = (SELECT min(esi) FROM holder);
SELECT dht.rq_decode(oti, ARRAY(SELECT fragment FROM holder ORDER BY esi),
                     ARRAY(SELECT d.digest FROM holder JOIN directory d USING (esi) ORDER BY esi)) = data AS with_digests,
       dht.rq_decode(oti, ARRAY(SELECT fragment FROM holder ORDER BY esi)) = data AS without_digests
FROM token_object;
