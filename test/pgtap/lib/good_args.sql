-- pg_temp.good(type, argname): a plausible value for an argument of a dht
-- function, as an SQL expression, for the catalog walks in
-- test/pgtap/bad_input.sql and test/pgtap/privileges.sql (included with \ir;
-- pg_prove runs only test/pgtap/*.sql, not this directory).  An argument
-- named conninfo(s) gets a conninfo that cannot connect anywhere.
CREATE OR REPLACE FUNCTION pg_temp.good(t regtype, argname text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN argname IN ('conninfo') THEN quote_literal('host=/nonexistent port=1')
        WHEN argname IN ('conninfos') THEN quote_literal('{"host=/nonexistent port=1"}') || '::text[]'
        WHEN t IN ('integer'::regtype, 'smallint', 'bigint', 'numeric') THEN '1::' || t::text
        WHEN t = 'double precision'::regtype THEN '0.5::float8'
        WHEN t = 'bytea'::regtype THEN 'decode(repeat(''00'', 32), ''hex'')'
        WHEN t = 'text'::regtype THEN '''x''::text'
        WHEN t = '"char"'::regtype THEN '''x''::"char"'
        WHEN t = 'inet'::regtype THEN '''127.0.0.1''::inet'
        WHEN t = 'jsonb'::regtype THEN '''{}''::jsonb'
        WHEN t = 'timestamptz'::regtype THEN 'now()'
        WHEN t = 'dht.key'::regtype THEN 'dht.key(decode(repeat(''00'', 32), ''hex''))'
        WHEN t = 'dht.token'::regtype THEN '''eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1''::dht.token'
        WHEN t = 'text[]'::regtype THEN '''{x}''::text[]'
        WHEN t = 'bytea[]'::regtype THEN 'ARRAY[decode(repeat(''00'', 32), ''hex'')]'
        WHEN t = 'bigint[]'::regtype THEN '''{1}''::bigint[]'
        WHEN t = 'dht.token[]'::regtype THEN 'ARRAY[''eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1''::dht.token]'
        ELSE 'NULL::' || t::text      -- dht.holders: no literal syntax worth guessing
    END $$;

