/*
 * Files deleted while open, and memfds (which never had a name). Their contents exist
 * only in the kernel, so the image stores them: the first fd of each file asks for them
 * (save_ctx.files) and capture.c writes FILEDATA records after the FD records, page
 * aligned like chunk data, holes and all-zero pages left out. However many fds point at
 * one file, dup'd or opened separately, the image holds it once: fds are paired by
 * (dev, inode) at checkpoint time and by file_id in the image.
 *
 * On restore the first fd of a file creates it, unnamed from the start: O_TMPFILE in the
 * folder it was deleted from (the same filesystem, so the same room for a file of GiBs,
 * and nothing to clean up if the restore dies half way), else a named file there that
 * is unlinked at once, else the same in the checkpoint directory, then /tmp. A memfd is
 * made again with memfd_create under its old name. Every fd then opens the new file
 * through /proc/self/fd with its own flags (its own open file description and offset, as
 * before); the mode and a memfd's seals are put back once every fd exists. The file gets
 * a new inode, and /proc/PID/fd shows the new name ("#1234 (deleted)" for O_TMPFILE).
 */
#include "res.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

#define O_TMPFILE_ (020000000 | K_O_DIRECTORY)
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define MFD_CLOEXEC 1
#define MFD_ALLOW_SEALING 2
#define SYS_memfd_create_ 319
#define SYS_ftruncate_ 77
#define SYS_fchmod_ 91

static int deleted_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFREG && p->st.nlink == 0 && p->link[0] == '/';
}

static int is_memfd(const char *link)
{
	return str_starts(link, "/memfd:");
}

void deleted_put_extra(struct wbuf *w, const struct deleted_extra *x)
{
	wb_u64(w, x->file_id);
	wb_u64(w, x->size);
	wb_u32(w, x->flags);
	wb_u32(w, x->seals);
}

int deleted_get_extra(const uint8_t *p, uint32_t n, struct deleted_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->file_id = rb_u64(&r);
	x->size = rb_u64(&r);
	x->flags = rb_u32(&r);
	x->seals = rb_u32(&r);
	if (rb_exact(&r) || !x->file_id || (x->flags & ~DELETED_MEMFD))
		return -22;
	return 0;
}

static int deleted_check(const uint8_t *p, uint32_t n)
{
	struct deleted_extra x;
	return deleted_get_extra(p, n, &x);
}

static int deleted_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	int i = 0;
	while (i < c->nfiles && !(c->files[i].dev == p->st.dev && c->files[i].ino == p->st.ino))
		i++;
	if (i == c->nfiles) {
		if (i >= (int)(sizeof(c->files) / sizeof(c->files[0])))
			return -24;
		c->files[i] = (struct save_file){ p->st.dev, p->st.ino, (uint64_t)i + 1, (uint64_t)p->st.size, p->fd };
		c->nfiles++;
	}
	uint32_t flags = is_memfd(p->link) ? DELETED_MEMFD : 0;
	long seals = flags ? sys_fcntl(p->fd, F_GET_SEALS, 0) : 0;
	deleted_put_extra(extra, &(struct deleted_extra){ c->files[i].id, c->files[i].size, flags,
							  seals > 0 ? (uint32_t)seals : 0 });
	return 0;
}

/* "/memfd:NAME (deleted)" -> NAME; "/dir/name (deleted)" -> "/dir". */
static void strip_deleted(const char *link, char *out, size_t cap)
{
	str_copy(out, link, cap);
	size_t n = cstrlen(out);
	if (n >= 10 && str_eq(out + n - 10, " (deleted)"))
		out[n - 10] = 0;
}

