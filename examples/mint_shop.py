#!/usr/bin/python3
"""mint_shop: a small NFT shop on smartlayer_dht, with psycopg 3.

The shop sells the tokens of a few collections, each with a supply cap.
An order is the shop's own row (shop.orders) and its token's allocation in
the directory (dht.allocate): both are written in one transaction, so an
order that fails (sold out, token already sold) leaves no allocation
behind, and an allocation never exists without its order.

Transactions run SERIALIZABLE, since the supply cap is a read-then-write
rule (count the collection's orders, then add one) that two concurrent
buyers would both pass under READ COMMITTED; PostgreSQL then aborts one of
two conflicting transactions with SQLSTATE 40001, and the shop runs it
again (run_transaction).  Reads go to one holder chosen by dht.route;
bulk imports go through COPY into a staging table and one
dht.allocate_many per SLA class.

    mint_shop.py [--dsn DSN] setup
    mint_shop.py [--dsn DSN] collection COLLECTION CAP
    mint_shop.py [--dsn DSN] buy CUSTOMER TOKEN [--sla SLA] [--price CENTS]
    mint_shop.py [--dsn DSN] import FILE.csv        (customer,token,sla,price_cents; - for stdin)
    mint_shop.py [--dsn DSN] route TOKEN
    mint_shop.py [--dsn DSN] rush COLLECTION FIRST_ID BUYERS [--sla SLA]

The role needs dht_writer (dht.allocate) and its own schema shop.  DSN is
a libpq connection string (default: the PG* environment).
"""

import argparse
import random
import sys
import threading
import time

import psycopg
from psycopg import errors
from psycopg.rows import dict_row

MAX_ATTEMPTS = 10


class SoldOut(Exception):
    """The collection has reached its cap."""


class AlreadySold(Exception):
    """Somebody ordered this token first."""


def connect(dsn):
    conn = psycopg.connect(dsn, row_factory=dict_row)
    conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
    # The dht types' operators (token = ...) live in schema dht: an
    # application names it on its search_path like any schema it uses.
    conn.execute("SET search_path = shop, public, dht")
    conn.commit()
    return conn


def run_transaction(conn, work, *args, stats=None):
    """Run work(conn, *args) in a transaction, again after a serialization
    failure (40001) or a deadlock (40P01), with a short random back-off.
    Any other error, and SoldOut / AlreadySold, roll back and propagate."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with conn.transaction():
                return work(conn, *args)
        except (errors.SerializationFailure, errors.DeadlockDetected) as e:
            if stats is not None:
                stats["retries"] = stats.get("retries", 0) + 1
            print(f"retrying after {e.sqlstate} ({type(e).__name__}), attempt {attempt}",
                  file=sys.stderr)
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.005, 0.05) * attempt)


def collection_of(token):
    """The collection part of a CAIP-19 token instance (everything before
    the last '/')."""
    return token.rsplit("/", 1)[0]


def setup(conn):
    conn.execute("""
        CREATE TABLE IF NOT EXISTS shop.collections (
            collection  text PRIMARY KEY,
            cap         integer NOT NULL CHECK (cap > 0))""")
    conn.execute("""
        CREATE TABLE IF NOT EXISTS shop.orders (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer    text NOT NULL,
            collection  text NOT NULL REFERENCES shop.collections,
            token       dht.token NOT NULL UNIQUE,
            sla         text NOT NULL,
            price_cents integer NOT NULL CHECK (price_cents >= 0),
            holders     integer NOT NULL,
            ordered_at  timestamptz NOT NULL DEFAULT now())""")
    conn.execute("CREATE INDEX IF NOT EXISTS orders_collection ON shop.orders (collection)")


def define_collection(conn, collection, cap):
    conn.execute("""
        INSERT INTO shop.collections (collection, cap) VALUES (%s, %s)
        ON CONFLICT (collection) DO UPDATE SET cap = EXCLUDED.cap""", (collection, cap))


def check_caps(conn, collections):
    """Raise SoldOut if any of these collections has more orders than its cap."""
    over = conn.execute("""
        SELECT c.collection, c.cap, count(o.id) AS orders
        FROM shop.collections c JOIN shop.orders o USING (collection)
        WHERE c.collection = ANY(%s)
        GROUP BY c.collection, c.cap HAVING count(o.id) > c.cap""", (list(collections),)).fetchone()
    if over:
        raise SoldOut(f"collection {over['collection']} is sold out ({over['cap']} tokens)")


def buy(conn, customer, token, sla, price):
    """One order: the shop's row and the token's allocation, or neither."""
    if conn.execute("SELECT 1 FROM shop.orders WHERE token = %s::dht.token", (token,)).fetchone():
        raise AlreadySold(f"token {token} is already sold")
    collection = collection_of(token)
    order = conn.execute("""
        INSERT INTO shop.orders (customer, collection, token, sla, price_cents, holders)
        VALUES (%s, %s, %s::dht.token, %s, %s, 0) RETURNING id""",
                         (customer, collection, token, sla, price)).fetchone()
    holders = conn.execute("SELECT shard, node_id::text, endpoint FROM dht.allocate(%s::dht.token, %s)",
                           (token, sla)).fetchall()
    conn.execute("UPDATE shop.orders SET holders = %s WHERE id = %s", (len(holders), order["id"]))
    check_caps(conn, [collection])
    return order["id"], holders


def import_orders(conn, data):
    """Bulk-load orders from CSV bytes (header customer,token,sla,price_cents)
    with COPY, and allocate their tokens with one dht.allocate_many per SLA
    class, in one transaction."""
    conn.execute("""
        CREATE TEMP TABLE staging (customer text, token text, sla text, price_cents integer)
        ON COMMIT DROP""")
    with conn.cursor().copy("COPY staging FROM STDIN (FORMAT csv, HEADER true)") as copy:
        copy.write(data)
    conn.execute("""
        INSERT INTO shop.orders (customer, collection, token, sla, price_cents, holders)
        SELECT customer, regexp_replace(token, '/[^/]*$', ''), token::dht.token, sla, price_cents, 0
        FROM staging""")
    allocated = conn.execute("""
        WITH a AS (
            SELECT a.token, count(*) AS holders
            FROM (SELECT sla, array_agg(token::dht.token) AS tokens FROM staging GROUP BY sla) s,
                 LATERAL dht.allocate_many(s.tokens, s.sla) a
            GROUP BY a.token)
        UPDATE shop.orders o SET holders = a.holders FROM a WHERE o.token = a.token
        RETURNING o.collection""").fetchall()
    check_caps(conn, {r["collection"] for r in allocated})
    return len(allocated)


def route(conn, token):
    """Where to read a token's data from: one active holder, at random."""
    return conn.execute("SELECT shard, node_id::text, endpoint FROM dht.route(%s::dht.token)",
                        (token,)).fetchone()


