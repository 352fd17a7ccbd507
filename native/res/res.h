/*
 * File-descriptor kinds. Each kind lives in one file with both directions side by side:
 * `save` runs in the agent while application threads are stopped, `restore` in the
 * freestanding loader. Both may use only ../common (raw syscalls, no libc). A kind
 * answers "is this fd mine?" itself (`claims`); res.c holds the one ordered table.
 * Adding a kind: a new file here (with its extra-bytes codec declared below), a line in
 * res.c, a value in img.h and the docs.
 *
 * A kind that recreates a file whose contents exist nowhere else (a deleted file) asks
 * for them with save_ctx.files: capture.c stores them as FILEDATA records after the FDs,
 * and the loader hands them back through rst_fds.fill_file.
 */
#ifndef STASIS_RES_H
#define STASIS_RES_H
#include <stdint.h>
#include "../common/wire.h"

struct kstat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
	int64_t reserved[3];
};

#define K_S_IFMT 0170000
#define K_S_IFREG 0100000
#define K_S_IFDIR 0040000
#define K_S_IFCHR 0020000
#define K_S_IFIFO 0010000
#define K_S_IFSOCK 0140000

#define K_O_ACCMODE 03
#define K_O_WRONLY 01
#define K_O_RDWR 02
#define K_O_CREAT 0100
#define K_O_EXCL 0200
#define K_O_NOCTTY 0400
#define K_O_TRUNC 01000
#define K_O_APPEND 02000
#define K_O_NONBLOCK 04000
#define K_O_DIRECTORY 0200000
#define K_O_CLOEXEC 02000000

/* What the agent knows about one fd when it saves it. */
struct fd_probe {
	int fd;
	uint32_t fd_flags;   /* FD_CLOEXEC */
	uint32_t open_flags; /* fdinfo "flags:" */
	uint64_t pos;
	int dup_of;
	uint32_t share_flags; /* SF_* (../common/img.h): what other processes hold of it */
	struct kstat st;
	char link[4096];     /* readlink /proc/self/fd/N */
	char *fdinfo;        /* the fdinfo text, NUL-terminated */
	const struct fd_probe *all; /* every fd of the process, for claims that need a peer */
	int nall;
};

/* A file whose contents the image stores (FILEDATA records), read through fd. */
struct save_file {
	uint64_t dev, ino, id, size;
	int fd;
};

/* The agent's view of every fd, for kinds that need another fd (a pipe's other end). */
struct save_ctx {
	struct fd_probe *probes;
	int nprobes;
	uint8_t *scratch;    /* at least 1 MiB */
	size_t scratch_len;
	uint64_t saved_pipes[256];
	int nsaved_pipes;
	struct save_file files[64];
	int nfiles;
	struct { uint32_t kind; uint64_t id; } seen[256]; /* objects whose first fd is saved */
	int nseen;
};

/* One FD record, decoded by the loader. */
struct fd_rec {
	int fd;
	uint32_t fd_flags, kind, open_flags;
	int dup_of;
	uint64_t offset, dev, ino;
	uint32_t mode;
	const uint8_t *extra;
	uint32_t extra_len;
	uint32_t share_flags;  /* its FD_SHARE record, if any (SF_*) */
	uint64_t share_id;
	int share_seen;
	char path[4096];
};

/* The loader's fd state: what `stasis restart` gave it, and objects created on the way. */
struct rst_fds {
	int stdio[3];        /* the restarter's fds 0..2, stashed high; -1 if closed */
	int stash_base;      /* temporary fds live at or above this number */
	struct { uint64_t id; int rfd, wfd; } pipes[256];
	int npipes;
	/* Objects several fds share, created at the first: kind, id, and up to two fds. */
	struct { uint32_t kind; uint64_t id; int fd, fd2, done; } objs[256];
	int nobjs;
	/* Writes the stored contents (FILEDATA) of file `id` into fd; 0 or -errno. */
	int (*fill_file)(struct rst_fds *c, uint64_t id, int fd);
	void *fill_ctx;
	const char *spill_dir; /* the checkpoint directory, for files whose folder is gone */
	char *why;           /* a one-line reason on failure */
	int whylen;
	/* stasis-init's fd broker (restart of several processes; BROKER_* kinds in
	 * ../common/broker.h); null without one. put: 0 or -errno; get: an fd or -errno. */
	int (*broker_put)(uint32_t kind, uint64_t key, int fd);
	int (*broker_get)(uint32_t kind, uint64_t key);
};

