#!/usr/bin/env bash
# bench/placement.sh: the placement engine against Ceph's CRUSH (straw2).
#
#   (a) mappings/s, 1000 nodes = 100 operators x 10, 6 shards, no two shards
#       on one operator; ours (bench/placement_bench.c, pure C) against
#       `crushtool --test` on the same shape: 1000 devices in 100 hosts,
#       straw2 buckets, rule "chooseleaf firstn 0 type host", 6 replicas.
#       crushtool's start-up (timed with 1 mapping) is subtracted.
#       Both engines: flat (one order over all nodes per shard position, the
#       default) and two-level (failure domain first, then the node inside
#       it, as CRUSH's chooseleaf; built with -DDHT_TWO_LEVEL_PLACEMENT).
#   (b) dht.place in SQL on a throwaway cluster (port 58050), when the SQL
#       layer has it: the default build, then the two-level build (the
#       default build is installed again at the end).
#   (c) our cost per mapping for 100 .. 100000 nodes.
#   (d) uniformity and movement over 1,000,000 tokens x 6 shards, with the
#       ideal, and CRUSH's uniformity and movement for the same shape; then
#       movement by shard position of both engines (MOVE_TOKENS, default
#       200000) when a node joins an operator, joins as a new one or leaves,
#       and CRUSH's when host0 gets an 11th device.
# Environment: TOKENS (default 1000000), CRUSH_X (default 1000000),
# SQL_TOKENS (default 100000), SECTIONS (default "a b c d").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
TOKENS=${TOKENS:-1000000}
CRUSH_X=${CRUSH_X:-1000000}
PORT=${DHT_BENCH_PLACEMENT_PORT:-58050}
SECTIONS=${SECTIONS:-a b c d}
want() { case " $SECTIONS " in *" $1 "*) return 0;; esac; return 1; }

if ! command -v crushtool >/dev/null; then
    echo "installing ceph-base (crushtool)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends ceph-base >/dev/null
fi

work=$(mktemp -d)
cleanup() {
    [ -s "$work/pgdir" ] && scripts/pgcluster.sh destroy "$(cat "$work/pgdir")"
    rm -rf "$work"
}
trap cleanup EXIT

bench=$work/placement_bench
src=bench/placement_bench.c
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Isrc $(pkg-config --cflags libsodium) -o "$bench" "$src" \
    $(sed -n 's#^// sources: *##p' "$src") $(sed -n 's#^// libs: *##p' "$src")

# A CRUSH map: hosts host0..host$((hosts-1)) of 10 devices each (plus, when
# $2 = 1, one more host with one device), straw2, weight 1 per device.
crush_map() {
    local hosts=$1 extra=${2:-0} h d osd=0 ndev
    ndev=$((hosts * 10 + extra))
    echo "tunable choose_total_tries 50"
    echo "tunable chooseleaf_descend_once 1"
    echo "tunable chooseleaf_vary_r 1"
    echo "tunable chooseleaf_stable 1"
    echo "tunable straw_calc_version 1"
    echo "tunable allowed_bucket_algs 54"
    for ((d = 0; d < ndev; d++)); do echo "device $d osd.$d"; done
    echo "type 0 osd"; echo "type 1 host"; echo "type 2 root"
    local nh=$((hosts + extra))
    for ((h = 0; h < nh; h++)); do
        echo "host host$h {"; echo "  id -$((h + 2))"; echo "  alg straw2"; echo "  hash 0"
        local per=10; [ "$h" -ge "$hosts" ] && per=1
        for ((d = 0; d < per; d++)); do echo "  item osd.$osd weight 1.000"; osd=$((osd + 1)); done
        echo "}"
    done
    echo "root root {"; echo "  id -1"; echo "  alg straw2"; echo "  hash 0"
    for ((h = 0; h < nh; h++)); do
        local w=10.000; [ "$h" -ge "$hosts" ] && w=1.000
        echo "  item host$h weight $w"
    done
    echo "}"
    echo "rule replicated_rule {"; echo "  id 0"; echo "  type replicated"; echo "  min_size 1"; echo "  max_size 10"
    echo "  step take root"; echo "  step chooseleaf firstn 0 type host"; echo "  step emit"; echo "}"
}
crush_map 100 0 > "$work/map.txt"
crush_map 100 1 > "$work/map1001.txt"
crushtool -c "$work/map.txt" -o "$work/map"
crushtool -c "$work/map1001.txt" -o "$work/map1001"

