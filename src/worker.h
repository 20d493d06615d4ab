/*
 * worker.h
 *	  The self-healing settings (src/worker.c) and their registration.
 */
#ifndef DHT_WORKER_H
#define DHT_WORKER_H

extern char *dht_worker_database;
extern int	dht_heartbeat_timeout;
extern int	dht_heartbeat_interval;
extern int	dht_availability_window;
extern int	dht_confirm_timeout;
extern int	dht_repair_batch;
extern int	dht_repair_interval;

/* Define the settings; register the worker when preloaded (from _PG_init). */
extern void dht_worker_init(void);

#endif							/* DHT_WORKER_H */
