-- Bad input generated from the catalog (issue 8).  Every function in schema
-- dht that dht_admin may execute is called, as a member of dht_admin, with
-- one argument at a time replaced by a bad value (NULL; -1, 0 and
-- 2147483647 for integers; empty, 1-byte and 1 MB bytea; '', 10,000
-- characters, a control character and a backslash escape for text; empty
-- arrays and arrays of 2,000,000 elements) while the other arguments hold a
-- plausible value.  Each call runs in its own subtransaction; it must return
-- or raise a clear SQLSTATE: never XX000 (internal_error) and never take the
-- server down.  There is one pgTAP test per function, generated with \gexec,
-- so a new function is covered without editing this file, a failure names
-- the function and the calls, and if a call crashes the backend the output
-- stops right after the last function that passed.
--
-- Skipped, with the reason:
--   * procedures (dht.anchor_rejoin, dht.anchor_leave, dht.anchor_resume,
--     dht._refresh_peer): they COMMIT, which the test's transaction does not
--     allow (2D000, before any input check); the input checks they rely on
--     live in the functions they call (_rejoin_begin, _leave_begin, ...),
--     which are walked here;
--   * trigger and event-trigger functions, and type support functions
--     (arguments or result of type internal or cstring: I/O, GIN and
--     sortsupport), which SQL cannot call directly.
-- An argument named conninfo/conninfos only ever gets NULL or
-- 'host=/nonexistent port=1', so nothing connects anywhere.
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;

BEGIN;
SELECT no_plan();
-- A crash of any backend restarts the postmaster's children and ends this
-- connection (ON_ERROR_STOP: the file stops, the plan is short); the start
-- time and our pid are compared at the end as well.
SELECT pg_postmaster_start_time() AS started, pg_backend_pid() AS pid \gset bad_

CREATE ROLE tap_bad_admin NOLOGIN IN ROLE dht_admin;
CREATE TEMP TABLE bad_calls (fn regprocedure, call text, sqlstate text);
GRANT INSERT ON bad_calls TO tap_bad_admin;

-- pg_temp.good(type, argname): the plausible value of an argument (the one
-- the others keep while one is bad), as an SQL expression.
\ir lib/good_args.sql

-- The bad values, as SQL expressions.
CREATE FUNCTION pg_temp.bad(t regtype, argname text) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'NULL::' || t::text
    UNION ALL
    SELECT v FROM pg_type pt, unnest(CASE
        WHEN argname IN ('conninfo', 'conninfos') THEN '{}'::text[]
        WHEN t IN ('integer'::regtype, 'smallint') THEN
            ARRAY['-1', '0', '2147483647']
        WHEN t IN ('bigint'::regtype, 'numeric') THEN
            ARRAY['-1', '0', '2147483647', '9223372036854775807']
        WHEN t = 'double precision'::regtype THEN
            ARRAY['-1::float8', '''NaN''::float8', '''Infinity''::float8', '1e308::float8']
        WHEN t = 'bytea'::regtype THEN
            ARRAY['''''::bytea', '''\x00''::bytea', 'decode(repeat(''00'', 1048576), ''hex'')']
        WHEN t = 'text'::regtype THEN
            ARRAY['''''', 'repeat(''x'', 10000)', 'E''\\x01''', 'E''\x01''']
        WHEN t = 'jsonb'::regtype THEN
            ARRAY['''[]''::jsonb', '''null''::jsonb', '''{"a": [1, {"b": null}]}''::jsonb']
        WHEN t = 'timestamptz'::regtype THEN
            ARRAY['''-infinity''::timestamptz', '''infinity''::timestamptz']
        WHEN t = 'inet'::regtype THEN ARRAY['''::''::inet', '''0.0.0.0/0''::inet']
        WHEN t = 'dht.key'::regtype THEN ARRAY['dht.key(decode(repeat(''ff'', 32), ''hex''))']
        WHEN t::text LIKE '%[]' THEN
            ARRAY['''{}''::' || t::text,
                  'ARRAY[NULL]::' || t::text,
                  format('array_fill(NULL::%s, ARRAY[2000000])', format_type(typelem, NULL)),
                  format('array_fill(%s, ARRAY[2000000])',
                         pg_temp.good(typelem::regtype, NULL))]
        ELSE '{}'::text[]
    END) v
     WHERE pt.oid = t $$;

-- Calls fn with each bad value in each argument; returns the calls that
-- raised XX000.  Every call's SQLSTATE goes to bad_calls for the summary.
CREATE FUNCTION pg_temp.internal_errors(fn regprocedure) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    p pg_proc;
    n int;
    goods text[];
    args text[];
    v text;
    q text;
    st text;
BEGIN
    SELECT * INTO p FROM pg_proc WHERE oid = fn;
    n := p.pronargs;
    SELECT coalesce(array_agg(pg_temp.good(t::regtype, p.proargnames[o]) ORDER BY o), '{}')
      INTO goods FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o);
    FOR i IN 0 .. n LOOP
        FOR v IN SELECT pg_temp.bad(p.proargtypes[i - 1]::regtype, p.proargnames[i])
                  WHERE i > 0
                 UNION ALL SELECT NULL WHERE i = 0 LOOP      -- i = 0: all plausible
            args := goods;
            IF i > 0 THEN
                args[i] := v;
            END IF;
            q := format('SELECT count(*) FROM (SELECT %s.%I(%s)) s',
                        'dht', p.proname, array_to_string(args, ', '));
            BEGIN
                SET LOCAL ROLE tap_bad_admin;
                EXECUTE q;
                st := '00000';
                RESET ROLE;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
                RESET ROLE;
            END;
            INSERT INTO bad_calls VALUES (fn, left(q, 300), st);
            IF st = 'XX000' THEN
                RETURN NEXT left(q, 300);
            END IF;
        END LOOP;
    END LOOP;
END $f$;

SELECT format('SELECT is_empty(%L, %L)',
              format('SELECT * FROM pg_temp.internal_errors(%s)', p.oid),
              p.oid::regprocedure::text || ': bad input raises no XX000 and the server stays up')
  FROM pg_proc p
 WHERE p.pronamespace = 'dht'::regnamespace
   AND p.prokind IN ('f', 'a')
   AND has_function_privilege('dht_admin', p.oid, 'EXECUTE')
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype, 'internal'::regtype, 'cstring'::regtype)
   AND NOT p.proargtypes::oid[] && ARRAY['internal'::regtype, 'cstring'::regtype]::oid[]
 ORDER BY p.oid::regprocedure::text
\gexec

-- The connection that made every call still answers, and the walk really
-- ran: every generated function was called at least once.
SELECT ok((SELECT count(DISTINCT fn) FROM bad_calls) > 100,
          'the walk called every function (more than 100 of them)');
SELECT is(pg_backend_pid(), :bad_pid, 'the same connection answers after the last batch');
SELECT is(pg_postmaster_start_time(), :'bad_started'::timestamptz,
          'the server did not restart during the walk');
SELECT diag(string_agg(sqlstate || ': ' || c, ', ' ORDER BY c DESC))
  FROM (SELECT sqlstate, count(*) c FROM bad_calls GROUP BY sqlstate) s;

SELECT * FROM finish();
ROLLBACK;
