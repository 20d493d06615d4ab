-- Every operator class of the extension passes amvalidate().
SELECT opc.opcname, am.amname, amvalidate(opc.oid) AS valid
FROM pg_opclass opc
JOIN pg_am am ON am.oid = opc.opcmethod
JOIN pg_namespace n ON n.oid = opc.opcnamespace
WHERE n.nspname = 'dht'
ORDER BY am.amname, opc.opcname;
