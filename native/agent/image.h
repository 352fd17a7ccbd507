/*
 * The image writer (docs/image-format.md): records staged in a buffer, chunks written
 * straight from memory, and the one C definition of each record's payload.
 *
 * The payload encoders take plain structs holding the spec's fields, so the agent
 * (capture.c) and the vector tool (../tests/image-vectors.c) encode through the same code.
 * Each appends to a wbuf; running out of room sets its `overflow` flag. None allocates,
 * locks or calls libc: they run while application threads are stopped.
 */
#ifndef STASIS_IMAGE_H
#define STASIS_IMAGE_H
#include <stdint.h>
#include <stddef.h>
#include "../common/wire.h"

struct img_out {
	int fd;
	uint64_t off;       /* file offset of the next byte */
	uint8_t *buf;       /* staging for small records */
	size_t blen, bcap;
	uint64_t nrec, nchunk, content;
	long err;           /* first error, -errno */
	uint64_t kicked;    /* writeback has been started up to here (image.c) */
};

void img_open(struct img_out *o, int fd, uint8_t *buf, size_t cap);
void img_record(struct img_out *o, uint16_t type, const void *payload, uint32_t len);
/* Rewrites the record at file offset `at` (written by img_record with a payload of the same
 * length) with this payload. */
void img_rewrite_record(struct img_out *o, uint64_t at, uint16_t type, const void *payload, uint32_t len);
/* A raw CHUNK: len bytes of memory at addr, written from mem. */
void img_chunk(struct img_out *o, uint64_t addr, const void *mem, uint64_t len);
/* A CHUNK covering raw_len bytes at addr, stored as `stored` bytes of data in `encoding`
 * (IMG_ENC_*); data_crc is crc32c(0, data, stored), computed by whoever made the data. */
void img_chunk_stored(struct img_out *o, uint64_t addr, uint64_t raw_len, uint32_t encoding, const void *data,
		      uint32_t stored, uint32_t data_crc);
/* A FILEDATA record: len bytes of file `file_id` at offset, data page-aligned in the image. */
void img_filedata(struct img_out *o, uint64_t file_id, uint64_t offset, const void *data, uint32_t len);
/* Writes END and flushes. Returns 0 or the first error. */
long img_finish(struct img_out *o);
/* For records written elsewhere (image-incr.c): sets the file header's flags (only before
 * anything is flushed), stages bytes, writes a vector of bytes straight to the file. */
void img_set_flags(struct img_out *o, uint64_t flags);
void img_put_bytes(struct img_out *o, const void *p, size_t n);
struct iovec;
void img_put_iov(struct img_out *o, struct iovec *v, int n);

/* Strings are NUL-terminated; a `str` longer than 65535 bytes is an overflow. */

struct img_info {
	uint32_t page_size, flags;
	uint64_t created_unix_ns, ckpt_id;
	const char *machine, *kernel_release, *kernel_version, *glibc_version, *hostname,
		*stasis_version;
};

struct img_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct img_rlimit {
	uint64_t cur, max;
};

struct img_process {
	uint32_t pid, ppid, pgid, sid, uid, gid, umask;
	uint64_t proc_id;
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack,
		arg_start, arg_end, env_start, env_end;
	uint64_t restart_entry, restart_info;
	uint32_t restart_info_size;
	int64_t rseq_offset;
	uint32_t rseq_size, rseq_sig;
	uint32_t nsig;                       /* entries for signals 1..nsig */
	const struct img_sigaction *sigactions;
	uint32_t nrlimit;
	const struct img_rlimit *rlimits;
	const char *cwd, *exe, *comm;
	uint32_t auxv_len;
	const void *auxv;
};

struct img_region {
	uint64_t start, end, file_offset;
	uint32_t prot, flags, kind;
	uint64_t dev, inode, file_size;
	int64_t file_mtime_ns;
	const char *path;
};

struct img_thread {
	uint32_t tid, flags;
	uint64_t fs_base, gs_base, clear_child_tid, robust_list, robust_list_len, sigmask;
	uint64_t altstack_sp, altstack_size;
	uint32_t altstack_flags;
	uint64_t resume_sp;
	uint32_t ngregs;
	const uint64_t *gregs;               /* null: ngregs zeros */
	uint32_t xsave_len;
	const void *xsave;
};

struct img_fd {
	int32_t fd;
	uint32_t fd_flags, kind, open_flags;
	int32_t dup_of;
	uint64_t offset, dev, inode;
	uint32_t mode;
	const char *path;
	const void *extra;                   /* the kind's extra bytes (../res/res.h codecs) */
	uint32_t extra_len;
};

/* Kernel state around the process (docs/image-format.md: PROC_STATE, THREAD_STATE,
 * POSIX_TIMER). A siginfo list is n entries of IMG_SIGINFO_SIZE bytes each. */

struct img_itimer {
	uint64_t value_ns, interval_ns;
};

struct img_proc_state {
	int64_t realtime_ns, monotonic_ns, boottime_ns;
	uint32_t personality, flags, dumpable;
	struct img_itimer itimers[3];        /* ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF */
	uint32_t nsiginfo;                   /* shared pending signals, in queue order */
	const uint8_t *siginfo;
};

struct img_thread_state {
	uint32_t tid, flags;
	int32_t nice;
	uint32_t pdeathsig;
	uint64_t timer_slack_ns;
	const char *comm;
	uint32_t affinity_len;
	const uint8_t *affinity;
	uint32_t nsiginfo;                   /* the thread's own pending signals, in queue order */
	const uint8_t *siginfo;
};

struct img_posix_timer {
	int32_t timer_id, clockid;
	uint32_t notify, signo, notify_tid;
	uint64_t sigev_value, value_ns, interval_ns;
};

void img_put_info(struct wbuf *w, const struct img_info *v);
void img_put_process(struct wbuf *w, const struct img_process *v);
void img_put_region(struct wbuf *w, const struct img_region *v);
void img_put_thread(struct wbuf *w, const struct img_thread *v);
void img_put_fd(struct wbuf *w, const struct img_fd *v);

/* What an fd shares with other processes of the computation. */
struct img_fd_share {
	int32_t fd;
	uint32_t flags;    /* SF_* */
	uint64_t share_id; /* the open file description's id across processes; 0: its own */
};
void img_put_fd_share(struct wbuf *w, const struct img_fd_share *v);

/* A lock held through an fd (flock, POSIX record lock, OFD lock). */
struct img_fd_lock {
	int32_t fd;
	uint32_t kind, type; /* LK_* */
	uint64_t start, end; /* bytes start..end, inclusive; end LK_EOF: to the end of the file */
};
void img_put_fd_lock(struct wbuf *w, const struct img_fd_lock *v);
void img_put_proc_state(struct wbuf *w, const struct img_proc_state *v);
void img_put_thread_state(struct wbuf *w, const struct img_thread_state *v);
void img_put_posix_timer(struct wbuf *w, const struct img_posix_timer *v);

/* SEM_UNDO: what the kernel would add to each semaphore of set `semid` when the process
 * exits (its semadj values), the non-zero ones, by ascending semaphore number. */
struct img_sem_adj {
	uint32_t num;
	int32_t adj;
};
struct img_sem_undo {
	int32_t semid;
	uint32_t n;
	const struct img_sem_adj *adj;
};
void img_put_sem_undo(struct wbuf *w, const struct img_sem_undo *v);
#endif
