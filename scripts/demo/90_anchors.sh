#!/usr/bin/env bash
# Three anchors converge by logical replication; one retires, a fourth joins later
#
# Starts three throwaway servers (ports 55451-55454, or from
# $DHT_DEMO_ANCHOR_PORT on), names each anchor,
# connects them in a full mesh, writes on every one of them at once and shows
# that they end with the same directory: equal dht.state_digest() and equal
# counts.  The servers are removed at the end, also when something fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

names=(amsterdam boston chennai)
base=${DHT_DEMO_ANCHOR_PORT:-55451}
ports=($base $((base + 1)) $((base + 2)))
dirs=()
cleanup() { for d in "${dirs[@]}"; do scripts/pgcluster.sh destroy "$d"; done; }
trap cleanup EXIT

q() {   # q INDEX SQL...: run SQL on anchor INDEX, echoing it
    local i=$1; shift
    printf '\n[%s]$ %s\n' "${names[$i]}" "$*"
    psql -X -q -v ON_ERROR_STOP=1 -P pager=off -h "${dirs[$i]}" -p "${ports[$i]}" -U postgres -d postgres -c "$*"
}
qa() {  # quiet, unaligned
    local i=$1; shift
    psql -X -qAt -v ON_ERROR_STOP=1 -h "${dirs[$i]}" -p "${ports[$i]}" -U postgres -d postgres -c "$*"
}
conninfo() { echo "host=${dirs[$1]} port=${ports[$1]} user=postgres dbname=postgres"; }

for i in 0 1 2; do
    dirs[$i]=$(pg_tmpdir "anchor-${names[$i]}")
    scripts/pgcluster.sh start "${dirs[$i]}" "${ports[$i]}" "wal_retrieve_retry_interval = '500ms'"
    q "$i" "CREATE EXTENSION smartlayer_dht"
    # what the NOTICE of CREATE EXTENSION says to run: operators on dht types
    # then resolve as written (token = '...') in every new session
    q "$i" "ALTER DATABASE postgres SET search_path = \"\$user\", public, dht"
    q "$i" "SELECT dht.anchor_init('${names[$i]}')"
done

say "full mesh: every anchor subscribes to the two others (initial copy included)"
for i in 0 1 2; do
    for j in 0 1 2; do
        [ "$i" = "$j" ] && continue
        q "$i" "SELECT dht.anchor_add_peer('${names[$j]}', '$(conninfo "$j")')"
    done
done

say "the registry is defined on amsterdam only"
q 0 "SELECT dht.define_sla('gold', 4, 2, diversity => 'none')"
q 0 "SELECT count(dht.register_node(k.pubkey, 'https://node-' || i || '.example', 'eu', 'op-' || (i % 4),
            ('10.0.' || i || '.1')::inet, 1000, 2000))
     FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('demo-node-' || i, 'UTF8'))) k"

