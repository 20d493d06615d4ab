-- CREATE EXTENSION says how to put dht on search_path when it is not there
-- (src/sql/98_notice.sql), in a database of its own.
\set regress_db :DBNAME
CREATE DATABASE "dht notice";
\c "dht notice"
-- the default path: the NOTICE names this database, quoted, and the path to set
CREATE EXTENSION smartlayer_dht;
-- without dht on search_path the first query a new user writes fails ...
SELECT count(*) FROM dht.placements WHERE token = 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1';
-- ... and works as pasted once the hint is followed (in a new session)
ALTER DATABASE "dht notice" SET search_path = "$user", public, dht;
\c "dht notice"
SELECT count(*) FROM dht.placements WHERE token = 'eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d/1';
-- dht on the path: no NOTICE
DROP EXTENSION smartlayer_dht;
CREATE EXTENSION smartlayer_dht;
-- a customised path keeps its entries
ALTER DATABASE "dht notice" SET search_path = app, public;
\c "dht notice"
DROP EXTENSION smartlayer_dht;
CREATE EXTENSION smartlayer_dht;
-- a session that hides notices gets none
SET client_min_messages = warning;
DROP EXTENSION smartlayer_dht;
ALTER DATABASE "dht notice" SET client_min_messages = warning;
\c "dht notice"
CREATE EXTENSION smartlayer_dht;
\c :regress_db
DROP DATABASE "dht notice";
