#!/usr/bin/env bash
# test/ops/example.sh: examples/mint_shop.py, a psycopg 3 application, against
# a throwaway cluster, as its own role (dht_writer and its schema only).
#
# Checks the effects in the database, not the program's word: an order and
# its allocation commit together; an order that fails (sold out) leaves no
# allocation; a buyer that loses a race to a concurrent SERIALIZABLE
# transaction gets 40001, retries, and is told the token is sold; reads
# route to an active holder; a CSV import arrives by COPY with every token
# allocated; and buyers racing for the last tokens of a collection never
# exceed its cap.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
python=${DHT_PYTHON:-/usr/bin/python3}    # Debian's, with python3-psycopg
"$python" -c 'import psycopg' 2>/dev/null || { echo "$python has no psycopg: scripts/install-deps.sh installs python3-psycopg"; exit 1; }

ops_cluster example || exit 1
createdb shop
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d shop >/dev/null <<'SQL' || exit 1
CREATE EXTENSION smartlayer_dht;
SELECT count(dht.register_node(k.pubkey, 'https://node-' || i || '.example', 'eu', 'op-' || i,
                               ('10.1.' || i || '.1')::inet, 1000, 2000))
FROM generate_series(1, 12) i, LATERAL dht.ed25519_keypair(sha256(convert_to('shop-node-' || i, 'UTF8'))) k;
SELECT dht.define_sla('standard', 4, 2);
SELECT dht.define_sla('archive', 6, 3);
CREATE ROLE shop LOGIN IN ROLE dht_writer;
CREATE SCHEMA shop AUTHORIZATION shop;
SQL
dsn="host=$PGHOST port=$PGPORT user=shop dbname=shop"
shop() { "$python" examples/mint_shop.py --dsn "$dsn" "$@"; }
q() { psql -X -qAt -v ON_ERROR_STOP=1 -d shop -c "SET search_path = public, dht" -c "$1"; }
kitties=eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d
punks=eip155:1/erc721:0xb47e3cd837ddf8e4c57f05d70ab865de6e193bbb

shop setup >/dev/null && shop collection "$kitties" 50 >/dev/null && shop collection "$punks" 3 >/dev/null
check "setup and collections, as role shop" "$?" 0

out=$(shop buy alice "$kitties/1" 2>&1)
check "alice buys kitty 1" "$out" "order 1: $kitties/1 allocated to 6 holders"
check "her order and its allocation committed together" \
    "$(q "SELECT o.customer, o.holders, t.sla, (SELECT count(*) FROM dht.placements p WHERE p.token = o.token)
          FROM shop.orders o JOIN dht.tokens t USING (token) WHERE o.token = '$kitties/1'")" "alice|6|standard|6"

out=$(shop buy bob "$kitties/1" 2>&1); rc=$?
check "bob cannot buy the same kitty" "$rc $out" "2 token $kitties/1 is already sold"

out=$(shop buy bob "not a token" 2>&1); rc=$?
check "a malformed token is the server's 22P02, reported, nothing written" \
    "$rc $(echo "$out" | head -1 | cut -c1-12) $(q "SELECT count(*) FROM shop.orders WHERE customer = 'bob'")" "1 error: 22P02 0"

for n in 1 2 3; do shop buy carol "$punks/$n" >/dev/null || fail "carol buys punk $n"; done
out=$(shop buy dave "$punks/4" 2>&1); rc=$?
check "the 4th punk of a collection capped at 3 is refused" "$rc $out" "2 collection $punks is sold out (3 tokens)"
check "the refused order left no order and no allocation behind" \
    "$(q "SELECT (SELECT count(*) FROM shop.orders WHERE token = '$punks/4'), (SELECT count(*) FROM dht.tokens WHERE token = '$punks/4')")" "0|0"

# A concurrent SERIALIZABLE transaction checks that kitty 2 is free and
# orders it, as the shop does, and commits while the shop's buyer (who
# checked too) waits on it: the buyer gets 40001 (PostgreSQL reports the
# duplicate key of two such transactions as a serialization failure),
# retries, and sees it sold.
psql -X -qAt -d shop >/dev/null <<SQL &
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM shop.orders WHERE token OPERATOR(dht.=) '$kitties/2';
INSERT INTO shop.orders (customer, collection, token, sla, price_cents, holders)
VALUES ('erin', '$kitties', '$kitties/2', 'standard', 100, 0);
SELECT pg_sleep(1.5);
COMMIT;
SQL
racer=$!
sleep 0.5
out=$(shop buy frank "$kitties/2" 2>&1); rc=$?
wait $racer
check "frank's buy retried after a serialization failure" "$(echo "$out" | grep -c '^retrying after 40001 (SerializationFailure), attempt 1$')" 1
check "and on retry saw kitty 2 sold" "$rc $(echo "$out" | tail -1)" "2 token $kitties/2 is already sold"
check "kitty 2 has erin's order only" "$(q "SELECT string_agg(customer, ',') FROM shop.orders WHERE token = '$kitties/2'")" erin

out=$(shop route "$kitties/1")
endpoint=$(echo "$out" | sed -n 's/.* at \(https:[^ ]*\) (node \([0-9a-f]*\))$/\1 \2/p')
check "route names an active holder of kitty 1 and its endpoint" \
    "$(q "SELECT count(*) FROM dht.placements p JOIN dht.nodes n USING (node_id)
          WHERE p.token = '$kitties/1' AND p.state = 'active' AND n.state = 'active'
            AND n.endpoint || ' ' || n.node_id::text = '${endpoint}'")" 1

csv=$(mktemp "${TMPDIR:-/tmp}/smartlayer_dht.orders.XXXXXX")
ops_cleanup_hooks+=("rm -f '$csv'")
{ echo customer,token,sla,price_cents
  for n in $(seq 100 139); do echo "importer,$kitties/$n,$([ $((n % 4)) = 0 ] && echo archive || echo standard),250"; done; } >"$csv"
out=$(shop import "$csv")
check "import by COPY" "$out" "imported 40 orders"
check "every imported order has its allocation, with its SLA's holders" \
    "$(q "SELECT count(*), sum((t.sla = o.sla AND o.holders = t.data_shards + t.parity_shards)::int)
          FROM shop.orders o JOIN dht.tokens t USING (token) WHERE o.customer = 'importer'")" "40|40"
check "10 of them archive (6 + 3 holders)" "$(q "SELECT count(*) FROM shop.orders WHERE customer = 'importer' AND sla = 'archive' AND holders = 9")" 10

echo "customer,token,sla,price_cents
x,$punks/9,standard,1" >"$csv"
out=$(shop import "$csv" 2>&1); rc=$?
check "an import past a cap is refused whole" "$rc $out" "2 collection $punks is sold out (3 tokens)"

shop collection "$punks" 8 >/dev/null
out=$(shop rush "$punks" 10 12 2>&1); rc=$?
echo "# rush: $(echo "$out" | tail -1)"
check "12 buyers race for the last 5 punks: 5 sold, 7 sold out" "$rc $(echo "$out" | tail -1 | sed 's/, retries.*//')" "0 sold 5, sold out 7, failed 0"
check "the punks collection holds its cap of 8, each order allocated" \
    "$(q "SELECT count(*), count(t.token) FROM shop.orders o LEFT JOIN dht.tokens t USING (token) WHERE o.collection = '$punks'")" "8|8"
check "no allocation without an order" \
    "$(q "SELECT count(*) FROM dht.tokens t WHERE NOT EXISTS (SELECT FROM shop.orders o WHERE o.token = t.token)")" 0
finish
