#!/usr/bin/env bash
# bench/lookup.sh: dht.lookup by pgbench on a directory of 1,000,000 tokens,
# against pgbench -S on pgbench_accounts (1,000,000 rows), same clients,
# alternating rounds in one run, with 1 client and with 2 (LOOKUP_CLIENTS).
# Target: ratio of TPS at least 0.9.
#   make bench BENCH=bench/lookup.sh      (LOOKUP_TOKENS, LOOKUP_SECONDS to change)
BENCH_PORT=${BENCH_PORT:-55610}
. "$(dirname "$0")/common.sh"
tokens=${LOOKUP_TOKENS:-1000000}
seconds=${LOOKUP_SECONDS:-10}
asset=0x06012c8cf97bead5deae237070f9587f8e7a266d

echo "setting up: 1,000 nodes, $tokens tokens (4+2), pgbench_accounts of $tokens rows"
make_network 1000
t=$(time_sql "SELECT count(*) FROM generate_series(0, ($tokens - 1) / 100000) b,
                LATERAL dht.allocate_many(ARRAY(SELECT ('eip155:1/erc721:$asset/' || i)::dht.token
                    FROM generate_series(b * 100000 + 1, least((b + 1) * 100000, $tokens)) i), 'standard')")
echo "allocated $tokens tokens in ${t}s"
q "VACUUM ANALYZE dht.token_log, dht.node_log"
pgbench -i -q -s $((tokens / 100000)) >/dev/null 2>&1
q "VACUUM ANALYZE pgbench_accounts"

script=$(mktemp)
cat > "$script" <<SQL
\set i random(1, $tokens)
SELECT * FROM dht.lookup(('eip155:1/erc721:$asset/' || :i)::dht.token);
SQL
tps() { pgbench -n -M prepared -j "$1" -c "$1" -T "$seconds" "${@:2}" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
for clients in 1 ${LOOKUP_CLIENTS:-2}; do
    ours=(); base=()
    for round in 1 2 3; do
        base+=("$(tps "$clients" -S)")
        ours+=("$(tps "$clients" -f "$script")")
        echo "$clients client(s), round $round: pgbench -S ${base[-1]} tps, dht.lookup ${ours[-1]} tps"
    done
    mo=$(median "${ours[@]}"); mb=$(median "${base[@]}")
    echo "lookup, $clients client(s): dht.lookup $mo tps, pgbench -S $mb tps (median of 3 alternating rounds of ${seconds}s)"
    echo "ratio dht.lookup / pgbench -S with $clients client(s): $(ratio "$mo" "$mb") (target >= 0.9)"
done
rm -f "$script"