wait_converged() {
    local d0 d1 d2
    for _ in $(seq 1 150); do
        d0=$(qa 0 "SELECT dht.state_digest()"); d1=$(qa 1 "SELECT dht.state_digest()"); d2=$(qa 2 "SELECT dht.state_digest()")
        if [ "$d0" = "$d1" ] && [ "$d1" = "$d2" ] &&
           [ "$(qa 0 "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")$(qa 1 "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")$(qa 2 "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 000 ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "anchors did not converge in 30 s" >&2
    return 1
}
wait_converged

# Anchor lag while they write (docs/anchor_lag.png): every 0.1 s, how many
# bytes of each anchor's WAL its slowest peer has not confirmed yet (the
# anchor's slots dht_<anchor>_<peer>), asked of each anchor over one open
# session (a psql reading a FIFO), so that sampling costs no connections.
samples=$(mktemp -d)
lag_sampler() {
    local i fds=()
    for i in 0 1 2; do
        mkfifo "$samples/in$i"
        psql -X -qAt -F ' ' -h "${dirs[$i]}" -p "${ports[$i]}" -U postgres -d postgres \
            <"$samples/in$i" >"$samples/lag$i" &
        exec {fd}>"$samples/in$i"
        fds+=("$fd")
    done
    while [ ! -e "$samples/stop" ]; do
        for i in 0 1 2; do
            echo "SELECT extract(epoch FROM clock_timestamp()), coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)), 0)
                  FROM pg_replication_slots WHERE left(slot_name, length('dht_${names[$i]}_')) = 'dht_${names[$i]}_';" >&"${fds[$i]}"
        done
        sleep 0.1
    done
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    wait
}
lag_sampler &
sampler=$!
sleep 1

say "every anchor allocates 2,000 tokens at the same time, in transactions of 100; two of them allocate one token together"
writers=()
for i in 0 1 2; do
    psql -X -qAt -h "${dirs[$i]}" -p "${ports[$i]}" -U postgres -d postgres >/dev/null <<EOF &
DO \$\$
BEGIN
    FOR b IN 0..19 LOOP
        PERFORM count(*) FROM generate_series(b * 100 + 1, b * 100 + 100) n,
            LATERAL dht.allocate(('eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/' || ($i * 10000 + n))::dht.token, 'gold');
        COMMIT;
    END LOOP;
END \$\$;
EOF
    writers+=($!)
done
wait "${writers[@]}"
tok="'eip155:137/erc1155:0x2953399124f0cbb46d2cbacd8a89cf0599974963/42'::dht.token"
qa 1 "SELECT count(*) FROM dht.allocate($tok, 'gold')" >/dev/null & writers=($!)
qa 2 "SELECT count(*) FROM dht.allocate($tok, 'gold')" >/dev/null & writers+=($!)
wait "${writers[@]}"
q 2 "SELECT dht.set_node_state(node_id, 'draining') FROM dht.nodes ORDER BY node_id LIMIT 1"

say "replication status seen from amsterdam"
q 0 "SELECT peer, state, lag_bytes, last_msg FROM dht.anchor_status()"

say "after a moment: the same directory everywhere"
wait_converged
sleep 1; touch "$samples/stop"; wait "$sampler"
# seconds since the first sample, then each anchor's lag
paste -d ' ' "$samples/lag0" "$samples/lag1" "$samples/lag2" |
    awk 'NR == 1 { t0 = $1 } { printf "%.2f %s %s %s\n", $1 - t0, $2, $4, $6 }' >"${DHT_DEMO_CHARTS:-/tmp}/anchor_lag.dat"
rm -rf "$samples"
for i in 0 1 2; do
    q "$i" "SELECT dht.local_origin() AS anchor, encode(dht.state_digest(), 'hex') AS state_digest,
                   (SELECT count(*) FROM dht.tokens) AS tokens, (SELECT count(*) FROM dht.placements) AS placements,
                   (SELECT count(*) FROM dht.nodes WHERE state = 'draining') AS draining"
done
say "the token boston and chennai allocated at the same time: one set of holders, recorded by both"
q 0 "SELECT (SELECT count(*) FROM dht.tokens WHERE token = $tok) AS token_rows,
            (SELECT count(*) FROM dht.placements WHERE token = $tok) AS holders,
            (SELECT string_agg(DISTINCT origin, ', ') FROM dht.token_log WHERE token = $tok) AS recorded_by"

say "chennai retires: it leaves (its peers stop reading it, nothing is left on any server), and amsterdam and boston adopt its rows"
count_tokens="SELECT count(*) FROM dht.tokens"
q 2 "CALL dht.anchor_leave()"
q 0 "SELECT dht.anchor_adopt('chennai')"
q 1 "SELECT dht.anchor_adopt('chennai')"
q 0 "SELECT peer, state, served_by FROM dht.anchor_status()"
scripts/pgcluster.sh destroy "${dirs[2]}"

say "dakar joins later: it gets chennai's rows from an adopter, and the same directory"
names[2]=dakar; ports[2]=$((base + 3))
dirs[2]=$(pg_tmpdir anchor-dakar)
scripts/pgcluster.sh start "${dirs[2]}" "${ports[2]}" "wal_retrieve_retry_interval = '500ms'"
q 2 "ALTER DATABASE postgres SET search_path = \"\$user\", public, dht"
q 2 "CREATE EXTENSION smartlayer_dht"
q 2 "SELECT dht.anchor_init('dakar')"
for j in 0 1; do
    q 2 "SELECT dht.anchor_add_peer('${names[$j]}', '$(conninfo "$j")')"
    q "$j" "SELECT dht.anchor_add_peer('dakar', '$(conninfo 2)')"
done
wait_converged
q 2 "SELECT origin, count(*) AS tokens FROM dht.tokens GROUP BY origin ORDER BY origin"
q 2 "SELECT peer, state, served_by FROM dht.anchor_status()"
for i in 0 1 2; do printf '%s: %s tokens, state digest %s\n' "${names[$i]}" "$(qa "$i" "$count_tokens")" "$(qa "$i" "SELECT encode(dht.state_digest(), 'hex')")"; done
