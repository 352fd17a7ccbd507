/*
 * A big heap of random data that keeps changing: fill MIB MiB with a deterministic PRNG,
 * print "ready", then in each of STEPS steps rewrite one 16 MiB slice (round robin) as a
 * function of its old contents and print the slice's checksum; at the end print a checksum
 * of the whole buffer. Every output line depends on all the memory written before it, so
 * a page restored wrong, or left out, shows up in the output. Deterministic.
 *
 *   bigheap [MIB] [STEPS]     (defaults: 256 MiB, 200 steps)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLICE_WORDS ((16u << 20) / sizeof(uint64_t))

static uint64_t next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 256;
	long steps = argc > 2 ? atol(argv[2]) : 200;
	if (mib < 16 || mib % 16) {
		fprintf(stderr, "bigheap: MIB must be a positive multiple of 16\n");
		return 2;
	}
	size_t words = mib << 17, slices = words / SLICE_WORDS;
	uint64_t *a = malloc(words * sizeof(uint64_t));
	if (!a) {
		perror("bigheap: malloc");
		return 2;
	}
	uint64_t seed = 0x5741534953ull;
	for (size_t i = 0; i < words; i++)
		a[i] = next(&seed);
	printf("ready %zu MiB\n", mib);
	fflush(stdout);

	for (long step = 0; step < steps; step++) {
		uint64_t *s = a + (size_t)(step % (long)slices) * SLICE_WORDS;
		uint64_t sum = (uint64_t)step, carry = next(&seed);
		for (size_t j = 0; j < SLICE_WORDS; j++) {
			carry = (carry ^ s[j]) * 0x100000001b3ull + (uint64_t)step;
			s[j] = carry;
			sum += carry >> 3;
		}
		printf("step %ld slice %ld %016llx\n", step, step % (long)slices, (unsigned long long)sum);
		fflush(stdout);
	}

	uint64_t total = 0;
	for (size_t i = 0; i < words; i++)
		total = (total ^ a[i]) * 0x100000001b3ull;
	printf("total %016llx\n", (unsigned long long)total);
	free(a);
	return 0;
}
