#!/usr/bin/env bash
# bench/types.sh: dht.token against text, on 1,000,000 EVM NFTs.
#
# On a throwaway cluster (port DHT_BENCH_TYPES_PORT, default 56050) it loads
# the same 1,000,000 eip155 erc721 tokens (8 chain ids, 20,000 contract
# addresses, 32-bit token ids; all distinct) into a dht.token column and a
# text column holding the canonical text, then measures
#   1. btree index build time and index size (the target: the dht.token
#      index is at most 60% of the text index);
#   2. point lookups by the indexed column from a PL/pgSQL loop over 200,000
#      random probes (a cached plan, one index scan per probe), the two types
#      alternating for 3 rounds, best round of each (target: dht.token at
#      least as fast as text: ratio >= 1.0).
# The headline baseline is a text column in the database's default collation
# (C.UTF-8, as users get it); a text column with COLLATE "C" (byte-wise
# comparison, the cheapest text can be) is printed beside it.
# Usage: bash bench/types.sh (the extension must be installed: make install).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

port=${DHT_BENCH_TYPES_PORT:-56050}
rows=${DHT_BENCH_TYPES_ROWS:-1000000}
probes=${DHT_BENCH_TYPES_PROBES:-200000}
rounds=3
dir=$(pg_tmpdir bench-types)
trap 'scripts/pgcluster.sh destroy "$dir"' EXIT
scripts/pgcluster.sh start "$dir" "$port" "maintenance_work_mem = '512MB'" \
    "max_parallel_maintenance_workers = 0" "work_mem = '64MB'"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"; }

say "load $rows tokens"
sql <<SQL
CREATE EXTENSION smartlayer_dht;
-- dht.token's operators live in schema dht, like the type.
ALTER DATABASE postgres SET search_path = "\$user", public, dht;
SET search_path = "\$user", public, dht;
CREATE TABLE src AS
  SELECT i, format('eip155:%s/erc721:0x%s/%s',
                   (ARRAY[1, 10, 56, 137, 8453, 42161, 43114, 11155111])[1 + i % 8],
                   substr(md5((i % 20000)::text) || md5((i % 20000)::text || 'a'), 1, 40),
                   (i::bigint * 2654435761) % 4294967296) AS s
  FROM generate_series(1, $rows) i;
CREATE TABLE tok_token (t dht.token);
CREATE TABLE tok_text  (t text);
CREATE TABLE tok_textc (t text COLLATE "C");
INSERT INTO tok_token SELECT s::dht.token FROM src ORDER BY md5(i::text);
INSERT INTO tok_text  SELECT s FROM src ORDER BY md5(i::text);
INSERT INTO tok_textc SELECT s FROM src ORDER BY md5(i::text);
CREATE TABLE probes AS SELECT row_number() OVER () AS n, s
  FROM (SELECT s FROM src ORDER BY md5(i::text || 'probe') LIMIT $probes) p;
VACUUM ANALYZE tok_token; VACUUM ANALYZE tok_text; VACUUM ANALYZE tok_textc;
CREATE TABLE results (name text, value float8);