def rush(dsn, collection, first_id, buyers, sla):
    """BUYERS buyers, each on its own connection, order tokens FIRST_ID,
    FIRST_ID + 1, ... of one collection at the same moment: the cap holds,
    whoever loses the race is told the collection is sold out."""
    barrier = threading.Barrier(buyers)
    results = {"sold": 0, "sold_out": 0, "failed": 0, "retries": 0}
    lock = threading.Lock()

    def buyer(i):
        stats = {}
        outcome = "failed"
        conn = connect(dsn)
        try:
            barrier.wait()
            run_transaction(conn, buy, f"buyer-{i}", f"{collection}/{first_id + i}", sla, 100,
                            stats=stats)
            outcome = "sold"
        except SoldOut:
            outcome = "sold_out"
        except psycopg.Error as e:
            print(f"buyer {i}: {e.sqlstate}: {e}", file=sys.stderr)
        finally:
            conn.close()
        with lock:
            results[outcome] += 1
            results["retries"] += stats.get("retries", 0)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(buyers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="", help="libpq connection string")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    c = sub.add_parser("collection")
    c.add_argument("collection")
    c.add_argument("cap", type=int)
    b = sub.add_parser("buy")
    b.add_argument("customer")
    b.add_argument("token")
    b.add_argument("--sla", default="standard")
    b.add_argument("--price", type=int, default=100)
    i = sub.add_parser("import")
    i.add_argument("file")
    r = sub.add_parser("route")
    r.add_argument("token")
    ru = sub.add_parser("rush")
    ru.add_argument("collection")
    ru.add_argument("first_id", type=int)
    ru.add_argument("buyers", type=int)
    ru.add_argument("--sla", default="standard")
    args = p.parse_args(argv)

    if args.command == "rush":
        r = rush(args.dsn, args.collection, args.first_id, args.buyers, args.sla)
        print(f"sold {r['sold']}, sold out {r['sold_out']}, failed {r['failed']}, retries {r['retries']}")
        return 0 if r["failed"] == 0 else 1
    conn = connect(args.dsn)
    try:
        if args.command == "setup":
            run_transaction(conn, setup)
            print("shop tables ready")
        elif args.command == "collection":
            run_transaction(conn, define_collection, args.collection, args.cap)
            print(f"collection {args.collection}: at most {args.cap} tokens")
        elif args.command == "buy":
            order, holders = run_transaction(conn, buy, args.customer, args.token, args.sla, args.price)
            print(f"order {order}: {args.token} allocated to {len(holders)} holders")
        elif args.command == "import":
            data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
            n = run_transaction(conn, import_orders, data)
            print(f"imported {n} orders")
        elif args.command == "route":
            h = run_transaction(conn, route, args.token)
            if h is None:
                print(f"{args.token}: no active holder", file=sys.stderr)
                return 1
            print(f"read {args.token} from shard {h['shard']} at {h['endpoint']} (node {h['node_id']})")
    except (SoldOut, AlreadySold) as e:
        print(e, file=sys.stderr)
        return 2
    except psycopg.Error as e:
        print(f"error: {e.sqlstate}: {e}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
