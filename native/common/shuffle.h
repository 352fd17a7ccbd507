/*
 * The byte shuffle of CHUNK encoding 2 (docs/image-format.md): n bytes seen as n/8 words
 * of 8 bytes; plane k (k = 0..7) holds byte k of every word, in word order, and the
 * planes are stored one after the other. Bytes past the last whole word (n % 8 of them;
 * chunks are pages, so none in an image) follow the planes as they are.
 *
 * Why: in an array of float64 or int64, bytes of the same rank vary alike (exponent and
 * high bytes barely, low bytes a lot). Side by side, zstd finds long matches in the high
 * planes and leaves the noisy low ones to its entropy coder, where on the words as they
 * are it finds almost no match of 5 bytes.
 *
 * Speed: sixteen words at a time (128 bytes, eight SSE2 registers) are transposed in
 * registers. A byte's place in the block is a 7-bit index, word (4 bits) then byte (3
 * bits); its place in the planes is byte then word: the index rotated left by 4. One round
 * of byte interleaves (unpacklo/hi of registers r and r+4, results to registers 2(r%4) and
 * 2(r%4)+1) rotates every index left by 1, so the shuffle is 4 rounds and, as 7 rounds
 * are the identity, the unshuffle 3. Inputs are read in order and the 8 planes written in
 * order, which the prefetcher follows. Fewer than 16 words left: 8x8 byte transposes with
 * 64-bit masked swaps, then byte by byte. No libc: the freestanding loader includes this
 * too. SSE2 is part of x86-64, so every machine that runs stasis has it.
 */
#ifndef STASIS_SHUFFLE_H
#define STASIS_SHUFFLE_H
#include <stddef.h>
#include <stdint.h>
#include <emmintrin.h>

/* One round on a block of 8 registers: every byte's 7-bit index rotated left by 1. */
static inline void shuf_round(__m128i x[8])
{
	__m128i y[8];
	for (int r = 0; r < 4; r++) {
		y[2 * r] = _mm_unpacklo_epi8(x[r], x[r + 4]);
		y[2 * r + 1] = _mm_unpackhi_epi8(x[r], x[r + 4]);
	}
	for (int r = 0; r < 8; r++)
		x[r] = y[r];
}

static inline uint64_t shuf_ld(const uint8_t *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return v;
}

static inline void shuf_st(uint8_t *p, uint64_t v)
{
	__builtin_memcpy(p, &v, 8);
}

/* Transposes w as an 8x8 matrix of bytes (w[r] byte c <-> w[c] byte r). */
static inline void shuf_transpose8(uint64_t w[8])
{
	for (int r = 0; r < 4; r++) {
		uint64_t t = ((w[r] >> 32) ^ w[r + 4]) & 0x00000000ffffffffull;
		w[r] ^= t << 32;
		w[r + 4] ^= t;
	}
	for (int r = 0; r < 8; r += (r & 1) ? 3 : 1) { /* 0, 1, 4, 5 */
		uint64_t t = ((w[r] >> 16) ^ w[r + 2]) & 0x0000ffff0000ffffull;
		w[r] ^= t << 16;
		w[r + 2] ^= t;
	}
	for (int r = 0; r < 8; r += 2) {
		uint64_t t = ((w[r] >> 8) ^ w[r + 1]) & 0x00ff00ff00ff00ffull;
		w[r] ^= t << 8;
		w[r + 1] ^= t;
	}
}

/* dst (n bytes, not overlapping src) = the shuffle of src. */
static inline void shuffle8(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t words = n / 8, i = 0;
	for (; i + 16 <= words; i += 16) {
		__m128i x[8];
		for (int r = 0; r < 8; r++)
			x[r] = _mm_loadu_si128((const __m128i *)(src + 8 * i + 16 * r));
		for (int round = 0; round < 4; round++)
			shuf_round(x);
		for (int k = 0; k < 8; k++)
			_mm_storeu_si128((__m128i *)(dst + k * words + i), x[k]);
	}
	for (; i + 8 <= words; i += 8) {
		uint64_t w[8];
		for (int r = 0; r < 8; r++)
			w[r] = shuf_ld(src + 8 * (i + r));
		shuf_transpose8(w);
		for (int k = 0; k < 8; k++)
			shuf_st(dst + k * words + i, w[k]);
	}
	for (; i < words; i++)
		for (int k = 0; k < 8; k++)
			dst[k * words + i] = src[8 * i + k];
	for (size_t j = 8 * words; j < n; j++)
		dst[j] = src[j];
}

/* dst (n bytes, not overlapping src) = the bytes whose shuffle is src. */
static inline void unshuffle8(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t words = n / 8, i = 0;
	for (; i + 16 <= words; i += 16) {
		__m128i x[8];
		for (int k = 0; k < 8; k++)
			x[k] = _mm_loadu_si128((const __m128i *)(src + k * words + i));
		for (int round = 0; round < 3; round++)
			shuf_round(x);
		for (int r = 0; r < 8; r++)
			_mm_storeu_si128((__m128i *)(dst + 8 * i + 16 * r), x[r]);
	}
	for (; i + 8 <= words; i += 8) {
		uint64_t w[8];
		for (int k = 0; k < 8; k++)
			w[k] = shuf_ld(src + k * words + i);
		shuf_transpose8(w);
		for (int r = 0; r < 8; r++)
			shuf_st(dst + 8 * (i + r), w[r]);
	}
	for (; i < words; i++)
		for (int k = 0; k < 8; k++)
			dst[8 * i + k] = src[k * words + i];
	for (size_t j = 8 * words; j < n; j++)
		dst[j] = src[j];
}
#endif
