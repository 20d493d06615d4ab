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
 * Selection.  One pass over the candidates keeps the best L of them in a
 * binary heap whose root is the worst kept one, so most candidates cost one
 * compare against the root.  With weights, a candidate is first checked
 * against a cheap lower bound of its cost (a 256-entry table of ln over the
 * draw's leading bits) and its exact logarithm computed only if it might
 * enter the heap.  Then the kept nodes are sorted and the shards taken
 * greedily in that order, skipping taken ids and repeated tags.  If the
 * best L run out first, L doubles (up to all candidates) and the pass is
 * redone, so the answer is always the greedy over the full rendezvous order.
 * Without tags L = want + ntaken always suffices.
 *
 * Fixed-point ln.  For m = (draw >> 11) + 1 in [1, 2^53], u = m / 2^53 and
 * cost = -ln(u) = (53 - k) ln 2 - ln(y), with k the position of m's top bit
 * and y = m / 2^k in [1, 2).  ln(y) = ln(z) - ln(r), where r ~ 1/c is a table
 * reciprocal for y's top 8 fraction bits (c the middle of that interval), so
 * z = y r is within 2^-9 of 1 and ln(z) is a short series, all in Q63
 * integers.  The result, in Q57, is accurate to about 2^-57 (the unit test
 * measures it against logl), far below the spacing of consecutive u, so it
 * is strictly increasing in m.  Tables come from tools in the test (their
 * values are checked there against integer arithmetic and logl).
 */
#include "placement.h"

#include <math.h>
#include <string.h>

#include <sodium.h>

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
	bool		use_tags;
	bool		uniform;		/* all weights equal: order by u alone */
	void	   *(*alloc) (size_t);
	void		(*dealloc) (void *);
	uint64_t   *prefix;			/* node id's first 8 bytes, little-endian */
	double	   *scale;			/* 2^-57 / weight */
	uint64_t   *tag;
	PlacementNode *nodes;
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

/* ln_upper[i] = ceil(ln(1 + (i + 1) / 256) * 2^63): ln(y) < it when y's top fraction bits are i. */
static const uint64_t ln_upper[256] = {
	UINT64_C(0x007fc02a8ac42f02), UINT64_C(0x00ff015358833c48), UINT64_C(0x017dc475f810a76e), UINT64_C(0x01fc0a8b0fc03e3d),
	UINT64_C(0x0279d48868d4ae9e), UINT64_C(0x02f72360fab62356), UINT64_C(0x0373f804f5f23300), UINT64_C(0x03f05361cf06600a),
	UINT64_C(0x046c366248f65ff1), UINT64_C(0x04e7a1ee7faf57eb), UINT64_C(0x056296ebf2393524), UINT64_C(0x05dd163d8cb73f12),
	UINT64_C(0x065720c3b238fae0), UINT64_C(0x06d0b75c465c6fb1), UINT64_C(0x0749dae2b6c2d485), UINT64_C(0x07c28c300458a999),
	UINT64_C(0x083acc1acc723899), UINT64_C(0x08b29b7751bd7075), UINT64_C(0x0929fb17850a0b7d), UINT64_C(0x09a0ebcb0de8e84a),
	UINT64_C(0x0a176e5f5323781e), UINT64_C(0x0a8d839f830c1fb5), UINT64_C(0x0b032c549ba861d9), UINT64_C(0x0b78694572b5a5ce),
	UINT64_C(0x0bed3b36bd896643), UINT64_C(0x0c61a2eb18cd907b), UINT64_C(0x0cd5a1231019d66e), UINT64_C(0x0d49369d256ab1b3),
	UINT64_C(0x0dbc6415d876d085), UINT64_C(0x0e2f2a47ade3a18b), UINT64_C(0x0ea189eb3659aeb0), UINT64_C(0x0f1383b7157972f5),
	UINT64_C(0x0f85186008b15331), UINT64_C(0x0ff64898edf55d56), UINT64_C(0x10671512ca596e2b), UINT64_C(0x10d77e7cd08e5967),
	UINT64_C(0x114785846742ac69), UINT64_C(0x11b72ad52f67a02a), UINT64_C(0x12266f190a5acb7e), UINT64_C(0x129552f81ff5234d),
	UINT64_C(0x1303d718e47fd2ff), UINT64_C(0x1371fc201e8f743c), UINT64_C(0x13dfc2b0ecc629cb), UINT64_C(0x144d2b6ccb7d1e68),
	UINT64_C(0x14ba36f39a55e55b), UINT64_C(0x1526e5e3a1b437a3), UINT64_C(0x159338d9982085d4), UINT64_C(0x15ff3070a793d3c9),
	UINT64_C(0x166acd4272ad50df), UINT64_C(0x16d60fe719d21c8e), UINT64_C(0x1740f8f54037a4ca), UINT64_C(0x17ab890210d9091c),
	UINT64_C(0x1815c0a14357ead7), UINT64_C(0x187fa06520c91091), UINT64_C(0x18e928de886d40ab), UINT64_C(0x19525a9cf456b477),
	UINT64_C(0x19bb362e7dfb8356), UINT64_C(0x1a23bc1fe2b5631a), UINT64_C(0x1a8becfc882f18c3), UINT64_C(0x1af3c94e80bff2d9),
	UINT64_C(0x1b5b519e8fb5a46f), UINT64_C(0x1bc286742d8cd62a), UINT64_C(0x1c2968558c18c0a4), UINT64_C(0x1c8ff7c79a9a21ad),
	UINT64_C(0x1cf6354e09c5dc49), UINT64_C(0x1d5c216b4fbb915c), UINT64_C(0x1dc1bca0abec7d61), UINT64_C(0x1e27076e2af2e5ea),
	UINT64_C(0x1e8c0252aa5a5fea), UINT64_C(0x1ef0adcbdc593653), UINT64_C(0x1f550a564b7b3708), UINT64_C(0x1fb9186d5e3e2a8e),
	UINT64_C(0x201cd88b5aa0398e), UINT64_C(0x20804b2969a081b6), UINT64_C(0x20e370bf9ab21a3b), UINT64_C(0x214649c4e721c6bf),
	UINT64_C(0x21a8d6af356e9641), UINT64_C(0x220b17f35c95aa32), UINT64_C(0x226d0e05275160be), UINT64_C(0x22ceb957574c1c08),
	UINT64_C(0x23301a5ba846decf), UINT64_C(0x23913182d333f5f8), UINT64_C(0x23f1ff3c9145e51c), UINT64_C(0x245283f79ef2cb45),
	UINT64_C(0x24b2c021beec73df), UINT64_C(0x2512b427bd0d46be), UINT64_C(0x25726075713a493c), UINT64_C(0x25d1c575c23a6139),
	UINT64_C(0x2630e392a88309f6), UINT64_C(0x268fbb3530faa9ad), UINT64_C(0x26ee4cc57fb0b5e5), UINT64_C(0x274c98aad28bd38f),
	UINT64_C(0x27aa9f4b83ee1f0f), UINT64_C(0x2808610d0d4fc77b), UINT64_C(0x2865de5409d0276c), UINT64_C(0x28c3178438bd84fb),
	UINT64_C(0x29200d008013a199), UINT64_C(0x297cbf2aeef141b7), UINT64_C(0x29d92e64c004d35f), UINT64_C(0x2a355b0e5bf05a14),
	UINT64_C(0x2a9145875ba4c5a0), UINT64_C(0x2aecee2e8ab4d8aa), UINT64_C(0x2b485561e99fc339), UINT64_C(0x2ba37b7eb01394a2),
	UINT64_C(0x2bfe60e14f27a791), UINT64_C(0x2c5905e5738f2a5f), UINT64_C(0x2cb36ae607c3e504), UINT64_C(0x2d0d903d36295d89),
	UINT64_C(0x2d6776446b287b13), UINT64_C(0x2dc11d545743c719), UINT64_C(0x2e1a85c4f1246bac), UINT64_C(0x2e73afed77a00d3a),
	UINT64_C(0x2ecc9c2473b79d83), UINT64_C(0x2f254abfba8f44f9), UINT64_C(0x2f7dbc146f5f7f3d), UINT64_C(0x2fd5f077055f86ca),
	UINT64_C(0x302de83b41a92b6c), UINT64_C(0x3085a3b43d162e93), UINT64_C(0x30dd233466174014), UINT64_C(0x3134670d8284b56c),
	UINT64_C(0x318b6f90b1691510), UINT64_C(0x31e23d0e6cc58efd), UINT64_C(0x3238cfd68b507b10), UINT64_C(0x328f2838422df575),
	UINT64_C(0x32e5468226a2b0d3), UINT64_C(0x333b2b022fc11598), UINT64_C(0x3390d605b810c538), UINT64_C(0x33e647d97f3097e6),
	UINT64_C(0x343b80c9ab732ac9), UINT64_C(0x34908121cb761458), UINT64_C(0x34e5492cd7b3d42e), UINT64_C(0x3539d9353410931b),
	UINT64_C(0x358e3184b161c819), UINT64_C(0x35e252648ef0d623), UINT64_C(0x36363c1d7bf8b6d3), UINT64_C(0x3689eef7991ec51a),
	UINT64_C(0x36dd6b3a79e6bb3b), UINT64_C(0x3730b12d2621f6b4), UINT64_C(0x3783c1161b5a1485), UINT64_C(0x37d69b3b4e36f7f0),
	UINT64_C(0x38293fe22be04d5a), UINT64_C(0x387baf4f9b5a9ae8), UINT64_C(0x38cde9c7fedfefd0), UINT64_C(0x391fef8f35344359),
	UINT64_C(0x3971c0e89af593fb), UINT64_C(0x39c35e170be7d6f7), UINT64_C(0x3a14c75ce43cc84b), UINT64_C(0x3a65fcfc01d7aac4),
	UINT64_C(0x3ab6ff35c58d0797), UINT64_C(0x3b07ce4b145e7ca1), UINT64_C(0x3b586a7c58b2a847), UINT64_C(0x3ba8d4098389417e),
	UINT64_C(0x3bf90b320dab6a81), UINT64_C(0x3c491034f8d84c3a), UINT64_C(0x3c98e350d0ee085a), UINT64_C(0x3ce884c3ad0f0fc7),
	UINT64_C(0x3d37f4cb30c3eac9), UINT64_C(0x3d8733a48d19802f), UINT64_C(0x3dd6418c81bbe86c), UINT64_C(0x3e251ebf5e0dd967),
	UINT64_C(0x3e73cb79023cb79b), UINT64_C(0x3ec247f4e05158c3), UINT64_C(0x3f10946dfd3d8459), UINT64_C(0x3f5eb11ef1e63db4),
	UINT64_C(0x3fac9e41ec2ae395), UINT64_C(0x3ffa5c10afe930ac), UINT64_C(0x4047eac497fe2861), UINT64_C(0x40954a969743fb1b),
	UINT64_C(0x40e27bbf398cecf1), UINT64_C(0x412f7e76a49b4998), UINT64_C(0x417c52f49916702b), UINT64_C(0x41c8f970737d013a),
	UINT64_C(0x421572212d143971), UINT64_C(0x4261bd3d5cd482e5), UINT64_C(0x42addafb38534702), UINT64_C(0x42f9cb9094aa0adb),
	UINT64_C(0x43458f32e75adf83), UINT64_C(0x4391261747322fdc), UINT64_C(0x43dc90726d25f53b), UINT64_C(0x4427ce78b5325bf8),
	UINT64_C(0x4472e05e1f33e103), UINT64_C(0x44bdc6564fbef14d), UINT64_C(0x4508809490f513cb), UINT64_C(0x45530f4bd357a6a7),
	UINT64_C(0x459d72aeae98380f), UINT64_C(0x45e7aaef62668300), UINT64_C(0x4631b83fd73c182f), UINT64_C(0x467b9ad19f25bb32),
	UINT64_C(0x46c552d5f68a7bc0), UINT64_C(0x470ee07dc4f092f3), UINT64_C(0x475843f99dc00c22), UINT64_C(0x47a17d79c10340f8),
	UINT64_C(0x47ea8d2e1c253031), UINT64_C(0x483373464aadb64e), UINT64_C(0x487c2ff196fbaf88), UINT64_C(0x48c4c35efafd0a0c),
	UINT64_C(0x490d2dbd20e4cf89), UINT64_C(0x49556f3a63df2cf1), UINT64_C(0x499d8804d0c37f35), UINT64_C(0x49e5784a26c46bae),
	UINT64_C(0x4a2d4037d81e0abd), UINT64_C(0x4a74dffb0ac22b22), UINT64_C(0x4abc57c09902b473), UINT64_C(0x4b03a7b5123a2ee6),
	UINT64_C(0x4b4ad004bb7276af), UINT64_C(0x4b91d0db9009a102), UINT64_C(0x4bd8aa65425518b7), UINT64_C(0x4c1f5ccd3c42f87f),
	UINT64_C(0x4c65e83e9ff9a876), UINT64_C(0x4cac4ce44875c4c9), UINT64_C(0x4cf28ae8ca265321), UINT64_C(0x4d38a27673874c5c),
	UINT64_C(0x4d7e93b74dba800a), UINT64_C(0x4dc45ed51d1ed718), UINT64_C(0x4e0a03f961e5faff), UINT64_C(0x4e4f834d58a866a8),
	UINT64_C(0x4e94dcf9faf7e633), UINT64_C(0x4eda1127fff08abf), UINT64_C(0x4f1f1fffdcc81721), UINT64_C(0x4f6409a9c55bea91),
	UINT64_C(0x4fa8ce4dacbd6e10), UINT64_C(0x4fed6e1345bd096e), UINT64_C(0x5031e9220373a48b), UINT64_C(0x50763fa119cab992),
	UINT64_C(0x50ba71b77e02fcb3), UINT64_C(0x50fe7f8be7399dea), UINT64_C(0x51426944ceec2941), UINT64_C(0x51862f08717b09f5),
	UINT64_C(0x51c9d0fcceaab4c7), UINT64_C(0x520d4f47aa237dd0), UINT64_C(0x5250aa0e8bf01dee), UINT64_C(0x5293e176c0faec09),
	UINT64_C(0x52d6f5a55b89ce38), UINT64_C(0x5319e6bf33b8e6c6), UINT64_C(0x535cb4e8e7f4011d), UINT64_C(0x539f6046dd6ec273),
	UINT64_C(0x53e1e8fd409ba218), UINT64_C(0x54244f3005a1ad30), UINT64_C(0x54669302e8d1199c), UINT64_C(0x54a8b4996f16abba),
	UINT64_C(0x54eab416e66df2ab), UINT64_C(0x552c919e66525ea5), UINT64_C(0x556e4d52d02f34f3), UINT64_C(0x55afe756cfce6505),
	UINT64_C(0x55f15fccdbc64217), UINT64_C(0x5632b6d735e624c3), UINT64_C(0x5673ec97eba1f7de), UINT64_C(0x56b50130d67cb3ed),
	UINT64_C(0x56f5f4c39c71cc70), UINT64_C(0x5736c771b05d9234), UINT64_C(0x5777795c52648ddd), UINT64_C(0x57b80aa49059d5c4),
	UINT64_C(0x57f87b6b46246236), UINT64_C(0x5838cbd11e23632a), UINT64_C(0x5878fbf691919a5f), UINT64_C(0x58b90bfbe8e7bcd6),
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
} MixKey;

static inline MixKey
mix_key(const uint8_t digest[PLACEMENT_DIGEST_LEN])
{
	MixKey		key;

	for (int i = 0; i < 4; i++)
		key.k[i] = read_le64(digest + 8 * i);
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
	uint64_t	x = (p ^ key->k[0]) + key->k[3];

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27) ^ key->k[1]) * UINT64_C(0x94d049bb133111eb);
	x = (x ^ (x >> 31) ^ key->k[2]) * UINT64_C(0xd6e8feb86659fd93);
	return x ^ (x >> 32);
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
 * A lower bound of neg_ln_q57(m) from m's top bits only: a table look-up.
 * It is below the exact value by at least the ln-distance between y and the
 * end of its table interval (>= 2^-54), far more than neg_ln_q57's error.
 */
