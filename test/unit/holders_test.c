/*
 * holders_test.c
 *	  Unit tests of the packed holders codec and its resolution rule
 *	  (src/holders.c), in TAP.
 *
 * Checked: encode/decode round trips (with digests, RaptorQ ranges and the
 * RaptorQ block: symbols per holder, the OTI and its stamp), header-only
 * decoding,
 * every class of invalid input, the stamp clock, and resolution: a single
 * row, the union of two anchors' concurrent allocations, a later event
 * superseding an earlier one across origins, ties broken by origin,
 * release hiding everything, a re-allocation's new life killing the old
 * entries, the OTI of the latest stamp of the current life, and
 * independence from the order rows are given in.
 */
// sources: src/holders.c
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holders.h"

static int	tests_run;
static int	tests_failed;

static void
ok(int cond, const char *desc)
{
	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests_run, desc);
}

static HolderEntry
entry(int shard, uint64_t ref, int state, uint32_t stamp)
{
	HolderEntry e;

	memset(&e, 0, sizeof(e));
	e.shard = (uint8_t) shard;
	e.ref = ref;
	e.state = (uint8_t) state;
	e.stamp = stamp;
	e.range = (uint16_t) shard;
	return e;
}

static HolderSet
set_of(HolderEntry *entries, int n, uint32_t meta, uint32_t life, uint8_t flags)
{
	HolderSet	s;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.data_shards = 4;
	s.parity_shards = 2;
	s.meta_stamp = meta;
	s.life_start = life;
	s.epoch = 7;
	if (flags & HOLDERS_RAPTORQ)
		s.symbols_per_holder = 3;
	s.n = n;
	s.entries = entries;
	holders_sort(entries, n);
	return s;
}

static bool
same_entry(const HolderEntry *a, const HolderEntry *b, bool raptorq)
{
	return a->ref == b->ref && a->stamp == b->stamp && a->shard == b->shard &&
		a->state == b->state && a->has_digest == b->has_digest &&
		(!a->has_digest || memcmp(a->digest, b->digest, HOLDERS_DIGEST_LEN) == 0) &&
		(!raptorq || a->range == b->range);
}

static void
test_round_trip(void)
{
	HolderEntry e[3] = {entry(2, 0xffeeddccbbaa9988ULL, HOLDER_PENDING, 5),
	entry(0, 1, HOLDER_ACTIVE, 3), entry(2, 7, HOLDER_RETIRING, 5)};
	HolderEntry back[8];
	HolderSet	s,
				d;
	uint8_t		buf[512];
	size_t		len;
	bool		same = true;

	e[1].has_digest = true;
	memset(e[1].digest, 0xab, HOLDERS_DIGEST_LEN);
	e[0].range = 300;
	for (int raptorq = 0; raptorq <= 1; raptorq++)
	{
		s = set_of(e, 3, 9, 2, raptorq ? HOLDERS_RAPTORQ : 0);
		if (raptorq)
		{
			s.oti_stamp = 8;
			memset(s.oti, 0x5a, HOLDERS_OTI_LEN);
		}
		len = holders_encode(&s, buf);
		ok(len == holders_encoded_len(&s) &&
		   len == (size_t) (HOLDERS_HEADER_LEN + (raptorq ? HOLDERS_RQ_LEN : 0) +
		   3 * (14 + (raptorq ? 2 : 0)) + HOLDERS_DIGEST_LEN),
		   raptorq ? "encoded length with the RaptorQ block, ranges and a digest" : "encoded length with a digest");
		ok(holders_decode(buf, len, &d, back) == HOLDERS_OK, "decodes what it encoded");
		same = d.n == 3 && d.flags == s.flags && d.data_shards == 4 && d.parity_shards == 2 &&
			d.meta_stamp == 9 && d.life_start == 2 && d.epoch == 7 &&
			d.symbols_per_holder == s.symbols_per_holder && d.oti_stamp == s.oti_stamp &&
			memcmp(d.oti, s.oti, HOLDERS_OTI_LEN) == 0;
		for (int i = 0; same && i < 3; i++)
			same = same_entry(&d.entries[i], &s.entries[i], raptorq);
		ok(same, "round trip keeps header and entries");
	}
	ok(d.entries[0].shard == 0 && d.entries[1].ref == 7 && d.entries[2].ref == 0xffeeddccbbaa9988ULL,
	   "entries are sorted by (shard, ref)");
	ok(holders_find(&d, 2, 7) == &d.entries[1] && holders_find(&d, 1, 7) == NULL,
	   "holders_find finds by (shard, ref)");
	{
		HolderSet	h;
		size_t		at;

		ok(holders_decode_header(buf, len, &h, &at) == HOLDERS_OK && h.n == 0 &&
		   at == HOLDERS_HEADER_LEN + HOLDERS_RQ_LEN && h.symbols_per_holder == 3 && h.oti_stamp == 8,
		   "header-only decoding reads the RaptorQ block and says where entries start");
	}
}

