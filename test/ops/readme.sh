#!/usr/bin/env bash
# test/ops/readme.sh: the README's first examples run as pasted.
#
# Takes the SQL block of "Installation" (CREATE EXTENSION and the
# search_path it asks for) and the first SQL block of "Getting started" out
# of README.md and runs them with psql, in that order, in a fresh database
# named mydb (the name the README uses), as a new user would: one session,
# stopping at the first error.  Then checks what they did.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

block() {   # block HEADING: the first ```sql block after the line "## HEADING"
    awk -v h="## $1" '$0 == h { s = 1; next } s && /^```sql$/ { b = 1; next }
                      b && /^```$/ { exit } b { print }' README.md
}
install_sql=$(block Installation)
start_sql=$(block "Getting started")
[ -n "$install_sql" ] && [ -n "$start_sql" ] || { echo "README.md: SQL blocks not found"; exit 1; }

ops_cluster readme || exit 1
createdb mydb || exit 1
out=$(printf '%s\n%s\n' "$install_sql" "$start_sql" | psql -X -v ON_ERROR_STOP=1 -d mydb 2>&1)
rc=$?
check "the README's Installation and Getting started blocks run as pasted" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/#   /'
hint=$(echo "$out" | grep -c '^HINT:  To put it there for new sessions, run: ALTER DATABASE mydb SET search_path = "$user", public, dht;$')
check "CREATE EXTENSION printed the ALTER DATABASE to run" "$hint" 1
check "the README's Installation block runs what the NOTICE says" \
    "$(echo "$install_sql" | grep -c '^ALTER DATABASE mydb SET search_path = "$user", public, dht;')" 1
check "a new session of mydb has dht on search_path" "$(psql -X -qAt -d mydb -c 'SHOW search_path')" '"$user", public, dht'
check "the token of Getting started has 6 holders, found with token = '...'" \
    "$(psql -X -qAt -d mydb -c "SELECT count(*) FROM dht.placements WHERE token = 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/771769'")" 6
finish
