-- Views for operators: load per node, tokens at risk, a summary of the network.

CREATE VIEW dht.node_load AS
SELECT n.node_id, n.operator, n.region, n.state, n.weight,
       coalesce(l.shards, 0) AS shards,
       CASE WHEN sum(n.weight) FILTER (WHERE n.state = 'active') OVER () > 0 AND n.state = 'active'
            THEN n.weight / sum(n.weight) FILTER (WHERE n.state = 'active') OVER () END AS weight_share,
       CASE WHEN sum(coalesce(l.shards, 0)) OVER () > 0
            THEN coalesce(l.shards, 0)::float8 / sum(coalesce(l.shards, 0)) OVER () END AS shard_share
FROM dht.nodes n
LEFT JOIN (SELECT node_id, count(*) AS shards FROM dht.placements GROUP BY node_id) l
       ON l.node_id OPERATOR(dht.=) n.node_id;
COMMENT ON VIEW dht.node_load IS 'shards held per node, against its share of the active weight';

-- A token is at risk when fewer than data_shards + 1 of its shards sit on
-- active nodes: one more failure and it cannot be decoded.
CREATE VIEW dht.tokens_at_risk AS
SELECT t.token, t.sla, t.data_shards, t.parity_shards,
       count(DISTINCT p.shard) FILTER (WHERE n.state = 'active' AND p.state = 'active') AS healthy_shards
FROM dht.tokens t
LEFT JOIN dht.placements p ON p.token OPERATOR(dht.=) t.token
LEFT JOIN dht.nodes n ON n.node_id OPERATOR(dht.=) p.node_id
GROUP BY t.token, t.sla, t.data_shards, t.parity_shards
HAVING count(DISTINCT p.shard) FILTER (WHERE n.state = 'active' AND p.state = 'active') < t.data_shards + 1;
COMMENT ON VIEW dht.tokens_at_risk IS 'tokens with fewer healthy shards than data_shards + 1';

CREATE VIEW dht.network_summary AS
SELECT (SELECT count(*) FROM dht.nodes) AS nodes,
       (SELECT count(*) FROM dht.nodes WHERE state = 'active') AS active_nodes,
       (SELECT count(*) FROM dht.nodes WHERE state = 'draining') AS draining_nodes,
       (SELECT count(*) FROM dht.nodes WHERE state = 'down') AS down_nodes,
       (SELECT count(*) FROM dht.nodes WHERE state = 'banned') AS banned_nodes,
       (SELECT count(DISTINCT operator) FROM dht.nodes) AS operators,
       (SELECT count(DISTINCT region) FROM dht.nodes) AS regions,
       (SELECT count(*) FROM dht.sla_classes) AS sla_classes,
       (SELECT max(epoch) FROM dht.epochs) AS epoch,
       (SELECT count(*) FROM dht.tokens) AS tokens,
       (SELECT count(*) FROM dht.placements) AS placements,
       (SELECT count(*) FROM dht.placements WHERE state = 'pending') AS pending_placements,
       (SELECT count(*) FROM dht.placements WHERE state = 'retiring') AS retiring_placements;
COMMENT ON VIEW dht.network_summary IS 'one row: the size and health of the directory';
