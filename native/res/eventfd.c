/* eventfd: its counter and semaphore mode, from fdinfo. */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

static int eventfd_claims(const struct fd_probe *p)
{
	return str_eq(p->link, "anon_inode:[eventfd]");
}

static int eventfd_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	const char *f = fdinfo_field(p->fdinfo, "eventfd-count:");
	if (!f)
		return -22;
	uint64_t count = parse_hex(&f);
	const char *sem = fdinfo_field(p->fdinfo, "eventfd-semaphore:");
	wb_u64(extra, count);
	wb_u32(extra, sem && *sem == '1' ? 1 : 0);
	wb_u32(extra, 0);
	return 0;
}

static int eventfd_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct rbuf rb;
	rb_init(&rb, r->extra, r->extra_len);
	uint64_t count = rb_u64(&rb);
	uint32_t sem = rb_u32(&rb);
	if (rb.bad)
		return rst_fail(c, "malformed eventfd record", 0, 0);
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
	.restore = eventfd_restore,
};
