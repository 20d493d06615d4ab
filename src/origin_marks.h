/*
 * origin_marks.h
 *	  This anchor's write marks (origin_marks.c).
 */
#ifndef DHT_ORIGIN_MARKS_H
#define DHT_ORIGIN_MARKS_H

#include "postgres.h"

/* Add n rows written under origin to this backend's mark (inside SPI). */
extern void origin_marks_add(const char *origin, int64 n);

#endif							/* DHT_ORIGIN_MARKS_H */
