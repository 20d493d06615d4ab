-- Privileges audited from the catalog (issue 8): every check walks pg_proc,
-- pg_class and pg_namespace, so a new function or table is covered without
-- editing this file.  What the README ("Roles") promises:
--   * nothing in schema dht is granted to PUBLIC;
--   * every SECURITY DEFINER function pins search_path;
--   * a role without dht roles gets 42501 from every function and table;
--   * users never write the tables (no INSERT/UPDATE/DELETE/TRUNCATE for
--     dht_reader, dht_writer or dht_admin), and dht_reader can change nothing.
CREATE EXTENSION IF NOT EXISTS smartlayer_dht;

-- dht_reader writes no row, seen from the running server: before the test's
-- transaction (pgTAP's plan() writes temp tables), each function dht_reader
-- may execute is called as dht_reader with plausible arguments in a
-- transaction of its own that has not written yet; any row written (here or
-- by a SECURITY DEFINER body) assigns that transaction an xid.  The result
-- goes to a session setting and is asserted below.  This only exercises the
-- paths plausible arguments take; the catalog allowlist in section 5 covers
-- all of them.
\ir lib/good_args.sql
SELECT set_config('dht_audit.reader_writes', '', false);
SELECT format('DO $d$ BEGIN SET LOCAL ROLE dht_reader; '
              'BEGIN PERFORM count(*) FROM (SELECT dht.%I(%s)) s; EXCEPTION WHEN OTHERS THEN NULL; END; '
              'IF pg_current_xact_id_if_assigned() IS NOT NULL THEN '
              'PERFORM set_config(''dht_audit.reader_writes'', '
              'current_setting(''dht_audit.reader_writes'') || %L, false); END IF; END $d$',
              p.proname,
              (SELECT coalesce(string_agg(pg_temp.good(t::regtype, p.proargnames[o]), ', ' ORDER BY o), '')
                 FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o)),
              p.oid::regprocedure::text || ' ')
  FROM pg_proc p
 WHERE p.pronamespace = 'dht'::regnamespace AND p.prokind IN ('f', 'a')
   AND has_function_privilege('dht_reader', p.oid, 'EXECUTE')
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype, 'internal'::regtype, 'cstring'::regtype)
   AND NOT p.proargtypes::oid[] && ARRAY['internal'::regtype, 'cstring'::regtype]::oid[]
 ORDER BY 1
\gexec

BEGIN;
SELECT plan(14);

SELECT ok((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'dht'::regnamespace
             AND has_function_privilege('dht_reader', p.oid, 'EXECUTE')) > 20,
          'the calls as dht_reader walked its functions (more than 20)');
SELECT is(current_setting('dht_audit.reader_writes'), '',
          'no function dht_reader may execute wrote a row when called as dht_reader');

-- 1. PUBLIC.  A NULL acl means the built-in default, which for functions
-- grants EXECUTE to PUBLIC: acldefault() makes that visible.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text || ' ' || a.privilege_type
      FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     WHERE p.pronamespace = 'dht'::regnamespace AND a.grantee = 0 $$,
    'no function or procedure in dht is executable by PUBLIC');

SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || a.privilege_type
      FROM pg_class c,
           aclexplode(coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char",
                                                    c.relowner))) a
     WHERE c.relnamespace = 'dht'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND a.grantee = 0 $$,
    'no table, view or sequence in dht is granted to PUBLIC');

SELECT is_empty($$
    SELECT a.privilege_type
      FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
     WHERE n.nspname = 'dht' AND a.grantee = 0 $$,
    'schema dht grants nothing (no USAGE) to PUBLIC');

-- Types keep PostgreSQL's default USAGE for PUBLIC (table row types and
-- array types cannot have their own privileges at all).  Without USAGE on
-- schema dht (checked above) PUBLIC cannot name them, so this is the one
-- documented exception: the test pins that it stays the only one, i.e. no
-- type grants anything else to PUBLIC.
SELECT is_empty($$
    SELECT t.oid::regtype::text || ' ' || a.privilege_type
      FROM pg_type t, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
     WHERE t.typnamespace = 'dht'::regnamespace AND a.grantee = 0 AND a.privilege_type <> 'USAGE' $$,
    'types in dht grant PUBLIC nothing beyond the default USAGE (unreachable without schema USAGE)');

-- 2. SECURITY DEFINER pins search_path.  Documented exceptions (none today)
-- go in the VALUES list with the reason: a procedure that COMMITs cannot
-- carry SET, so it must qualify every name instead (as dht.anchor_rejoin,
-- which is SECURITY INVOKER, does).
SELECT is_empty($$
    SELECT p.oid::regprocedure::text
      FROM pg_proc p
     WHERE p.pronamespace = 'dht'::regnamespace AND p.prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
       AND p.oid::regprocedure::text NOT IN (SELECT f FROM (VALUES (NULL::text)) exc(f) WHERE f IS NOT NULL) $$,
    'every SECURITY DEFINER function and procedure in dht pins search_path');

-- 3. A role with no dht role: the catalog says no EXECUTE / no privilege,
-- and really calling each one (NULL in every argument) and reading each
-- table raises 42501.
CREATE ROLE tap_priv_nobody NOLOGIN;
CREATE ROLE tap_priv_reader NOLOGIN IN ROLE dht_reader;

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'dht'::regnamespace
       AND has_function_privilege('tap_priv_nobody', p.oid, 'EXECUTE') $$,
    'a role without dht roles may execute no function in dht');

