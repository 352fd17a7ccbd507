/*
 * What capture.c and capture-fds.c share: the capture's state, its scratch arena, and the
 * one-line failure reason. Internal to the agent; the contract in agent.h holds (no malloc,
 * no stdio, no locks while threads are stopped).
 */
#ifndef STASIS_CAPTURE_H
#define STASIS_CAPTURE_H
#include <stddef.h>
#include <stdint.h>
#include "image.h"
#include "../res/res.h"
#include "agent.h"

#define ARENA_SIZE (96ul << 20)
#define MAX_PROBES 1024
#define MAX_REGIONS 65536
#define PAGE 4096ul
#define PM_BATCH 8192
#define RUN_MAX (IMG_CHUNK_MAX / PAGE)

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)


/* SAVE_IMAGE: memory a restart mapped from an image file (loader/place.c): every page,
 * read in place (pages never touched are not in pagemap, yet hold the process's data). */
enum save_mode { SAVE_NONE, SAVE_PRESENT, SAVE_COW, SAVE_ALL, SAVE_IMAGE };

struct region {
	uint64_t start, end, off, dev, ino, fsize;
	int64_t mtime;
	uint32_t prot, flags, kind, save;
	const char *path;
};

/* A bump allocator over one anonymous mapping, unmapped when the checkpoint ends. */
struct arena {
	uint8_t *base;
	size_t used, cap;
};

struct capture {
	struct arena a;
	char *why;
	int whylen;
	struct fd_probe *probes;
	int nprobes;
	struct region *regions;
	int nregions;
	uint8_t *bounce; /* IMG_CHUNK_MAX bytes, for pages read through /proc/self/mem */
};

/* Which chunks a pass writes. VOLATILE: memory that can change once the computation runs
 * again although this process does not write it (shared memory; a deleted file's pages a
 * private mapping has not copied), written while every process is stopped. PRIVATE: the
 * rest, which a forked writer's copy keeps as it was. */
enum chunk_pass { PASS_VOLATILE, PASS_PRIVATE };
int cap_region_volatile(const struct region *r);
int cap_write_chunks(struct capture *c, struct img_out *o, enum chunk_pass pass);
/* END, fsync, close, rename to `path`, directory fsync; on failure the temporary file is
 * removed. Sets *bytes to the image's size. */
int cap_seal(struct capture *c, struct img_out *o, int fd, const char *tmp, const char *path, uint64_t *bytes);
/* Closes and removes an unfinished image. */
void cap_discard(int fd, const char *tmp);

/* writer.c: 1 when a forked writer took the image over (out->forked, out->writer_pid); 0
 * when it is to be finished here (out->reason says why). Never returns in the writer. */
int writer_fork(struct capture *c, struct img_out *o, int fd, const char *tmp, const char *path,
		struct agent_capture_out *out);

/* A bump allocator over the arena; null when it is full. */
void *cap_arena_take(struct arena *a, size_t n);
/* Writes "a b: strerror(err)" as the reason; returns err, or -EINVAL when err is 0. */
int cap_fail(struct capture *c, const char *a, const char *b, long err);
/* Reads a whole small file into the arena, NUL-terminated; null if it cannot be opened. */
char *cap_slurp(struct capture *c, const char *path, size_t *len);
int cap_page_is_zero(const uint8_t *p);

/* capture-fds.c: every fd, probed before the image file is opened; then their records
 * (FD, FD_SHARE) and the contents of files deleted while open (FILEDATA). */
int cap_probe_fds(struct capture *c);
int cap_write_fds(struct capture *c, struct img_out *o);
#endif
