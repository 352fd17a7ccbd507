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

void epoll_put_count(struct wbuf *w, uint32_t n)
{
	wb_u32(w, n);
	wb_u32(w, 0);
}

void epoll_put_entry(struct wbuf *w, const struct epoll_entry *e)
{
	wb_u32(w, (uint32_t)e->fd);
	wb_u32(w, e->events);
	wb_u64(w, e->data);
}

int epoll_get_extra(const uint8_t *p, uint32_t n, struct epoll_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->n = rb_u32(&r);
	rb_u32(&r);
	x->entries = rb_take(&r, (size_t)x->n * 16);
	return rb_exact(&r);
}

void epoll_entry_at(const struct epoll_extra *x, uint32_t i, struct epoll_entry *e)
{
	struct rbuf r;
	rb_init(&r, x->entries + (size_t)i * 16, 16);
	e->fd = (int32_t)rb_u32(&r);
	e->events = rb_u32(&r);
	e->data = rb_u64(&r);
}

static int epoll_check(const uint8_t *p, uint32_t n)
{
	struct epoll_extra x;
	return epoll_get_extra(p, n, &x);
}

static int epoll_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	uint32_t n = 0;
	for (const char *f = p->fdinfo; (f = str_find(f, "tfd:")); f++)
		n++;
	epoll_put_count(extra, n);
	for (const char *f = p->fdinfo; (f = fdinfo_field(f, "tfd:"));) {
		int32_t tfd = (int32_t)parse_dec(&f);
		const char *ev = fdinfo_field(f, "events:");
		const char *da = fdinfo_field(f, "data:");
		if (!ev || !da)
			return -22;
		uint32_t events = (uint32_t)parse_hex(&ev);
		epoll_put_entry(extra, &(struct epoll_entry){ tfd, events, parse_hex(&da) });
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
	struct epoll_extra x;
	if (epoll_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed epoll record", 0, 0);
	for (uint32_t i = 0; i < x.n; i++) {
		struct epoll_entry en;
		epoll_entry_at(&x, i, &en);
		int tfd = en.fd;
		struct __attribute__((packed)) { uint32_t events; uint64_t data; } ev;
		ev.events = en.events;
		ev.data = en.data;
		long e = sys_call4(SYS_epoll_ctl_, r->fd, EPOLL_CTL_ADD, tfd, (long)&ev);
		if (e == -1 /* EPERM: EPOLLWAKEUP needs CAP_BLOCK_SUSPEND */ && (ev.events & EPOLLWAKEUP)) {
			ev.events &= ~EPOLLWAKEUP;
			e = sys_call4(SYS_epoll_ctl_, r->fd, EPOLL_CTL_ADD, tfd, (long)&ev);
		}
		if (e < 0)
			return rst_fail(c, "cannot restore an epoll registration", 0, e);
	}
	return 0;
}

const struct res_ops res_epoll = {
	.kind = 7, .name = "epoll", .claims = epoll_claims, .save = epoll_save, .check = epoll_check,
	.restore = epoll_restore, .restore_late = epoll_restore_late,
};
