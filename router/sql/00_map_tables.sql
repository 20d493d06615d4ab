-- The map: which shard holds each of the 1,024 buckets.
--
-- Design.  dht.bucket_of(token) (0..1023, frozen) is the unit of sharding.
-- dht_router.bucket_map maps each bucket to a shard; PL/Proxy's cluster 'dht'
-- has 1,024 partitions, partition i being the conninfo of bucket i's shard, so
-- "RUN ON dht.bucket_of(token)" (PL/Proxy takes value & (partitions - 1))
-- reaches the right shard with no hashing of ours.  PL/Proxy opens one
-- connection per distinct conninfo, so 1,024 partitions cost a connection per
-- shard, not per bucket.  The cluster 'dht_shards' has one partition per shard
-- (padded to a power of two by repeating the last shard; RUN ON ALL runs once
-- per distinct connection) for the calls that reach every shard.
-- dht_router.map_version is PL/Proxy's cluster version: every change to the
-- map bumps it and every router session re-reads the map on its next call.


CREATE TABLE dht_router.shards (
    name     text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    conninfo text NOT NULL UNIQUE CHECK (conninfo <> ''),
    added_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dht_router.shards IS 'the shard servers, each running smartlayer_dht';

CREATE TABLE dht_router.bucket_map (
    bucket integer PRIMARY KEY CHECK (bucket BETWEEN 0 AND 1023),
    shard  text NOT NULL REFERENCES dht_router.shards (name)
);
COMMENT ON TABLE dht_router.bucket_map IS 'which shard holds each of the 1,024 buckets of dht.bucket_of';

CREATE TABLE dht_router.map_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version integer NOT NULL
);
INSERT INTO dht_router.map_version VALUES (true, 0);
COMMENT ON TABLE dht_router.map_version IS 'bumped on every change to the map; PL/Proxy''s cluster version';

SELECT pg_catalog.pg_extension_config_dump('dht_router.shards', '');
SELECT pg_catalog.pg_extension_config_dump('dht_router.bucket_map', '');
SELECT pg_catalog.pg_extension_config_dump('dht_router.map_version', '');