CREATE FUNCTION timed_index(tab text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz;
BEGIN
  SET LOCAL client_min_messages = warning;
  EXECUTE format('DROP INDEX IF EXISTS %I', tab || '_idx');
  t0 := clock_timestamp();
  EXECUTE format('CREATE INDEX %I ON %I (t)', tab || '_idx', tab);
  RETURN extract(epoch FROM clock_timestamp() - t0);
END \$\$;

CREATE FUNCTION lookups_token() RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE arr dht.token[]; v dht.token; x int; hits int := 0; t0 timestamptz;
BEGIN
  SELECT array_agg(s::dht.token ORDER BY n) INTO arr FROM probes;
  t0 := clock_timestamp();
  FOR i IN 1 .. array_length(arr, 1) LOOP
    v := arr[i];
    SELECT 1 INTO x FROM tok_token WHERE t = v;
    IF FOUND THEN hits := hits + 1; END IF;
  END LOOP;
  IF hits <> array_length(arr, 1) THEN RAISE EXCEPTION 'only % of % found', hits, array_length(arr, 1); END IF;
  RETURN hits / extract(epoch FROM clock_timestamp() - t0);
END \$\$;

CREATE FUNCTION lookups_text() RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE arr text[]; v text; x int; hits int := 0; t0 timestamptz;
BEGIN
  SELECT array_agg(s ORDER BY n) INTO arr FROM probes;
  t0 := clock_timestamp();
  FOR i IN 1 .. array_length(arr, 1) LOOP
    v := arr[i];
    SELECT 1 INTO x FROM tok_text WHERE t = v;
    IF FOUND THEN hits := hits + 1; END IF;
  END LOOP;
  IF hits <> array_length(arr, 1) THEN RAISE EXCEPTION 'only % of % found', hits, array_length(arr, 1); END IF;
  RETURN hits / extract(epoch FROM clock_timestamp() - t0);
END \$\$;

CREATE FUNCTION lookups_textc() RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE arr text[]; v text COLLATE "C"; x int; hits int := 0; t0 timestamptz;
BEGIN
  SELECT array_agg(s ORDER BY n) INTO arr FROM probes;
  t0 := clock_timestamp();
  FOR i IN 1 .. array_length(arr, 1) LOOP
    v := arr[i];
    SELECT 1 INTO x FROM tok_textc WHERE t = v;
    IF FOUND THEN hits := hits + 1; END IF;
  END LOOP;
  IF hits <> array_length(arr, 1) THEN RAISE EXCEPTION 'only % of % found', hits, array_length(arr, 1); END IF;
  RETURN hits / extract(epoch FROM clock_timestamp() - t0);
END \$\$;
SQL

say "btree index builds (2 rounds each, alternating; best kept)"
for r in 1 2; do
    for tab in tok_token tok_text tok_textc; do
        sql -c "INSERT INTO results SELECT 'build_$tab', timed_index('$tab')"
    done
done
sql -c "VACUUM ANALYZE tok_token" -c "VACUUM ANALYZE tok_text" -c "VACUUM ANALYZE tok_textc"

say "point lookups ($probes probes x $rounds rounds, alternating; best kept)"
for r in $(seq 1 $rounds); do
    for tab in token text textc; do
        sql -c "INSERT INTO results SELECT 'lookup_tok_$tab', lookups_$tab()"
    done
done

echo "plans: $(sql -c "EXPLAIN (COSTS OFF) SELECT 1 FROM tok_token WHERE t = (SELECT s FROM probes WHERE n = 1)::dht.token" | grep -o 'Index[A-Za-z ]* Scan using tok_token_idx' | head -1);" \
     "$(sql -c "EXPLAIN (COSTS OFF) SELECT 1 FROM tok_text WHERE t = (SELECT s FROM probes WHERE n = 1)" | grep -o 'Index[A-Za-z ]* Scan using tok_text_idx' | head -1)"
sql -F $'\t' <<'SQL'
WITH b AS (SELECT name, min(value) AS v FROM results WHERE name LIKE 'build_%' GROUP BY name),
     l AS (SELECT name, max(value) AS v FROM results WHERE name LIKE 'lookup_%' GROUP BY name),
     s AS (SELECT relname, pg_relation_size(oid) AS bytes FROM pg_class
           WHERE relname IN ('tok_token_idx', 'tok_text_idx', 'tok_textc_idx', 'tok_token', 'tok_text'))
SELECT format(E'index build:  dht.token %s s   text %s s   text COLLATE "C" %s s',
              round((SELECT v FROM b WHERE name = 'build_tok_token')::numeric, 2),
              round((SELECT v FROM b WHERE name = 'build_tok_text')::numeric, 2),
              round((SELECT v FROM b WHERE name = 'build_tok_textc')::numeric, 2))
UNION ALL
SELECT format(E'index size:   dht.token %s   text %s   text COLLATE "C" %s',
              pg_size_pretty((SELECT bytes FROM s WHERE relname = 'tok_token_idx')),
              pg_size_pretty((SELECT bytes FROM s WHERE relname = 'tok_text_idx')),
              pg_size_pretty((SELECT bytes FROM s WHERE relname = 'tok_textc_idx')))
UNION ALL
SELECT format(E'table size:   dht.token %s   text %s',
              pg_size_pretty((SELECT bytes FROM s WHERE relname = 'tok_token')),
              pg_size_pretty((SELECT bytes FROM s WHERE relname = 'tok_text')))
UNION ALL
SELECT format(E'lookups/s:    dht.token %s   text %s   text COLLATE "C" %s',
              round((SELECT v FROM l WHERE name = 'lookup_tok_token')),
              round((SELECT v FROM l WHERE name = 'lookup_tok_text')),
              round((SELECT v FROM l WHERE name = 'lookup_tok_textc')))
UNION ALL
SELECT format('index_size_ratio %s (dht.token / text; target <= 0.60)',
              round((SELECT bytes FROM s WHERE relname = 'tok_token_idx')::numeric
                    / (SELECT bytes FROM s WHERE relname = 'tok_text_idx'), 3))
UNION ALL
SELECT format('index_build_speedup %s (text time / dht.token time; C collation: %s)',
              round(((SELECT v FROM b WHERE name = 'build_tok_text') / (SELECT v FROM b WHERE name = 'build_tok_token'))::numeric, 2),
              round(((SELECT v FROM b WHERE name = 'build_tok_textc') / (SELECT v FROM b WHERE name = 'build_tok_token'))::numeric, 2))
UNION ALL
SELECT format('lookup_ratio %s (dht.token / text lookups per second; target >= 1.0; vs COLLATE "C": %s)',
              round(((SELECT v FROM l WHERE name = 'lookup_tok_token') / (SELECT v FROM l WHERE name = 'lookup_tok_text'))::numeric, 2),
              round(((SELECT v FROM l WHERE name = 'lookup_tok_token') / (SELECT v FROM l WHERE name = 'lookup_tok_textc'))::numeric, 2));
SQL
