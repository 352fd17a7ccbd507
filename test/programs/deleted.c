/*
 * A scratch file written, unlinked and read back while it stays open: how genome
 * assemblers keep their temporary data. The file has three fds (one opened separately
 * with its own offset, one a dup sharing the writer's), a 9 MiB head (more than one
 * FILEDATA record), a hole, and grows every step; a memfd with a seal rides along.
 * Every step appends through the dup, reads on through the reader's own offset, checks
 * every byte against the function of its offset it was written from (zeros in the hole),
 * and checks that the fds still see one unlinked file. Prints one line per step; every
 * line is the same in an uninterrupted run, wherever a checkpoint lands.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD ((9 << 20) + 123)
#define HOLE_END (16 << 20)
#define READ_STEP (300 << 10)

static uint8_t byte_at(uint64_t o)
{
	if (o >= HEAD && o < HOLE_END)
		return 0;
	uint64_t x = (o + 1) * 0x9e3779b97f4a7c15ull;
	return (uint8_t)(x >> 56);
}

static void fill(uint8_t *p, uint64_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = byte_at(from + i);
}

static uint8_t buf[HEAD];

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 60;
	const char *name = "scratch.tmp";
	int w = open(name, O_RDWR | O_CREAT | O_TRUNC, 0640);
	int r = open(name, O_RDONLY);
	int d = dup(w);
	int m = memfd_create("stasis-test", MFD_ALLOW_SEALING);
	if (w < 0 || r < 0 || d < 0 || m < 0 || unlink(name))
		return 2;
	fill(buf, 0, HEAD);
	if (write(w, buf, HEAD) != HEAD || lseek(w, HOLE_END, SEEK_SET) != HOLE_END)
		return 2;
	char memfd_text[5000];
	for (size_t i = 0; i < sizeof(memfd_text); i++)
		memfd_text[i] = (char)('a' + i % 26);
	if (write(m, memfd_text, sizeof(memfd_text)) != (ssize_t)sizeof(memfd_text) ||
	    fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK))
		return 2;

	uint64_t x = 1;
	for (int i = 0; i < steps; i++) {
		/* Append through the dup: it shares the writer's offset. */
		size_t n = 4096 + (size_t)i * 37;
		off_t at = lseek(d, 0, SEEK_CUR);
		fill(buf, (uint64_t)at, n);
		if (write(d, buf, n) != (ssize_t)n)
			return 3;
		for (long k = 0; k < 15000000; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		/* Read on through the reader's own offset, wrapping at the end. */
		off_t from = lseek(r, 0, SEEK_CUR);
		ssize_t got = read(r, buf, READ_STEP);
		if (got == 0) {
			from = lseek(r, 0, SEEK_SET);
			got = read(r, buf, READ_STEP);
		}
		long bad = got > 0 ? 0 : 1;
		uint32_t sum = 0;
		for (ssize_t k = 0; k < got; k++) {
			bad += buf[k] != byte_at((uint64_t)from + (uint64_t)k);
			sum = sum * 31 + buf[k];
		}
		struct stat sw, sr, sd;
		fstat(w, &sw);
		fstat(r, &sr);
		fstat(d, &sd);
		int one = sw.st_ino == sr.st_ino && sw.st_dev == sr.st_dev && sw.st_ino == sd.st_ino;
		char mt[5000];
		ssize_t mg = pread(m, mt, sizeof(mt), 0);
		int mok = mg == (ssize_t)sizeof(mt) && memcmp(mt, memfd_text, sizeof(mt)) == 0;
		memfd_text[i % 5000] = (char)('A' + i % 26);
		pwrite(m, memfd_text + i % 5000, 1, i % 5000);
		printf("step %d size %lld read %lld@%lld sum %08x bad %ld one-file %s nlink %ld offsets %lld/%lld "
		       "memfd %s seals %d lcg %016llx\n",
		       i, (long long)sw.st_size, (long long)got, (long long)from, sum, bad, one ? "yes" : "no",
		       (long)sw.st_nlink, (long long)lseek(w, 0, SEEK_CUR), (long long)lseek(r, 0, SEEK_CUR),
		       mok ? "ok" : "LOST", fcntl(m, F_GET_SEALS), (unsigned long long)x);
		fflush(stdout);
	}
	return 0;
}
