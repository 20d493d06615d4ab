/*
 * rq_test.h
 *	  What the RaptorQ unit tests share: TAP output, a malloc RqEnv that
 *	  checks every byte is given back, and a deterministic generator.
 */
#ifndef RQ_TEST_H
#define RQ_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rq.h"

static int	tests_run;
static int	tests_failed;

static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline RqEnv
test_env(void)
{
	return rq_env_malloc(0);
}

static uint64_t rng_state = 12345;

static inline uint32_t
rng(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (uint32_t) (z ^ (z >> 31));
}

static inline void
fill_random(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t) rng();
}

#endif
