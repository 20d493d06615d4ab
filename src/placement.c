/*
 * placement.c
 *	  Pure-C placement engine: seeded weighted rendezvous (straw2-style).
 *
 * See placement.h for the model.  This file has no PostgreSQL headers (libc
 * and libsodium only) so that the unit tests and the benchmark link it alone.
 *
 * Per token: one BLAKE2b call gives a digest; per candidate: one cheap keyed
 * mix of the digest and the node id's prefix (three multiply rounds, a
 * keyed bijection of the prefix, so every node's draw is uniform whatever
 * its id) and, only when weights differ, a fixed-point logarithm.
 *
 * Selection, fast path.  The draws are uniform, so a threshold on u (equal
 * weights) or on the cost -ln(u)/w (weights: expected count = threshold x
 * the weight sum) lets through a predictable number of candidates, about
 * three times the shards wanted; they are exactly a prefix of the token's
 * rendezvous order.  One pass collects them (one compare per candidate;
 * with weights the cheap bound (1 - u)/w <= -ln(u)/w first, so the exact
 * logarithm is computed only for the few that may pass), a heap hands them
 * out best first, and the greedy takes shards, skipping taken ids and used
 * tags.  If the prefix runs out, a larger threshold is tried once.
 *
 * Selection, general path (few tags, large want, or the fast path gave up):
 * one pass keeps the best L candidates in a heap whose root is the worst kept
 * one; if the greedy runs out, L doubles, up to all candidates.  So the
 * answer is always the greedy over the full rendezvous order: thresholds and
 * L only decide the speed (the unit test checks this against a full sort).
 *
 * Fixed-point ln.  For m = (draw >> 11) + 1 in [1, 2^53], u = m / 2^53 and
 * cost = -ln(u) = (53 - k) ln 2 - ln(y), with k the position of m's top bit
 * and y = m / 2^k in [1, 2).  ln(y) = ln(z) - ln(r), where r ~ 1/c is a table
 * reciprocal for y's top 8 fraction bits (c the middle of that interval), so
 * z = y r is within 2^-9 of 1 and ln(z) is a short series, all in Q63
 * integers.  The result, in Q57, is accurate to about 2^-57 (the unit test
 * measures it against logl), far below the spacing of consecutive u, so it
 * is strictly increasing in m.  The tables were computed with 80-digit
 * decimal arithmetic; test/unit/placement_ln_test.c checks them against
 * integer arithmetic and logl, and the ln against logl.
 *
 * Failure domains (the end of the file; placement.h, "Failure domains"): a
 * set from placement_prepare_domains also keeps a flat set with one pseudo
 * node per tag (weight = the tag's weight sum) and its nodes grouped by tag.
 * Per token, one vector pass mixes every domain once; per position, the
 * flat fast path's threshold collect over the domains' position draws finds
 * the best free domain (every domain ranked if none passes), then a short
 * loop ranks that domain's nodes.  test/unit/placement_domains_test.c checks
 * it against a slow reference written from placement.h.
 */
#include "placement.h"

#include <math.h>
#include <string.h>

#include <sodium.h>

#include "placement_simd.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* What the heap holds: cost = -score (lower is better), m = u * 2^53. */
typedef struct Entry
{
	double		cost;
	uint64_t	m;
	int			idx;
} Entry;

struct PlacementSet
{
	int			n;
	int			ntags;			/* distinct tags (use_tags only) */
	double		wsum;			/* sum of the weights */
	bool		use_tags;
	bool		uniform;		/* all weights equal: order by u alone */
	void	   *(*alloc) (size_t);
	void		(*dealloc) (void *);
	uint64_t   *prefix;			/* node id's first 8 bytes, little-endian */
	double	   *scale;			/* 2^-57 / weight */
	uint64_t   *tag;
	PlacementNode *nodes;

	/*
	 * Failure domains (placement_prepare_domains only, else dom is NULL):
	 * one pseudo node per distinct tag (id = the tag, little-endian, then
	 * zeros; weight = the sum of its nodes' weights), and the set indexes
	 * of each domain's nodes, domain d's at dom_member[dom_start[d] ..
	 * dom_start[d + 1] - 1], with their id prefixes beside them.
	 */
	PlacementSet *dom;
	int		   *dom_start;
	int		   *dom_member;
	uint64_t   *dom_prefix;
	int			dom_max;		/* the largest domain's node count */
};

/* Heap entries kept on the stack; larger heaps use the set's allocator. */
#define STACK_ENTRIES 256

/* ---- fixed-point ln tables (generated with 80-digit decimal arithmetic) */

/* ln 2 in Q63, rounded to nearest. */
#define LN2_Q63 UINT64_C(0x58b90bfbe8e7bcd6)

