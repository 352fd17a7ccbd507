/*
 * Reading an image (docs/image-format.md) with the checks every reader makes: meta.c walks
 * the records before the chunks, chunks.c the CHUNKs and END. A bad image ends the
 * program with one line naming the record and its offset, worded as the TypeScript reader
 * (src/image/reader.ts) words it; the vectors in test/vectors/image/ hold both to that.
 */
#ifndef STASIS_LOADER_META_H
#define STASIS_LOADER_META_H
#include <stdint.h>
#include "../common/fmt.h"
#include "../res/res.h"
#include "chunk-decode.h"

/* Limits of what this reader restores; larger values make the record malformed. */
#define META_MAX_RECORD (16u << 20) /* non-CHUNK records; unknown larger ones are skipped */
#define META_MAX_NSIG 64
#define META_MAX_NRLIMIT 16
#define META_MAX_AUXV 1024
#define META_MAX_GREGS 256
#define META_MAX_FD (1 << 20)
#define META_MAX_SIGINFO 4096
#define META_MAX_AFFINITY 1024

struct m_region {
	uint64_t start, end, off, dev, ino, fsize;
	int64_t mtime;
	uint32_t prot, flags, kind;
	char path[4096];
};

struct m_thread {
	uint32_t tid, flags;
	uint64_t fs_base, ctid, resume_sp;
};

struct m_process {
	uint32_t pid, ppid, pgid, sid, uid, gid, umask;
	uint64_t proc_id;
	uint64_t mm[11]; /* start_code … env_end, in record order */
	uint64_t restart_entry, restart_info;
	uint32_t restart_info_size;
	uint64_t sigact[META_MAX_NSIG][4];
	uint32_t nsig;
	uint64_t rlim[META_MAX_NRLIMIT][2];
	uint32_t nrlimit;
	char cwd[4096], exe[4096], comm[64];
	uint8_t auxv[META_MAX_AUXV];
	uint32_t auxv_len;
};

/* A FILEDATA record: where its data lies, checked but not read until it is copied. */
struct m_filedata {
	uint64_t file_id, offset, data_at;
	uint32_t len, crc, crc_head;
	uint64_t index, off; /* the record's number and file offset, for messages */
};

/* A file the FD records declare (kind DELETED), and how far its FILEDATA has come. */
struct m_file {
	uint64_t id, size, end;
};

/* PROC_STATE: absent in images of agents before it (present == 0). */
struct m_proc_state {
	int present;
	int64_t realtime_ns, monotonic_ns, boottime_ns;
	uint32_t personality, flags, dumpable;
	uint64_t itimer[3][2];        /* value_ns, interval_ns */
	uint32_t nsiginfo;
	const uint8_t *siginfo;       /* nsiginfo × 128 bytes, in the arena */
};

/* THREAD_STATE: checked here; each thread restores it from the agent's copy in memory. */
struct m_thread_state {
	uint32_t tid, flags, pdeathsig, affinity_len, nsiginfo;
	int32_t nice;
	uint64_t timer_slack_ns;
	char comm[16];
};

struct m_timer {
	int32_t id, clockid;
	uint32_t notify, signo, notify_tid;
	uint64_t sigev_value, value_ns, interval_ns;
};

/* SEM_UNDO: the process's adjustments on one SysV semaphore set. */
struct m_sem_undo {
	int32_t semid;
	uint32_t n;
	const uint8_t *entries;       /* n × (u32 num, i32 adj), little-endian, in the arena */
};

/* FD_LOCK: a lock the process held through fd. */
struct m_lock {
	int fd;
	uint32_t kind, type;
	uint64_t start, end;
};

struct rec_head {
	uint16_t type;
	uint32_t len, crc;
};

/* Where a reader is, and what the records so far allow next. */
struct img_cursor {
	int fd;
	const char *path;
	uint64_t size;      /* of the file */
	uint64_t off;       /* of the next record's header */
	uint64_t index;     /* of the next record, from 0 */
	int rank;           /* order rank of the last known record; -1 before any */
	int have_info, have_process;
	uint32_t page_size; /* from INFO */
	uint64_t flags;     /* the file header's (IMG_FLAG_*) */
};