static inline uint64_t
neg_ln_q57_lower(uint64_t m)
{
	int			k = 63 - __builtin_clzll(m);
	int			i = (int) (((m << (63 - k)) >> 55) & 0xff);
	s128		neg = (s128) (53 - k) * LN2_Q63 - ln_upper[i];

	if (neg <= 0)
		return 0;
	return (uint64_t) (neg >> 6);
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
	if (set != NULL)
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
static int
scan_uniform(const PlacementSet *set, const MixKey *key, Entry *h, int L)
{
	int			size = 0;
	uint64_t	root_m = 0;

	for (int i = 0; i < set->n; i++)
	{
		uint64_t	m = (mix(key, set->prefix[i]) >> 11) + 1;
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
	int			size = 0;
	double		root_cost = 0;

	for (int i = 0; i < set->n; i++)
	{
		uint64_t	m = (mix(key, set->prefix[i]) >> 11) + 1;
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

int
placement_choose(const PlacementSet *set,
				 const uint8_t digest[PLACEMENT_DIGEST_LEN],
				 const PlacementTaken *taken, int ntaken,
				 int want, int *out)
{
	Entry		stack_heap[STACK_ENTRIES];
	Entry	   *heap = stack_heap;
	int			heap_cap = STACK_ENTRIES;
	MixKey		key = mix_key(digest);
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

		/* Heap sort: the worst goes to the end, leaving best first. */
		for (int end = size - 1; end > 0; end--)
		{
			Entry		worst = heap[0];

			heap[0] = heap[end];
			heap[end] = worst;
			sift_down(set, heap, end, 0);
		}

		nout = 0;
		for (int j = 0; j < size && nout < want; j++)
		{
			int			idx = heap[j].idx;

			if (ntaken > 0 && is_taken(set, idx, taken, ntaken))
				continue;
			if (set->use_tags &&
				tag_used(set, set->tag[idx], taken, ntaken, out, nout))
				continue;
			out[nout++] = idx;
		}
		if (nout == want || L == n)
			break;
		L = (L > n / 2) ? n : 2 * L;
	}
	if (heap != stack_heap)
		set->dealloc(heap);
	return nout;
}
