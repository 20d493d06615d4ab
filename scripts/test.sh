#!/usr/bin/env bash
# scripts/test.sh: what `make test` runs.  Installs the dependencies, builds
# and installs the extension, then runs every suite against real servers:
#   1. pg_regress (sql/, expected/)       on a throwaway cluster
#   2. pgTAP (test/pgtap/, by pg_prove)   on the same cluster
#   3. multi-server TAP (test/t/)         clusters of PostgreSQL::Test::Cluster
#   4. pure-C unit tests (test/unit/)     placement engine, parsers, ...
#   5. libFuzzer harnesses (test/fuzz/)   a short run each
#   5b. sanitizers                        the unit tests built with clang
#      ASan+UBSan (SANITIZE=1 test/unit/run.sh), any report fatal (the fuzz
#      harnesses of 5 already run under ASan+UBSan)
#   6. RaptorQ interoperability           liblcrq and npm raptorq 1.7.24
#      (test/interop/run.sh)
#   6b. SQLsmith (test/fuzz/sqlsmith.sh)  2,000 random queries against a
#      populated directory, in a network namespace; no crash, no restart
#   7. ops (test/ops/)                    what an operator and an application
#      see: the README's first examples as pasted, the
#      Prometheus exporter with monitoring/smartlayer_dht.yaml, and
#      examples/mint_shop.py (psycopg 3), META.json and make dist
#   8. package (test/ops/package.sh)      the Debian package: dpkg-buildpackage,
#      dpkg -i into the system's PostgreSQL, installcheck against it
# and ends with one line "suites: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

scripts/install-deps.sh || exit 1
say "build and install"
make -s DHT_EXTRA_CFLAGS=-Werror >/dev/null && make -s install >/dev/null || { echo "build failed"; exit 1; }

passed=0; failed=0; failures=()
record() { if [ "$2" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi; }

dir=$(pg_tmpdir regress)
port=${DHT_TEST_PORT:-$(free_port 55432)}
trap 'scripts/pgcluster.sh destroy "$dir"' EXIT
scripts/pgcluster.sh start "$dir" "$port" || exit 1
export PGHOST=$dir PGPORT=$port PGUSER=postgres

say "pg_regress"
make -s installcheck; rc=$?
[ $rc = 0 ] || cat regression.diffs 2>/dev/null | head -200
record pg_regress $rc

say "pgTAP"
createdb dht_pgtap && psql -q -d dht_pgtap -c 'CREATE EXTENSION pgtap' >/dev/null
if ls test/pgtap/*.sql >/dev/null 2>&1; then
    pg_prove -d dht_pgtap test/pgtap/*.sql; record pgtap $?
fi
scripts/pgcluster.sh destroy "$dir"; trap - EXIT

if ls test/t/*.pl >/dev/null 2>&1; then
    say "multi-server TAP"
    scripts/test-tap.sh; record tap $?
fi

say "unit tests (pure C)"
test/unit/run.sh; record unit $?

say "fuzz (libFuzzer with ASan + UBSan)"
scripts/fuzz.sh "${FUZZ_SECONDS:-15}"; record fuzz $?

say "sanitizers (ASan + UBSan): unit tests"
SANITIZE=1 test/unit/run.sh | grep -v '^ok '; record sanitizers "${PIPESTATUS[0]}"

say "RaptorQ interoperability"
test/interop/run.sh; record interop $?

say "SQLsmith"
test/fuzz/sqlsmith.sh "${SQLSMITH_QUERIES:-2000}"; record sqlsmith $?

say "ops: README examples, Prometheus exporter, the example application, META.json and make dist"
ops=0
test/ops/readme.sh || ops=1
test/ops/exporter.sh || ops=1
test/ops/example.sh || ops=1
test/ops/dist.sh || ops=1
record ops $ops

say "Debian package"
test/ops/package.sh; record package $?

[ ${#failures[@]} -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
