/* signalfd: its signal mask. */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

static int signalfd_claims(const struct fd_probe *p)
{
	return str_eq(p->link, "anon_inode:[signalfd]");
}

static int signalfd_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	const char *f = fdinfo_field(p->fdinfo, "sigmask:");
	if (!f)
		return -22;
	wb_u64(extra, parse_hex(&f));
	return 0;
}

static int signalfd_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct rbuf rb;
	rb_init(&rb, r->extra, r->extra_len);
	uint64_t mask = rb_u64(&rb);
	if (rb.bad)
		return rst_fail(c, "malformed signalfd record", 0, 0);
	int flags = K_O_CLOEXEC | (int)(r->open_flags & K_O_NONBLOCK);
	int fd = (int)sys_call4(SYS_signalfd4_, -1, (long)&mask, 8, flags);
	return fd >= 0 ? fd : rst_fail(c, "cannot create a signalfd", 0, fd);
}

const struct res_ops res_signalfd = {
	.kind = 8, .name = "signalfd", .claims = signalfd_claims, .save = signalfd_save,
	.restore = signalfd_restore,
};
