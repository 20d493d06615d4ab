#!/usr/bin/env bash
# scripts/test-tap.sh: run the multi-server TAP tests in test/t/ with prove.
# The clusters are PostgreSQL::Test::Cluster's (shipped with
# postgresql-server-dev-15); initdb refuses root, so as root the tests run as
# "postgres" from a copy of test/t in a directory that user owns.
#
#   scripts/test-tap.sh                      every test/t/*.pl
#   scripts/test-tap.sh t/001_anchor_setup.pl  the ones named (paths as in the copy)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# pg_config --pgxs is .../pgxs/src/makefiles/pgxs.mk; the test modules are
# in .../pgxs/src/test/perl and pg_regress in .../pgxs/src/test/regress.
pgxs=$(dirname "$(dirname "$(pg_config --pgxs)")")
work=$(pg_tmpdir tap)
repo=$(pwd)
cp -r test/t "$work/t"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$work"
cd "$work"
# prove looks for *.t in a directory; ours are *.pl, so name them.
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(t/*.pl)
# The upgrade test needs 0.1.0 built from its commit into copies of PostgreSQL.
upgrade_dir=
if printf '%s\n' "${tests[@]}" | grep -q 040_upgrade; then
    upgrade_dir=$work/upgrade
    "$repo/test/upgrade/prepare.sh" "$upgrade_dir" || exit 1
fi
status=0
as_pg env TESTDIR="$work" PG_REGRESS="$pgxs/test/regress/pg_regress" DHT_UPGRADE_DIR="$upgrade_dir" \
    PERL5LIB="$pgxs/test/perl:$work/t/lib" \
    prove ${PROVE_FLAGS:--v} "${tests[@]}" || status=$?
if [ $status != 0 ]; then
    for f in tmp_check/log/*.log; do echo "---- $f"; tail -50 "$f"; done
fi
cd / && rm -rf "$work"
exit $status