struct meta {
	struct m_process proc;
	struct m_region *regions;
	int nregions;
	struct m_thread *threads;
	int nthreads;
	struct fd_rec *fds;
	int nfds;
	int max_fd;
	struct m_lock *locks;
	int nlocks;
	struct m_filedata *fdata;
	int nfdata;
	struct m_file *files;
	int nfiles;
	struct m_proc_state ps;
	struct m_thread_state *tstates;
	int ntstates;
	struct m_timer *timers;
	int ntimers;
	struct m_sem_undo *sem_undos;
	int nsem_undos;
	uint32_t page_size;
	uint64_t nunknown;     /* records of types this reader does not know, skipped */
	struct m_incr *incr;   /* PARENT, REFS, PAGES (refs.c); null until one is met */

	/* The walk over the chunks (chunks.c) goes on from where meta_read stopped. */
	struct img_cursor cur;
	struct rec_head pending; /* the first CHUNK or END, read and ordered */
	int have_pending;
	uint64_t nchunks, content;
	uint64_t end_records, end_chunks, end_content, end_offset; /* END, once read */
	struct m_arena *arena;   /* meta_read's, for what the chunk walk needs later */
	struct rst_unzstd unzstd; /* set up at the first zstd chunk */
};

/* A bump allocator over memory the caller maps. */
struct m_arena {
	uint8_t *base;
	size_t used, cap;
};
void *m_take(struct m_arena *a, size_t n);

/* Reads and checks every record before the chunks. Dies with a one-line reason. Whether
 * there is a THREAD at all is checked at END (chunks.c), as the TypeScript reader does. */
void meta_read(int fd, const char *path, struct meta *m, struct m_arena *a);
/* How many bytes of metadata the image has (to size an arena), without parsing it. */
uint64_t meta_size(int fd, const char *path);
/* Arena bytes meta_read may need for msize bytes of metadata. */
uint64_t meta_arena_size(uint64_t msize);

/* Copies the stored contents of file `id` (its FILEDATA records) into fd dst (none when
 * dst < 0), checking each record's CRC on the way through buf; dies on a mismatch.
 * Returns 0 or the -errno of a write. */
int rst_fill_file(const struct meta *m, uint64_t id, int dst, uint8_t *buf, size_t cap);

/* Shared by meta.c and chunks.c. */
void rst_pread_all(const struct img_cursor *c, void *buf, size_t n, uint64_t off);
/* Reads the header of the record at c->off; dies if it is cut short or not a record. */
void rst_rec_head(const struct img_cursor *c, struct rec_head *h);
/* Checks the record may come here (docs: record order) and notes that it did. */
void rst_rec_order(struct img_cursor *c, const struct rec_head *h);
/* Reads a non-CHUNK payload (len + padding bytes) into buf and checks CRC and padding. */
void rst_rec_payload(const struct img_cursor *c, const struct rec_head *h, uint8_t *buf);
/* Checks CRC and padding of a record without keeping it (it may be large). */
void rst_rec_check_streaming(const struct img_cursor *c, const struct rec_head *h);
void rst_rec_skip(struct img_cursor *c, const struct rec_head *h);
uint64_t rst_rec_next(uint64_t off, uint32_t len);
/* "record #N (TYPE) at offset X" */
void rst_rec_name(struct sbuf *s, const struct img_cursor *c, uint16_t type);
__attribute__((noreturn)) void rst_img_die(const struct img_cursor *c, struct sbuf *s);
/* Dies, naming the record, if its payload is short (a field ran past its end) or has len -
 * used bytes after the last field. */
void rst_payload_fits(const struct img_cursor *c, uint16_t type, int short_, uint64_t len, uint64_t used);
__attribute__((noreturn)) void rst_rec_die(const struct img_cursor *c, uint16_t type, const char *sep,
					   const char *what);
#endif
