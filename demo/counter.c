/* The demo's program: counts, keeping its running total in memory, one line per tick. */
#include <stdio.h>
#include <time.h>

int main(void)
{
	unsigned long long total = 0;
	for (int tick = 1; tick <= 30; tick++) {
		for (unsigned long long i = 0; i < 90000000ull; i++)
			total += i ^ (unsigned long long)tick;
		printf("tick %2d  running total %llu\n", tick, total);
		fflush(stdout);
	}
	printf("done: counted to 30\n");
	return 0;
}
