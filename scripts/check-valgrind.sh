#!/usr/bin/env bash
# scripts/check-valgrind.sh: what `make check-valgrind` runs.  A throwaway
# server runs under valgrind's memcheck (every backend is a fork of the
# postmaster, so every backend is checked); pg_regress and pgTAP run against
# it; the check fails if any valgrind error has smartlayer_dht.so in its
# stack.  PostgreSQL's own reports (padding bytes it writes to disk and
# sockets, which Debian's build, without USE_VALGRIND, cannot mark) are
# listed in the log but do not fail the check: only our frames do.
# test/valgrind/smartlayer_dht.supp holds suppressions for library reports
# seen in our stacks that are not ours (none needed so far).
# JIT is off: loading LLVM under valgrind costs minutes per backend and its
# only reports are the loader's.  Debian's postgres is not built with USE_VALGRIND, so palloc'd chunks are
# not tracked individually: an overrun inside a memory context block, or a
# use after pfree within a live context, is not seen; reads of
# uninitialised memory, invalid frees, overruns of malloc'd blocks and uses
# of freed malloc'd memory (a context reset returns its blocks) are.
#   VALGRIND_SUITES="regress pgtap" (default both)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
make -s >/dev/null && make -s install >/dev/null || exit 1
dir=$(pg_tmpdir valgrind)
port=${DHT_VALGRIND_PORT:-$(free_port 55490)}
logdir=$dir/valgrind
mkdir -p "$logdir"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
as_pg initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" || exit 1
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
wal_level = logical
max_wal_senders = 4
max_replication_slots = 4
fsync = off
max_parallel_workers_per_gather = 0
autovacuum = off
jit = off
CONF
bindir=$(pg_config --bindir)
stop() { as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1; }
trap 'stop; rm -rf "$dir"' EXIT
as_pg valgrind --quiet --tool=memcheck --error-limit=no --num-callers=30 --track-origins=yes \
    --suppressions=test/valgrind/smartlayer_dht.supp --trace-children=no \
    --log-file="$logdir/%p.log" "$bindir/postgres" -D "$dir/data" >"$dir/server.log" 2>&1 &
for _ in $(seq 1 300); do pg_isready -q -h "$dir" -p "$port" && break; sleep 1; done
export PGHOST=$dir PGPORT=$port PGUSER=postgres
started=$(date +%s)
status=0
for s in ${VALGRIND_SUITES:-regress pgtap}; do
    case $s in
    regress)
        say "pg_regress under valgrind"
        make -s installcheck || status=1 ;;
    pgtap)
        say "pgTAP under valgrind"
        createdb dht_pgtap && psql -q -d dht_pgtap -c 'CREATE EXTENSION pgtap' >/dev/null
        pg_prove -d dht_pgtap test/pgtap/*.sql || status=1 ;;
    esac
done
stop
elapsed=$(( $(date +%s) - started ))
ours=$(grep -l "smartlayer_dht.so" "$logdir"/*.log 2>/dev/null)
total=$(cat "$logdir"/*.log 2>/dev/null | grep -c "^==[0-9]*== [A-Z][a-z]")
if [ -n "$ours" ]; then
    echo "valgrind errors with smartlayer_dht.so in the stack:"
    for f in $ours; do cat "$f"; done | head -400
    status=1
fi
echo "valgrind: $(ls "$logdir" | wc -l) processes, $total reports in all, $(echo -n "$ours" | grep -c .) with our frames; suites took ${elapsed}s"
exit $status
