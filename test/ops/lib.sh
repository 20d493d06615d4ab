# test/ops/lib.sh: sourced by the operator-facing tests (test/ops/*.sh).
#
# ops_cluster NAME: a throwaway cluster (scripts/pgcluster.sh) on a free port
# from $DHT_OPS_PORT (default 55460) up, removed when the script exits;
# exports PGHOST, PGPORT, PGUSER for psql and libpq clients.
# ok / fail / check: TAP-like lines and a count; finish exits 1 on failure.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. scripts/lib.sh

ops_dirs=()
ops_cleanup_hooks=()
ops_cleanup() {
    local h d
    for h in "${ops_cleanup_hooks[@]}"; do eval "$h"; done
    for d in "${ops_dirs[@]}"; do scripts/pgcluster.sh destroy "$d"; done
}
trap ops_cleanup EXIT

ops_cluster() {
    local dir port
    dir=$(pg_tmpdir "$1")
    port=$(free_port "${DHT_OPS_PORT:-55460}")
    ops_dirs+=("$dir")
    scripts/pgcluster.sh start "$dir" "$port" || return 1
    export PGHOST=$dir PGPORT=$port PGUSER=postgres
}

tests=0; failures=0
ok()   { tests=$((tests + 1)); echo "ok $tests - $*"; }
fail() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $*"; }
# check DESCRIPTION GOT WANT
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1"; echo "#   got:  $2"; echo "#   want: $3"; fi
}
finish() {
    echo "1..$tests"
    [ "$failures" = 0 ] || { echo "# $failures of $tests failed"; exit 1; }
}