static void
test_invalid_raptorq(void)
{
	HolderEntry e[1] = {entry(0, 5, HOLDER_ACTIVE, 1)};
	HolderEntry back[8];
	HolderSet	s = set_of(e, 1, 1, 0, HOLDERS_RAPTORQ),
				d;
	uint8_t		buf[256],
				bad[256];
	size_t		len = holders_encode(&s, buf);
	const size_t rq = HOLDERS_HEADER_LEN;

	ok(holders_decode(buf, rq + 10, &d, back) == HOLDERS_TRUNCATED, "a cut RaptorQ block: truncated");
	memcpy(bad, buf, len);
	bad[rq] = bad[rq + 1] = 0;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_RAPTORQ, "0 symbols per holder: refused");
	memcpy(bad, buf, len);
	bad[rq + 3] = 1;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_RAPTORQ, "reserved bytes set: refused");
	memcpy(bad, buf, len);
	bad[rq + 19] = 4;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_RAPTORQ, "an OTI without a stamp: refused");
	memcpy(bad, buf, len);
	bad[rq + 7] = 2;
	bad[rq + 19] = 4;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_OK && d.oti_stamp == 2 && d.oti[11] == 4,
	   "with its stamp: accepted");
}

static void
test_invalid(void)
{
	HolderEntry e[2] = {entry(0, 5, HOLDER_ACTIVE, 1), entry(1, 5, HOLDER_ACTIVE, 1)};
	HolderEntry back[8];
	HolderSet	s = set_of(e, 2, 1, 0, 0),
				d;
	uint8_t		buf[256],
				bad[256];
	size_t		len = holders_encode(&s, buf);

	ok(holders_decode(buf, 3, &d, back) == HOLDERS_TRUNCATED, "shorter than a header: truncated");
	ok(holders_decode(buf, len - 1, &d, back) == HOLDERS_TRUNCATED, "a cut entry: truncated");
	memcpy(bad, buf, len);
	bad[0] = 2;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_VERSION, "version 2: refused");
	memcpy(bad, buf, len);
	bad[1] = 0x80;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_FLAGS, "unknown flag: refused");
	memcpy(bad, buf, len);
	bad[2] = 0;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_SHAPE, "0 data shards: refused");
	memcpy(bad, buf, len);
	bad[2] = 200;
	bad[3] = 100;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_SHAPE, "more than 255 shards: refused");
	memcpy(bad, buf, len);
	bad[HOLDERS_HEADER_LEN + 13] = 0x40;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_STATE, "unknown state bits: refused");
	memcpy(bad, buf, len);
	bad[HOLDERS_HEADER_LEN + 12] = 255;
	ok(holders_decode(bad, len, &d, back) == HOLDERS_BAD_SHARD, "shard 255: refused");
	memcpy(bad, buf, len);
	bad[HOLDERS_HEADER_LEN + 14 + 12] = 0;	/* second entry's shard 1 -> 0: same (shard, ref) */
	ok(holders_decode(bad, len, &d, back) == HOLDERS_UNSORTED, "duplicate (shard, ref): refused");
	memcpy(bad, buf, len);
	bad[HOLDERS_HEADER_LEN + 13] = 0x80;	/* says a digest follows that is not there */
	ok(holders_decode(bad, len, &d, back) == HOLDERS_TRUNCATED, "missing digest: truncated");
	ok(!holders_sort((HolderEntry[]) {entry(1, 2, 0, 0), entry(1, 2, 3, 9)}, 2),
	   "holders_sort reports a duplicate");
	ok(strlen(holders_error_message(HOLDERS_UNSORTED)) > 10, "errors have a message");
}