/* ln_recip[i] = round(2^63 / c), c = 1 + (2i + 1) / 512. */
static const uint64_t ln_recip[256] = {
	UINT64_C(0x7fc01ff007fc01ff), UINT64_C(0x7f411e528439a982), UINT64_C(0x7ec3184357a4e3c7), UINT64_C(0x7e460ada04eebc6d),
	UINT64_C(0x7dc9f3397d4c2946), UINT64_C(0x7d4ece8fe8813945), UINT64_C(0x7cd49a166e33b008), UINT64_C(0x7c5b5311007c5b53),
	UINT64_C(0x7be2f6ce27aeb30e), UINT64_C(0x7b6b82a6cf4e9574), UINT64_C(0x7af4f3fe142c3008), UINT64_C(0x7a7f4841139e6292),
	UINT64_C(0x7a0a7ce6bbd4243b), UINT64_C(0x79968f6f9d35ab75), UINT64_C(0x79237d65bcce5072), UINT64_C(0x78b1445c67b856bf),
	UINT64_C(0x783fe1f00783fe1f), UINT64_C(0x77cf53c5f7936c1c), UINT64_C(0x775f978c5b653007), UINT64_C(0x76f0aaf9f5c7514f),
	UINT64_C(0x76828bce00ed0518), UINT64_C(0x761537d00761537d), UINT64_C(0x75a8accfbdd11ecb), UINT64_C(0x753ce8a4dda727d8),
	UINT64_C(0x74d1e92f0074d1e9), UINT64_C(0x7467ac557c228ec7), UINT64_C(0x73fe30073fe30074), UINT64_C(0x7395723ab1e401ce),
	UINT64_C(0x732d70ed8db8e9f4), UINT64_C(0x72c62a24c3797fc7), UINT64_C(0x725f9bec57913361), UINT64_C(0x71f9c457433a52cf),
	UINT64_C(0x7194a17f55a10dc1), UINT64_C(0x7130318515aa397a), UINT64_C(0x70cc728fa459e2eb), UINT64_C(0x706962cc9fd5d87b),
	UINT64_C(0x7007007007007007), UINT64_C(0x6fa549b41da7e794), UINT64_C(0x6f443cd95146d873), UINT64_C(0x6ee3d8261e524d1a),
	UINT64_C(0x6e8419e6f61221ac), UINT64_C(0x6e25006e25006e25), UINT64_C(0x6dc68a13b9accf8b), UINT64_C(0x6d68b5356c207b16),
	UINT64_C(0x6d0b803685c01b43), UINT64_C(0x6caee97fc9a88b40), UINT64_C(0x6c52ef7f5d8398c1), UINT64_C(0x6bf790a8b2d20797),
	UINT64_C(0x6b9ccb7470a824fe), UINT64_C(0x6b429e605dda4a94), UINT64_C(0x6ae907ef4b96c29c), UINT64_C(0x6a9006a9006a9007),
	UINT64_C(0x6a37991a23aead6f), UINT64_C(0x69dfbdd4295b6627), UINT64_C(0x6988736d3e3f7c15), UINT64_C(0x6931b8803498dc40),
	UINT64_C(0x68db8bac710cb296), UINT64_C(0x6885eb95d7fcbbd1), UINT64_C(0x6830d6e4bb37c223), UINT64_C(0x67dc4c45c8033ee2),
	UINT64_C(0x67884a69f57c2871), UINT64_C(0x6734d006734d0067), UINT64_C(0x66e1dbd498b74250), UINT64_C(0x668f6c91d3ee5f59),
	UINT64_C(0x663d80ff99c27f00), UINT64_C(0x65ec17e355994810), UINT64_C(0x659b300659b30066), UINT64_C(0x654ac835cfba5c96),
	UINT64_C(0x64fadf42a99d6302), UINT64_C(0x64ab740192add006), UINT64_C(0x645c854ae10772de), UINT64_C(0x640e11fa873b044d),
	UINT64_C(0x63c018f0063c018f), UINT64_C(0x6372990e5f901f14), UINT64_C(0x6325913c07beef59), UINT64_C(0x62d90062d90062d9),
	UINT64_C(0x628ce5700628ce57), UINT64_C(0x62413f540dd12ce8), UINT64_C(0x61f60d02adba5b13), UINT64_C(0x61ab4d72d66a1006),
	UINT64_C(0x6160ff9e9f006161), UINT64_C(0x611722833944a55b), UINT64_C(0x60cdb520e5e88e2e), UINT64_C(0x6084b67ae9006085),
	UINT64_C(0x603c25977eaf2d7c), UINT64_C(0x5ff4017fd005ff40), UINT64_C(0x5fac493fe814edb0), UINT64_C(0x5f64fbe6a92d16bb),
	UINT64_C(0x5f1e1885c2527c19), UINT64_C(0x5ed79e31a4dccdfc), UINT64_C(0x5e918c017a463006), UINT64_C(0x5e4be10f1a270b6b),
	UINT64_C(0x5e069c77005e069c), UINT64_C(0x5dc1bd5843634017), UINT64_C(0x5d7d42d48ac5ef33), UINT64_C(0x5d392c1005d392c1),
	UINT64_C(0x5cf578316267da3c), UINT64_C(0x5cb22661c3e47b1d), UINT64_C(0x5c6f35ccba502871), UINT64_C(0x5c2ca5a0399be784),
	UINT64_C(0x5bea750c910e00b8), UINT64_C(0x5ba8a34462d1d006), UINT64_C(0x5b672f7c9babbce0), UINT64_C(0x5b2618ec6ad0a535),
	UINT64_C(0x5ae55ecd39e00b5d), UINT64_C(0x5aa5005aa5005aa5), UINT64_C(0x5a64fcd2731c99f4), UINT64_C(0x5a2553748e42e7b4),
	UINT64_C(0x59e60382fc231dd9), UINT64_C(0x59a70c41d6ad005a), UINT64_C(0x59686cf744cd5bda), UINT64_C(0x592a24eb73497dbc),
	UINT64_C(0x58ec33688db871ef), UINT64_C(0x58ae97bab7997621), UINT64_C(0x5871513005871513), UINT64_C(0x58345f1876865fc9),
	UINT64_C(0x57f7c0c5ed71bd56), UINT64_C(0x57bb758c2a7eccf0), UINT64_C(0x577f7cc0c4ded8b2), UINT64_C(0x5743d5bb24795a55),
	UINT64_C(0x57087fd47bc015c2), UINT64_C(0x56cd7a67c19c5005), UINT64_C(0x5692c4d1ab74abcb), UINT64_C(0x56585e70a74b36fa),
	UINT64_C(0x561e46a4d5f33782), UINT64_C(0x55e47cd0055e47cd), UINT64_C(0x55ab0055ab0055ab), UINT64_C(0x5571d09ade4a18b3),
	UINT64_C(0x5538ed0653399778), UINT64_C(0x5500550055005500), UINT64_C(0x54c807f2c0bec212), UINT64_C(0x5490054900549005),
	UINT64_C(0x54584c70054584c7), UINT64_C(0x5420dcd643b271b4), UINT64_C(0x53e9b5ebad65f0ec), UINT64_C(0x53b2d721acf48e8d),
	UINT64_C(0x537c3feb20f00538), UINT64_C(0x5345efbc572d36f9), UINT64_C(0x530fe60b081c8d77), UINT64_C(0x52da224e52346e0a),
	UINT64_C(0x52a4a3feb56d7005), UINT64_C(0x526f6a960ed00527), UINT64_C(0x523a758f941345b4), UINT64_C(0x5205c467cf4c9362),
	UINT64_C(0x51d1569c9aafc7c0), UINT64_C(0x519d2bad1c5fa42f), UINT64_C(0x51694319c24e3b26), UINT64_C(0x51359c643e2d0bbd),
	UINT64_C(0x5102370f816c89f8), UINT64_C(0x50cf129fb94acfb4), UINT64_C(0x509c2e9a4af13353), UINT64_C(0x50698a85cfa082ac),
	UINT64_C(0x503725ea10eba1ff), UINT64_C(0x5005005005005005), UINT64_C(0x4fd31941cafdd13a), UINT64_C(0x4fa1704aa75945fd),
	UINT64_C(0x4f7004f7004f7005), UINT64_C(0x4f3ed6d45a63ad0a), UINT64_C(0x4f0de57154ebed79), UINT64_C(0x4edd305da6a96f36),
	UINT64_C(0x4eacb72a1a6e0588), UINT64_C(0x4e7c79688bcdb842), UINT64_C(0x4e4c76abe3dc855a), UINT64_C(0x4e1cae8815f81116),
	UINT64_C(0x4ded20921c9d11f6), UINT64_C(0x4dbdcc5ff6484674), UINT64_C(0x4d8eb188a262c3b6), UINT64_C(0x4d5fcfa41e396d1c),
	UINT64_C(0x4d31264b61ff659e), UINT64_C(0x4d02b5185ddb4cb6), UINT64_C(0x4cd47ba5f6ff1983), UINT64_C(0x4ca6799004ca6799),
	UINT64_C(0x4c78ae734df709dc), UINT64_C(0x4c4b19ed85cfb87a), UINT64_C(0x4c1dbb9d4970b005), UINT64_C(0x4bf093221d121853),
	UINT64_C(0x4bc3a01c695c0aa8), UINT64_C(0x4b96e22d78c40f5b), UINT64_C(0x4b6a58f774f3ebf8), UINT64_C(0x4b3e041d64399b7b),
	UINT64_C(0x4b11e34327004b12), UINT64_C(0x4ae5f60d7552366b), UINT64_C(0x4aba3c21dc633f58), UINT64_C(0x4a8eb526bc241d20),
	UINT64_C(0x4a6360c344de0095), UINT64_C(0x4a383e9f74d68a95), UINT64_C(0x4a0d4e6415fbf346), UINT64_C(0x49e28fbabb9940f0),
	UINT64_C(0x49b8024dc0126e01), UINT64_C(0x498da5c842a85e3d), UINT64_C(0x496379d6254483df), UINT64_C(0x49397e240a4c15bd),
	UINT64_C(0x490fb25f527ab85e), UINT64_C(0x48e616361ac47c28), UINT64_C(0x48bca9573a3f139b), UINT64_C(0x48936b72401224db),
	UINT64_C(0x486a5c37716e9a73), UINT64_C(0x48417b57c78cd7a3), UINT64_C(0x4818c884edb1b516), UINT64_C(0x47f043713f3a2b47),
	UINT64_C(0x47c7ebcfc5ad9067), UINT64_C(0x479fc15436d65004), UINT64_C(0x4777c3b2f2e10312), UINT64_C(0x474ff2a10281cf88),
	UINT64_C(0x47284dd4151ff71b), UINT64_C(0x4700d5027f077d16), UINT64_C(0x46d987e337a0cbb1), UINT64_C(0x46b2662dd7ae41ba),
	UINT64_C(0x468b6f9a978f91c6), UINT64_C(0x4664a3e24d8adc87), UINT64_C(0x463e02be6c1b7039), UINT64_C(0x46178be90046178c),
	UINT64_C(0x45f13f1caff2e2c4), UINT64_C(0x45cb1c14b84c5627), UINT64_C(0x45a5228cec23e926), UINT64_C(0x457f5241b25bc21b),
	UINT64_C(0x4559aaf004559aaf), UINT64_C(0x45342c556c66b972), UINT64_C(0x450ed6300450ed63), UINT64_C(0x44e9a83e73c07899),
	UINT64_C(0x44c4a23feeced770), UINT64_C(0x449fc3f4348a5207), UINT64_C(0x447b0d1b8d824616), UINT64_C(0x44567d76ca58177e),
	UINT64_C(0x443214c74254b636), UINT64_C(0x440dd2ced202a88a), UINT64_C(0x43e9b74fd9cc88e3), UINT64_C(0x43c5c20d3c9fe696),
	UINT64_C(0x43a1f2ca5e947987), UINT64_C(0x437e494b239798a7), UINT64_C(0x435ac553ee1be396), UINT64_C(0x433766a99dcd1004),
	UINT64_C(0x43142d118e47cb98), UINT64_C(0x42f1185195d5a36f), UINT64_C(0x42ce2830042ce283), UINT64_C(0x42ab5c73a134588c),
	UINT64_C(0x4288b4e3abcafb10), UINT64_C(0x42663147d89352bd), UINT64_C(0x4243d16850c2a737), UINT64_C(0x4221950db0f3dbd6),
	UINT64_C(0x41ff7c0107fdf004), UINT64_C(0x41dd860bd5ce1620), UINT64_C(0x41bbb2f80a4553f7), UINT64_C(0x419a02900419a029),
	UINT64_C(0x4178749e8fba7004), UINT64_C(0x415708eee638a97a), UINT64_C(0x4135bf4cac31ed26), UINT64_C(0x41149783f0bf2c7d),
	UINT64_C(0x40f391612c668061), UINT64_C(0x40d2acb1401034ab), UINT64_C(0x40b1e94173fefd38), UINT64_C(0x409146df76cb4965),
	UINT64_C(0x4070c5595c61aaeb), UINT64_C(0x4050647d9d044557), UINT64_C(0x4030241b144f3b6d), UINT64_C(0x4010040100401004),
};