static int make_memfd(const char *link)
{
	char name[4096];
	strip_deleted(link + 7, name, sizeof(name));
	name[249] = 0; /* the kernel's limit */
	return (int)sys_call2(SYS_memfd_create_, (long)name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

static int make_in(const char *dir, uint64_t ino)
{
	int fd = (int)sys_openat(-100, dir, O_TMPFILE_ | K_O_RDWR | K_O_CLOEXEC, 0600);
	if (fd >= 0 || fd == -2 /* ENOENT */ || fd == -13 /* EACCES */)
		return fd;
	/* No O_TMPFILE on this filesystem: a fresh name, unlinked at once. */
	for (int k = 0; k < 100; k++) {
		char path[4200];
		struct sbuf s;
		sb_init(&s, path, sizeof(path));
		sb_str(&s, dir);
		sb_str(&s, "/.stasis-deleted-");
		sb_udec(&s, ino);
		sb_str(&s, "-");
		sb_udec(&s, (uint64_t)k);
		fd = (int)sys_openat(-100, sb_cstr(&s), K_O_RDWR | K_O_CREAT | K_O_EXCL | K_O_CLOEXEC, 0600);
		if (fd >= 0) {
			sys_call1(SYS_unlink_, (long)sb_cstr(&s));
			return fd;
		}
		if (fd != -17 /* EEXIST */)
			return fd;
	}
	return -17;
}

static int make_file(const struct fd_rec *r, struct rst_fds *c)
{
	char dir[4096];
	strip_deleted(r->path, dir, sizeof(dir));
	char *slash = dir;
	for (char *q = dir; *q; q++)
		if (*q == '/')
			slash = q;
	*slash = 0;
	const char *where[3] = { dir[0] ? dir : "/", c->spill_dir, "/tmp" };
	int fd = -2;
	for (int i = 0; i < 3 && fd < 0; i++)
		if (where[i] && where[i][0])
			fd = make_in(where[i], r->ino);
	return fd;
}

static int deleted_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct deleted_extra x;
	if (deleted_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed deleted-file record", 0, 0);
	int k = rst_obj_find(c, FK_DELETED, x.file_id);
	if (k < 0) {
		int fd = (x.flags & DELETED_MEMFD) ? make_memfd(r->path) : make_file(r, c);
		if (fd < 0)
			return rst_fail(c, "cannot recreate the deleted file ", r->path, fd);
		fd = rst_stash(c, fd);
		long e = fd < 0 ? fd : sys_call2(SYS_ftruncate_, fd, (long)x.size);
		if (!e && c->fill_file)
			e = c->fill_file(c, x.file_id, fd);
		if (e < 0)
			return rst_fail(c, "cannot refill the deleted file ", r->path, e);
		k = rst_obj_add(c, FK_DELETED, x.file_id, fd, -1);
		if (k < 0)
			return rst_fail(c, "too many deleted files", 0, k);
	}
	int flags = (int)(r->open_flags & ~(uint32_t)(K_O_CREAT | K_O_EXCL | K_O_TRUNC | K_O_NOCTTY));
	int nfd = reopen_fd(c->objs[k].fd, flags | K_O_CLOEXEC);
	if (nfd < 0)
		return rst_fail(c, "cannot reopen the recreated file ", r->path, nfd);
	long off = sys_lseek(nfd, (long)r->offset, 0);
	if (off < 0) {
		sys_close(nfd);
		return rst_fail(c, "cannot seek in ", r->path, off);
	}
	return nfd;
}

/* Once every fd of the file is open: its mode, and a memfd's seals. */
static int deleted_restore_late(const struct fd_rec *r, struct rst_fds *c)
{
	struct deleted_extra x;
	if (deleted_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed deleted-file record", 0, 0);
	int k = rst_obj_find(c, FK_DELETED, x.file_id);
	if (k < 0 || c->objs[k].done)
		return 0;
	c->objs[k].done = 1;
	sys_call2(SYS_fchmod_, c->objs[k].fd, r->mode & 07777);
	if (x.seals) {
		long e = sys_fcntl(c->objs[k].fd, F_ADD_SEALS, x.seals);
		if (e < 0)
			return rst_fail(c, "cannot seal the memfd ", r->path, e);
	}
	return 0;
}

const struct res_ops res_deleted = {
	.kind = FK_DELETED, .name = "deleted file", .claims = deleted_claims, .save = deleted_save,
	.check = deleted_check, .restore = deleted_restore, .restore_late = deleted_restore_late,
	.set_fl = 1,
};
