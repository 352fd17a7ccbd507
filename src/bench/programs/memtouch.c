/*
 * Bench workload: fill N MiB of anonymous memory with incompressible data, print "ready",
 * then idle with a heartbeat line about every 10 ms until killed.
 *
 * Word i of the buffer holds mix(i), a splitmix64-style counter hash, so any word can be
 * checked later without keeping a copy. Each heartbeat checks 64 words picked by an
 * independent generator and prints "beat K ok" or "beat K BAD word W": a restored process
 * whose memory came back wrong says so in its first lines.
 *
 * usage: memtouch MIB
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t mix(uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	if (argc != 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: memtouch MIB\n");
		return 2;
	}
	uint64_t words = (uint64_t)atol(argv[1]) << 17;
	uint64_t *buf = mmap(0, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("memtouch: mmap");
		return 1;
	}
	for (uint64_t i = 0; i < words; i++)
		buf[i] = mix(i);
	printf("ready %llu bytes\n", (unsigned long long)(words * 8));
	fflush(stdout);

	uint64_t pick = 0x243f6a8885a308d3ull;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (uint64_t beat = 1;; beat++) {
		nanosleep(&tick, 0);
		uint64_t bad = words;
		for (int k = 0; k < 64; k++) {
			pick ^= pick << 13, pick ^= pick >> 7, pick ^= pick << 17;
			uint64_t w = pick % words;
			if (buf[w] != mix(w))
				bad = w;
		}
		if (bad == words)
			printf("beat %llu ok\n", (unsigned long long)beat);
		else
			printf("beat %llu BAD word %llu\n", (unsigned long long)beat, (unsigned long long)bad);
		fflush(stdout);
	}
}
