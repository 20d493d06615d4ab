/*
 * erasure_lib.c
 *	  liberasurecode 1.6.2 behind a small interface: instances cached per
 *	  backend process, and encode / decode / reconstruct calls that free
 *	  everything the library allocates before returning.
 *
 * Instances: liberasurecode_instance_create is expensive (backends build
 * their coding matrices, jerasure_rs_cauchy its schedules), so each backend
 * process creates one per (backend, k, m) on first use and keeps it for its
 * lifetime; the cache is a small static table (5 backends, k + m <= 32).
 *
 * Memory: the *_into calls copy the library's output straight into buffers
 * the caller palloc'd beforehand (the result array, the result bytea), then
 * call liberasurecode_encode_cleanup / liberasurecode_decode_cleanup.  They
 * contain no ereport, so nothing can jump out between the library's malloc
 * and its free.
 *
 * CRC-32: fragment.c checks payload CRCs with a portable slicing-by-8
 * CRC-32 (about 2 GB/s).  ISA-L, which the isa_l backends load anyway,
 * exports crc32_gzip_refl, the same CRC with carry-less multiplication
 * (about 10 GB/s); dht_ec_setup uses it when libisal.so.2 is present and
 * agrees with ours on test vectors.
 *
 * The fragment layout fragment.c hard-codes is checked here against the
 * installed erasurecode.h at compile time.
 */
#include "smartlayer_dht.h"

#include <dlfcn.h>

/* liberasurecode's config header redefines autoconf's PACKAGE_* names. */
#undef PACKAGE_BUGREPORT
#undef PACKAGE_NAME
#undef PACKAGE_STRING
#undef PACKAGE_TARNAME
#undef PACKAGE_URL
#undef PACKAGE_VERSION
#include <erasurecode.h>

#include "erasure.h"

#define CACHE_MAX_N 32

StaticAssertDecl(sizeof(fragment_header_t) == DHT_FRAG_HEADER_SIZE,
				 "fragment header size");
StaticAssertDecl(sizeof(fragment_metadata_t) == DHT_FRAG_META_SIZE,
				 "fragment metadata size");
StaticAssertDecl(offsetof(fragment_metadata_t, orig_data_size) == DHT_FRAG_OFF_ORIG,
				 "orig_data_size offset");
StaticAssertDecl(offsetof(fragment_metadata_t, chksum) == DHT_FRAG_OFF_CKSUM,
				 "chksum offset");
StaticAssertDecl(offsetof(fragment_metadata_t, backend_id) == DHT_FRAG_OFF_BACKEND,
				 "backend_id offset");
StaticAssertDecl(offsetof(fragment_metadata_t, backend_version) == DHT_FRAG_OFF_BVERSION,
				 "backend_version offset");
StaticAssertDecl(offsetof(fragment_header_t, magic) == DHT_FRAG_OFF_MAGIC,
				 "magic offset");
StaticAssertDecl(offsetof(fragment_header_t, metadata_chksum) == DHT_FRAG_OFF_METACRC,
				 "metadata_chksum offset");
StaticAssertDecl(LIBERASURECODE_FRAG_HEADER_MAGIC == DHT_FRAG_MAGIC, "magic");
StaticAssertDecl(CHKSUM_CRC32 == DHT_FRAG_CKSUM_CRC32, "CRC32 checksum type");

static int	instances[5][CACHE_MAX_N + 1][CACHE_MAX_N + 1];
static bool setup_done = false;

void
dht_ec_setup(void)
{
	void	   *isal;
	void	   *fn;

	if (setup_done)
		return;
	setup_done = true;

	/*
	 * liberasurecode writes its "legacy" CRC instead of zlib's when this is
	 * set in the environment; fragment.c accepts only the standard one.  It
	 * affects nothing but liberasurecode in this process.
	 */
	unsetenv("LIBERASURECODE_WRITE_LEGACY_CRC");

	if (sizeof(size_t) != sizeof(uint64))
		return;
	isal = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
	if (isal == NULL)
		return;
	fn = dlsym(isal, "crc32_gzip_refl");
	if (fn == NULL || !dht_crc32_use((dht_crc32_fn) fn))
		dlclose(isal);
}

const char *
dht_ec_strerror(int rc)
{
	switch (-rc)
	{
		case EBACKENDNOTSUPP:
			return "backend not supported";
		case EECMETHODNOTIMPL:
			return "method not implemented";
		case EBACKENDINITERR:
			return "backend initialization error";
		case EBACKENDINUSE:
			return "backend in use";
		case EBACKENDNOTAVAIL:
			return "backend not available";
		case EBADCHKSUM:
			return "bad checksum";
		case EINVALIDPARAMS:
			return "invalid parameters";
		case EBADHEADER:
			return "bad fragment header";
		case EINSUFFFRAGS:
			return "insufficient fragments";
		case ENOMEM:
			return "out of memory";
	}
	return "unexpected result";
}

int
dht_ec_instance(const DhtBackend *be, int k, int m)
{
	int		   *slot;
	struct ec_args args;
	int			desc;

	Assert(k >= 1 && m >= 0 && k + m <= CACHE_MAX_N);
	slot = &instances[be - dht_backends][k][m];
	if (*slot > 0)
		return *slot;

	if (!liberasurecode_backend_available(be->id))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("erasure code backend \"%s\" is not available", be->name),
				 errdetail("liberasurecode could not load the library the backend needs."),
				 errhint("Install libisal2 for the isa_l backends or libjerasure2 for the jerasure ones.")));

	memset(&args, 0, sizeof(args));
	args.k = k;
	args.m = m;
	args.hd = m;
	args.ct = CHKSUM_CRC32;
	desc = liberasurecode_instance_create(be->id, &args);
	if (desc <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not create a liberasurecode %s instance for %d+%d: %s",
						be->name, k, m, dht_ec_strerror(desc))));
	*slot = desc;
	return desc;
}

int
dht_ec_encode_into(int desc, int k, int m, const char *data, uint64 len,
				   char **dest, uint64 fraglen)
{
	char	  **data_frags = NULL;
	char	  **parity_frags = NULL;
	uint64_t	got = 0;
	int			rc;

	rc = liberasurecode_encode(desc, data, len, &data_frags, &parity_frags, &got);
	if (rc != 0)
		return rc;				/* the library has cleaned up */
	if (data_frags == NULL || parity_frags == NULL || got != fraglen)
		rc = -EINVALIDPARAMS;
	else
		for (int i = 0; i < k + m; i++)
			memcpy(dest[i], i < k ? data_frags[i] : parity_frags[i - k], fraglen);
	liberasurecode_encode_cleanup(desc, data_frags, parity_frags);
	return rc;
}

int
dht_ec_decode_into(int desc, char **frags, int nfrags, uint64 fraglen,
				   char *dest, uint64 orig_size)
{
	char	   *out = NULL;
	uint64_t	out_len = 0;
	int			rc;

	rc = liberasurecode_decode(desc, frags, nfrags, fraglen, 0, &out, &out_len);
	if (rc == 0 && (out_len != orig_size || (out == NULL && orig_size > 0)))
		rc = -EBADHEADER;
	if (rc == 0 && orig_size > 0)
		memcpy(dest, out, orig_size);
	if (out != NULL)
		liberasurecode_decode_cleanup(desc, out);
	return rc;
}

int
dht_ec_reconstruct_into(int desc, char **frags, int nfrags, uint64 fraglen,
						int idx, char *dest)
{
	return liberasurecode_reconstruct_fragment(desc, frags, nfrags, fraglen,
											   idx, dest);
}
