/*
 * smartlayer_dht.h
 *	  Declarations shared by the C files of the smartlayer_dht extension.
 *
 * Each C file owns one concern (see DESIGN.md section 4); this header only
 * carries what crosses files: the GUCs defined in smartlayer_dht.c.
 */
#ifndef SMARTLAYER_DHT_H
#define SMARTLAYER_DHT_H

#include "postgres.h"

/* GUC smartlayer_dht.network: the network name announcements must carry. */
extern char *dht_network;

#endif							/* SMARTLAYER_DHT_H */
