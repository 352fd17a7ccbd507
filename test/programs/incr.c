/*
 * Memory that changes a little between checkpoints, in every way that matters to
 * incremental checkpoints: MIB MiB of deterministic data, then STEPS steps, STEP_MS apart.
 * Each step rewrites a few scattered pages; some steps also zap pages (MADV_DONTNEED: they
 * read as zero from then on), unmap a mapping and map a new one at the same address, and
 * move a mapping with mremap. Each step prints a checksum of what it touched, and the end a
 * checksum of everything, so a page restored stale (the data of an earlier generation
 * where the program had zapped it, say) changes the output. Deterministic.
 *
 *   incr [MIB] [STEPS] [STEP_MS] [text|field]     (defaults: 64 MiB, 100 steps, 20 ms)
 *
 * With "text", every byte written has 4 random bits only, so the images' chunks compress
 * (zstd): earlier generations' pages are then referred to inside compressed chunks. With
 * "field", only the low byte of each 64-bit word varies, as in arrays of numbers whose high
 * bytes agree: the chunks are stored byte-shuffled (encoding 2), and referred to there.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096ul
#define WORDS (PAGE / 8)
#define C_LEN (256ul << 10)
#define M_LEN (512ul << 10)

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t sum_pages(const uint64_t *p, size_t pages, uint64_t h)
{
	for (size_t i = 0; i < pages * WORDS; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t mask = ~0ull;

static void fill(uint64_t *p, size_t pages, uint64_t seed)
{
	for (size_t i = 0; i < pages * WORDS; i++)
		p[i] = mix(seed + i) & mask;
}

static void *map(void *at, size_t len)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);
	if (p == MAP_FAILED) {
		perror("incr: mmap");
		exit(2);
	}
	return p;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
	long steps = argc > 2 ? atol(argv[2]) : 100;
	long step_ms = argc > 3 ? atol(argv[3]) : 20;
	if (argc > 4 && argv[4][0] == 't')
		mask = 0x0f0f0f0f0f0f0f0full;
	if (argc > 4 && argv[4][0] == 'f')
		mask = 0xffull;
	size_t pages = mib << 8;
	if (pages < 64) {
		fprintf(stderr, "incr: MIB must be at least 1\n");
		return 2;
	}
	uint64_t *a = map(0, pages * PAGE);
	fill(a, pages, 1);
	uint64_t *c = map(0, C_LEN);
	fill(c, C_LEN / PAGE, 2);
	/* M moves between the two halves of a reservation. */
	char *resv = mmap(0, 2 * M_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		return 2;
	uint64_t *m = map(resv, M_LEN);
	fill(m, M_LEN / PAGE, 3);
	printf("ready %zu MiB %016llx\n", mib, (unsigned long long)sum_pages(a, pages, 0));
	fflush(stdout);

	size_t dirty = pages / 512 ? pages / 512 : 1;
	for (long s = 0; s < steps; s++) {
		struct timespec ts = { step_ms / 1000, (step_ms % 1000) * 1000000 };
		nanosleep(&ts, 0);
		uint64_t h = (uint64_t)s;
		for (size_t k = 0; k < dirty; k++) {
			uint64_t *pg = a + ((size_t)s * 97 + k * 211) % pages * WORDS;
			for (size_t w = 0; w < WORDS; w++)
				pg[w] = mix(pg[w] ^ (uint64_t)s) & mask;
			h = sum_pages(pg, 1, h);
		}
		if (s % 5 == 2) {
			size_t at = (size_t)s * 131 % (pages - 8);
			madvise(a + at * WORDS, 8 * PAGE, MADV_DONTNEED);
			h = sum_pages(a + at * WORDS, 8, h);
		}
		if (s % 7 == 3) {
			munmap(c, C_LEN);
			c = map(c, C_LEN);
			fill(c, C_LEN / PAGE / 2, 100 + (uint64_t)s); /* the upper half stays zero */
			h = sum_pages(c, C_LEN / PAGE, h);
		}
		if (s % 11 == 5) {
			char *to = (char *)m == resv ? resv + M_LEN : resv;
			void *moved = mremap(m, M_LEN, M_LEN, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			if (moved == MAP_FAILED) {
				perror("incr: mremap");
				return 2;
			}
			m = moved;
			m[(size_t)s % (M_LEN / 8)] ^= (uint64_t)s;
			h = sum_pages(m, M_LEN / PAGE, h);
		}
		printf("step %ld %016llx\n", s, (unsigned long long)h);
		fflush(stdout);
	}
	uint64_t t = sum_pages(a, pages, 0);
	t = sum_pages(c, C_LEN / PAGE, t);
	t = sum_pages(m, M_LEN / PAGE, t);
	printf("total %016llx\n", (unsigned long long)t);
	return 0;
}
