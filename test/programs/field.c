/*
 * Memory that is a smooth float64 field (values rounded to float32, as bench workload
 * field4gib holds): MIB MiB of doubles, then in each of STEPS steps relax one 1 MiB slice
 * (round robin) towards its neighbours, rounded to float32 again, and print the slice's
 * checksum; at the end print a checksum of the whole field. Every output line depends on
 * the memory written before it, so a page restored wrong (a byte out of place in the
 * byte-shuffled chunks of CHUNK encoding 2) shows in the output. Deterministic: IEEE
 * arithmetic only.
 *
 *   field [MIB] [STEPS]     (defaults: 64 MiB, 600 steps)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_SLICE ((1u << 20) / sizeof(double))

static uint64_t checksum(const double *v, size_t n, uint64_t h)
{
	const unsigned char *p = (const unsigned char *)v;
	for (size_t i = 0; i < n * sizeof(*v); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
	long steps = argc > 2 ? atol(argv[2]) : 600;
	if (mib < 1) {
		fprintf(stderr, "field: MIB must be at least 1\n");
		return 2;
	}
	size_t n = mib * PER_SLICE;
	double *f = malloc(n * sizeof(*f));
	if (!f) {
		perror("field: malloc");
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		double x = (double)(i % 4096) / 4096.0, y = (double)(i / 4096) / (double)(n / 4096);
		f[i] = (double)(float)(1.0 + x * (1.0 - x) * 3.0 + y * y - 0.5 * x * y);
	}
	printf("ready %zu MiB\n", mib);
	fflush(stdout);

	for (long step = 0; step < steps; step++) {
		double *s = f + (size_t)(step % (long)mib) * PER_SLICE;
		for (size_t j = 1; j + 1 < PER_SLICE; j++)
			s[j] = (double)(float)(0.5 * s[j] + 0.25 * (s[j - 1] + s[j + 1]) + 1e-4 * (double)(step % 7));
		printf("step %ld slice %ld %016llx\n", step, step % (long)mib,
		       (unsigned long long)checksum(s, PER_SLICE, (uint64_t)step));
		fflush(stdout);
	}
	printf("done %016llx\n", (unsigned long long)checksum(f, n, 0));
	return 0;
}