/* ln_of_recip[i] = round(-ln(ln_recip[i] / 2^63) * 2^63). */
static const uint64_t ln_of_recip[256] = {
	UINT64_C(0x003ff005535621cd), UINT64_C(0x00bf708f5ec1749d), UINT64_C(0x013e7295d25a7d8f), UINT64_C(0x01bcf712c74384bc),
	UINT64_C(0x023afefd73dd7cd9), UINT64_C(0x02b88b4a371a7112), UINT64_C(0x03359ceaa398a289), UINT64_C(0x03b234cd8a87987c),
	UINT64_C(0x042e53df06585d9e), UINT64_C(0x04a9fb08853a1cc6), UINT64_C(0x05252b30d364471e), UINT64_C(0x059fe53c252f6610),
	UINT64_C(0x061a2a0c20fdb3b9), UINT64_C(0x0693fa7fe8f48d3e), UINT64_C(0x070d57742487cb33), UINT64_C(0x078641c309d8056f),
	UINT64_C(0x07feba4466e4c0ce), UINT64_C(0x0876c1cdaa937f06), UINT64_C(0x08ee5931ed8ca228), UINT64_C(0x09658141faef0f71),
	UINT64_C(0x09dc3acc58db76fa), UINT64_C(0x0a52869d50d82008), UINT64_C(0x0ac8657ef80e1428), UINT64_C(0x0b3dd83937607dc9),
	UINT64_C(0x0bb2df91d35f09a2), UINT64_C(0x0c277c4c7414151a), UINT64_C(0x0c9baf2aacaf6ee2), UINT64_C(0x0d0f78ec030e6a0c),
	UINT64_C(0x0d82da4df721ff23), UINT64_C(0x0df5d40c0a33b243), UINT64_C(0x0e6866dfc609f0a7), UINT64_C(0x0eda9380c3ec93bd),
	UINT64_C(0x0f4c5aa4b38a33ba), UINT64_C(0x0fbdbcff61beef68), UINT64_C(0x102ebb42bf3d4ae1), UINT64_C(0x109f561ee719c33f),
	UINT64_C(0x110f8e422539b132), UINT64_C(0x117f6458fca610ff), UINT64_C(0x11eed90e2dc2c2ac), UINT64_C(0x125ded0abc6ad1c3),
	UINT64_C(0x12cca0f5f5f25088), UINT64_C(0x133af575770e4f66), UINT64_C(0x13a8eb2d31a375f7), UINT64_C(0x141682bf727bbfee),
	UINT64_C(0x1483bccce6e3dd4a), UINT64_C(0x14f099f4a230b207), UINT64_C(0x155d1ad4232d6eca), UINT64_C(0x15c940075972b936),
	UINT64_C(0x16350a28aaa757b0), UINT64_C(0x16a079d0f7aad1fd), UINT64_C(0x170b8f97a1aa7533), UINT64_C(0x17764c128f212749),
	UINT64_C(0x17e0afd630c273cf), UINT64_C(0x184abb758651392a), UINT64_C(0x18b46f8223625b3f), UINT64_C(0x191dcc8c340bde35),
	UINT64_C(0x1986d3228180c9db), UINT64_C(0x19ef83d2769a33d2), UINT64_C(0x1a57df28244dcce4), UINT64_C(0x1abfe5ae46124b86),
	UINT64_C(0x1b2797ee46320bbb), UINT64_C(0x1b8ef670420c3a9a), UINT64_C(0x1bf601bb0e44e1aa), UINT64_C(0x1c5cba543ae424a8),
	UINT64_C(0x1cc320c017650241), UINT64_C(0x1d293581b6b3e6c8), UINT64_C(0x1d8ef91af31d5df4), UINT64_C(0x1df46c0c722d2f42),
	UINT64_C(0x1e598ed5a87e2ecb), UINT64_C(0x1ebe61f4dd7b0aec), UINT64_C(0x1f22e5e72f105d58), UINT64_C(0x1f871b2895504501),
	UINT64_C(0x1feb0233e607cc5c), UINT64_C(0x204e9b82d8465e7a), UINT64_C(0x20b1e78e07d78bcc), UINT64_C(0x2114e6ccf8af5e0f),
	UINT64_C(0x217799b61a497996), UINT64_C(0x21da00becafb48e2), UINT64_C(0x223c1c5b5b396e02), UINT64_C(0x229decff10d0b42d),
	UINT64_C(0x22ff731c2a12baba), UINT64_C(0x2360af23e0f6915d), UINT64_C(0x23c1a1866e2d7c7a), UINT64_C(0x24224ab30c2c173c),
	UINT64_C(0x2482ab17fa280800), UINT64_C(0x24e2c3227f0a7a79), UINT64_C(0x2542933eec579220), UINT64_C(0x25a21bd8a10b0631),
	UINT64_C(0x26015d5a0c6a17ac), UINT64_C(0x2660582cb0cb10bf), UINT64_C(0x26bf0cb926527c11), UINT64_C(0x271d7b671da64161),
	UINT64_C(0x277ba49d6296d426), UINT64_C(0x27d988c1debe9fd8), UINT64_C(0x283728399c17dcb9), UINT64_C(0x28948368c788f714),
	UINT64_C(0x28f19ab2b367b227), UINT64_C(0x294e6e79d9f32ee5), UINT64_C(0x29aaff1fdfc4fe49), UINT64_C(0x2a074d05963965ce),
	UINT64_C(0x2a63588afdcefc1e), UINT64_C(0x2abf220f487dc337), UINT64_C(0x2b1aa9f0dc05e47d), UINT64_C(0x2b75f08d5436328c),
	UINT64_C(0x2bd0f641852a93e8), UINT64_C(0x2c2bbb697d8278f9), UINT64_C(0x2c864060888f7f01), UINT64_C(0x2ce08581307c6149),
	UINT64_C(0x2d3a8b25406c58df), UINT64_C(0x2d9451a5c6930ad0), UINT64_C(0x2dedd95b16452417), UINT64_C(0x2e47229cca01c1d6),
	UINT64_C(0x2ea02dc1c574c40b), UINT64_C(0x2ef8fb203772281f), UINT64_C(0x2f518b0d9bea883f), UINT64_C(0x2fa9dddebdd8dbfa),
	UINT64_C(0x3001f3e7b92995e8), UINT64_C(0x3059cd7bfc9b39b4), UINT64_C(0x30b16aee4b98855b), UINT64_C(0x3108cc90c00c47f5),
	UINT64_C(0x315ff2b4cc2effd2), UINT64_C(0x31b6ddab3c4e5950), UINT64_C(0x320d8dc4388ea73d), UINT64_C(0x3264034f46a66d44),
	UINT64_C(0x32ba3e9b4b94143e), UINT64_C(0x33103ff68d4de019), UINT64_C(0x336607aeb46c3e39), UINT64_C(0x33bb9610cdce8338),
	UINT64_C(0x3410eb694c3a2e19), UINT64_C(0x3466080409f4c6e7), UINT64_C(0x34baec2c4a586e28), UINT64_C(0x350f982cbb63323d),
	UINT64_C(0x35640c4f77413f53), UINT64_C(0x35b848de05d1fe56), UINT64_C(0x360c4e215e2836ad), UINT64_C(0x36601c61e8054683),
	UINT64_C(0x36b3b3e77d4f84c5), UINT64_C(0x370714f96b83dfbd), UINT64_C(0x375a3fde7522cae5), UINT64_C(0x37ad34dcd3188e2d),
	UINT64_C(0x37fff43a3621089a), UINT64_C(0x38527e3bc826f7d6), UINT64_C(0x38a4d3262d9ed60e), UINT64_C(0x38f6f33d86dd5f04),
	UINT64_C(0x3948dec57169cd09), UINT64_C(0x399a9601094bde61), UINT64_C(0x39ec1932ea55b308), UINT64_C(0x3a3d689d316992c4),
	UINT64_C(0x3a8e84817dbbab15), UINT64_C(0x3adf6d20f20fd439), UINT64_C(0x3b3022bc35f36c6b), UINT64_C(0x3b80a59376f357fd),
	UINT64_C(0x3bd0f5e669ce3501), UINT64_C(0x3c2113f44ba2d07d), UINT64_C(0x3c70fffbe31aeb8c), UINT64_C(0x3cc0ba3b81925ddd),
	UINT64_C(0x3d1042f1043aa362), UINT64_C(0x3d5f9a59d53ae24f), UINT64_C(0x3daec0b2eccc76a1), UINT64_C(0x3dfdb638d2541003),
	UINT64_C(0x3e4c7b279d776eb2), UINT64_C(0x3e9b0fbaf72fcbde), UINT64_C(0x3ee9742e1ad8f9bf), UINT64_C(0x3f37a8bbd73d4768),
	UINT64_C(0x3f85ad9e8f9e3427), UINT64_C(0x3fd383103cb9fe28), UINT64_C(0x4021294a6dce17a4), UINT64_C(0x406ea08649968e16),
	UINT64_C(0x40bbe8fc8f4a6e53), UINT64_C(0x410902e597953085), UINT64_C(0x4155ee79558d36b5), UINT64_C(0x41a2abef57a7686a),
	UINT64_C(0x41ef3b7ec8a7f5bd), UINT64_C(0x423b9d5e70904c19), UINT64_C(0x4287d1c4b58a4694), UINT64_C(0x42d3d8e79cd0a3dc),
	UINT64_C(0x431fb2fccb94cb58), UINT64_C(0x436b603987e1eb16), UINT64_C(0x43b6e0d2b97d77d2), UINT64_C(0x440234fceac51879),
	UINT64_C(0x444d5cec498a060f), UINT64_C(0x449858d4a7e9e926), UINT64_C(0x44e328e97d253d70), UINT64_C(0x452dcd5de673444e),
	UINT64_C(0x45784664a7d38ec4), UINT64_C(0x45c294302cdd273e), UINT64_C(0x460cb6f2898b6362), UINT64_C(0x4656aedd7b086621),
	UINT64_C(0x46a07c22687559e4), UINT64_C(0x46ea1ef263b06ae5), UINT64_C(0x4733977e2a188933), UINT64_C(0x477ce5f6254efa55),
	UINT64_C(0x47c60a8a6bf6c1af), UINT64_C(0x480f056ac271e763), UINT64_C(0x4857d6c69b9ca4b3), UINT64_C(0x48a07ecd19867d3f),
	UINT64_C(0x48e8fdad0e294c0b), UINT64_C(0x49315394fc1e4b47), UINT64_C(0x497980b317511db9), UINT64_C(0x49c1853545b0e07d),
	UINT64_C(0x4a0961491fdf4bb9), UINT64_C(0x4a51151bf1dde8c5), UINT64_C(0x4a98a0dabbb9644d), UINT64_C(0x4ae004b2323302a9),
	UINT64_C(0x4b2740cebf683caf), UINT64_C(0x4b6e555c83788b1a), UINT64_C(0x4bb54287552966a5), UINT64_C(0x4bfc087ac28882bc),
	UINT64_C(0x4c42a762118c48a5), UINT64_C(0x4c891f6840b298e2), UINT64_C(0x4ccf70b8079dd890), UINT64_C(0x4d159b7bd7b0503e),
	UINT64_C(0x4d5b9fdddca5e1e2), UINT64_C(0x4da17e07fd2c1b3b), UINT64_C(0x4de73623db78aa1b), UINT64_C(0x4e2cc85ad5de37c6),
	UINT64_C(0x4e7234d6075fb0a8), UINT64_C(0x4eb77bbe4841fd74), UINT64_C(0x4efc9d3c2e9c32cd), UINT64_C(0x4f4199780ee63c54),
	UINT64_C(0x4f867099fc86081b), UINT64_C(0x4fcb22c9ca5b3743), UINT64_C(0x500fb02f0b495888), UINT64_C(0x505418f112c0b16b),
	UINT64_C(0x50985d36f5459a9d), UINT64_C(0x50dc7d2788f6742f), UINT64_C(0x512078e966103604), UINT64_C(0x516450a2e771a104),
	UINT64_C(0x51a8047a2b1d1546), UINT64_C(0x51eb949512b9119b), UINT64_C(0x522f0119440f60ac), UINT64_C(0x52724a2c298af7cf),
	UINT64_C(0x52b56ff2f2b48bb7), UINT64_C(0x52f8729294addf0d), UINT64_C(0x533b522fcaabceed), UINT64_C(0x537e0eef166f2129),
	UINT64_C(0x53c0a8f4c0bc185f), UINT64_C(0x54032064d9d0d173), UINT64_C(0x5445756339da6e72), UINT64_C(0x5487a81381691272),
	UINT64_C(0x54c9b89919e2b220), UINT64_C(0x550ba71735f4bc94), UINT64_C(0x554d73b0d204a013), UINT64_C(0x558f1e88b49f2e26),
	UINT64_C(0x55d0a7c16ee6e283), UINT64_C(0x56120f7d5d01103f), UINT64_C(0x565355dea681f8a4), UINT64_C(0x56947b073ed7cee3),
	UINT64_C(0x56d57f18e5b4ac1b), UINT64_C(0x57166235277776b4), UINT64_C(0x5757247d5d93c076), UINT64_C(0x5797c612aef89e4d),
	UINT64_C(0x57d8471610767d01), UINT64_C(0x5818a7a84523f5c7), UINT64_C(0x5858e7e9dec1a5d3), UINT64_C(0x589907fb3e1d0bc4),
};

