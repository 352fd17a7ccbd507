/* eventfd: its counter and semaphore mode, from fdinfo. */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

static int eventfd_claims(const struct fd_probe *p)
{
	return str_eq(p->link, "anon_inode:[eventfd]");
}

void eventfd_put_extra(struct wbuf *w, const struct eventfd_extra *x)
{
	wb_u64(w, x->count);
	wb_u32(w, x->flags);
	wb_u32(w, 0);
}

int eventfd_get_extra(const uint8_t *p, uint32_t n, struct eventfd_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->count = rb_u64(&r);
	x->flags = rb_u32(&r);
	rb_u32(&r);
	return rb_exact(&r);
}

static int eventfd_check(const uint8_t *p, uint32_t n)
{
	struct eventfd_extra x;
	return eventfd_get_extra(p, n, &x);
}

static int eventfd_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	const char *f = fdinfo_field(p->fdinfo, "eventfd-count:");
	if (!f)
		return -22;
	uint64_t count = parse_hex(&f);
	const char *sem = fdinfo_field(p->fdinfo, "eventfd-semaphore:");
	eventfd_put_extra(extra, &(struct eventfd_extra){ count, sem && *sem == '1' ? 1 : 0 });
	return 0;
}

static int eventfd_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct eventfd_extra x;
	if (eventfd_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed eventfd record", 0, 0);
	uint64_t count = x.count;
	uint32_t sem = x.flags;
	int flags = K_O_CLOEXEC | (int)(r->open_flags & K_O_NONBLOCK) | (sem & 1 ? 1 : 0);
	int fd = (int)sys_call2(SYS_eventfd2_, 0, flags);
	if (fd < 0)
		return rst_fail(c, "cannot create an eventfd", 0, fd);
	if (count && sys_write(fd, &count, 8) != 8) {
		sys_close(fd);
		return rst_fail(c, "cannot set an eventfd's count", 0, -5);
	}
	return fd;
}

const struct res_ops res_eventfd = {
	.kind = 6, .name = "eventfd", .claims = eventfd_claims, .save = eventfd_save,
	.check = eventfd_check,
	.restore = eventfd_restore,
};
