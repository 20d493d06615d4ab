#!/usr/bin/env bash
# test/interop/npm_install.sh: npm raptorq 1.7.24 into test/interop/node_modules
# (ignored by git), unless it is there already.  Used by test/interop/run.sh
# and bench/raptorq.sh.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/raptorq/package.json ] ||
   ! grep -q '"version": "1.7.24"' node_modules/raptorq/package.json; then
    npm install --no-save --no-audit --no-fund --no-package-lock --prefix . raptorq@1.7.24 >/dev/null
fi