/* ---- primitives */

static inline uint64_t
read_le64(const uint8_t *p)
{
	return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16 |
		(uint64_t) p[3] << 24 | (uint64_t) p[4] << 32 | (uint64_t) p[5] << 40 |
		(uint64_t) p[6] << 48 | (uint64_t) p[7] << 56;
}

/* The per-token keys of the mix: the digest's four little-endian words. */
typedef struct MixKey
{
	uint64_t	k[4];
	const uint64_t *base;		/* shard positions: every node's token draw */
	uint64_t	salt;			/* shard positions: the position's key */
} MixKey;

static inline MixKey
mix_key(const uint8_t digest[PLACEMENT_DIGEST_LEN])
{
	MixKey		key;

	for (int i = 0; i < 4; i++)
		key.k[i] = read_le64(digest + 8 * i);
	key.base = NULL;
	key.salt = 0;
	return key;
}

/*
 * A keyed bijection of the 64-bit prefix: splitmix64's finaliser with key
 * words injected before each multiply round.  Each step (xor, add, xorshift,
 * odd multiply) is invertible, so for a uniformly random key every prefix's
 * draw is uniform: no node id is better than another on average.
 */
static inline uint64_t
mix(const MixKey *key, uint64_t p)
{
	return placement_mix1(key->k, p);
}

/*
 * A shard position's draw of a node: a keyed bijection of the node's token
 * draw (two odd multiplies and a xorshift), so each position ranks the
 * nodes in its own order while the costly keyed mix runs once per node and
 * token, not once per position.
 */
static inline uint64_t
position_mix(uint64_t base, uint64_t salt)
{
	return placement_position_mix1(base, salt);
}


/* -ln(m / 2^53) in Q57, for m in [1, 2^53]. */
static inline uint64_t
neg_ln_q57(uint64_t m)
{
	int			k = 63 - __builtin_clzll(m);
	uint64_t	y = m << (63 - k);	/* Q63, top bit set */
	int			i = (int) ((y >> 55) & 0xff);
	uint64_t	z = (uint64_t) (((u128) y * ln_recip[i]) >> 63);
	int64_t		e = (int64_t) (z - (UINT64_C(1) << 63));	/* |e| <= 2^54 */
	int64_t		e2 = (int64_t) (((s128) e * e) >> 63);
	int64_t		e3 = (int64_t) (((s128) e2 * e) >> 63);
	int64_t		e4 = (int64_t) (((s128) e3 * e) >> 63);
	int64_t		e5 = (int64_t) (((s128) e4 * e) >> 63);
	int64_t		e6 = (int64_t) (((s128) e5 * e) >> 63);
	int64_t		lnz = e - e2 / 2 + e3 / 3 - e4 / 4 + e5 / 5 - e6 / 6;
	s128		ln_y = (s128) ln_of_recip[i] + lnz;
	s128		neg = (s128) (53 - k) * LN2_Q63 - ln_y;

	if (neg <= 0)
		return 0;
	return (uint64_t) ((neg + 32) >> 6);
}

