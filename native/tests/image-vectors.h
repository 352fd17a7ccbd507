/*
 * The vector tool's two halves: image-vectors.c writes images (with the agent's writer),
 * their JSON form and damaged copies; image-vectors-cases.c says what the vectors hold.
 */
#ifndef STASIS_TESTS_IMAGE_VECTORS_H
#define STASIS_TESTS_IMAGE_VECTORS_H
#include <stddef.h>
#include <stdint.h>
#include "../agent/image.h"
#include "../agent/image-incr.h"
#include "../common/img.h"
#include "../res/res.h"

#define PAGE 4096u

/* ---- what an image holds ---- */

struct fd_spec {
	struct img_fd f; /* extra and extra_len are filled in from x (or raw) */
	union {
		struct reg_extra reg;
		struct pipe_extra pipe;
		struct eventfd_extra eventfd;
		struct { uint32_t n; struct epoll_entry e[4]; } epoll;
		struct signalfd_extra signalfd;
		struct timerfd_extra timerfd;
		struct deleted_extra deleted;
		struct fifo_extra fifo;
		struct pty_extra pty;
	} x;
	const char *raw;  /* bad vectors: these bytes instead of the kind's extra */
	uint32_t raw_len;
};

struct chunk_spec {
	uint64_t addr;
	uint32_t pages, seed;
	int text; /* 1: lines of text (compressible: written as zstd); 2: a smooth float64
		   * field (written byte-shuffled, encoding 2); 0: random bytes */
	/* Damage: these bytes, written as the chunk's zstd data as they are. */
	const uint8_t *stored;
	uint32_t stored_len;
};

/* A FILEDATA record: len bytes of file_id at offset, filled from seed. */
struct filedata_spec {
	uint64_t file_id, offset;
	uint32_t len, seed;
};

/* A PAGES record: n pages at these addresses, filled from seed. */
struct pages_spec {
	const uint64_t *addr;
	uint32_t n, seed;
};

/* A record of a type this version does not define, which readers must skip. */
struct later_rec {
	uint16_t type;
	const char *payload;
	int after_chunk; /* -1: after the FDs; k: after chunk k */
};

struct content {
	struct img_info info;
	struct img_process proc;
	const struct img_region *regions;
	int nregions;
	const struct img_thread *threads;
	int nthreads;
	const struct fd_spec *fds;
	int nfds;
	const struct filedata_spec *filedata;
	int nfiledata;
	const struct chunk_spec *chunks;
	int nchunks;
	const struct later_rec *later;
	int nlater;
	const struct img_proc_state *ps;     /* null: no PROC_STATE */
	int ps_twice;                        /* damage: PROC_STATE written twice */
	const struct img_thread_state *tstates;
	int ntstates;
	const struct img_posix_timer *timers;
	int ntimers;
	const struct img_sem_undo *sem_undos;
	int nsem_undos;
	const struct img_fd_share *shares;   /* FD_SHARE records, after the FDs */
	int nshares;
	const struct img_fd_lock *locks;     /* FD_LOCK records, after those */
	int nlocks;
	/* Incremental images (image-vectors-incr.c). */
	int incremental;                     /* the file header's INCREMENTAL flag */
	const struct img_parent *parents;    /* PARENT records, after INFO */
	int nparents;
	const struct img_ref *refs;          /* one REFS record, before the chunks */
	int nrefs;
	const struct pages_spec *pages;      /* PAGES records, after the chunks */
	int npages;
	/* Damage that needs the writer's help. */
	int no_info, threads_first, filedata_last, parents_late;
	uint32_t info_trailing; /* zero bytes after INFO's last field */
};

struct rec_at {
	uint16_t type;
	uint64_t off;
	uint32_t len;
	uint32_t enc, stored; /* a CHUNK's, as the chunk writer encoded it */
};

struct image {
	uint8_t *b;
	size_t n;
	struct rec_at rec[256];
	int nrec;
};

/* An FD record's fixed fields, for fd_spec initializers. */
#define FD(n, flags, k, oflags, dup, off, dev, ino, mode, path) \
	.f = { n, flags, k, oflags, dup, off, dev, ino, mode, path, 0, 0 }

/* image-vectors.c */
void fill(uint8_t *p, size_t n, uint32_t seed);
/* Numbered lines of text: memory that compresses well. */
void fill_text(uint8_t *p, size_t n, uint32_t seed);
/* A smooth float64 field rounded to float32 (as bench workload field4gib): memory the
 * writer stores byte-shuffled. IEEE arithmetic only, so the same bytes everywhere. */
void fill_field(uint8_t *p, size_t n, uint32_t seed);
void build(const struct content *c, struct image *img);
/* NAME.img and NAME.json in the output folder. */
void good(const char *name, const struct content *c, struct image *img);
/* bad/NAME.img holding n bytes of b, and bad/NAME.txt holding the formatted fragment. */
void bad(const char *name, const uint8_t *b, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Builds c and writes it as bad/NAME; fmt may use %s once, for the name of record rec. */
void bad_built(const char *name, const struct content *c, int rec, const char *fmt);
uint8_t *copy(const struct image *img);
void put32(uint8_t *p, uint32_t v);
void put64(uint8_t *p, uint64_t v);
uint64_t get64(const uint8_t *p);
void fix_crc(uint8_t *b, const struct rec_at *r);
void fix_header_crc(uint8_t *b);
int find(const struct image *img, uint16_t type, int nth);
const char *name_of(const struct image *img, int i);

/* image-vectors-cases.c */
void setup(void);
struct content rich_content(void);
struct content minimal_content(void);
void bad_vectors(const struct image *minimal);

/* image-vectors-incr.c */
struct content incremental_content(void);
void incremental_bad_vectors(void);
#endif
