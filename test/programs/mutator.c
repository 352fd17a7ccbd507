/*
 * Rewrites every page of its memory on every step: MIB MiB of words; step k replaces one
 * word in each page (a different word every step) by a function of its old value and k,
 * and prints the step's checksum of what it wrote; at the end, a checksum of all of it.
 * A forked checkpoint lets the program run on while its image is written, and this one
 * changes every page meanwhile: an image that took any page later than the pause shows up
 * after a restart as checksums that differ from an uninterrupted run's. Deterministic.
 *
 *   mutator MIB STEPS [dontfork]
 *
 * With `dontfork` the memory is MADV_DONTFORK: a fork does not copy it, so a forked
 * checkpoint cannot be taken of this process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_WORDS 512

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
	long steps = argc > 2 ? atol(argv[2]) : 1000;
	size_t words = mib << 17, pages = words / PAGE_WORDS;
	uint64_t *a = mmap(0, words * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!mib || a == MAP_FAILED) {
		fprintf(stderr, "mutator: need MIB > 0 and the memory for it\n");
		return 2;
	}
	if (argc > 3 && !strcmp(argv[3], "dontfork") && madvise(a, words * sizeof(uint64_t), MADV_DONTFORK)) {
		perror("mutator: madvise");
		return 2;
	}
	for (size_t i = 0; i < words; i++)
		a[i] = i * 0x9e3779b97f4a7c15ull;
	setvbuf(stdout, 0, _IOLBF, 0);
	for (long step = 0; step < steps; step++) {
		uint64_t sum = (uint64_t)step;
		size_t at = (size_t)step * 7 % PAGE_WORDS;
		for (size_t p = 0; p < pages; p++) {
			uint64_t *w = &a[p * PAGE_WORDS + at];
			uint64_t v = (*w ^ (*w >> 29)) * 0xbf58476d1ce4e5b9ull + (uint64_t)step;
			*w = v;
			sum = (sum ^ v) * 0x100000001b3ull;
		}
		printf("step %ld %016llx\n", step, (unsigned long long)sum);
	}
	uint64_t total = 0;
	for (size_t i = 0; i < words; i++)
		total = (total ^ a[i]) * 0x100000001b3ull;
	printf("total %016llx\n", (unsigned long long)total);
	return 0;
}
