/*
 * chunk-writer-check: holds the agent's chunk writer (agent/chunk-writer.c) to its
 * contract. In a copy of this process made by a raw clone() system call, as a forked
 * checkpoint's writer is (no atfork handlers, none of libc's thread bookkeeping), it must
 * write with worker threads exactly the bytes it writes without them here, and never call
 * malloc, calloc, realloc, free or pthread_create while it runs: in the copy, those end it
 * with status 3. Memory is a mix of random, compressible, all-zero and float64-field
 * pieces, submitted in chunks of one page to 8 MiB, some from a buffer that is reused at
 * once; every encoding must be used.
 * First, the byte shuffle of encoding 2 (common/shuffle.h) is held to its definition, and
 * unshuffled back, for every size up to 1100 bytes (whole words or not, the fast blocks
 * and the tails) and for some large ones.
 * Prints "ok: ..." and exits 0, or says what differs and exits 1.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../agent/chunk-writer.h"
#include "../common/img.h"
#include "../common/shuffle.h"

#define MIB (1ul << 20)
#define SIZE (48 * MIB)

static volatile int armed;

static void trap(const char *what)
{
	if (!armed)
		return;
	static const char msg[] = "chunk-writer-check: the writer called ";
	write(2, msg, sizeof(msg) - 1);
	write(2, what, strlen(what));
	write(2, "\n", 1);
	_exit(3);
}

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
	trap("malloc");
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	trap("calloc");
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	trap("realloc");
	return __libc_realloc(p, n);
}

void free(void *p)
{
	trap("free");
	__libc_free(p);
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	(void)t, (void)a, (void)fn, (void)arg;
	trap("pthread_create");
	return 11;
}

static uint64_t mix(uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t stage[4 << 20];
static uint8_t bounce[IMG_CHUNK_MAX];

/* Writes the memory as chunks of varying sizes to fd; returns the image's size. */
static uint64_t write_all(int fd, const uint8_t *mem, int workers, struct cw *w)
{
	struct img_out o;
	img_open(&o, fd, stage, sizeof(stage));
	cw_start(w, &o, 1, workers);
	uint64_t sizes[] = { 4096, 8 * MIB, 3 * MIB + 4096, 12288, 8 * MIB, 256 * 1024, 5 * MIB };
	uint64_t off = 0;
	for (int k = 0; off < SIZE; k++) {
		uint64_t len = sizes[k % 7];
		if (len > SIZE - off)
			len = SIZE - off;
		if (k % 3 == 2) {
			memcpy(bounce, mem + off, len);
			cw_chunk(w, 0x10000000 + off, bounce, len, 1);
			memset(bounce, 0xa5, len); /* reused at once: the writer must have copied it */
		} else {
			cw_chunk(w, 0x10000000 + off, mem + off, len, 0);
		}
		off += len;
	}
	cw_finish(w);
	if (img_finish(&o)) {
		fprintf(stderr, "chunk-writer-check: cannot write the image\n");
		exit(1);
	}
	return o.off;
}

/* shuffle8 against plane k = byte k of every word, tail as it is; unshuffle8 back. */
static int check_shuffle(void)
{
	static uint8_t src[3 * MIB + 77], sh[sizeof(src)], back[sizeof(src)];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)mix(i);
	size_t big[] = { 3 * MIB, 3 * MIB + 8, 3 * MIB + 77, 8 * 4096 + 5 * 8 };
	for (size_t t = 0; t < 1101 + 4; t++) {
		size_t n = t < 1101 ? t : big[t - 1101], words = n / 8;
		memset(sh, 0xee, n + 1 <= sizeof(sh) ? n + 1 : n);
		shuffle8(sh, src, n);
		for (size_t j = 0; j < n; j++) {
			uint8_t want = j < 8 * words ? src[8 * (j % (words ? words : 1)) + j / (words ? words : 1)] : src[j];
			if (sh[j] != want) {
				fprintf(stderr, "chunk-writer-check: shuffle8 of %zu bytes: byte %zu is %#x, not %#x\n", n, j, sh[j], want);
				return 1;
			}
		}
		if (n < sizeof(sh) && sh[n] != 0xee) {
			fprintf(stderr, "chunk-writer-check: shuffle8 of %zu bytes wrote past them\n", n);
			return 1;
		}
		unshuffle8(back, sh, n);
		if (memcmp(back, src, n)) {
			fprintf(stderr, "chunk-writer-check: unshuffle8 of %zu bytes does not give them back\n", n);
			return 1;
		}
	}
	return 0;
}

int main(void)
{
	if (check_shuffle())
		return 1;
	uint8_t *mem = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return perror("mmap"), 1;
	uint64_t *q = (uint64_t *)mem;
	for (uint64_t i = 0; i < SIZE / 8; i++) {
		uint64_t piece = i / 8192; /* 64 KiB pieces */
		double field = (double)(float)(1.0 + (double)i / 4096.0 * (1.0 - (double)i / (SIZE / 8.0)));
		if (piece % 4 == 3)
			memcpy(&q[i], &field, 8);
		else
			q[i] = piece % 4 == 0 ? mix(i) : piece % 4 == 1 ? (i % 97) * 3 + (i / 512) : 0;
	}
	int fd_child = memfd_create("child", 0), fd_here = memfd_create("here", 0);
	if (fd_child < 0 || fd_here < 0)
		return perror("memfd_create"), 1;

	long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		return perror("clone"), 1;
	if (pid == 0) {
		struct cw w;
		armed = 1;
		write_all(fd_child, mem, 3, &w);
		armed = 0;
		_exit(0);
	}
	int status;
	if (waitpid((pid_t)pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "chunk-writer-check: the writer in the cloned copy failed (status %#x)\n", status);
		return 1;
	}
	struct cw w;
	uint64_t n = write_all(fd_here, mem, 0, &w);
	uint64_t m = (uint64_t)lseek(fd_child, 0, SEEK_END);
	uint8_t *a = mmap(0, n, PROT_READ, MAP_SHARED, fd_here, 0), *b = mmap(0, m ? m : 1, PROT_READ, MAP_SHARED, fd_child, 0);
	if (n != m || a == MAP_FAILED || b == MAP_FAILED || memcmp(a, b, n)) {
		fprintf(stderr, "chunk-writer-check: with workers in the cloned copy the image differs (%llu bytes, %llu without)\n",
			(unsigned long long)m, (unsigned long long)n);
		return 1;
	}
	if (!(w.stored_bytes < w.raw_bytes - w.raw_bytes / 4)) {
		fprintf(stderr, "chunk-writer-check: nothing was compressed (%llu of %llu bytes stored)\n",
			(unsigned long long)w.stored_bytes, (unsigned long long)w.raw_bytes);
		return 1;
	}
	if (!w.by_enc[IMG_ENC_RAW] || !w.by_enc[IMG_ENC_ZSTD] || !w.by_enc[IMG_ENC_SHUF8_ZSTD]) {
		fprintf(stderr, "chunk-writer-check: not every encoding was used (%u raw, %u zstd, %u shuffled)\n",
			w.by_enc[0], w.by_enc[1], w.by_enc[2]);
		return 1;
	}
	printf("ok: %llu bytes of memory in %llu stored (%u chunks raw, %u zstd, %u shuffled), the same %llu-byte image "
	       "with 3 workers in a cloned copy and without; shuffle8 round trips\n",
	       (unsigned long long)w.raw_bytes, (unsigned long long)w.stored_bytes, w.by_enc[0], w.by_enc[1], w.by_enc[2],
	       (unsigned long long)n);
	return 0;
}
