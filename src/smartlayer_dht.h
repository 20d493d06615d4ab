/*
 * smartlayer_dht.h
 *	  Declarations shared by the C files of the smartlayer_dht extension.
 *
 * Each C file owns one concern (see DESIGN.md section 4); this header only
 * carries what crosses files: the GUCs defined in smartlayer_dht.c and the
 * small error helpers every SQL entry point uses so that messages and
 * SQLSTATEs stay uniform.
 */
#ifndef SMARTLAYER_DHT_H
#define SMARTLAYER_DHT_H

#include "postgres.h"

/* GUC smartlayer_dht.network: the network name announcements must carry. */
extern char *dht_network;

/* Raise 22023 for a bad parameter: "<what> <detail>". */
#define dht_bad_parameter(...) \
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg(__VA_ARGS__)))

#endif							/* SMARTLAYER_DHT_H */
