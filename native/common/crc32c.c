/*
 * CRC-32C with the SSE4.2 crc32 instruction, three independent streams on large buffers
 * so the instruction's 3-cycle latency is hidden. Every x86-64-v2 CPU has SSE4.2, which
 * Stasis requires (the loader refuses to run without it).
 */
#include "crc32c.h"

__attribute__((target("sse4.2")))
static uint32_t crc_bytes(uint32_t c, const unsigned char *p, size_t n)
{
	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi(c, *p++);
		n--;
	}
	uint64_t c64 = c;
	while (n >= 8) {
		c64 = __builtin_ia32_crc32di(c64, *(const uint64_t *)p);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}

/* x^(8*n) mod P applied to crc: shifts a CRC over n zero bytes, by squaring. */
static uint32_t gf2_mul(uint32_t a, uint32_t b)
{
	uint32_t r = 0;
	for (int i = 0; i < 32; i++) {
		if (b & 0x80000000u)
			r ^= a;
		b <<= 1;
		a = (a >> 1) ^ (0x82f63b78u & (0u - (a & 1)));
	}
	return r;
}

static uint32_t x_pow_8n(size_t n)
{
	/* x^0 in reflected form is 0x80000000; x^8 is 0x00800000. */
	uint32_t r = 0x80000000u, sq = 0x00800000u;
	while (n) {
		if (n & 1)
			r = gf2_mul(r, sq);
		sq = gf2_mul(sq, sq);
		n >>= 1;
	}
	return r;
}

__attribute__((target("sse4.2")))
static uint32_t crc_3way(uint32_t c, const unsigned char *p, size_t n)
{
	enum { BLOCK = 8192 };
	uint32_t shift = x_pow_8n(BLOCK);
	while (n >= 3 * BLOCK) {
		uint64_t a = c, b = 0, d = 0;
		const uint64_t *pa = (const uint64_t *)p, *pb = (const uint64_t *)(p + BLOCK),
			       *pd = (const uint64_t *)(p + 2 * BLOCK);
		for (size_t i = 0; i < BLOCK / 8; i++) {
			a = __builtin_ia32_crc32di(a, pa[i]);
			b = __builtin_ia32_crc32di(b, pb[i]);
			d = __builtin_ia32_crc32di(d, pd[i]);
		}
		c = gf2_mul((uint32_t)a, shift) ^ (uint32_t)b;
		c = gf2_mul(c, shift) ^ (uint32_t)d;
		p += 3 * BLOCK;
		n -= 3 * BLOCK;
	}
	return crc_bytes(c, p, n);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;
	if (len >= 3 * 8192 && !((uintptr_t)p & 7))
		c = crc_3way(c, p, len);
	else
		c = crc_bytes(c, p, len);
	return ~c;
}

/* crc32c() inverts before and after, and the register update is linear, so the inversions
 * cancel: crc(A B) = crc(A) * x^(8 |B|) + crc(B) in GF(2)[x] mod P. */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b)
{
	return gf2_mul(crc_a, x_pow_8n(len_b)) ^ crc_b;
}
