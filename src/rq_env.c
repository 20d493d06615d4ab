/*
 * rq_env.c
 *	  Allocation for the RaptorQ module through the caller's RqEnv.
 *
 * Every byte the module allocates is counted against env->budget, so that
 * a call's memory is bounded whatever its input (beyond the budget:
 * RQ_ERR_LIMIT, which the SQL layer reports as 54000).  The SQL layer's
 * allocator is palloc in a memory context of the call, so an error or a
 * query cancel (a longjmp out of env->check) frees everything with the
 * context.
 */
#include "rq.h"

#include <stdlib.h>
#include <string.h>

void *
rq_mem_alloc(RqEnv *env, size_t size)
{
	void	   *p;

	if (size == 0)
		size = 1;
	if (env->budget != 0 && (size > env->budget || env->used > env->budget - size))
	{
		env->limit_hit = true;
		return NULL;
	}
	p = env->alloc(env->arg, size);
	if (p != NULL)
	{
		env->used += size;
		if (env->used > env->peak)
			env->peak = env->used;
	}
	return p;
}

void *
rq_mem_alloc0(RqEnv *env, size_t size)
{
	void	   *p = rq_mem_alloc(env, size);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

void
rq_mem_free(RqEnv *env, void *ptr, size_t size)
{
	if (ptr == NULL)
		return;
	if (size == 0)
		size = 1;
	env->used -= size;
	if (env->release != NULL)
		env->release(env->arg, ptr);
}

const char *
rq_status_text(RqStatus s)
{
	switch (s)
	{
		case RQ_OK:
			return "ok";
		case RQ_ERR_NOMEM:
			return "out of memory";
		case RQ_ERR_LIMIT:
			return "memory limit exceeded";
		case RQ_ERR_SINGULAR:
			return "the symbols do not determine the block";
		case RQ_ERR_TOO_FEW:
			return "fewer symbols than source symbols";
		case RQ_ERR_BAD_PACKET:
			return "a packet of a source block that does not exist";
	}
	return "unknown status";
}

static void *
malloc_alloc(void *arg, size_t size)
{
	(void) arg;
	return malloc(size);
}

static void
malloc_release(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

/* An environment on malloc, for the tests and tools (never the server). */
RqEnv
rq_env_malloc(size_t budget)
{
	RqEnv		env = {malloc_alloc, malloc_release, NULL, NULL, budget, 0, 0, false};

	return env;
}
