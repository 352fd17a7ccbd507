/*
 * Anonymous memory of every shape a restart maps from the image (native/loader/place.c),
 * used the ways in which a mapping of a file differs from anonymous memory. Every step
 *   - rewrites a 1 MiB slice of a 24 MiB anonymous mapping as a function of its old contents;
 *   - madvise(MADV_DONTNEED)s another slice and counts the non-zero words it then reads
 *     (anonymous memory reads zeros again), then fills it anew;
 *   - rewrites some of 3000 small heap blocks (the brk heap);
 *   - grows one of two large malloc'd blocks (glibc mmaps them, and grows them with
 *     mremap) by 1 MiB with realloc, fills the new part, and starts it over when large;
 *   - grows an anonymous mapping with mremap(MREMAP_MAYMOVE), counts the non-zero words
 *     of its new part (anonymous memory grows with zeros) and fills them, and shrinks it
 *     back when large;
 *   - checks a sparse mapping (every other 256 KiB written) that nothing touches; it lies
 *     at SPARSE_ADDR, away from everything else, so that a test can find it in an image;
 * and prints a checksum of it all. Every line depends on the memory before it, so a page
 * restored wrong shows. Deterministic; exits 0.
 *
 *   mapped [STEPS]     (default 80)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1ul << 20)
#define A_LEN (24 * MIB)
#define SPARSE_LEN (16 * MIB)
#define NBLOCKS 3000
#define E_START (8 * MIB)
#define SPARSE_ADDR ((void *)0x200000000000ul) /* test/e2e/mapped-restart.test.ts */

static uint64_t seed = 0x4d4150504544ull;

static uint64_t next(void)
{
	uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(void *p, size_t len)
{
	uint64_t *w = p;
	for (size_t i = 0; i < len / 8; i++)
		w[i] = next();
}

static uint64_t sum(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ull;
	return h;
}

static size_t nonzero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t n = 0;
	for (size_t i = 0; i < len / 8; i++)
		n += w[i] != 0;
	return n;
}

static void *map_at(void *at, size_t len, int flags)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (p == MAP_FAILED) {
		perror("mapped: mmap");
		exit(2);
	}
	return p;
}

static void *map(size_t len)
{
	return map_at(0, len, 0);
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 80;
	uint8_t *a = map(A_LEN);
	fill(a, A_LEN);
	uint8_t *sparse = map_at(SPARSE_ADDR, SPARSE_LEN, MAP_FIXED_NOREPLACE);
	for (size_t off = 0; off < SPARSE_LEN; off += 512 * 1024)
		fill(sparse + off, 256 * 1024);
	uint64_t sparse_sum = sum(sparse, SPARSE_LEN);
	static uint8_t *blocks[NBLOCKS];
	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(2000);
		fill(blocks[i], 2000);
	}
	size_t csize[2] = { 3 * MIB, 5 * MIB };
	uint8_t *c[2];
	for (int i = 0; i < 2; i++) {
		c[i] = malloc(csize[i]);
		fill(c[i], csize[i]);
	}
	size_t elen = E_START;
	uint8_t *e = map(elen);
	fill(e, elen);
	printf("ready\n");
	fflush(stdout);

	uint64_t x = 1;
	for (int s = 0; s < steps; s++) {
		for (long k = 0; k < 8000000; k++) /* pace: a step takes a few ms */
			x = x * 6364136223846793005ull + 1442695040888963407ull;

		uint64_t *slice = (uint64_t *)(a + (size_t)(s % 24) * MIB);
		uint64_t carry = x;
		for (size_t j = 0; j < MIB / 8; j++)
			slice[j] = carry = (carry ^ slice[j]) * 0x100000001b3ull + (uint64_t)s;

		uint8_t *gone = a + (size_t)((s * 7 + 3) % 24) * MIB;
		madvise(gone, MIB, MADV_DONTNEED);
		size_t dontneed = nonzero(gone, MIB);
		fill(gone, MIB);

		for (int i = s % 7; i < NBLOCKS; i += 7)
			((uint64_t *)blocks[i])[(size_t)s % 250] ^= x;

		int k = s & 1;
		if (csize[k] >= 16 * MIB) {
			free(c[k]);
			csize[k] = 3 * MIB;
			c[k] = malloc(csize[k]);
			fill(c[k], csize[k]);
		} else {
			uint8_t *grown = realloc(c[k], csize[k] + MIB);
			if (!grown) {
				perror("mapped: realloc");
				return 2;
			}
			c[k] = grown;
			fill(c[k] + csize[k], MIB);
			csize[k] += MIB;
		}

		size_t grown_zeros;
		if (elen >= 24 * MIB) {
			e = mremap(e, elen, E_START, 0);
			elen = E_START;
			grown_zeros = 0;
		} else {
			e = mremap(e, elen, elen + MIB, MREMAP_MAYMOVE);
			if (e == MAP_FAILED) {
				perror("mapped: mremap");
				return 2;
			}
			grown_zeros = nonzero(e + elen, MIB);
			fill(e + elen, MIB);
			elen += MIB;
		}
		if (sum(sparse, SPARSE_LEN) != sparse_sum)
			printf("sparse memory changed\n");

		uint64_t h = sum(a, A_LEN) ^ sum(c[0], csize[0]) ^ (sum(c[1], csize[1]) << 1) ^ (sum(e, elen) << 2);
		for (int i = 0; i < NBLOCKS; i += 97)
			h ^= sum(blocks[i], 2000) >> (i % 13);
		printf("step %d %016llx dontneed %zu grown %zu\n", s, (unsigned long long)h, dontneed, grown_zeros);
		fflush(stdout);
	}
	printf("done\n");
	return 0;
}
