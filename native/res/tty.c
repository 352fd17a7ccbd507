/*
 * Terminals and inherited stdio. A restarted process cannot have its old terminal back
 * (it may be gone), so its terminal fds are reattached to the terminal `stasis restart`
 * runs on. A stdio fd of a kind Stasis does not rebuild (a socket, a pipe to whoever
 * launched it) is taken over from `stasis restart`'s own fd of the same number.
 */
#include "res.h"
#include "../common/img.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define TCGETS 0x5401

static int is_tty_major(uint64_t rdev)
{
	unsigned major = (unsigned)(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffu));
	return major == 4 || major == 5 || (major >= 136 && major <= 143);
}

static int tty_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFCHR && is_tty_major(p->st.rdev) &&
	       !str_eq(p->link, "/dev/ptmx");
}

static int none(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)p, (void)extra, (void)c;
	return 0;
}

static int is_tty(int fd)
{
	char t[64];
	return fd >= 0 && sys_call3(16 /* ioctl */, fd, TCGETS, (long)t) == 0;
}

static int dup_or_null(int fd)
{
	if (fd >= 0)
		return (int)sys_fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 0);
	return (int)sys_openat(-100, "/dev/null", K_O_RDWR | K_O_CLOEXEC, 0);
}

static int tty_restore(const struct fd_rec *r, struct rst_fds *c)
{
	if (r->fd >= 0 && r->fd <= 2 && is_tty(c->stdio[r->fd]))
		return dup_or_null(c->stdio[r->fd]);
	for (int i = 0; i < 3; i++)
		if (is_tty(c->stdio[i]))
			return dup_or_null(c->stdio[i]);
	int fd = (int)sys_openat(-100, "/dev/tty", K_O_RDWR | K_O_NOCTTY | K_O_CLOEXEC, 0);
	return fd >= 0 ? fd : dup_or_null(-1);
}

const struct res_ops res_tty = {
	.kind = 4, .name = "terminal", .claims = tty_claims, .save = none, .restore = tty_restore,
};

static int inherit_claims(const struct fd_probe *p)
{
	uint32_t t = p->st.mode & K_S_IFMT;
	/* A pipe between processes of the computation is its own, not the caller's. */
	return p->fd <= 2 && t != K_S_IFREG && t != K_S_IFCHR && t != K_S_IFDIR && !(p->share_flags & SF_PIPE);
}

static int inherit_restore(const struct fd_rec *r, struct rst_fds *c)
{
	return dup_or_null(r->fd >= 0 && r->fd <= 2 ? c->stdio[r->fd] : -1);
}

const struct res_ops res_inherit = {
	.kind = 10, .name = "inherited", .claims = inherit_claims, .save = none,
	.restore = inherit_restore,
};