-- The calls below are the end-to-end view (what such a role really sees);
-- without USAGE on schema dht they fail at the schema, so the catalog check
-- above is the one that sees a function granted to PUBLIC by itself.
-- Calls each function/procedure in dht with NULL in every argument as the
-- given role and returns those that did not raise 42501 (with what they
-- raised instead).  The permission check comes before the body runs, so
-- nothing is executed (procedures that COMMIT included).
CREATE FUNCTION pg_temp.calls_not_denied(r name) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    p record; q text; st text;
BEGIN
    FOR p IN SELECT pr.oid, pr.prokind,
                    (SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY o)
                       FROM unnest(pr.proargtypes::oid[]) WITH ORDINALITY u(t, o)) AS args
               FROM pg_proc pr
              WHERE pr.pronamespace = 'dht'::regnamespace AND pr.prokind IN ('f', 'p', 'a')
                AND pr.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
                -- support functions taking internal cannot be called from
                -- SQL at all (42846); the catalog check above covers them
                AND NOT 'internal'::regtype = ANY (pr.proargtypes::oid[])
              ORDER BY pr.oid LOOP
        q := CASE WHEN p.prokind = 'p' THEN 'CALL ' ELSE 'SELECT ' END
             || format('%s.%I', 'dht', (SELECT proname FROM pg_proc WHERE oid = p.oid))
             || '(' || coalesce(p.args, '') || ')';
        st := NULL;
        BEGIN
            EXECUTE format('SET LOCAL ROLE %I', r);
            EXECUTE q;
            st := 'no error';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
        END;
        RESET ROLE;
        IF st <> '42501' THEN
            RETURN NEXT p.oid::regprocedure::text || ': ' || st;
        END IF;
    END LOOP;
END $f$;

SELECT is_empty($$ SELECT * FROM pg_temp.calls_not_denied('tap_priv_nobody') $$,
    'every function and procedure in dht raises 42501 for a role without dht roles');

CREATE FUNCTION pg_temp.reads_not_denied(r name) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    c regclass; st text;
BEGIN
    FOR c IN SELECT oid FROM pg_class
              WHERE relnamespace = 'dht'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              ORDER BY oid LOOP
        BEGIN
            EXECUTE format('SET LOCAL ROLE %I', r);
            EXECUTE format('SELECT 1 FROM %s LIMIT 1', c);
            st := 'no error';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
        END;
        RESET ROLE;
        IF st <> '42501' THEN
            RETURN NEXT c::text || ': ' || st;
        END IF;
    END LOOP;
END $f$;

SELECT is_empty($$ SELECT * FROM pg_temp.reads_not_denied('tap_priv_nobody') $$,
    'every table, view and sequence in dht raises 42501 on SELECT for a role without dht roles');

-- 4. Users never write the tables: no role of the extension holds a write
-- privilege on any relation of dht (has_*_privilege follows membership, so
-- dht_admin's inherited roles count too).  Sequences: no USAGE/UPDATE, so
-- nextval/setval are out of reach as well.
SELECT is_empty($$
    SELECT r || ' ' || c.oid::regclass::text || ' ' || priv
      FROM pg_class c,
           unnest(ARRAY['dht_reader', 'dht_writer', 'dht_admin']) r,
           unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) priv
     WHERE c.relnamespace = 'dht'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND has_table_privilege(r, c.oid, priv) $$,
    'no table or view in dht is writable directly by dht_reader, dht_writer or dht_admin');

SELECT is_empty($$
    SELECT r || ' ' || c.oid::regclass::text || ' ' || priv
      FROM pg_class c,
           unnest(ARRAY['dht_reader', 'dht_writer', 'dht_admin']) r,
           unnest(ARRAY['USAGE', 'UPDATE']) priv
     WHERE c.relnamespace = 'dht'::regnamespace AND c.relkind = 'S'
       AND has_sequence_privilege(r, c.oid, priv) $$,
    'no sequence in dht can be advanced by dht_reader, dht_writer or dht_admin');

-- 5. dht_reader can change nothing.  Since dht_reader holds no write
-- privilege on any table (checked above), a SECURITY INVOKER function it
-- runs cannot write a dht table on any code path.  Only SECURITY DEFINER
-- functions run with the owner's rights, so every SECURITY DEFINER function
-- dht_reader may execute must be in this reviewed allowlist of read-only
-- functions.  This is stronger than calling each function with NULL
-- arguments and watching row counts: a call exercises one path (STRICT
-- functions with NULLs run none), the catalog check covers every path and
-- every future function; a new SECURITY DEFINER function granted to
-- dht_reader fails here until someone reviews it and adds it.  The calls at
-- the top of the file (xid assigned or not) are kept beside it as the
-- end-to-end check that the reviewed ones really write nothing.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'dht'::regnamespace AND p.prosecdef
       AND has_function_privilege('dht_reader', p.oid, 'EXECUTE')
       AND p.oid::regprocedure::text NOT IN (
           'dht.bucket_digests()',      -- C, STABLE: reads the digests
           'dht.state_digest()',        -- C, STABLE: reads the directory
           'dht.live_anchors()',        -- SQL, STABLE: reads the anchor registry
           'dht.repair_owner(dht.token)', -- SQL, STABLE: reads the registry
           'dht.maintenance_status()',  -- SQL, STABLE: reads statistics
           'dht.anchor_status()') $$,   -- C: reads replication status, writes nothing
    'every SECURITY DEFINER function dht_reader may run is a reviewed read-only function');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'dht'::regnamespace AND p.prokind = 'p'
       AND has_function_privilege('dht_reader', p.oid, 'EXECUTE') $$,
    'dht_reader may run no procedure in dht');

SELECT * FROM finish();
ROLLBACK;
