-- A text fingerprint of everything the extension owns in schema dht: run on a
-- fresh install and on an upgraded one, the two outputs must be identical
-- (test/t/040_upgrade.pl).  One line per object, sorted.
\pset format unaligned
\pset tuples_only on
WITH dht AS (SELECT oid FROM pg_namespace WHERE nspname = 'dht')
SELECT line FROM (
    SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '')
           || ' opts=' || coalesce(c.reloptions::text, '')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '') AS line
    FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM dht)
    UNION ALL
    SELECT 'col ' || c.relname || '.' || a.attnum || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relnamespace = (SELECT oid FROM dht) AND c.relkind IN ('r', 'v', 'S')
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = (SELECT oid FROM dht)
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = (SELECT oid FROM dht)
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = (SELECT oid FROM dht) AND NOT t.tgisinternal
    UNION ALL
    SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM dht) AND c.relkind = 'v'
    UNION ALL
    SELECT 'routine ' || p.oid::regprocedure || ' acl=' || coalesce(p.proacl::text, '')
           || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '') || E'\n' || pg_get_functiondef(p.oid)
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM dht) AND p.prokind <> 'a'
    UNION ALL
    SELECT 'aggregate ' || p.oid::regprocedure || ' acl=' || coalesce(p.proacl::text, '')
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM dht) AND p.prokind = 'a'
    UNION ALL
    SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text || ' ' || t.typlen || ' ' || t.typalign::text || t.typstorage::text
           || ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '')
    FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM dht)
    UNION ALL
    SELECT 'operator ' || o.oid::regoperator || ' ' || o.oprcode::regproc
    FROM pg_operator o WHERE o.oprnamespace = (SELECT oid FROM dht)
    UNION ALL
    SELECT 'opclass ' || am.amname || ' ' || oc.opcname || ' default=' || oc.opcdefault
           || ' ops=' || coalesce((SELECT string_agg(ao.amopstrategy || ':' || ao.amopopr::regoperator, ',' ORDER BY ao.amopstrategy)
                                   FROM pg_amop ao WHERE ao.amopfamily = oc.opcfamily), '')
           || ' procs=' || coalesce((SELECT string_agg(ap.amprocnum || ':' || ap.amproc::regprocedure, ',' ORDER BY ap.amprocnum)
                                     FROM pg_amproc ap WHERE ap.amprocfamily = oc.opcfamily), '')
    FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod WHERE oc.opcnamespace = (SELECT oid FROM dht)
    UNION ALL
    SELECT 'config ' || x.cfg::regclass || ' ' || coalesce(x.cond, '')
    FROM pg_extension e, LATERAL unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
    WHERE e.extname = 'smartlayer_dht'
    UNION ALL
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_depend d JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
    WHERE e.extname = 'smartlayer_dht' AND d.deptype = 'e'
) s ORDER BY line;