/*
 * A lower bound of neg_ln_q57(m) without a logarithm: -ln(u) >= 1 - u, less
 * 4 units for neg_ln_q57's rounding (its error is below one unit).  Tight
 * where it matters: the candidates that can still enter the best list have
 * u close to 1.
 */
static inline uint64_t
neg_ln_q57_lower(uint64_t m)
{
	return placement_neg_ln_lower1(m);
}

static inline double
weight_scale(double weight)
{
	return (1.0 / weight) * 0x1p-57;
}

/* ---- the set */

bool
placement_weight_ok(double weight)
{
	return isfinite(weight) && weight > 0 && isfinite(1.0 / weight) &&
		weight_scale(weight) > 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

static inline size_t
align_up(size_t off)
{
	return (off + 15) & ~(size_t) 15;
}

PlacementSet *
placement_prepare(const PlacementNode *nodes, int n, bool use_tags,
				  void *(*alloc) (size_t), void (*dealloc) (void *))
{
	size_t		off_prefix,
				off_scale,
				off_tag,
				off_nodes,
				total;
	char	   *base;
	PlacementSet *set;

	if (n < 0 || (n > 0 && nodes == NULL))
		return NULL;
	for (int i = 0; i < n; i++)
		if (!placement_weight_ok(nodes[i].weight))
			return NULL;

	off_prefix = align_up(sizeof(PlacementSet));
	off_scale = align_up(off_prefix + (size_t) n * sizeof(uint64_t));
	off_tag = align_up(off_scale + (size_t) n * sizeof(double));
	off_nodes = align_up(off_tag + (size_t) n * sizeof(uint64_t));
	total = off_nodes + (size_t) n * sizeof(PlacementNode);
	base = alloc(total);
	if (base == NULL)
		return NULL;

	set = (PlacementSet *) base;
	set->n = n;
	set->use_tags = use_tags;
	set->uniform = true;
	set->alloc = alloc;
	set->dealloc = dealloc;
	set->prefix = (uint64_t *) (base + off_prefix);
	set->scale = (double *) (base + off_scale);
	set->tag = (uint64_t *) (base + off_tag);
	set->nodes = (PlacementNode *) (base + off_nodes);
	set->dom = NULL;
	set->dom_start = set->dom_member = NULL;
	set->dom_prefix = NULL;
	set->dom_max = 0;
	if (n > 0)
		memcpy(set->nodes, nodes, (size_t) n * sizeof(PlacementNode));
	for (int i = 0; i < n; i++)
	{
		set->prefix[i] = read_le64(nodes[i].id);
		set->scale[i] = weight_scale(nodes[i].weight);
		set->tag[i] = nodes[i].tag;
		if (nodes[i].weight != nodes[0].weight)
			set->uniform = false;
	}

	/* Count distinct tags: choose skips futile passes when there are few. */
	set->wsum = 0;
	for (int i = 0; i < n; i++)
		set->wsum += nodes[i].weight;
	set->ntags = n;
	if (use_tags && n > 0)
	{
		uint64_t   *tmp = alloc((size_t) n * sizeof(uint64_t));

		if (tmp == NULL)
		{
			dealloc(base);
			return NULL;
		}
		memcpy(tmp, set->tag, (size_t) n * sizeof(uint64_t));
		qsort(tmp, (size_t) n, sizeof(uint64_t), cmp_u64);
		set->ntags = 1;
		for (int i = 1; i < n; i++)
			if (tmp[i] != tmp[i - 1])
				set->ntags++;
		dealloc(tmp);
	}
	return set;
}

void
placement_free(PlacementSet *set)
{
	if (set == NULL)
		return;
	if (set->dom != NULL)
	{
		placement_free(set->dom);
		set->dealloc(set->dom_start);
	}
	set->dealloc(set);
}

int
placement_set_size(const PlacementSet *set)
{
	return set->n;
}

const PlacementNode *
placement_set_node(const PlacementSet *set, int i)
{
	return &set->nodes[i];
}

/* ---- per-token functions */

void
placement_digest(const uint8_t seed[PLACEMENT_SEED_LEN],
				 const uint8_t key[PLACEMENT_ID_LEN],
				 uint8_t digest[PLACEMENT_DIGEST_LEN])
{
	crypto_generichash(digest, PLACEMENT_DIGEST_LEN, key, PLACEMENT_ID_LEN,
					   seed, PLACEMENT_SEED_LEN);
}

uint64_t
placement_draw(const uint8_t digest[PLACEMENT_DIGEST_LEN],
			   const uint8_t id[PLACEMENT_ID_LEN])
{
	MixKey		key = mix_key(digest);

	return mix(&key, read_le64(id));
}

static inline double
cost_of(uint64_t m, double scale)
{
	return (double) (int64_t) neg_ln_q57(m) * scale;
}

double
placement_score(const uint8_t digest[PLACEMENT_DIGEST_LEN],
				const PlacementNode *node)
{
	uint64_t	m = (placement_draw(digest, node->id) >> 11) + 1;

	return -cost_of(m, weight_scale(node->weight));
}

uint64_t
placement_tag(const void *data, size_t len)
{
	uint8_t		h[8];
	uint64_t	tag;

	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	tag = read_le64(h);
	return tag == 0 ? 1 : tag;
}

/* ---- selection */

/* Is a better than b in the rendezvous order? */
static inline bool
better(const PlacementSet *set, const Entry *a, const Entry *b)
{
	if (a->cost != b->cost)
		return a->cost < b->cost;
	if (a->m != b->m)
		return a->m > b->m;
	return memcmp(set->nodes[a->idx].id, set->nodes[b->idx].id,
				  PLACEMENT_ID_LEN) < 0;
}

/* The heap's root (h[0]) is its worst entry. */
static inline void
sift_up(const PlacementSet *set, Entry *h, int i)
{
	Entry		e = h[i];

	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!better(set, &h[parent], &e))
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = e;
}

