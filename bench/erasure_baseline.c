/*
 * erasure_baseline.c
 *	  The C baseline for bench/erasure.sh: liberasurecode called directly,
 *	  with the same backend, k, m and size as the SQL functions.
 *
 *	  erasure_baseline BACKEND_ID K M SIZE SECONDS
 *
 * Prints one line of MB/s (of original data), each the best of three runs
 * of about SECONDS:
 *	  encode           liberasurecode_encode + liberasurecode_encode_cleanup
 *	  decode           liberasurecode_decode from all k + m fragments (it
 *	                   concatenates the data fragments without checking their
 *	                   payload CRCs) + liberasurecode_decode_cleanup
 *	  decode_checked   the same after is_invalid_fragment() on each fragment
 *	                   (liberasurecode's own check, payload CRC included)
 *	  degraded         liberasurecode_decode from k fragments with the first
 *	                   min(m, k) data fragments missing
 *	  memcpy           copying SIZE bytes
 * or "unsupported" when liberasurecode cannot create the instance.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <erasurecode.h>

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct Ctx
{
	int			desc;
	int			k;
	int			m;
	char	   *data;
	uint64_t	size;
	char	  **frags;			/* k + m fragments */
	char	  **degraded;		/* k fragments, data ones missing */
	uint64_t	fraglen;
	char	   *copy;
} Ctx;

static volatile uint64_t sink;

static int
op_encode(Ctx *c)
{
	char	  **d,
			  **p;
	uint64_t	len;

	if (liberasurecode_encode(c->desc, c->data, c->size, &d, &p, &len) != 0)
		return -1;
	sink += len;
	liberasurecode_encode_cleanup(c->desc, d, p);
	return 0;
}

static int
decode_from(Ctx *c, char **frags, int n, int check)
{
	char	   *out;
	uint64_t	len;

	if (check)
		for (int i = 0; i < n; i++)
			if (is_invalid_fragment(c->desc, frags[i]))
				return -1;
	if (liberasurecode_decode(c->desc, frags, n, c->fraglen, 0, &out, &len) != 0 ||
		len != c->size)
		return -1;
	sink += (unsigned char) out[len / 2];
	liberasurecode_decode_cleanup(c->desc, out);
	return 0;
}

static int
op_decode(Ctx *c)
{
	return decode_from(c, c->frags, c->k + c->m, 0);
}

static int
op_decode_checked(Ctx *c)
{
	return decode_from(c, c->frags, c->k + c->m, 1);
}

static int
op_degraded(Ctx *c)
{
	return decode_from(c, c->degraded, c->k, 0);
}

static int
op_memcpy(Ctx *c)
{
	memcpy(c->copy, c->data, c->size);
	sink += (unsigned char) c->copy[c->size / 2];
	return 0;
}

/* MB/s of original data for op, run for about secs. */
static double
measure_once(Ctx *c, int (*op) (Ctx *), double secs)
{
	long		n = 1;
	double		t;

	for (;;)
	{
		double		t0 = now();

		for (long i = 0; i < n; i++)
			if (op(c) != 0)
				return -1;
		t = now() - t0;
		if (t >= secs)
			break;
		n = t < secs / 20 ? n * 10 : (long) (n * secs / t * 1.05) + 1;
	}
	return (double) c->size * n / t / 1e6;
}

/* The best of three runs: other load on the machine only ever slows down. */
static double
measure(Ctx *c, int (*op) (Ctx *), double secs)
{
	double		best = -1;

	for (int i = 0; i < 3; i++)
	{
		double		r = measure_once(c, op, secs);

		if (r > best)
			best = r;
	}
	return best;
}

int
main(int argc, char **argv)
{
	Ctx			c;
	struct ec_args args;
	char	  **d,
			  **p;
	double		secs;

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s BACKEND_ID K M SIZE SECONDS\n", argv[0]);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	memset(&args, 0, sizeof(args));
	args.k = c.k = atoi(argv[2]);
	args.m = c.m = atoi(argv[3]);
	args.hd = c.m;
	args.ct = CHKSUM_CRC32;
	c.size = strtoull(argv[4], NULL, 10);
	secs = atof(argv[5]);
	c.desc = liberasurecode_instance_create(atoi(argv[1]), &args);
	if (c.desc <= 0)
	{
		printf("unsupported\n");
		return 0;
	}

	c.data = malloc(c.size);
	c.copy = malloc(c.size);
	for (uint64_t i = 0; i < c.size; i++)
		c.data[i] = (char) (i * 2654435761u >> 13);
	if (liberasurecode_encode(c.desc, c.data, c.size, &d, &p, &c.fraglen) != 0)
	{
		printf("unsupported\n");
		return 0;
	}
	c.frags = malloc(sizeof(char *) * (c.k + c.m));
	c.degraded = malloc(sizeof(char *) * c.k);
	for (int i = 0; i < c.k + c.m; i++)
		c.frags[i] = i < c.k ? d[i] : p[i - c.k];
	for (int i = 0; i < c.k; i++)
		c.degraded[i] = c.frags[i + (c.m < c.k ? c.m : c.k)];

	printf("%.1f %.1f %.1f %.1f %.1f\n",
		   measure(&c, op_encode, secs),
		   measure(&c, op_decode, secs),
		   measure(&c, op_decode_checked, secs),
		   measure(&c, op_degraded, secs),
		   measure(&c, op_memcpy, secs));
	liberasurecode_encode_cleanup(c.desc, d, p);
	liberasurecode_instance_destroy(c.desc);
	return 0;
}
