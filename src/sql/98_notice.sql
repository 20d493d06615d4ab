-- A new user's first query, SELECT * FROM dht.placements WHERE token = '...',
-- fails with "operator does not exist: dht.token = unknown" unless schema dht
-- is on search_path: the types' operators live in dht, like the types.  So
-- CREATE EXTENSION says so, with the exact command to run.
--
-- While this script runs, search_path is the extension's schema alone, so
-- the user's setting is read from pg_settings.reset_val: the value sessions
-- of this database and role start with (their ALTER DATABASE / ALTER ROLE
-- settings or postgresql.conf), which is what ALTER DATABASE changes.  The
-- suggested path is that value with dht appended, so a customised path keeps
-- its entries.
--
-- CREATE EXTENSION raises client_min_messages to WARNING while its script
-- runs (so that shell types and the like do not spam); the block lowers it
-- back to NOTICE for this one message when the user's own setting (its
-- reset_val) would show notices, and raises it again right after.  The
-- script's GUC changes are all undone when CREATE EXTENSION ends.  (A
-- session's own SET client_min_messages is hidden while the script runs, so
-- only a database, role or connection setting, PGOPTIONS for one, silences
-- it.)
--
-- Not included in the upgrade script (src/upgrade/): an anchor that is
-- upgraded has been in use, so its sessions already reach the operators
-- (search_path or OPERATOR(dht.=)), and a NOTICE on every ALTER EXTENSION
-- UPDATE would be noise.  The block creates no object, so a fresh and an
-- upgraded schema stay identical (test/t/040_upgrade.pl).
DO $notice$
DECLARE
    path text := (SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'search_path');
    shown boolean := (SELECT reset_val IN ('debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'log', 'notice')
                      FROM pg_catalog.pg_settings WHERE name = 'client_min_messages');
BEGIN
    IF shown AND NOT EXISTS (SELECT FROM pg_catalog.unnest(pg_catalog.string_to_array(path, ',')) e
                             WHERE pg_catalog.btrim(e, ' "') = 'dht') THEN
        PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        RAISE NOTICE 'schema "dht" is not on search_path; operators on its types (token = ''...'') need it'
            USING HINT = pg_catalog.format('To put it there for new sessions, run: ALTER DATABASE %I SET search_path = %s;',
                                           pg_catalog.current_database(),
                                           CASE WHEN pg_catalog.btrim(path) = '' THEN 'dht' ELSE path || ', dht' END);
        PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);
    END IF;
END
$notice$;
