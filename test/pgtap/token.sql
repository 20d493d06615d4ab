-- dht.token: accessors, token_key against independent BLAKE2b-256 vectors,
-- and what each role may do with the type.
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;

BEGIN;
SELECT plan(30);

SELECT has_type('dht', 'token', 'type dht.token exists');
SELECT has_function('dht', 'chain_id', ARRAY['dht.token'], 'dht.chain_id(dht.token) exists');
SELECT has_function('dht', 'asset_type', ARRAY['dht.token'], 'dht.asset_type(dht.token) exists');
SELECT has_function('dht', 'token_id', ARRAY['dht.token'], 'dht.token_id(dht.token) exists');
SELECT function_returns('dht', 'token_key', ARRAY['dht.token'], 'dht.key', 'dht.token_key returns dht.key');

-- Accessors return canonical parts.
SELECT is(dht.chain_id('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0771769'),
          'eip155:1', 'chain_id of an EVM NFT');
SELECT is(dht.asset_type('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0771769'),
          'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d',
          'asset_type of an EVM NFT is lower-cased');
SELECT is(dht.token_id('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0771769'),
          '771769', 'token_id of an EVM NFT drops leading zeros');
SELECT is(dht.token_id('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/000'),
          '0', 'token id zero');
SELECT is(dht.token_id('eip155:137/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'),
          NULL, 'token_id of an asset type is NULL');
SELECT is(dht.asset_type('eip155:137/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174'),
          'eip155:137/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174',
          'asset_type of an asset type is itself');
SELECT is(dht.chain_id('cosmos:cosmoshub-3/slip44:118'), 'cosmos:cosmoshub-3', 'chain_id outside eip155');
SELECT is(dht.token_id('hedera:mainnet/nft:0.0.55492/007'), '007',
          'token_id outside eip155 is kept as written');
SELECT is(dht.asset_type('hedera:mainnet/nft:0.0.55492/007'), 'hedera:mainnet/nft:0.0.55492',
          'asset_type outside eip155');
SELECT is(dht.chain_id(t) || '/' || split_part(dht.asset_type(t), '/', 2) || '/' || dht.token_id(t),
          t::text, 'chain_id, asset_type and token_id reassemble the canonical text')
FROM (VALUES ('eip155:42161/erc1155:0xD07DC4262BCDBF85190C01C996B4C06A461D2430/15'::dht.token)) v(t);

-- token_key = BLAKE2b-256 (unkeyed) of the canonical text.  The expected
-- digests were computed independently with Python:
--   python3 -c "import hashlib; print(hashlib.blake2b(b'<canonical text>', digest_size=32).hexdigest())"
SELECT is(dht.token_key('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/771769')::text,
          '6ff56fb72c1894cf583e8198f7391587bdf7d558ec591dd0696821e4ab455fea',
          'token_key of an EVM NFT');
SELECT is(dht.token_key('eip155:1/erc721:0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D/0007')::text,
          '43e3a3719238f40b2b542fae72620bbf90ca18e45f1643078ce0a3403f6601b0',
          'token_key hashes the canonical text, not the spelling given (…/7)');
SELECT is(dht.token_key('cosmos:cosmoshub-3/slip44:118')::text,
          '9cd448b05c11ae175a8223450564a4b4b91ae36ce457a551cacbb3dc4595d891',
          'token_key of a non-EVM asset type');
SELECT is(dht.token_key('eip155:137/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174')::text,
          '41ac270567120d4860a72eac479cbbd3d95a14bb57876ab8960f64f05a681ed1',
          'token_key of an ERC-20 asset type');
SELECT is(dht.token_key('eip155:1/erc1155:0xd07dc4262bcdbf85190c01c996b4c06a461d2430/115792089237316195423570985008687907853269984665640564039457584007913129639935')::text,
          '7034a196729c61a6cf7453baf908ed5ebaf0b065b98ed7ea0e8e3c31f08c89dc',
          'token_key of the largest eip155 token id');
SELECT is(dht.token_key(t)::text, dht.token_key(t::text::dht.token)::text, 'token_key is stable through a text round trip')
FROM (VALUES ('solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:ABC/1'::dht.token)) v(t);

-- Privileges.  Nothing in schema dht is executable by PUBLIC.
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'dht' AND has_function_privilege('public', p.oid, 'EXECUTE')),
          0, 'PUBLIC may execute no function in schema dht');
SELECT ok((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'dht' AND p.proname LIKE 'token%') >= 18,
          'the token functions are in schema dht (so the check above covers them)');
SELECT is((SELECT array_agg(f ORDER BY f) FROM unnest(ARRAY[
              'dht.token_in(cstring)', 'dht.token_out(dht.token)', 'dht.token_recv(internal)',
              'dht.token_send(dht.token)', 'dht.token_eq(dht.token,dht.token)',
              'dht.token_ne(dht.token,dht.token)', 'dht.token_lt(dht.token,dht.token)',
              'dht.token_le(dht.token,dht.token)', 'dht.token_gt(dht.token,dht.token)',
              'dht.token_ge(dht.token,dht.token)', 'dht.token_cmp(dht.token,dht.token)',
              'dht.token_sortsupport(internal)', 'dht.token_hash(dht.token)',
              'dht.token_hash_extended(dht.token,bigint)', 'dht.token_smaller(dht.token,dht.token)',
              'dht.token_larger(dht.token,dht.token)', 'dht.min(dht.token)', 'dht.max(dht.token)',
              'dht.chain_id(dht.token)', 'dht.asset_type(dht.token)', 'dht.token_id(dht.token)',
              'dht.token_key(dht.token)']) f
           WHERE NOT has_function_privilege('dht_reader', f::regprocedure, 'EXECUTE')),
          NULL, 'dht_reader may execute every function of the type');
SELECT ok(NOT has_function_privilege('dht_reader', 'dht.ed25519_sign(bytea, bytea)', 'EXECUTE'),
          'dht_reader may not execute dht.ed25519_sign');
SELECT ok(has_function_privilege('dht_writer', 'dht.ed25519_sign(bytea, bytea)', 'EXECUTE'),
          'dht_writer may execute dht.ed25519_sign');

-- As dht_reader: the type works end to end, signing does not.
CREATE TEMP TABLE reader_tokens (t dht.token);
GRANT SELECT, INSERT ON reader_tokens TO dht_reader;
SET LOCAL ROLE dht_reader;
SELECT lives_ok($$INSERT INTO reader_tokens VALUES
    ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/10'),
    ('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/2')$$,
    'dht_reader can write dht.token values');
SELECT is((SELECT array_agg(dht.token_id(t) ORDER BY t) FROM reader_tokens), ARRAY['2', '10'],
          'dht_reader can sort and read accessors');
SELECT is((SELECT dht.token_key(dht.min(t))::text FROM reader_tokens),
          'c70f323a082a2339a928f1781b68b819de5b4a51aacf33fa4a5718ae66bee439',
          'dht_reader can aggregate and compute token_key (BLAKE2b-256 of "eip155:1/erc721:0x0601…266d/2")');
SELECT throws_ok($$SELECT dht.ed25519_sign('\x00'::bytea, '\x00'::bytea)$$, '42501', NULL,
                 'dht_reader calling dht.ed25519_sign is refused');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
