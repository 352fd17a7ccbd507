/*
 * Memory in every huge-page situation, with output that does not depend on whether the
 * process runs under Stasis, was checkpointed or restarted:
 *
 *   A  96 MiB, plain mmap: large enough that the agent advises it (MADV_HUGEPAGE)
 *   B  16 MiB, advised MADV_HUGEPAGE by the program itself
 *   C  80 MiB, plain mmap (the agent advises it), then MADV_NOHUGEPAGE by the program
 *   D  32 MiB, plain mmap, every page written: dense memory the agent may collapse
 *   S  64 MiB, MAP_NORESERVE, one page in 16 written: sparse memory, which must not grow;
 *      fenced by inaccessible pages, so that it stays a mapping of its own
 *
 * Every step rewrites a few words of each and checks every region's words against their
 * expected values (a wrong restore prints BAD). Every 10 steps it prints its own advice
 * for B and C from /proc/self/smaps (VmFlags hg / nh: given back by a restart) and S's
 * resident size, which must stay the pages it wrote (SPARSE_PAGES * 4 kB), whatever
 * collapsing or restoring did.
 *
 *   hugemem STEPS
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MIB (1ul << 20)
#define PAGE 4096ul
#define SPARSE_STRIDE 16

struct region {
	const char *name;
	uint64_t *mem;
	size_t len;
	size_t stride; /* pages: every stride-th page holds data, the rest is never touched */
};

static uint64_t mix(uint64_t x)
{
	x = (x + 1) * 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

/* Word w after `step` steps: one word in 64 (8 a page) changes every step. */
static uint64_t expect(const struct region *r, size_t w, long step)
{
	return mix(w ^ ((uint64_t)r->name[0] << 56)) + (uint64_t)step * (w % 64 == 0);
}

static uint64_t *map(size_t len, int extra)
{
	void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* Sparse memory between two inaccessible pages, so that no neighbour ever merges with it
 * (its Rss is read per mapping). */
static uint64_t *map_fenced(size_t len)
{
	char *p = mmap(0, len + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || mprotect(p + PAGE, len, PROT_READ | PROT_WRITE)) {
		perror("mmap");
		exit(2);
	}
	return (uint64_t *)(p + PAGE);
}

static void fill(struct region *r, long step)
{
	size_t per_page = PAGE / 8;
	for (size_t pg = 0; pg < r->len / PAGE; pg += r->stride)
		for (size_t i = 0; i < per_page; i++)
			r->mem[pg * per_page + i] = expect(r, pg * per_page + i, step);
}

/* VmFlags advice ("hg", "nh" or "-") and Rss in kB of the mapping holding addr. */
static void smaps_of(const void *addr, char adv[3], long *rss_kb)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	strcpy(adv, "-");
	*rss_kb = -1;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = s <= (unsigned long)addr && (unsigned long)addr < e;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "Rss:", 4))
			*rss_kb = atol(line + 4);
		if (!strncmp(line, "VmFlags:", 8)) {
			if (strstr(line, " hg"))
				strcpy(adv, "hg");
			if (strstr(line, " nh"))
				strcpy(adv, "nh");
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 100;
	struct region rs[] = {
		{ "A", map(96 * MIB, 0), 96 * MIB, 1 },
		{ "B", map(16 * MIB, 0), 16 * MIB, 1 },
		{ "C", map(80 * MIB, 0), 80 * MIB, 1 },
		{ "D", map(32 * MIB, 0), 32 * MIB, 1 },
		{ "S", map_fenced(64 * MIB), 64 * MIB, SPARSE_STRIDE },
	};
	int n = (int)(sizeof rs / sizeof rs[0]);
	madvise(rs[1].mem, rs[1].len, MADV_HUGEPAGE);
	madvise(rs[2].mem, rs[2].len, MADV_NOHUGEPAGE);
	for (int i = 0; i < n; i++)
		fill(&rs[i], 0);
	setvbuf(stdout, 0, _IOLBF, 0);
	printf("ready\n");
	for (long step = 1; step <= steps; step++) {
		uint64_t sum = 0;
		for (int i = 0; i < n; i++) {
			struct region *r = &rs[i];
			size_t per_page = PAGE / 8, pages = r->len / PAGE;
			/* Check a spread of words written so far, then move the step's words on. */
			for (size_t k = 0; k < 64; k++) {
				size_t pg = (size_t)mix((uint64_t)(step * 64 + (long)k)) % (pages / r->stride) * r->stride;
				size_t w = pg * per_page + (size_t)mix(k) % per_page;
				uint64_t want = expect(r, w, step - 1);
				if (r->mem[w] != want) {
					printf("step %ld BAD %s word %zu\n", step, r->name, w);
					return 1;
				}
				sum = sum * 31 + r->mem[w];
			}
			for (size_t pg = 0; pg < pages; pg += r->stride)
				for (size_t w = pg * per_page; w < (pg + 1) * per_page; w += 64)
					r->mem[w] = expect(r, w, step);
		}
		printf("step %ld sum %016llx\n", step, (unsigned long long)sum);
		if (step % 10 == 0) {
			char b[3], c[3], s[3];
			long rb, rc, rss;
			smaps_of(rs[1].mem, b, &rb);
			smaps_of(rs[2].mem, c, &rc);
			smaps_of(rs[4].mem, s, &rss);
			long want = (long)(rs[4].len / PAGE / SPARSE_STRIDE * PAGE / 1024);
			printf("step %ld advice B %s C %s; sparse S rss %s\n", step, b, c,
			       rss == want ? "= the pages written" : "is NOT the pages written");
			if (rss != want)
				printf("  S rss %ld kB, wrote %ld kB\n", rss, want);
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, 0);
	}
	printf("done\n");
	return 0;
}
