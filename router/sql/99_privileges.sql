-- Privileges: nothing for PUBLIC; the roles of smartlayer_dht.  Functions
-- that take a conninfo (_probe, _s_*) and shard_status (a scan of every
-- shard) are for dht_admin only.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dht_router FROM PUBLIC;
REVOKE ALL ON FUNCTION plproxy.get_cluster_partitions(text), plproxy.get_cluster_version(text),
    plproxy.get_cluster_config(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA dht_router, plproxy TO dht_reader, dht_writer, dht_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA dht_router TO dht_reader, dht_writer, dht_admin;
GRANT EXECUTE ON FUNCTION plproxy.get_cluster_partitions(text), plproxy.get_cluster_version(text),
    plproxy.get_cluster_config(text), dht_router._shard_failed(text[], text),
    dht_router._unreachable(text[]), dht_router._no_shards(),
    dht_router._no_cluster(text), dht_router.shard_for(dht.token), dht_router.shard_map(),
    dht_router._p_lookup(dht.token), dht_router.lookup(dht.token),
    dht_router._p_route(dht.token), dht_router.route(dht.token),
    dht_router._p_state_digests(), dht_router.state_digest(),
    dht_router.map_status(), dht_router._follows()
    TO dht_reader, dht_writer, dht_admin;
GRANT EXECUTE ON FUNCTION dht_router._p_allocate(dht.token, text), dht_router.allocate(dht.token, text),
    dht_router._p_allocate_many(dht.token[], text), dht_router.allocate_many(dht.token[], text),
    dht_router._p_release(dht.token), dht_router.release(dht.token)
    TO dht_writer, dht_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA dht_router TO dht_admin;