seconds() { date +%s.%N; }
crush_time() {   # crush_time MAXX OUTFILE: seconds for x = 0..MAXX
    local t0 t1
    t0=$(seconds)
    crushtool -i "$work/map" --test --rule 0 --num-rep 6 --min-x 0 --max-x "$1" \
        --show-utilization > "$2" 2>&1
    t1=$(seconds)
    echo "$t1 - $t0" | bc -l
}

crush=""
if want a; then
printf '\n== (a) mappings/s: 1000 nodes (100 operators x 10), 6 shards, operator diversity\n'
echo "ours (pure C, $TOKENS tokens each):"
"$bench" map "$TOKENS" | tee "$work/ours_map.txt" | grep -v '^ours_'
ours=$(sed -n 's/^ours_mappings_per_s //p' "$work/ours_map.txt")
crush_start=$(crush_time 0 "$work/crush0.txt")
crush_total=$(crush_time $((CRUSH_X - 1)) "$work/crush.txt")
grep -q "result size == 6:	$CRUSH_X/$CRUSH_X" "$work/crush.txt" || { echo "crushtool: unexpected output"; cat "$work/crush.txt" | head; }
crush=$(echo "$CRUSH_X / ($crush_total - $crush_start)" | bc -l)
printf 'CRUSH straw2 (crushtool --test, %d mappings): %.2f s, start-up %.3f s subtracted\n' \
    "$CRUSH_X" "$crush_total" "$crush_start"
printf '  %-58s %10.0f mappings/s  (%.0f ns each)\n' "chooseleaf firstn 0 type host, 6 replicas" \
    "$crush" "$(echo "1000000000 / $crush" | bc -l)"
ours_flat=$(sed -n 's/^ours_flat_mappings_per_s //p' "$work/ours_map.txt")
printf 'ratio ours / CRUSH (equal weights, operator diversity, digest and shard positions included, as dht.place):\n'
printf '  flat (default): %.1fx   two-level: %.1fx\n' \
    "$(echo "$ours_flat / $crush" | bc -l)" "$(echo "$ours / $crush" | bc -l)"

fi

# (b), in a subshell: a failure is reported and the rest goes on.
sql_bench() {
    set -e
    install_build
    pgdir=$(pg_tmpdir placement_bench)
    echo "$pgdir" > "$work/pgdir"
    scripts/pgcluster.sh start "$pgdir" "$PORT"
    psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$PORT" -U postgres -d postgres "$@"; }
    psql_ -c 'CREATE EXTENSION smartlayer_dht' >/dev/null
    psql_ >/dev/null <<'SQL'
SELECT dht.define_sla('bench', 4, 2, diversity => 'operator');
SELECT dht.register_node(k.pubkey, 'https://n' || g || '.example', 'eu', 'operator-' || (g / 10),
                         ('10.' || (g / 250) || '.' || (g % 250) || '.1')::inet, 1000, 1000)
  FROM generate_series(0, 999) g,
       LATERAL dht.ed25519_keypair(decode(lpad(to_hex(g + 1), 64, '0'), 'hex')) k;
SELECT dht.begin_epoch(decode(repeat('ab', 32), 'hex'));
SQL
    n_sql=${SQL_TOKENS:-100000}
    sql_time flat
    install_build -DDHT_TWO_LEVEL_PLACEMENT
    sql_time two-level
    install_build
}
sql_time() {
    # warm the node cache, then time n_sql calls inside one statement
    psql_ -c "SELECT count(*) FROM dht.place(decode(repeat('00', 32), 'hex')::dht.key, 'bench')" >/dev/null
    ms=$(psql_ -At <<SQL
SELECT extract(epoch FROM clock_timestamp() - t0) * 1000 FROM (SELECT clock_timestamp() AS t0) s,
  LATERAL (SELECT count(*) FROM generate_series(1, $n_sql) g,
           LATERAL dht.place(decode(lpad(to_hex(g), 64, '0'), 'hex')::dht.key, 'bench') p) c;
SQL
)
    sql=$(echo "$n_sql / ($ms / 1000)" | bc -l)
    printf 'dht.place (%s), %d calls in one statement: %.0f ms: %.0f mappings/s\n' "$1" "$n_sql" "$ms" "$sql"
    [ -n "$crush" ] && printf 'ratio dht.place (%s) / CRUSH: %.1fx\n' "$1" "$(echo "$sql / $crush" | bc -l)"
    return 0
}
# build and install: the default, or with $1 as extra compiler flags
install_build() {
    touch src/registry_cache.c   # make does not see a flag change
    flock /tmp/dht-build.lock make -s install DHT_EXTRA_CFLAGS="${1:-}" >/dev/null
    touch src/registry_cache.c
}
if want b; then
    printf '\n== (b) dht.place in SQL (port %s)\n' "$PORT"
    if grep -qiE 'function +dht\.place *\(' src/sql/*.sql 2>/dev/null; then
        ( sql_bench ) || echo "dht.place benchmark failed (see above)"
        [ -s "$work/pgdir" ] && scripts/pgcluster.sh destroy "$(cat "$work/pgdir")"
        rm -f "$work/pgdir"
    else
        echo "skipped: dht.place is not in src/sql/*.sql yet"
    fi
fi

if want c; then
printf '\n== (c) cost per mapping against the number of nodes (operator diversity, 6 shards)\n'
"$bench" scale
fi

if want d; then
printf '\n== (d) uniformity and movement, %d tokens x 6 shards over 1000 nodes\n' "$TOKENS"
echo "ours:"
"$bench" stats "$TOKENS" | tee "$work/ours_stats.txt" | grep -v '^ours_'
echo "CRUSH (same $CRUSH_X mappings as (a)):"
awk -v x="$CRUSH_X" '/device [0-9]+:/ { n++; s = $5; sum += s; sq += s * s; if (s > max) max = s; if (min == "" || s < min) min = s }
    END { mean = sum / n; p = 6 / n; printf "    mean %.1f  max/mean %.4f  min/mean %.4f  sd %.1f  (binomial sd %.1f)\n",
          mean, max / mean, min / mean, sqrt(sq / n - mean * mean), sqrt(x * p * (1 - p)) }' "$work/crush.txt"
cmp_x=$((CRUSH_X < 200000 ? CRUSH_X : 200000))
mism=$(crushtool -i "$work/map" --test --rule 0 --num-rep 6 --min-x 0 --max-x $((cmp_x - 1)) \
    --compare "$work/map1001" 2>&1 | sed -n 's/.*had \([0-9]*\)\/.*/\1/p' || true)
