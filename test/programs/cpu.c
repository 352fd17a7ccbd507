/* Single-threaded and CPU-bound: a long hash chain, one line per step. Deterministic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 60;
	uint64_t x = 1;
	for (int i = 0; i < steps; i++) {
		for (long k = 0; k < 20000000; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		printf("step %d %016llx\n", i, (unsigned long long)x);
		fflush(stdout);
	}
	return 7;
}
