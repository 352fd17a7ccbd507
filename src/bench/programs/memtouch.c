/*
 * Bench workload: fill N MiB of anonymous memory with incompressible data, print "ready",
 * then run the heartbeat loop (heartbeat.h) until killed.
 *
 * Word w of the buffer holds mix(w + (version of its page << 40)), a splitmix64-style
 * counter hash, so any word can be checked later without keeping a copy; every page
 * starts at version 0. Each heartbeat checks 64 words picked by an independent generator
 * and says "ok" or "BAD word W": a restored process whose memory came back wrong (or came
 * back from the wrong generation) says so in its first lines.
 *
 * SIGUSR1 dirties one page in every STRIDE (default 20, i.e. 5%), spread evenly over the
 * buffer: each such page gets its version bumped and every word rewritten. The program
 * prints "dirtied P of N pages" when done; the bench then takes the incremental checkpoint.
 *
 * usage: memtouch MIB [STRIDE]
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "heartbeat.h"

#define WORDS_PER_PAGE 512

static volatile sig_atomic_t dirty_requested;

static void on_usr1(int sig)
{
	(void)sig;
	dirty_requested = 1;
}

static uint64_t mix(uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t expected(const uint8_t *version, uint64_t w)
{
	return mix(w + ((uint64_t)version[w / WORDS_PER_PAGE] << 40));
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || atol(argv[1]) <= 0 || (argc == 3 && atol(argv[2]) <= 0)) {
		fprintf(stderr, "usage: memtouch MIB [STRIDE]\n");
		return 2;
	}
	uint64_t words = (uint64_t)atol(argv[1]) << 17;
	uint64_t pages = words / WORDS_PER_PAGE;
	uint64_t stride = argc == 3 ? (uint64_t)atol(argv[2]) : 20;
	uint64_t *buf = mmap(0, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *version = calloc(pages, 1);
	if (buf == MAP_FAILED || !version) {
		perror("memtouch: mmap");
		return 1;
	}
	for (uint64_t i = 0; i < words; i++)
		buf[i] = mix(i);
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, 0);
	printf("ready %llu bytes\n", (unsigned long long)(words * 8));
	fflush(stdout);

	uint64_t pick = 0x243f6a8885a308d3ull;
	struct hb hb;
	hb_init(&hb);
	for (;;) {
		if (dirty_requested) {
			dirty_requested = 0;
			uint64_t t0 = hb_now(), n = 0;
			for (uint64_t p = 0; p < pages; p += stride, n++) {
				version[p]++;
				for (uint64_t w = p * WORDS_PER_PAGE; w < (p + 1) * WORDS_PER_PAGE; w++)
					buf[w] = expected(version, w);
			}
			printf("dirtied %llu of %llu pages in %.1f ms\n", (unsigned long long)n,
			       (unsigned long long)pages, (double)(hb_now() - t0) / 1e6);
			fflush(stdout);
			hb_forget(&hb);
		}
		if (!hb_tick(&hb))
			continue;
		uint64_t bad = words;
		for (int k = 0; k < 64; k++) {
			pick ^= pick << 13, pick ^= pick >> 7, pick ^= pick << 17;
			uint64_t w = pick % words;
			if (buf[w] != expected(version, w))
				bad = w;
		}
		char status[48] = "ok";
		if (bad != words)
			snprintf(status, sizeof status, "BAD word %llu", (unsigned long long)bad);
		hb_print(&hb, status);
	}
}
