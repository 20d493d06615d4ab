-- Ed25519 helpers for demos and tests (src/signing.c).
CREATE FUNCTION dht.ed25519_keypair(OUT pubkey bytea, OUT secret bytea)
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ed25519_keypair() IS 'a new Ed25519 key pair (libsodium), for demos and tests';

CREATE FUNCTION dht.ed25519_keypair(seed bytea, OUT pubkey bytea, OUT secret bytea)
    AS 'MODULE_PATHNAME', 'ed25519_keypair_from_seed' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ed25519_keypair(bytea) IS 'the Ed25519 key pair of a 32-byte seed (reproducible), for demos and tests';

CREATE FUNCTION dht.ed25519_sign(message bytea, secret bytea) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dht.ed25519_sign(bytea, bytea) IS 'detached Ed25519 signature of message (libsodium)';

GRANT EXECUTE ON FUNCTION dht.ed25519_keypair(), dht.ed25519_keypair(bytea), dht.ed25519_sign(bytea, bytea)
    TO dht_writer;
