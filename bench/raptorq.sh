#!/usr/bin/env bash
# bench/raptorq.sh: RaptorQ (RFC 6330) throughput, ours against npm raptorq
# 1.7.24 (cberner/raptorq 1.7 as WebAssembly, under node) and against
# liberasurecode's Jerasure Reed-Solomon, in one run, and the cost per
# source symbol as K grows.
#
#  1. T = 1024, objects of 1, 16 and 64 MiB (one source block, or two at
#     64 MiB: K is at most 56403): encode with 10% repair packets per block,
#     decode with 10% of every block's source packets lost (repair packets
#     in their place).  Ours in C (bench/raptorq_bench.c) and through SQL
#     (dht.rq_encode / dht.rq_decode on a throwaway cluster, argument and
#     result included), npm raptorq with the OTI it chooses for MTU 1024.
#     Target: ours / npm >= 8.
#  2. Reed-Solomon at the same k and n: k + n <= 32 in liberasurecode, so
#     blocks of 20 source symbols of 52,432 bytes (1 MiB) and 2 repair
#     symbols (10%), one block per MiB; jerasure_rs_vand 20 + 2 on each MiB
#     (bench/erasure_baseline.c: encode, and decode with the first 2 data
#     fragments missing).  Target: ours / Jerasure >= 1.0.
#  3. Microseconds per source symbol (T = 1024, one block) as K grows from
#     100 to 56403, and the ratio to K = 100 (flat: linear in K).
#
# MB/s are of object bytes; each figure is the best of three runs of about
# RQ_BENCH_SECONDS (default 0.3).  The machine is shared: run it when it is
# quiet.
#   bash bench/raptorq.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

secs=${RQ_BENCH_SECONDS:-0.3}
port=${RQ_BENCH_PORT:-57060}
rq_sources="src/rq_tables.c src/rq_gf256.c src/rq_tuple.c src/rq_env.c src/rq_solve.c src/rq_encode.c src/rq_decode.c src/rq_dense.c src/rq_oti.c src/rq_object.c"

mkdir -p bench/bin
# shellcheck disable=SC2086
cc -O2 -Wall -Isrc -o bench/bin/raptorq_bench bench/raptorq_bench.c $rq_sources -lisal
cc -O2 -Wall -I/usr/include/liberasurecode -o bench/bin/erasure_baseline bench/erasure_baseline.c -lerasurecode
test/interop/npm_install.sh

dir=$(pg_tmpdir raptorq-bench)
trap 'scripts/pgcluster.sh destroy "$dir"' EXIT
port=$(free_port "$port")
scripts/pgcluster.sh start "$dir" "$port" >/dev/null
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
q "CREATE EXTENSION smartlayer_dht" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FUNCTION bench_data(n int) RETURNS bytea LANGUAGE sql AS $$
    SELECT substring(string_agg(sha256(int4send(i)), '' ORDER BY i) FROM 1 FOR n)
    FROM generate_series(0, n / 32) i $$;
-- MB/s of rq_encode (op 'encode') or rq_decode ('decode'), best of three runs of about secs.
CREATE FUNCTION rq_bench(op text, size int, t int, z int, secs float8) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    d bytea := bench_data(size);
    o bytea := dht.rq_oti(size, t, z);
    k int := ceil(ceil(size::float8 / t) / z);
    repair int := ceil(k / 10.0);
    p bytea[];
    n int;
    t0 timestamptz;
    el float8;
    best float8 := 0;
BEGIN
    p := ARRAY(SELECT x FROM unnest(dht.rq_encode(d, o, repair)) x
               WHERE get_byte(x, 1) * 65536 + get_byte(x, 2) * 256 + get_byte(x, 3) >= repair);
    IF dht.rq_decode(o, p) <> d THEN RAISE EXCEPTION 'decode check failed'; END IF;
    FOR run IN 1 .. 3 LOOP
        n := 0;
        t0 := clock_timestamp();
        LOOP
            IF op = 'encode' THEN
                PERFORM cardinality(dht.rq_encode(d, o, repair));
            ELSE
                PERFORM length(dht.rq_decode(o, p));
            END IF;
            n := n + 1;
            el := extract(epoch FROM clock_timestamp() - t0);
            EXIT WHEN el >= secs;
        END LOOP;
        best := greatest(best, size::float8 * n / el / 1e6);
    END LOOP;
    RETURN best;
END $$;
SQL

echo "RaptorQ: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); shared machine, best of 3 x ${secs}s"
echo
echo "1. T = 1024, 10% repair / 10% of source lost; MB/s; ours/npm ratios"
printf '%-8s %9s %9s %9s %9s %9s %9s %9s %9s\n' size enc_C enc_SQL enc_npm ratio dec_C dec_SQL dec_npm ratio
for mib in 1 16 64; do
    size=$((mib * 1048576)); z=1; [ "$mib" = 64 ] && z=2
    read -r enc dec < <(bench/bin/raptorq_bench codec "$size" 1024 "$z" "$secs")
    sql_enc=$(q "SELECT round(rq_bench('encode', $size, 1024, $z, $secs)::numeric, 1)")
    sql_dec=$(q "SELECT round(rq_bench('decode', $size, 1024, $z, $secs)::numeric, 1)")
    npm_z=1; [ "$mib" = 64 ] && npm_z=2
    read -r nenc ndec < <(node bench/raptorq_npm.js "$size" 1024 "$secs" "$npm_z")
    printf '%-8s %9s %9s %9s %9s %9s %9s %9s %9s\n' "${mib}MiB" "$enc" "$sql_enc" "$nenc" \
        "$(awk -v a="$enc" -v b="$nenc" 'BEGIN { printf "%.1fx", a / b }')" "$dec" "$sql_dec" "$ndec" \
        "$(awk -v a="$dec" -v b="$ndec" 'BEGIN { printf "%.1fx", a / b }')"
done

echo
echo "2. Reed-Solomon at the same k and n: 20 + 2 per MiB (T = 52432); MB/s; ours/Jerasure ratios"
read -r rs_enc rs_dec _ rs_degr _ < <(bench/bin/erasure_baseline 1 20 2 1048576 "$secs")
printf '%-8s %9s %9s %9s %9s %9s %9s\n' size enc_ours enc_rs ratio dec_ours dec_rs ratio
for mib in 1 16 64; do
    read -r enc dec < <(bench/bin/raptorq_bench codec $((mib * 1048576)) 52432 "$mib" "$secs")
    printf '%-8s %9s %9s %9s %9s %9s %9s\n' "${mib}MiB" "$enc" "$rs_enc" \
        "$(awk -v a="$enc" -v b="$rs_enc" 'BEGIN { printf "%.2fx", a / b }')" "$dec" "$rs_degr" \
        "$(awk -v a="$dec" -v b="$rs_degr" 'BEGIN { printf "%.2fx", a / b }')"
done
: "$rs_dec"

echo
echo "3. Cost per source symbol as K grows (T = 1024, one block); microseconds; ratio to K = 100"
printf '%-8s %9s %9s %9s %9s\n' K enc_us ratio dec_us ratio
base_e=""; base_d=""
while read -r k e d; do
    [ -z "$base_e" ] && { base_e=$e; base_d=$d; }
    printf '%-8s %9s %9s %9s %9s\n' "$k" "$e" "$(awk -v a="$e" -v b="$base_e" 'BEGIN { printf "%.2f", a / b }')" \
        "$d" "$(awk -v a="$d" -v b="$base_d" 'BEGIN { printf "%.2f", a / b }')"
done < <(bench/bin/raptorq_bench scaling 1024 "$secs")
