/* Regular files, directories and character devices: reopened by path. */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

static int is_deleted(const char *link)
{
	size_t n = cstrlen(link);
	return n >= 10 && str_eq(link + n - 10, " (deleted)");
}

static int reg_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFREG && p->link[0] == '/' && !is_deleted(p->link);
}

void reg_put_extra(struct wbuf *w, const struct reg_extra *x)
{
	wb_u64(w, x->size);
}

int reg_get_extra(const uint8_t *p, uint32_t n, struct reg_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->size = rb_u64(&r);
	return rb_exact(&r);
}

static int reg_check(const uint8_t *p, uint32_t n)
{
	struct reg_extra x;
	return reg_get_extra(p, n, &x);
}

static int reg_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	reg_put_extra(extra, &(struct reg_extra){ (uint64_t)p->st.size });
	return 0;
}

static int reopen(const struct fd_rec *r, struct rst_fds *c, int extra_flags)
{
	int flags = (int)(r->open_flags & ~(uint32_t)(K_O_CREAT | K_O_EXCL | K_O_TRUNC | K_O_NOCTTY));
	int fd = (int)sys_openat(-100, r->path, flags | extra_flags | K_O_CLOEXEC, 0);
	if (fd < 0)
		return rst_fail(c, "cannot reopen ", r->path, fd);
	return fd;
}

static int reg_restore(const struct fd_rec *r, struct rst_fds *c)
{
	int fd = reopen(r, c, 0);
	if (fd < 0)
		return fd;
	struct reg_extra x;
	struct kstat st;
	if (reg_get_extra(r->extra, r->extra_len, &x) == 0 && (r->open_flags & K_O_APPEND) &&
	    (r->open_flags & K_O_ACCMODE) && sys_call2(SYS_fstat_, fd, (long)&st) == 0 &&
	    (uint64_t)st.size > x.size)
		sys_call2(77 /* ftruncate */, fd, (long)x.size);
	long off = sys_lseek(fd, (long)r->offset, 0);
	if (off < 0) {
		sys_close(fd);
		return rst_fail(c, "cannot seek in ", r->path, off);
	}
	return fd;
}

const struct res_ops res_reg = {
	.kind = 1, .name = "file", .claims = reg_claims, .save = reg_save, .check = reg_check,
	.restore = reg_restore, .set_fl = 1,
};

static int dir_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFDIR && p->link[0] == '/' && !is_deleted(p->link);
}

static int nothing_to_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)p, (void)extra, (void)c;
	return 0;
}

static int dir_restore(const struct fd_rec *r, struct rst_fds *c)
{
	return reopen(r, c, K_O_DIRECTORY);
}

const struct res_ops res_dir = {
	.kind = 2, .name = "directory", .claims = dir_claims, .save = nothing_to_save,
	.restore = dir_restore,
};

static int chr_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFCHR && str_starts(p->link, "/dev/");
}

static int chr_restore(const struct fd_rec *r, struct rst_fds *c)
{
	return reopen(r, c, 0);
}

const struct res_ops res_chr = {
	.kind = 3, .name = "device", .claims = chr_claims, .save = nothing_to_save,
	.restore = chr_restore, .set_fl = 1,
};