ours_add=$(sed -n 's/^ours_add_moved_fraction //p' "$work/ours_stats.txt")
printf '  add 1 host with 1 device: %s of %d mappings change (%.4f%%; a mapping changes if any position differs)\n' \
    "$mism" "$cmp_x" "$(echo "100 * $mism / $cmp_x" | bc -l)"
printf '  ours: %.4f%% of tokens gain the new node (each such token moves exactly one shard); ideal 6/1001 = %.4f%%\n' \
    "$(echo "100 * 6 * $ours_add" | bc -l)" "$(echo "600 / 1001" | bc -l)"

mt=${MOVE_TOKENS:-200000}
printf '\n  movement by shard position, %d tokens x 6 shards (elsewhere: moves to or from nodes other than the one that changed)\n' "$mt"
"$bench" moves "$mt" | grep -v '^ours_'
# CRUSH: host0 gets an 11th device (osd.1000); replicas are a set (firstn),
# so a moved shard is a device of the new mapping not in the old one.
awk '/^device 999 / { print; print "device 1000 osd.1000"; next }
     /^host host0 \{/ { h = 1 } h && /^}/ { print "  item osd.1000 weight 1.000"; h = 0 }
     /^  item host0 weight/ { print "  item host0 weight 11.000"; next } { print }' \
    "$work/map.txt" > "$work/map_grow.txt"
crushtool -c "$work/map_grow.txt" -o "$work/map_grow"
for m in map map_grow; do
    crushtool -i "$work/$m" --test --rule 0 --num-rep 6 --min-x 0 --max-x $((mt - 1)) --show-mappings 2>&1 |
        sed -n 's/^CRUSH rule 0 x \([0-9]*\) \[\(.*\)\]$/\1 \2/p' > "$work/$m.mappings"
done
paste -d' ' "$work/map.mappings" "$work/map_grow.mappings" | awk -v mt="$mt" '
    { split($2, a, ","); split($4, b, ","); delete had; for (i in a) had[a[i]] = 1
      for (i in b) if (!(b[i] in had)) { moved++; if (b[i] == 1000) to++ } }
    END { ideal = 6 * mt / 1001
          printf "  CRUSH, host0 gets an 11th device:  %d shards move, %d to it, %.1f%% elsewhere, %.2f x ideal\n",
                 moved, to, 100 * (moved - to) / moved, moved / ideal }'
fi
