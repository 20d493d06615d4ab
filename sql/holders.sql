-- dht.holders: text and binary I/O, validation, accessors, the node
-- containment operator.
\set SHOW_CONTEXT never
SET search_path = public, dht;
SET timezone = 'UTC';

-- A 4+2 row: round trip through text.
SELECT '(4+2,epoch=3,meta=200,life=0) 0:00000000000000aa:active@200 1:00000000000000bb:pending@201:d'
       || repeat('ab', 32) || ' 1:00000000000000cc:retiring@201'::text AS v \gset
SELECT :'v'::dht.holders;
SELECT :'v'::dht.holders::text = :'v' AS round_trip;
SELECT dht._holders_data_shards(:'v'), dht._holders_parity_shards(:'v'), dht._holders_epoch(:'v'),
       dht._holders_meta_stamp(:'v'), dht._holders_released(:'v'), dht._holders_allocated_at(:'v');
SELECT '(1+0,epoch=0,meta=0,life=0,released)'::dht.holders;
SELECT '(29+51,epoch=0,meta=5,life=1,raptorq,s=1) 0:0000000000000001:active@5:r0 80:0000000000000002:pending@6:r80'::dht.holders;
-- RaptorQ with an OTI recorded: round trip, and its packed bytes.
SELECT '(2+1,epoch=0,meta=5,life=0,raptorq,s=4,oti=00000003e800004001000104@9) 0:0000000000000001:active@5:r0'::text AS rq \gset
SELECT :'rq'::dht.holders::text = :'rq' AS rq_round_trip,
       dht._holders_coding(:'rq'), dht._holders_symbols_per_holder(:'rq'),
       dht._holders_coding(:'v'), dht._holders_symbols_per_holder(:'v');
SELECT encode(dht.holders_send(:'rq'::dht.holders), 'hex') AS rq_packed;

-- Binary: the packed bytes.
SELECT encode(dht.holders_send(:'v'::dht.holders), 'hex') AS packed;

-- Node containment: live entries only (not dropped).
SELECT '(4+2,epoch=0,meta=1,life=0) 0:00000000000000aa:active@1 1:00000000000000bb:dropped@2'::dht.holders
       OPERATOR(dht.@>) ('00000000000000aa' || repeat('0', 48))::dht.key AS has_aa,
       '(4+2,epoch=0,meta=1,life=0) 0:00000000000000aa:active@1 1:00000000000000bb:dropped@2'::dht.holders
       OPERATOR(dht.@>) ('00000000000000bb' || repeat('0', 48))::dht.key AS has_dropped_bb;
SELECT dht.node_ref_of(('00000000000000ff' || repeat('1', 48))::dht.key);

-- Bad text: 22P02 with what is wrong.
SELECT '4+2'::dht.holders;
SELECT '(0+2,epoch=0,meta=1,life=0)'::dht.holders;
SELECT '(200+100,epoch=0,meta=1,life=0)'::dht.holders;
SELECT '(4+2,epoch=0,meta=99999999999,life=0)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 0:aa:active@1'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 0:00000000000000aa:gone@1'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 255:00000000000000aa:active@1'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 1:00000000000000aa:active@1 0:00000000000000aa:active@1'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 0:00000000000000aa:active@1 0:00000000000000aa:dropped@2'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 0:00000000000000aa:active@1:d12'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq) 0:00000000000000aa:active@1'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=1) 0:00000000000000aa:active@1'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=0) 0:00000000000000aa:active@1:r0'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=70000)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=1,oti=0000@3)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=1,oti=00000003e80000400100010x@3)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=1,oti=00000003e800004001000104@0)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0,raptorq,s=1,oti=00000003e800004001000104)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0)x'::dht.holders;

-- COPY BINARY: a round trip, then bytes written as bytea and read back as
-- dht.holders, which the receive function validates (22P03).
CREATE TEMP TABLE h (v dht.holders);
INSERT INTO h VALUES (:'v');
COPY h TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
SELECT count(*) FROM h WHERE v::text = :'v';
COPY (SELECT '\x0200040200000001000000000000000000'::bytea) TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY (SELECT '\x010004'::bytea) TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY (SELECT '\x01000402000000010000000000000000' || '\x00000000000000aa0000000100ff'::bytea)
  TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
-- RaptorQ blocks: truncated, s = 0, reserved bytes set, an OTI without a stamp.
COPY (SELECT '\x0102040200000001000000000000000000010000'::bytea) TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY (SELECT '\x01020402000000010000000000000000' || '\x0000000000000000000000000000000000000000'::bytea)
  TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY (SELECT '\x01020402000000010000000000000000' || '\x0001000100000000000000000000000000000000'::bytea)
  TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY (SELECT '\x01020402000000010000000000000000' || '\x0001000000000000000000000400000000000000'::bytea)
  TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
-- A valid RaptorQ value goes in.
COPY (SELECT '\x01020402000000010000000000000000' || '\x0001000000000000000000000000000000000000'::bytea)
  TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
SELECT count(*) FROM h;
\set VERBOSITY sqlstate
SELECT '(0+2,epoch=0,meta=1,life=0)'::dht.holders;
SELECT '(4+2,epoch=0,meta=1,life=0) 0:00000000000000aa:gone@1'::dht.holders;
COPY (SELECT '\x010004'::bytea) TO '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
COPY h FROM '/tmp/smartlayer_dht_regress_holders.bin' (FORMAT binary);
