/*
 * timerfd: clock, remaining time and interval, re-armed relative to the restart. Expiry
 * counts not yet read survive only as "at least one": a timer with pending ticks fires
 * again at once.
 */
#include "res.h"
#include "../common/fmt.h"
#include "../common/sys.h"

static int timerfd_claims(const struct fd_probe *p)
{
	return str_eq(p->link, "anon_inode:[timerfd]");
}

/* Parses "(sec, nsec)". */
static uint64_t parse_pair(const char *f)
{
	if (!f || *f != '(')
		return 0;
	f++;
	uint64_t s = parse_dec(&f);
	while (*f == ',' || *f == ' ')
		f++;
	return s * 1000000000ull + parse_dec(&f);
}

void timerfd_put_extra(struct wbuf *w, const struct timerfd_extra *x)
{
	wb_u32(w, x->clockid);
	wb_u32(w, x->flags);
	wb_u64(w, x->value_ns);
	wb_u64(w, x->interval_ns);
}

int timerfd_get_extra(const uint8_t *p, uint32_t n, struct timerfd_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->clockid = rb_u32(&r);
	x->flags = rb_u32(&r);
	x->value_ns = rb_u64(&r);
	x->interval_ns = rb_u64(&r);
	return rb_exact(&r);
}

static int timerfd_check(const uint8_t *p, uint32_t n)
{
	struct timerfd_extra x;
	return timerfd_get_extra(p, n, &x);
}

static int timerfd_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	(void)c;
	const char *clk = fdinfo_field(p->fdinfo, "clockid:");
	const char *ticks = fdinfo_field(p->fdinfo, "ticks:");
	if (!clk || !ticks)
		return -22;
	uint32_t clockid = (uint32_t)parse_dec(&clk);
	uint64_t nticks = parse_dec(&ticks);
	uint64_t value = parse_pair(fdinfo_field(p->fdinfo, "it_value:"));
	uint64_t interval = parse_pair(fdinfo_field(p->fdinfo, "it_interval:"));
	if (nticks && !value)
		value = 1;
	timerfd_put_extra(extra, &(struct timerfd_extra){ clockid, 0, value, interval });
	return 0;
}

static int timerfd_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct timerfd_extra x;
	if (timerfd_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed timerfd record", 0, 0);
	uint32_t clockid = x.clockid;
	uint64_t value = x.value_ns, interval = x.interval_ns;
	int flags = K_O_CLOEXEC | (int)(r->open_flags & K_O_NONBLOCK);
	int fd = (int)sys_call2(SYS_timerfd_create_, clockid, flags);
	if (fd < 0)
		return rst_fail(c, "cannot create a timerfd", 0, fd);
	struct { long is, ins, vs, vns; } its = {
		(long)(interval / 1000000000ull), (long)(interval % 1000000000ull),
		(long)(value / 1000000000ull), (long)(value % 1000000000ull),
	};
	long e = sys_call4(SYS_timerfd_settime_, fd, 0, (long)&its, 0);
	if (e < 0) {
		sys_close(fd);
		return rst_fail(c, "cannot arm a timerfd", 0, e);
	}
	return fd;
}

const struct res_ops res_timerfd = {
	.kind = 9, .name = "timerfd", .claims = timerfd_claims, .save = timerfd_save,
	.check = timerfd_check,
	.restore = timerfd_restore,
};
