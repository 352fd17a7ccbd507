/*
 * Memory that compresses well and keeps changing: MIB MiB of 64-byte records (an id, a
 * small counter and a name made of words from a short list), then in each of STEPS steps
 * rewrite one 1 MiB slice (round robin) from its old contents and print the slice's
 * checksum; at the end print a checksum of every record. Every output line depends on the
 * memory written before it, so a page restored wrong, or left out, shows in the output.
 * Deterministic. With --exec-clean first, it first execs itself with an empty environment
 * (the agent must put its own variables back, its settings included).
 *
 *   records [--exec-clean] [MIB] [STEPS]     (defaults: 128 MiB, 600 steps)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct record {
	uint64_t id;
	uint64_t count;
	char name[48];
};

#define PER_SLICE ((1u << 20) / sizeof(struct record))

static const char *const words[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel" };

static void name(struct record *r)
{
	snprintf(r->name, sizeof(r->name), "%s-%s-%04llu", words[r->count % 8], words[(r->id + r->count) / 8 % 8],
		 (unsigned long long)r->count);
}

static uint64_t checksum(const struct record *r, size_t n, uint64_t h)
{
	const unsigned char *p = (const unsigned char *)r;
	for (size_t i = 0; i < n * sizeof(*r); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--exec-clean")) {
		char *none[] = { 0 };
		argv[1] = argv[0];
		execve("/proc/self/exe", argv + 1, none);
		perror("records: execve");
		return 2;
	}
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 128;
	long steps = argc > 2 ? atol(argv[2]) : 600;
	if (mib < 1) {
		fprintf(stderr, "records: MIB must be at least 1\n");
		return 2;
	}
	size_t n = mib * PER_SLICE, slices = mib;
	struct record *recs = malloc(n * sizeof(*recs));
	if (!recs) {
		perror("records: malloc");
		return 2;
	}
	memset(recs, 0, n * sizeof(*recs));
	for (size_t i = 0; i < n; i++) {
		recs[i].id = i;
		recs[i].count = i * 7 % 1000;
		name(&recs[i]);
	}
	printf("ready %zu MiB\n", mib);
	fflush(stdout);

	for (long step = 0; step < steps; step++) {
		struct record *s = recs + (size_t)(step % (long)slices) * PER_SLICE;
		for (size_t j = 0; j < PER_SLICE; j++) {
			s[j].count = (s[j].count * 31 + s[j].id + (uint64_t)step + s[(j + 1) % PER_SLICE].count) % 1000;
			name(&s[j]);
		}
		printf("step %ld slice %ld %016llx\n", step, step % (long)slices,
		       (unsigned long long)checksum(s, PER_SLICE, (uint64_t)step));
		fflush(stdout);
	}
	printf("total %016llx\n", (unsigned long long)checksum(recs, n, 0));
	free(recs);
	return 0;
}
