/*
 * epoll sets: the registrations listed in fdinfo ("tfd: N events: X data: Y"). They are
 * added in the late pass, once every target fd exists again.
 */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define EPOLL_CTL_ADD 1
#define EPOLLWAKEUP (1u << 29)

static int epoll_claims(const struct fd_probe *p)
{
	return str_eq(p->link, "anon_inode:[eventpoll]");
}

static int epoll_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	uint32_t n = 0;
	for (const char *f = p->fdinfo; (f = str_find(f, "tfd:")); f++)
		n++;
	wb_u32(extra, n);
	wb_u32(extra, 0);
	for (const char *f = p->fdinfo; (f = fdinfo_field(f, "tfd:"));) {
		int32_t tfd = (int32_t)parse_dec(&f);
		const char *ev = fdinfo_field(f, "events:");
		const char *da = fdinfo_field(f, "data:");
		if (!ev || !da)
			return -22;
		wb_u32(extra, (uint32_t)tfd);
		wb_u32(extra, (uint32_t)parse_hex(&ev));
		wb_u64(extra, parse_hex(&da));
	}
	return 0;
}

static int epoll_restore(const struct fd_rec *r, struct rst_fds *c)
{
	(void)r;
	int fd = (int)sys_call1(SYS_epoll_create1_, K_O_CLOEXEC);
	return fd >= 0 ? fd : rst_fail(c, "cannot create an epoll set", 0, fd);
}

static int epoll_restore_late(const struct fd_rec *r, struct rst_fds *c)
{
	struct rbuf rb;
	rb_init(&rb, r->extra, r->extra_len);
	uint32_t n = rb_u32(&rb);
	rb_u32(&rb);
	for (uint32_t i = 0; i < n && !rb.bad; i++) {
		int tfd = (int)rb_u32(&rb);
		struct __attribute__((packed)) { uint32_t events; uint64_t data; } ev;
		ev.events = rb_u32(&rb);
		ev.data = rb_u64(&rb);
		long e = sys_call4(SYS_epoll_ctl_, r->fd, EPOLL_CTL_ADD, tfd, (long)&ev);
		if (e == -1 /* EPERM: EPOLLWAKEUP needs CAP_BLOCK_SUSPEND */ && (ev.events & EPOLLWAKEUP)) {
			ev.events &= ~EPOLLWAKEUP;
			e = sys_call4(SYS_epoll_ctl_, r->fd, EPOLL_CTL_ADD, tfd, (long)&ev);
		}
		if (e < 0)
			return rst_fail(c, "cannot restore an epoll registration", 0, e);
	}
	return rb.bad ? rst_fail(c, "malformed epoll record", 0, 0) : 0;
}

const struct res_ops res_epoll = {
	.kind = 7, .name = "epoll", .claims = epoll_claims, .save = epoll_save,
	.restore = epoll_restore, .restore_late = epoll_restore_late,
};
