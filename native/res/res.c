/* The fd-kind table, in claiming order, and helpers the kinds share. */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

extern const struct res_ops res_tty, res_inherit, res_reg, res_dir, res_chr, res_pipe,
	res_eventfd, res_epoll, res_signalfd, res_timerfd, res_deleted, res_fifo, res_pty;

/* Order matters: a pty whose both ends the process holds is a PTY before its slave is a
 * TTY (a terminal it was given) and before its master is a device; a terminal is a TTY
 * before it is a character device; a stdio fd of a kind Stasis cannot rebuild is
 * inherited from `stasis restart` before any other kind gets to look at it. */
static const struct res_ops *const kinds[] = {
	&res_pty, &res_tty, &res_inherit, &res_reg, &res_deleted, &res_dir, &res_chr, &res_pipe,
	&res_fifo, &res_eventfd, &res_epoll, &res_signalfd, &res_timerfd,
};

const struct res_ops *res_find_claim(const struct fd_probe *p)
{
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->claims(p))
			return kinds[i];
	return 0;
}

const struct res_ops *res_find_kind(uint32_t kind)
{
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->kind == kind)
			return kinds[i];
	return 0;
}

const char *fdinfo_field(const char *fdinfo, const char *key)
{
	const char *f = fdinfo ? str_find(fdinfo, key) : 0;
	if (!f)
		return 0;
	f += cstrlen(key);
	while (*f == ' ' || *f == '\t')
		f++;
	return f;
}

int rst_stash(struct rst_fds *c, int fd)
{
	if (fd < 0 || fd >= c->stash_base)
		return fd;
	int n = (int)sys_fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, c->stash_base);
	sys_close(fd);
	return n;
}

int rst_fail(struct rst_fds *c, const char *a, const char *b, long err)
{
	struct sbuf s;
	sb_init(&s, c->why, (size_t)c->whylen);
	sb_str(&s, a);
	if (b)
		sb_str(&s, b);
	if (err) {
		sb_str(&s, ": ");
		sb_str(&s, strerror_short(err));
	}
	return err ? (int)err : -22;
}

int save_first(struct save_ctx *c, uint32_t kind, uint64_t id)
{
	for (int i = 0; i < c->nseen; i++)
		if (c->seen[i].kind == kind && c->seen[i].id == id)
			return 0;
	if (c->nseen >= (int)(sizeof(c->seen) / sizeof(c->seen[0])))
		return -24;
	c->seen[c->nseen].kind = kind;
	c->seen[c->nseen++].id = id;
	return 1;
}

int rst_obj_find(const struct rst_fds *c, uint32_t kind, uint64_t id)
{
	for (int i = 0; i < c->nobjs; i++)
		if (c->objs[i].kind == kind && c->objs[i].id == id)
			return i;
	return -1;
}

int rst_obj_add(struct rst_fds *c, uint32_t kind, uint64_t id, int fd, int fd2)
{
	if (c->nobjs >= (int)(sizeof(c->objs) / sizeof(c->objs[0])))
		return -24;
	c->objs[c->nobjs].kind = kind;
	c->objs[c->nobjs].id = id;
	c->objs[c->nobjs].fd = fd;
	c->objs[c->nobjs].fd2 = fd2;
	c->objs[c->nobjs].done = 0;
	return c->nobjs++;
}

int reopen_fd(int fd, int flags)
{
	char path[64];
	struct sbuf s;
	sb_init(&s, path, sizeof(path));
	sb_str(&s, "/proc/self/fd/");
	sb_udec(&s, (uint64_t)fd);
	return (int)sys_openat(-100, sb_cstr(&s), flags, 0);
}
