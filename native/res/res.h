/*
 * File-descriptor kinds. Each kind lives in one file with both directions side by side:
 * `save` runs in the agent while application threads are stopped, `restore` in the
 * freestanding loader. Both may use only ../common (raw syscalls, no libc). A kind
 * answers "is this fd mine?" itself (`claims`); res.c holds the one ordered table.
 * Adding a kind: a new file here, a line in res.c, a value in img.h and the docs.
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
	struct kstat st;
	char link[4096];     /* readlink /proc/self/fd/N */
	char *fdinfo;        /* the fdinfo text, NUL-terminated */
};

/* The agent's view of every fd, for kinds that need another fd (a pipe's other end). */
struct save_ctx {
	struct fd_probe *probes;
	int nprobes;
	uint8_t *scratch;    /* at least 1 MiB */
	size_t scratch_len;
	uint64_t saved_pipes[256];
	int nsaved_pipes;
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
	char path[4096];
};

/* The loader's fd state: what `stasis restart` gave it, and objects created on the way. */
struct rst_fds {
	int stdio[3];        /* the restarter's fds 0..2, stashed high; -1 if closed */
	int stash_base;      /* temporary fds live at or above this number */
	struct { uint64_t id; int rfd, wfd; } pipes[256];
	int npipes;
	char *why;           /* a one-line reason on failure */
	int whylen;
};

struct res_ops {
	uint32_t kind;
	const char *name;
	int (*claims)(const struct fd_probe *p);
	/* Appends the kind's extra bytes. Returns 0 or -errno (with a reason in why). */
	int (*save)(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c);
	/* Creates the object and returns an fd for it (any number), or -errno. */
	int (*restore)(const struct fd_rec *r, struct rst_fds *c);
	/* Optional second pass, once every fd exists (epoll registrations). */
	int (*restore_late)(const struct fd_rec *r, struct rst_fds *c);
	/* Whether restore should apply open_flags with F_SETFL afterwards. */
	int set_fl;
};

const struct res_ops *res_find_claim(const struct fd_probe *p);
const struct res_ops *res_find_kind(uint32_t kind);

/* Helpers shared by the kinds. */
const char *fdinfo_field(const char *fdinfo, const char *key); /* text after "key" */
int rst_stash(struct rst_fds *c, int fd);                       /* move fd >= stash_base */
int rst_fail(struct rst_fds *c, const char *a, const char *b, long err);
#endif
