-- Roles.  They are cluster-wide, so they are created once and survive
-- DROP EXTENSION; nothing in schema dht is granted to PUBLIC.
--   dht_reader: read the tables, dht.lookup, dht.place
--   dht_writer: dht_reader + allocate, release, confirm, announce
--   dht_admin:  everything
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dht_reader') THEN
        CREATE ROLE dht_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dht_writer') THEN
        CREATE ROLE dht_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dht_admin') THEN
        CREATE ROLE dht_admin NOLOGIN;
    END IF;
    -- what a peer anchor's replication user needs besides the REPLICATION
    -- attribute (which roles do not inherit): read the published tables
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dht_replication') THEN
        CREATE ROLE dht_replication NOLOGIN;
    END IF;
END
$roles$;
GRANT dht_reader TO dht_writer;
GRANT dht_writer TO dht_admin;
GRANT USAGE ON SCHEMA dht TO dht_reader, dht_replication;
