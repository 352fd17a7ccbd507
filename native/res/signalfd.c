/* signalfd: its signal mask. */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

static int signalfd_claims(const struct fd_probe *p)
{
	return str_eq(p->link, "anon_inode:[signalfd]");
}

void signalfd_put_extra(struct wbuf *w, const struct signalfd_extra *x)
{
	wb_u64(w, x->mask);
}

int signalfd_get_extra(const uint8_t *p, uint32_t n, struct signalfd_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->mask = rb_u64(&r);
	return rb_exact(&r);
}

static int signalfd_check(const uint8_t *p, uint32_t n)
{
	struct signalfd_extra x;
	return signalfd_get_extra(p, n, &x);
}

static int signalfd_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	const char *f = fdinfo_field(p->fdinfo, "sigmask:");
	if (!f)
		return -22;
	signalfd_put_extra(extra, &(struct signalfd_extra){ parse_hex(&f) });
	return 0;
}

static int signalfd_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct signalfd_extra x;
	if (signalfd_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed signalfd record", 0, 0);
	uint64_t mask = x.mask;
	int flags = K_O_CLOEXEC | (int)(r->open_flags & K_O_NONBLOCK);
	int fd = (int)sys_call4(SYS_signalfd4_, -1, (long)&mask, 8, flags);
	return fd >= 0 ? fd : rst_fail(c, "cannot create a signalfd", 0, fd);
}

const struct res_ops res_signalfd = {
	.kind = 8, .name = "signalfd", .claims = signalfd_claims, .save = signalfd_save,
	.check = signalfd_check,
	.restore = signalfd_restore,
};