static void
test_stamps(void)
{
	int64_t		epoch = HOLDERS_STAMP_EPOCH;

	ok(holders_next_stamp(epoch + 100, 0) == 100, "a stamp is the clock in seconds since 2020");
	ok(holders_next_stamp(epoch + 100, 100) == 101, "and after the stamp it supersedes");
	ok(holders_next_stamp(epoch + 100, 500) == 501, "even when the clock lags");
	ok(holders_next_stamp(0, 0) == 1, "a clock before 2020 still moves forward");
	ok(holders_state_of("retiring") == HOLDER_RETIRING && holders_state_of("x") == -1 &&
	   strcmp(holders_state_name(HOLDER_DROPPED), "dropped") == 0, "state names");
}

/* Resolve rows given in either order; the answers must agree. */
static int
resolve(HolderRow *rows, int n, Resolution *res, ResolvedHolder *out)
{
	HolderRow	rev[4];
	Resolution	r2;
	ResolvedHolder o2[64];
	bool		same;

	holders_resolve(rows, n, res, out);
	for (int i = 0; i < n; i++)
		rev[i] = rows[n - 1 - i];
	holders_resolve(rev, n, &r2, o2);
	same = r2.live == res->live && r2.n == res->n && r2.max_stamp == res->max_stamp &&
		strcmp(rev[r2.meta_row].origin, rows[res->meta_row].origin) == 0;
	for (int i = 0; same && i < res->n; i++)
		same = o2[i].entry == out[i].entry;
	return same;
}