struct res_ops {
	uint32_t kind;
	const char *name;
	int (*claims)(const struct fd_probe *p);
	/* Appends the kind's extra bytes. Returns 0 or -errno (with a reason in why). */
	int (*save)(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c);
	/* 0 when the extra bytes are exactly this kind's fields, else -22; null for a kind
	 * without extra bytes. The loader checks every FD record with it before restoring. */
	int (*check)(const uint8_t *extra, uint32_t len);
	/* Creates the object and returns an fd for it (any number), or -errno. */
	int (*restore)(const struct fd_rec *r, struct rst_fds *c);
	/* Optional second pass, once every fd exists (epoll registrations). */
	int (*restore_late)(const struct fd_rec *r, struct rst_fds *c);
	/* Whether restore should apply open_flags with F_SETFL afterwards. */
	int set_fl;
};

/*
 * The extra bytes of each kind that has them (docs/image-format.md, FD), one definition:
 * `put` appends them (the agent's save, the vector tool), `get` decodes them and returns 0,
 * or -22 unless the bytes hold exactly the kind's fields (the loader's check and restore).
 */
struct reg_extra { uint64_t size; };
struct pipe_extra { uint64_t pipe_id; uint32_t end, pipe_size, data_len; const uint8_t *data; };
struct eventfd_extra { uint64_t count; uint32_t flags; };
struct epoll_entry { int32_t fd; uint32_t events; uint64_t data; };
struct epoll_extra { uint32_t n; const uint8_t *entries; };
struct signalfd_extra { uint64_t mask; };
struct timerfd_extra { uint32_t clockid, flags; uint64_t value_ns, interval_ns; };
#define DELETED_MEMFD 1u
struct deleted_extra { uint64_t file_id, size; uint32_t flags, seals; };
struct fifo_extra { uint64_t fifo_id; uint32_t pipe_size, data_len; const uint8_t *data; };
#define PTY_LOCKED 1u
#define PTY_PACKET 2u
struct pty_extra {
	uint64_t pty_id;
	uint32_t end, flags;
	uint32_t iflag, oflag, cflag, lflag;
	uint8_t line, cc[19];
	uint16_t rows, cols, xpixel, ypixel;
	uint32_t master_len, slave_len;
	const uint8_t *master_data, *slave_data;
};

void reg_put_extra(struct wbuf *w, const struct reg_extra *x);
int reg_get_extra(const uint8_t *p, uint32_t n, struct reg_extra *x);
void pipe_put_extra(struct wbuf *w, const struct pipe_extra *x);
int pipe_get_extra(const uint8_t *p, uint32_t n, struct pipe_extra *x);
void eventfd_put_extra(struct wbuf *w, const struct eventfd_extra *x);
int eventfd_get_extra(const uint8_t *p, uint32_t n, struct eventfd_extra *x);
/* An epoll set's extra is its entry count, then the entries one by one. */
void epoll_put_count(struct wbuf *w, uint32_t n);
void epoll_put_entry(struct wbuf *w, const struct epoll_entry *e);
int epoll_get_extra(const uint8_t *p, uint32_t n, struct epoll_extra *x);
void epoll_entry_at(const struct epoll_extra *x, uint32_t i, struct epoll_entry *e);
void signalfd_put_extra(struct wbuf *w, const struct signalfd_extra *x);
int signalfd_get_extra(const uint8_t *p, uint32_t n, struct signalfd_extra *x);
void timerfd_put_extra(struct wbuf *w, const struct timerfd_extra *x);
int timerfd_get_extra(const uint8_t *p, uint32_t n, struct timerfd_extra *x);
void deleted_put_extra(struct wbuf *w, const struct deleted_extra *x);
int deleted_get_extra(const uint8_t *p, uint32_t n, struct deleted_extra *x);
void fifo_put_extra(struct wbuf *w, const struct fifo_extra *x);
int fifo_get_extra(const uint8_t *p, uint32_t n, struct fifo_extra *x);
void pty_put_extra(struct wbuf *w, const struct pty_extra *x);
int pty_get_extra(const uint8_t *p, uint32_t n, struct pty_extra *x);

const struct res_ops *res_find_claim(const struct fd_probe *p);
const struct res_ops *res_find_kind(uint32_t kind);

/* Helpers shared by the kinds. */
const char *fdinfo_field(const char *fdinfo, const char *key); /* text after "key" */
int rst_stash(struct rst_fds *c, int fd);                       /* move fd >= stash_base */
int rst_fail(struct rst_fds *c, const char *a, const char *b, long err);
/* 1 the first time (kind, id) is asked about, 0 after, -24 when the table is full. */
int save_first(struct save_ctx *c, uint32_t kind, uint64_t id);
/* The index of the object (kind, id), or -1; rst_obj_add returns the new index or -24. */
int rst_obj_find(const struct rst_fds *c, uint32_t kind, uint64_t id);
int rst_obj_add(struct rst_fds *c, uint32_t kind, uint64_t id, int fd, int fd2);
/* Opens the file an fd refers to again, with its own open file description. */
int reopen_fd(int fd, int flags);
#endif
