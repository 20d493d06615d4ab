#!/usr/bin/env bash
# test/interop/run.sh: RaptorQ interoperability, what make test's "interop"
# suite runs:
#   - test/interop/lcrq_interop.c: Debian's liblcrq 0.0.1, one source block
#     and one sub-block, both directions (liblcrq is GPL: only this test
#     program links it, never the extension);
#   - test/interop/npm_interop.js: npm raptorq 1.7.24 (cberner/raptorq 1.7
#     as WebAssembly), several source blocks and sub-blocks, both
#     directions, installed here into test/interop/node_modules (ignored by
#     git) on first use.
# The packets of cberner/raptorq 2.0.1 are checked by the unit tests
# (test/unit/rq_vectors_test.c, test/interop/vectors/).  Each program
# prints TAP; the suite fails if any fails or runs short of its plan.
set -uo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
bin=test/interop/bin
mkdir -p "$bin"
rq_sources="src/rq_tables.c src/rq_gf256.c src/rq_tuple.c src/rq_env.c src/rq_solve.c src/rq_encode.c src/rq_decode.c src/rq_dense.c src/rq_oti.c src/rq_object.c"
status=0

tap() {	# name command...: run, show, check the plan
    local name=$1 out rc plan oks
    shift
    echo "# $name"
    out=$("$@"); rc=$?
    echo "$out"
    plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$out" | head -1)
    oks=$(grep -c '^ok ' <<<"$out")
    if [ "$rc" != 0 ] || grep -q '^not ok' <<<"$out" || [ -z "$plan" ] || [ "$oks" != "$plan" ]; then
        echo "# $name FAILED (exit $rc, $oks of ${plan:-?} ok)"; status=1
    fi
}

# shellcheck disable=SC2086
$CC -O2 -Wall -Wextra -Wno-unused-parameter -Isrc -o "$bin/lcrq_interop" test/interop/lcrq_interop.c $rq_sources -lisal -llcrq &&
    $CC -O2 -Wall -Wextra -Wno-unused-parameter -Isrc -o "$bin/rq_tool" test/interop/rq_tool.c $rq_sources -lisal ||
    { echo "not ok - interop programs do not build"; exit 1; }
tap lcrq_interop "$bin/lcrq_interop"

test/interop/npm_install.sh || { echo "not ok - npm install raptorq@1.7.24 failed"; exit 1; }
tap npm_interop node test/interop/npm_interop.js
exit $status