static void
test_resolution(void)
{
	HolderEntry a_e[2] = {entry(0, 10, HOLDER_ACTIVE, 100), entry(1, 11, HOLDER_ACTIVE, 100)};
	HolderEntry b_e[2] = {entry(0, 20, HOLDER_ACTIVE, 100), entry(1, 11, HOLDER_ACTIVE, 100)};
	HolderSet	a = set_of(a_e, 2, 100, 0, 0),
				b = set_of(b_e, 2, 100, 0, 0);
	HolderRow	rows[2] = {{"ams", &a}, {"bos", &b}};
	Resolution	res;
	ResolvedHolder out[64];
	bool		order_free;

	order_free = resolve(rows, 1, &res, out);
	ok(res.live && res.n == 2 && res.meta_row == 0 && res.max_stamp == 100,
	   "one row: its live entries");

	/* Two anchors allocated at once: the union, one entry per (shard, ref). */
	order_free &= resolve(rows, 2, &res, out);
	ok(res.live && res.n == 3 && out[0].entry->ref == 10 && out[1].entry->ref == 20 &&
	   out[2].entry->ref == 11, "concurrent allocations: the union of holders");
	ok(strcmp(rows[res.meta_row].origin, "bos") == 0, "equal meta stamps: the greater origin's metadata");

	/* bos repairs shard 0 off node 10, which ams allocated: bos's newer entries win. */
	{
		HolderEntry b2[3] = {entry(0, 10, HOLDER_RETIRING, 105), entry(0, 30, HOLDER_PENDING, 105),
		entry(1, 11, HOLDER_ACTIVE, 100)};
		HolderSet	bs = set_of(b2, 3, 100, 0, 0);
		HolderRow	r[2] = {{"ams", &a}, {"bos", &bs}};

		order_free &= resolve(r, 2, &res, out);
		ok(res.n == 3 && out[0].entry->ref == 10 && out[0].entry->state == HOLDER_RETIRING &&
		   out[0].row == 1, "a later event of another origin supersedes");
		ok(holders_row_wins(out, res.n, 1, &b2[1]) && !holders_row_wins(out, res.n, 0, &a_e[0]),
		   "holders_row_wins names the winning row");
		/* Confirmed: 30 active, 10 dropped. */
		b2[0].state = HOLDER_DROPPED;
		b2[0].stamp = b2[1].stamp = 110;
		b2[1].state = HOLDER_ACTIVE;
		bs = set_of(b2, 3, 100, 0, 0);
		order_free &= resolve(r, 2, &res, out);
		ok(res.n == 2 && out[0].entry->ref == 30 && out[1].entry->ref == 11 && res.max_stamp == 110,
		   "a dropped entry hides the holder");
	}

	/* Same stamp, conflicting states: the greater origin wins, on every anchor alike. */
	{
		HolderEntry x[1] = {entry(0, 10, HOLDER_DROPPED, 100)};
		HolderSet	xs = set_of(x, 1, 100, 0, 0);
		HolderRow	r[2] = {{"ams", &a}, {"aaa", &xs}};

		order_free &= resolve(r, 2, &res, out);
		ok(res.n == 2 && out[0].entry->ref == 10 && out[0].entry->state == HOLDER_ACTIVE &&
		   out[0].row == 0, "a tie in stamps goes to the greater origin (ams over aaa)");
	}

	/* Released by bos: nothing is held. */
	{
		HolderSet	rel = set_of(NULL, 0, 120, 0, HOLDERS_RELEASED);
		HolderRow	r[2] = {{"ams", &a}, {"bos", &rel}};

		order_free &= resolve(r, 2, &res, out);
		ok(!res.live && res.n == 0 && res.max_stamp == 120, "a newer release hides the token");

		/* ams re-allocates after seeing it: a new life from 121. */
		{
			HolderEntry n_e[2] = {entry(0, 40, HOLDER_ACTIVE, 121), entry(1, 41, HOLDER_ACTIVE, 121)};
			HolderEntry old[1] = {entry(2, 12, HOLDER_ACTIVE, 110)};	/* a straggler of the old life */
			HolderSet	again = set_of(n_e, 2, 121, 121, 0);
			HolderSet	straggler = set_of(old, 1, 100, 0, 0);
			HolderRow	r3[3] = {{"ams", &again}, {"bos", &rel}, {"chi", &straggler}};

			order_free &= resolve(r3, 3, &res, out);
			ok(res.live && res.n == 2 && out[0].entry->ref == 40 && out[1].entry->ref == 41,
			   "a re-allocation starts a new life: older entries are dead");
		}
	}
	ok(order_free, "resolution does not depend on the order of the rows");

	/* RaptorQ OTIs: the latest stamp of the current life, ties to the greater origin. */
	{
		HolderEntry q_e[1] = {entry(0, 10, HOLDER_ACTIVE, 100)};
		HolderSet	qa = set_of(q_e, 1, 100, 50, HOLDERS_RAPTORQ),
					qb = set_of(NULL, 0, 90, 0, HOLDERS_RAPTORQ),
					qc = set_of(NULL, 0, 90, 0, HOLDERS_RAPTORQ);
		HolderRow	r[3] = {{"ams", &qa}, {"bos", &qb}, {"chi", &qc}};

		order_free &= resolve(r, 3, &res, out);
		ok(res.live && res.oti_row == -1, "no OTI recorded: none");
		qb.oti_stamp = 101;
		qb.oti[0] = 'b';
		qc.oti_stamp = 40;		/* before the life started at 50: dead */
		order_free &= resolve(r, 3, &res, out);
		ok(res.oti_row == 1 && res.max_stamp == 101, "the OTI of this life, counted in the latest stamp");
		qc.oti_stamp = 101;
		order_free &= resolve(r, 3, &res, out);
		ok(res.oti_row == 2, "equal OTI stamps: the greater origin");
	}

	/* No rows at all. */
	holders_resolve(rows, 0, &res, out);
	ok(res.meta_row == -1 && !res.live && res.n == 0, "no rows: not allocated");
}

int
main(void)
{
	printf("1..45\n");
	test_round_trip();
	test_invalid();
	test_invalid_raptorq();
	test_stamps();
	test_resolution();
	if (tests_run != 45)
		printf("# planned 45, ran %d\n", tests_run);
	return tests_failed ? 1 : 0;
}