static inline void
sift_down(const PlacementSet *set, Entry *h, int size, int i)
{
	Entry		e = h[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= size)
			break;
		if (c + 1 < size && better(set, &h[c], &h[c + 1]))
			c++;				/* the worse child */
		if (!better(set, &e, &h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = e;
}

/* Keep the best L candidates (equal weights: order by m, then id). */
static inline uint64_t
node_draw(const MixKey *key, const uint64_t *base, uint64_t salt, const PlacementSet *set, int i)
{
	if (base != NULL)
		return position_mix(base[i], salt);
	return mix(key, set->prefix[i]);
}

static int
scan_uniform(const PlacementSet *set, const MixKey *key, Entry *h, int L)
{
	const uint64_t *base = key->base;
	const uint64_t salt = key->salt;
	int			size = 0;
	uint64_t	root_m = 0;

	for (int i = 0; i < set->n; i++)
	{
		uint64_t	m = (node_draw(key, base, salt, set, i) >> 11) + 1;
		Entry		e;

		if (size == L && m < root_m)
			continue;
		e.cost = 0;
		e.m = m;
		e.idx = i;
		if (size < L)
		{
			h[size] = e;
			sift_up(set, h, size++);
		}
		else if (better(set, &e, &h[0]))
		{
			h[0] = e;
			sift_down(set, h, size, 0);
		}
		else
			continue;
		root_m = h[0].m;
	}
	return size;
}

/* Keep the best L candidates by cost, computing ln only when it may matter. */
static int
scan_weighted(const PlacementSet *set, const MixKey *key, Entry *h, int L)
{
	const uint64_t *base = key->base;
	const uint64_t salt = key->salt;
	int			size = 0;
	double		root_cost = 0;

	for (int i = 0; i < set->n; i++)
	{
		uint64_t	m = (node_draw(key, base, salt, set, i) >> 11) + 1;
		double		scale = set->scale[i];
		Entry		e;

		if (size == L &&
			(double) (int64_t) neg_ln_q57_lower(m) * scale > root_cost)
			continue;
		e.cost = cost_of(m, scale);
		e.m = m;
		e.idx = i;
		if (size < L)
		{
			h[size] = e;
			sift_up(set, h, size++);
		}
		else if (better(set, &e, &h[0]))
		{
			h[0] = e;
			sift_down(set, h, size, 0);
		}
		else
			continue;
		root_cost = h[0].cost;
	}
	return size;
}

static inline bool
is_taken(const PlacementSet *set, int idx, const PlacementTaken *taken, int ntaken)
{
	for (int t = 0; t < ntaken; t++)
		if (read_le64(taken[t].id) == set->prefix[idx] &&
			memcmp(taken[t].id, set->nodes[idx].id, PLACEMENT_ID_LEN) == 0)
			return true;
	return false;
}

static inline bool
tag_used(const PlacementSet *set, uint64_t tag, const PlacementTaken *taken,
		 int ntaken, const int *out, int nout)
{
	for (int t = 0; t < ntaken; t++)
		if (taken[t].tag == tag)
			return true;
	for (int j = 0; j < nout; j++)
		if (set->tag[out[j]] == tag)
			return true;
	return false;
}

/*
 * Collect the prefix of the rendezvous order within a threshold: with equal
 * weights every candidate with m >= min_m, else every one with cost <=
 * max_cost.  Returns how many (unsorted), or -1 if more than cap.
 */
static int
collect_uniform(const PlacementSet *set, const MixKey *key, uint64_t min_m,
				Entry *buf, int cap)
{
	const uint64_t *base = key->base;
	const uint64_t salt = key->salt;
	int			size = 0;

	if (base != NULL)
	{
		int32_t		idx[STACK_ENTRIES];

		size = placement_collect_min(base, set->n, salt, min_m, idx, cap < STACK_ENTRIES ? cap : STACK_ENTRIES);
		for (int j = 0; j < size; j++)
		{
			buf[j].cost = 0;
			buf[j].m = (position_mix(base[idx[j]], salt) >> 11) + 1;
			buf[j].idx = idx[j];
		}
		return size;
	}

	for (int i = 0; i < set->n; i++)
	{
		uint64_t	m = (node_draw(key, base, salt, set, i) >> 11) + 1;

		if (m < min_m)
			continue;
		if (size == cap)
			return -1;
		buf[size].cost = 0;
		buf[size].m = m;
		buf[size].idx = i;
		size++;
	}
	return size;
}

static int
collect_weighted(const PlacementSet *set, const MixKey *key, double max_cost,
				 Entry *buf, int cap)
{
	const uint64_t *base = key->base;
	const uint64_t salt = key->salt;
	int			size = 0;

	if (base != NULL)
	{
		int32_t		idx[4 * STACK_ENTRIES];
		int			n = placement_collect_bound(base, set->scale, set->n, salt, max_cost,
												idx, 4 * STACK_ENTRIES);

		if (n < 0)
			return -1;
		for (int j = 0; j < n; j++)
		{
			uint64_t	m = (position_mix(base[idx[j]], salt) >> 11) + 1;
			double		cost = cost_of(m, set->scale[idx[j]]);

			if (cost > max_cost)
				continue;
			if (size == cap)
				return -1;
			buf[size].cost = cost;
			buf[size].m = m;
			buf[size].idx = idx[j];
			size++;
		}
		return size;
	}

	for (int i = 0; i < set->n; i++)
	{
		uint64_t	m = (node_draw(key, base, salt, set, i) >> 11) + 1;
		double		scale = set->scale[i];
		double		cost;

		if ((double) (int64_t) neg_ln_q57_lower(m) * scale > max_cost)
			continue;
		cost = cost_of(m, scale);
		if (cost > max_cost)
			continue;
		if (size == cap)
			return -1;
		buf[size].cost = cost;
		buf[size].m = m;
		buf[size].idx = i;
		size++;
	}
	return size;
}

/* A heap with the best entry at the root, for taking entries best first. */
static inline void
sift_down_best(const PlacementSet *set, Entry *h, int size, int i)
{
	Entry		e = h[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= size)
			break;
		if (c + 1 < size && better(set, &h[c + 1], &h[c]))
			c++;				/* the better child */
		if (!better(set, &h[c], &e))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = e;
}

/*
 * The greedy: take entries best first (a heap, so only as many as needed
 * are ordered), skipping taken ids and used tags.  Returns how many chosen.
 * Reorders h.
 */
static int
greedy(const PlacementSet *set, Entry *h, int size,
	   const PlacementTaken *taken, int ntaken, int want, int *out)
{
	int			nout = 0;

	for (int i = size / 2 - 1; i >= 0; i--)
		sift_down_best(set, h, size, i);
	while (size > 0 && nout < want)
	{
		int			idx = h[0].idx;

		h[0] = h[--size];
		sift_down_best(set, h, size, 0);
		if (ntaken > 0 && is_taken(set, idx, taken, ntaken))
			continue;
		if (set->use_tags &&
			tag_used(set, set->tag[idx], taken, ntaken, out, nout))
			continue;
		out[nout++] = idx;
	}
	return nout;
}

/*
 * Fast path: the prefix of the order within a threshold chosen so that about
 * `expect` candidates pass (the draws are uniform), sorted, then the greedy.
 * Returns the number chosen, or -1 when the threshold prefix did not settle
 * the answer (too many passed, or the greedy ran out): the caller then uses
 * the heap path, which is exact for any input.  Whatever the thresholds, the
 * answer is the greedy over the full order: they only decide the speed.
 */
static int
choose_by_threshold(const PlacementSet *set, const MixKey *key,
					const PlacementTaken *taken, int ntaken, int want,
					int expect, int *out)
{
	Entry		buf[STACK_ENTRIES];
	int			n = set->n;

	for (int round = 0; round < 2 && expect < n / 2; round++, expect *= 4)
	{
		int			size;
		int			nout;

		if (set->uniform)
		{
			uint64_t	below = (UINT64_C(1) << 53) / (uint64_t) n * (uint64_t) expect;

			size = collect_uniform(set, key, (UINT64_C(1) << 53) - below + 1,
								   buf, STACK_ENTRIES);
		}
		else
			size = collect_weighted(set, key, expect / set->wsum, buf, STACK_ENTRIES);
		if (size < 0)
			return -1;
		nout = greedy(set, buf, size, taken, ntaken, want, out);
		if (nout == want)
			return nout;
	}
	return -1;
}

static int
choose_keyed(const PlacementSet *set, const MixKey *keyp,
			 const PlacementTaken *taken, int ntaken, int want, int *out)
{
	Entry		stack_heap[STACK_ENTRIES];
	Entry	   *heap = stack_heap;
	int			heap_cap = STACK_ENTRIES;
	MixKey		key = *keyp;
	int			n = set->n;
	int			L;
	int			nout = 0;

	if (want <= 0 || n == 0)
		return 0;
	if (ntaken < 0 || taken == NULL)
		ntaken = 0;

	/*
	 * Without tags, only taken ids are skipped: want + ntaken suffice.  With
	 * tags, start with a margin; with too few distinct tags the greedy needs
	 * every candidate, so go straight to all of them.
	 */
	if (!set->use_tags)
		L = want + ntaken;
	else if (set->ntags <= want + ntaken)
		L = n;
	else
		L = 4 * want + 2 * ntaken;
	if (L > n || L < 0)
		L = n;

	/*
	 * Usually one threshold pass settles it (see choose_by_threshold):
	 * expect about twice the picks the greedy may need without tags, three
	 * times with them.
	 */
	if (L < n)
	{
		int			expect = set->use_tags ? 3 * want + 2 * ntaken : 2 * (want + ntaken);

		if (expect < n / 2 && expect <= STACK_ENTRIES / 8)
		{
			nout = choose_by_threshold(set, &key, taken, ntaken, want, expect, out);
			if (nout >= 0)
				return nout;
		}
	}

	/* The general path: a heap of the best L, doubling L when needed. */
	for (;;)
	{
		int			size;

		if (L > heap_cap)
		{
			if (heap != stack_heap)
				set->dealloc(heap);
			heap = set->alloc((size_t) L * sizeof(Entry));
			if (heap == NULL)
				return -1;
			heap_cap = L;
		}
		size = set->uniform ? scan_uniform(set, &key, heap, L)
			: scan_weighted(set, &key, heap, L);
		nout = greedy(set, heap, size, taken, ntaken, want, out);
		if (nout == want || L == n)
			break;
		L = (L > n / 2) ? n : 2 * L;
	}
	if (heap != stack_heap)
		set->dealloc(heap);
	return nout;
}

int
placement_choose(const PlacementSet *set,
				 const uint8_t digest[PLACEMENT_DIGEST_LEN],
				 const PlacementTaken *taken, int ntaken,
				 int want, int *out)
{
	MixKey		key = mix_key(digest);

	return choose_keyed(set, &key, taken, ntaken, want, out);
}

/* ---- shard positions (see placement.h) */

static uint64_t
position_salt(const uint8_t digest[PLACEMENT_DIGEST_LEN], int position)
{
	uint64_t	x = read_le64(digest + 8) ^ ((uint64_t) (position + 1) * UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

uint64_t
placement_position_draw(const uint8_t digest[PLACEMENT_DIGEST_LEN], int position,
						const uint8_t id[PLACEMENT_ID_LEN])
{
	return position_mix(placement_draw(digest, id), position_salt(digest, position));
}

static int	choose_shards_domains(const PlacementSet *set,
								  const uint8_t digest[PLACEMENT_DIGEST_LEN],
								  const PlacementTaken *taken, int ntaken,
								  int nshards, int *out);
static int	choose_one_domains(const PlacementSet *set,
							   const uint8_t digest[PLACEMENT_DIGEST_LEN], int position,
							   const PlacementTaken *taken, int ntaken, int *out);

/* Every node's token draw, once per token; NULL if allocation failed. */
static uint64_t *
base_draws(const PlacementSet *set, const MixKey *key)
{
	uint64_t   *base = set->alloc(sizeof(uint64_t) * (size_t) set->n);

	if (base != NULL)
		placement_mix_many(key->k, set->prefix, set->n, base);
	return base;
}

int
placement_choose_position(const PlacementSet *set,
						  const uint8_t digest[PLACEMENT_DIGEST_LEN], int position,
						  const PlacementTaken *taken, int ntaken, int *out)
{
	MixKey		key = mix_key(digest);
	int			got;

	if (set->n == 0)
		return 0;
	if (ntaken < 0 || taken == NULL)
		ntaken = 0;
	if (set->dom != NULL)
		return choose_one_domains(set, digest, position, taken, ntaken, out);
	key.base = base_draws(set, &key);
	if (key.base == NULL)
		return -1;
	key.salt = position_salt(digest, position);
	got = choose_keyed(set, &key, taken, ntaken, 1, out);
	set->dealloc((void *) key.base);
	return got;
}

int
placement_choose_shards(const PlacementSet *set,
						const uint8_t digest[PLACEMENT_DIGEST_LEN],
						const PlacementTaken *taken, int ntaken,
						int nshards, int *out)
{
	MixKey		key = mix_key(digest);
	PlacementTaken *all;
	int			filled = 0;

	if (nshards <= 0 || set->n == 0)
		return 0;
	if (ntaken < 0 || taken == NULL)
		ntaken = 0;
	if (set->dom != NULL)
		return choose_shards_domains(set, digest, taken, ntaken, nshards, out);
	all = set->alloc(sizeof(PlacementTaken) * (size_t) (ntaken + nshards));
	key.base = all ? base_draws(set, &key) : NULL;
	if (key.base == NULL)
	{
		if (all)
			set->dealloc(all);
		return -1;
	}
	if (ntaken > 0)
		memcpy(all, taken, sizeof(PlacementTaken) * (size_t) ntaken);
	for (; filled < nshards; filled++)
	{
		int			got;

		key.salt = position_salt(digest, filled);
		got = choose_keyed(set, &key, all, ntaken + filled, 1, &out[filled]);
		if (got != 1)
		{
			if (got < 0)
				filled = -1;
			break;
		}
		memcpy(all[ntaken + filled].id, set->nodes[out[filled]].id, PLACEMENT_ID_LEN);
		all[ntaken + filled].tag = set->tag[out[filled]];
	}
	set->dealloc((void *) key.base);
	set->dealloc(all);
	return filled;
}

/* ---- failure domains (see placement.h, "Failure domains") */

/* The domain level's keys: the digest's words, xored with fixed constants. */
static const uint64_t domain_key_xor[4] = {
	UINT64_C(0xa0761d6478bd642f), UINT64_C(0xe7037ed1a0b428db),
	UINT64_C(0x8ebc6af09c88c6e3), UINT64_C(0x589965cc75374cc3)
};

/* Domain orders use salts of positions 256.. (node orders use 0..254). */
#define DOMAIN_SALT_OFFSET 256

static inline void
domain_key(const uint8_t digest[PLACEMENT_DIGEST_LEN], uint64_t k[4])
{
	for (int i = 0; i < 4; i++)
		k[i] = read_le64(digest + 8 * i) ^ domain_key_xor[i];
}

static inline void
domain_id(uint64_t tag, uint8_t id[PLACEMENT_ID_LEN])
{
	memset(id, 0, PLACEMENT_ID_LEN);
	for (int b = 0; b < 8; b++)
		id[b] = (uint8_t) (tag >> (8 * b));
}

uint64_t
placement_domain_draw(const uint8_t digest[PLACEMENT_DIGEST_LEN], int position,
					  uint64_t tag)
{
	uint64_t	k[4];

	domain_key(digest, k);
	return position_mix(placement_mix1(k, tag),
						position_salt(digest, position + DOMAIN_SALT_OFFSET));
}

double
placement_draw_cost(uint64_t draw, double weight)
{
	return cost_of((draw >> 11) + 1, weight_scale(weight));
}

/* Sort key of the grouping: tag, then node id. */
typedef struct Member
{
	uint64_t	tag;
	int			idx;
	const uint8_t *id;
} Member;

static int
cmp_member(const void *a, const void *b)
{
	const Member *x = a,
			   *y = b;

	if (x->tag != y->tag)
		return (x->tag > y->tag) - (x->tag < y->tag);
	return memcmp(x->id, y->id, PLACEMENT_ID_LEN);
}

PlacementSet *
placement_prepare_domains(const PlacementNode *nodes, int n,
						  void *(*alloc) (size_t), void (*dealloc) (void *))
{
	PlacementSet *set = placement_prepare(nodes, n, true, alloc, dealloc);
	Member	   *mem;
	PlacementNode *dn;
	int			nd = 0;
	char	   *block;

	if (set == NULL || n == 0)
		return set;
	mem = alloc(sizeof(Member) * (size_t) n);
	dn = alloc(sizeof(PlacementNode) * (size_t) n);
	/* dom_start (n + 1), dom_member (n), dom_prefix (n), one block */
	block = alloc(align_up(sizeof(int) * (size_t) (2 * n + 1)) + sizeof(uint64_t) * (size_t) n);
	if (mem == NULL || dn == NULL || block == NULL)
		goto fail;
	for (int i = 0; i < n; i++)
	{
		mem[i].tag = set->tag[i];
		mem[i].idx = i;
		mem[i].id = set->nodes[i].id;
	}
	qsort(mem, (size_t) n, sizeof(Member), cmp_member);
	set->dom_start = (int *) block;
	set->dom_member = set->dom_start + (n + 1);
	set->dom_prefix = (uint64_t *) (block + align_up(sizeof(int) * (size_t) (2 * n + 1)));

	/*
	 * Domains in tag order, nodes by id inside: the weight sums are added in
	 * that order, so every anchor gets the same doubles whatever the order
	 * it listed the nodes in.
	 */
	for (int j = 0; j < n; j++)
	{
		if (j == 0 || mem[j].tag != mem[j - 1].tag)
		{
			set->dom_start[nd] = j;
			domain_id(mem[j].tag, dn[nd].id);
			dn[nd].tag = mem[j].tag;
			dn[nd].weight = 0;
			nd++;
		}
		dn[nd - 1].weight += set->nodes[mem[j].idx].weight;
		set->dom_member[j] = mem[j].idx;
		set->dom_prefix[j] = set->prefix[mem[j].idx];
	}
	set->dom_start[nd] = n;
	for (int d = 0; d < nd; d++)
	{
		int			size = set->dom_start[d + 1] - set->dom_start[d];

		if (!placement_weight_ok(dn[d].weight))
			goto fail;
		if (size > set->dom_max)
			set->dom_max = size;
	}
	set->dom = placement_prepare(dn, nd, true, alloc, dealloc);
	if (set->dom == NULL)
		goto fail;
	dealloc(mem);
	dealloc(dn);
	return set;

fail:
	if (mem)
		dealloc(mem);
	if (dn)
		dealloc(dn);
	if (block)
		dealloc(block);
	set->dom_start = NULL;
	placement_free(set);
	return NULL;
}

int
placement_set_domains(const PlacementSet *set)
{
	return set->dom == NULL ? 0 : set->dom->n;
}

/*
 * Scratch of one two-level call: every domain's token draw, the excluded
 * domains (a bitmap by domain index) and one domain's node draws.  On the
 * stack unless the set is large.
 */
#define SCRATCH_WORDS 640

typedef struct DomainScratch
{
	uint64_t   *dbase;			/* ndomains */
	uint64_t   *excl;			/* (ndomains + 63) / 64 */
	uint64_t   *draws;			/* dom_max */
	int			nexcl;
	void	   *heap;			/* what was allocated, or NULL */
	uint64_t	stack[SCRATCH_WORDS];
} DomainScratch;

/* The domain index of a tag, or -1 (the domains are in tag order). */
static int
domain_of_tag(const PlacementSet *set, uint64_t tag)
{
	const uint64_t *t = set->dom->tag;
	int			lo = 0,
				hi = set->dom->n - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (t[mid] == tag)
			return mid;
		if (t[mid] < tag)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static inline bool
excluded(const DomainScratch *ds, int d)
{
	return (ds->excl[d >> 6] >> (d & 63)) & 1;
}

static inline void
exclude(DomainScratch *ds, int d)
{
	if (d >= 0 && !excluded(ds, d))
	{
		ds->excl[d >> 6] |= UINT64_C(1) << (d & 63);
		ds->nexcl++;
	}
}

static bool
domain_scratch_init(const PlacementSet *set, const uint8_t digest[PLACEMENT_DIGEST_LEN],
					const PlacementTaken *taken, int ntaken, DomainScratch *ds)
{
	int			nd = set->dom->n;
	int			words = (nd + 63) / 64;
	size_t		need = (size_t) nd + (size_t) words + (size_t) set->dom_max;
	uint64_t	k[4];
	uint64_t   *w = ds->stack;

	ds->heap = NULL;
	if (need > SCRATCH_WORDS)
	{
		ds->heap = set->alloc(sizeof(uint64_t) * need);
		if (ds->heap == NULL)
			return false;
		w = ds->heap;
	}
	ds->dbase = w;
	ds->excl = w + nd;
	ds->draws = w + nd + words;
	memset(ds->excl, 0, sizeof(uint64_t) * (size_t) words);
	ds->nexcl = 0;
	domain_key(digest, k);
	placement_mix_many(k, set->dom->prefix, nd, ds->dbase);
	for (int t = 0; t < ntaken; t++)
		exclude(ds, domain_of_tag(set, taken[t].tag));
	return true;
}

static void
domain_scratch_free(const PlacementSet *set, DomainScratch *ds)
{
	if (ds->heap != NULL)
		set->dealloc(ds->heap);
}

/* Entry of domain d for a position salt: its draw and cost. */
static inline Entry
domain_entry(const PlacementSet *dom, const DomainScratch *ds, uint64_t salt, int d)
{
	Entry		e;

	e.idx = d;
	e.m = (position_mix(ds->dbase[d], salt) >> 11) + 1;
	e.cost = dom->uniform ? 0 : cost_of(e.m, dom->scale[d]);
	return e;
}

/*
 * The best domain of a position's order that is not excluded, or -1.  Like
 * the flat engine's fast path, a threshold lets through the prefix of the
 * order that about `expect` domains pass (one vector compare each); if a
 * free domain is among them it is the best one, else every domain is
 * ranked.  So the answer is the definition's whatever the threshold.
 */
static int
best_domain(const PlacementSet *set, const DomainScratch *ds, uint64_t salt)
{
	const PlacementSet *dom = set->dom;
	int			nd = dom->n;
	int			expect = 4 + 2 * ds->nexcl;
	Entry		best = {0, 0, -1};

	if (nd >= 32 && 4 * expect < nd)
	{
		int32_t		idx[64];
		int			cnt;
		double		max_cost = 0;

		if (dom->uniform)
		{
			uint64_t	below = (UINT64_C(1) << 53) / (uint64_t) nd * (uint64_t) expect;

			cnt = placement_collect_min(ds->dbase, nd, salt, (UINT64_C(1) << 53) - below + 1,
										idx, 64);
		}
		else
		{
			max_cost = expect / dom->wsum;
			cnt = placement_collect_bound(ds->dbase, dom->scale, nd, salt, max_cost, idx, 64);
		}
		for (int j = 0; j < cnt; j++)
		{
			Entry		e;

			if (excluded(ds, idx[j]))
				continue;
			/* the cheap bound first: ln only for who may win */
			if (!dom->uniform && best.idx >= 0 &&
				(double) (int64_t) neg_ln_q57_lower((position_mix(ds->dbase[idx[j]], salt) >> 11) + 1) *
				dom->scale[idx[j]] > best.cost)
				continue;
			e = domain_entry(dom, ds, salt, idx[j]);
			if (!dom->uniform && e.cost > max_cost)
				continue;
			if (best.idx < 0 || better(dom, &e, &best))
				best = e;
		}
		if (best.idx >= 0)
			return best.idx;
	}
	for (int d = 0; d < nd; d++)
	{
		Entry		e;

		if (excluded(ds, d))
			continue;
		e = domain_entry(dom, ds, salt, d);
		if (best.idx < 0 || better(dom, &e, &best))
			best = e;
	}
	return best.idx;
}

/*
 * One position, two levels: the best domain of the position's domain order
 * that is not excluded, then the best node of the position's node order
 * inside it that is not taken (the flat order restricted to the domain).  A
 * domain whose nodes are all taken is excluded and the next one tried.
 * Returns 1 (*out = set index) or 0 if no domain has a free node.  Does not
 * record the choice.
 */
static int
choose_position_domains(const PlacementSet *set, const uint8_t digest[PLACEMENT_DIGEST_LEN],
						const MixKey *nkey, int position, DomainScratch *ds,
						const PlacementTaken *taken, int ntaken, int *out)
{
	uint64_t	nsalt = position_salt(digest, position);
	uint64_t	dsalt = position_salt(digest, position + DOMAIN_SALT_OFFSET);

	for (;;)
	{
		int			d = best_domain(set, ds, dsalt);
		int			start,
					size;
		Entry		best = {0, 0, -1};

		if (d < 0)
			return 0;
		start = set->dom_start[d];
		size = set->dom_start[d + 1] - start;
		if (size > 16)
			placement_mix_many(nkey->k, set->dom_prefix + start, size, ds->draws);
		else
			for (int j = 0; j < size; j++)
				ds->draws[j] = placement_mix1(nkey->k, set->dom_prefix[start + j]);
		for (int j = 0; j < size; j++)
		{
			Entry		e;

			e.idx = set->dom_member[start + j];
			e.m = (position_mix(ds->draws[j], nsalt) >> 11) + 1;
			if (set->uniform)
				e.cost = 0;
			else if (best.idx >= 0 &&
					 (double) (int64_t) neg_ln_q57_lower(e.m) * set->scale[e.idx] > best.cost)
				continue;		/* cannot beat best: skip the ln */
			else
				e.cost = cost_of(e.m, set->scale[e.idx]);
			if (best.idx >= 0 && !better(set, &e, &best))
				continue;
			if (ntaken > 0 && is_taken(set, e.idx, taken, ntaken))
				continue;
			best = e;
		}
		if (best.idx >= 0)
		{
			*out = best.idx;
			return 1;
		}
		/* every node of d is taken: the next domain of the order */
		exclude(ds, d);
	}
}

static int
choose_shards_domains(const PlacementSet *set, const uint8_t digest[PLACEMENT_DIGEST_LEN],
					  const PlacementTaken *taken, int ntaken, int nshards, int *out)
{
	MixKey		key = mix_key(digest);
	DomainScratch ds;
	PlacementTaken stack_all[16];
	PlacementTaken *all = stack_all;
	int			filled = 0;

	if (ntaken + nshards > 16)
	{
		all = set->alloc(sizeof(PlacementTaken) * (size_t) (ntaken + nshards));
		if (all == NULL)
			return -1;
	}
	if (!domain_scratch_init(set, digest, taken, ntaken, &ds))
	{
		if (all != stack_all)
			set->dealloc(all);
		return -1;
	}
	if (ntaken > 0)
		memcpy(all, taken, sizeof(PlacementTaken) * (size_t) ntaken);
	for (; filled < nshards; filled++)
	{
		if (choose_position_domains(set, digest, &key, filled, &ds,
									all, ntaken + filled, &out[filled]) != 1)
			break;
		memcpy(all[ntaken + filled].id, set->nodes[out[filled]].id, PLACEMENT_ID_LEN);
		all[ntaken + filled].tag = set->tag[out[filled]];
		exclude(&ds, domain_of_tag(set, set->tag[out[filled]]));
	}
	domain_scratch_free(set, &ds);
	if (all != stack_all)
		set->dealloc(all);
	return filled;
}

static int
choose_one_domains(const PlacementSet *set, const uint8_t digest[PLACEMENT_DIGEST_LEN],
				   int position, const PlacementTaken *taken, int ntaken, int *out)
{
	MixKey		key = mix_key(digest);
	DomainScratch ds;
	int			got;

	if (!domain_scratch_init(set, digest, taken, ntaken, &ds))
		return -1;
	got = choose_position_domains(set, digest, &key, position, &ds, taken, ntaken, out);
	domain_scratch_free(set, &ds);
	return got;
}
