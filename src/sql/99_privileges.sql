-- Runs last: nothing in schema dht is executable by PUBLIC; dht_admin gets
-- everything.  The per-concern files above grant what dht_reader and
-- dht_writer need.
REVOKE ALL ON ALL ROUTINES IN SCHEMA dht FROM PUBLIC;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA dht TO dht_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA dht TO dht_reader;
