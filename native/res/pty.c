/*
 * Pseudo-terminals whose master the process holds (/dev/ptmx), and their slaves when the
 * same process holds them too, or when the master is in another process of the
 * computation (SF_PTY: a program driven through a pty by its parent). A slave whose
 * master is outside is a terminal the process was given: tty.c reattaches it to the
 * restarter's. A pty several processes hold is made on restore by its owner (SF_PTY_OWNER,
 * a process with its master), which hands its master to stasis-init; the others get it
 * and open their own slave from it (TIOCGPTPEER), or keep it as their master.
 *
 * Saved with every fd: the pair's termios and window size (read through the master,
 * which the kernel answers for the slave), packet mode and the slave lock; with the first
 * fd of the pair, the unread bytes at each end: what the slave wrote and the master has
 * not read, and what the master wrote and the slave has not read. Both are drained
 * through private fds (the master made non-blocking for the moment, the slave opened
 * again with TIOCGPTPEER) and written straight back, so the running process loses
 * nothing; the way back must not process them twice:
 *   - output (to the master) goes in through the slave with OPOST off;
 *   - input (to the slave) goes in through the master with echo, signals and input
 *     translation off and the special characters moved to a byte the data does not
 *     hold, keeping ICANON as it was, so complete lines stay lines and a partial line
 *     stays partial; then the termios is put back once the line discipline has taken
 *     the bytes (a poll of the slave waits for it).
 *
 * On restore a fresh pair is made from /dev/ptmx: the pts number is whatever the devpts
 * instance of the restart gives (pty_id keeps the old one, to pair the fds only). The
 * master is one open file description however many fds the process had on it (opening
 * /dev/ptmx again would make another pty); each slave fd is its own, opened with
 * TIOCGPTPEER, which needs no path under /dev/pts. The lock is put back once every fd
 * exists. A pty that is a controlling terminal (SF_PTY_CTTY) is made by stasis-init before
 * any process, so that its session can take it again as it is rebuilt (native/init/tree.c);
 * its owner gets that master from init instead of opening /dev/ptmx. Not restored: the
 * master's own termios.
 */
#include "res.h"
#include "../common/broker.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

#define TCGETS 0x5401
#define TCSETS 0x5402
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCINQ 0x541b
#define TIOCPKT 0x5420
#define TIOCGPTN 0x80045430
#define TIOCSPTLCK 0x40045431
#define TIOCGPKT 0x80045438
#define TIOCGPTLCK 0x80045439
#define TIOCGPTPEER 0x5441
#define SYS_ioctl_ 16
#define SYS_poll_ 7
#define SYS_sched_yield_ 24

/* The kernel's struct termios (TCGETS), and its flags this file touches. */
struct kterm {
	uint32_t iflag, oflag, cflag, lflag;
	uint8_t line, cc[19];
};
struct kwinsize {
	uint16_t row, col, xpixel, ypixel;
};
#define T_OPOST 01u
#define T_ICANON 02u
#define T_VTIME 5
#define T_VMIN 6
#define T_IN_RAW 013772u   /* BRKINT PARMRK INPCK ISTRIP INLCR IGNCR ICRNL IUCLC IXON IXOFF */
#define T_L_QUIET 0300171u /* ISIG ECHO ECHOE ECHOK ECHONL IEXTEN EXTPROC */

static long ioc(int fd, unsigned long req, void *arg)
{
	return sys_call3(SYS_ioctl_, fd, (long)req, (long)arg);
}

static unsigned dev_major(uint64_t rdev) { return (unsigned)(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffu)); }
static unsigned dev_minor(uint64_t rdev) { return (unsigned)((rdev & 0xff) | ((rdev >> 12) & ~0xffu)); }

static int is_master(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFCHR && dev_major(p->st.rdev) == 5 && dev_minor(p->st.rdev) == 2;
}

static int is_slave(const struct fd_probe *p)
{
	unsigned m = dev_major(p->st.rdev);
	return (p->st.mode & K_S_IFMT) == K_S_IFCHR && m >= 136 && m <= 143;
}

static int64_t pty_index(const struct fd_probe *p)
{
	if (is_slave(p))
		return (int64_t)(dev_major(p->st.rdev) - 136) * 256 + dev_minor(p->st.rdev);
	unsigned n;
	return is_master(p) && ioc(p->fd, TIOCGPTN, &n) == 0 ? (int64_t)n : -1;
}

/* The master of pty `index` among the process's fds, or null. */
static const struct fd_probe *master_of(const struct fd_probe *p, int64_t index)
{
	for (int i = 0; i < p->nall; i++)
		if (is_master(&p->all[i]) && p->all[i].dup_of < 0 && pty_index(&p->all[i]) == index)
			return &p->all[i];
	return 0;
}

static int pty_claims(const struct fd_probe *p)
{
	if (is_master(p))
		return pty_index(p) >= 0;
	return is_slave(p) && (master_of(p, pty_index(p)) != 0 || (p->share_flags & SF_PTY));
}

void pty_put_extra(struct wbuf *w, const struct pty_extra *x)
{
	wb_u64(w, x->pty_id);
	wb_u32(w, x->end);
	wb_u32(w, x->flags);
	wb_u32(w, x->iflag);
	wb_u32(w, x->oflag);
	wb_u32(w, x->cflag);
	wb_u32(w, x->lflag);
	wb_bytes(w, &x->line, 1);
	wb_bytes(w, x->cc, 19);
	wb_u16(w, x->rows);
	wb_u16(w, x->cols);
	wb_u16(w, x->xpixel);
	wb_u16(w, x->ypixel);
	wb_u32(w, x->master_len);
	wb_u32(w, x->slave_len);
	wb_bytes(w, x->master_data, x->master_len);
	wb_bytes(w, x->slave_data, x->slave_len);
}

int pty_get_extra(const uint8_t *p, uint32_t n, struct pty_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->pty_id = rb_u64(&r);
	x->end = rb_u32(&r);
	x->flags = rb_u32(&r);
	x->iflag = rb_u32(&r);
	x->oflag = rb_u32(&r);
	x->cflag = rb_u32(&r);
	x->lflag = rb_u32(&r);
	const uint8_t *b = rb_take(&r, 20);
	if (b) {
		x->line = b[0];
		mem_copy(x->cc, b + 1, 19);
	}
	x->rows = rb_u16(&r);
	x->cols = rb_u16(&r);
	x->xpixel = rb_u16(&r);
	x->ypixel = rb_u16(&r);
	x->master_len = rb_u32(&r);
	x->slave_len = rb_u32(&r);
	x->master_data = rb_take(&r, x->master_len);
	x->slave_data = rb_take(&r, x->slave_len);
	if (rb_exact(&r) || x->end > 1 || (x->flags & ~(PTY_LOCKED | PTY_PACKET)))
		return -22;
	return 0;
}

static int pty_check(const uint8_t *p, uint32_t n)
{
	struct pty_extra x;
	return pty_get_extra(p, n, &x);
}

/* Reads everything fd holds now (it is non-blocking). */
static uint32_t drain(int fd, uint8_t *buf, uint32_t cap)
{
	uint32_t got = 0;
	while (got < cap) {
		long n = sys_read(fd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += (uint32_t)n;
	}
	return got;
}

static int write_all(int fd, const uint8_t *p, uint32_t n)
{
	for (uint32_t put = 0; put < n;) {
		long w = sys_write(fd, p + put, n - put);
		if (w == -11 /* EAGAIN */) {
			sys_call0(SYS_sched_yield_);
			continue;
		}
		if (w <= 0)
			return w ? (int)w : -5;
		put += (uint32_t)w;
	}
	return 0;
}

/*
 * Puts unread bytes back at both ends of the pair (master m, slave s), then termios t:
 * `out` as if the slave had written it, `in` as if typed at the master. See the top.
 */
static int refill(int m, int s, const struct kterm *t, const uint8_t *out, uint32_t nout,
		  const uint8_t *in, uint32_t nin)
{
	struct kterm f = *t;
	int e = 0;
	if (nout) {
		f.oflag &= ~T_OPOST;
		ioc(m, TCSETS, &f);
		e = write_all(s, out, nout);
	}
	if (!e && nin) {
		uint8_t seen[256];
		mem_zero(seen, sizeof(seen));
		uint32_t lines = 0;
		for (uint32_t i = 0; i < nin; i++) {
			seen[in[i]] = 1;
			if (in[i] == '\n')
				lines = i + 1;
		}
		int spare = 1;
		while (spare < 256 && seen[spare])
			spare++;
		f = *t;
		f.iflag &= ~T_IN_RAW;
		f.lflag &= ~T_L_QUIET;
		for (int i = 0; i < 19; i++)
			if (i != T_VTIME && i != T_VMIN)
				f.cc[i] = (uint8_t)(spare & 0xff);
		ioc(m, TCSETS, &f);
		e = write_all(m, in, nin);
		/* The line discipline takes the bytes in a kernel worker: a poll that finds
		 * nothing to read waits for it; a partial view is waited out. */
		uint32_t want = (t->lflag & T_ICANON) ? lines : nin;
		for (int tries = 0; !e && tries < 100000; tries++) {
			struct { int fd; short events, revents; } pfd = { s, 1, 0 };
			sys_call3(SYS_poll_, (long)&pfd, 1, 0);
			int have = 0;
			if (ioc(s, TIOCINQ, &have) < 0 || (uint32_t)have >= want)
				break;
			sys_call0(SYS_sched_yield_);
		}
	}
	ioc(m, TCSETS, (void *)t);
	return e;
}

static int open_peer(int m, int flags)
{
	return (int)sys_call3(SYS_ioctl_, m, TIOCGPTPEER, flags | K_O_NOCTTY | K_O_CLOEXEC);
}

static int pty_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	int64_t index = pty_index(p);
	const struct fd_probe *mp = is_master(p) ? p : master_of(p, index);
	if (index < 0 || (!mp && !(p->share_flags & SF_PTY)))
		return -22;
	/* A slave whose master is in another process: the termios through the slave itself. */
	int m = mp ? mp->fd : p->fd;
	struct kterm t;
	struct kwinsize ws;
	int locked = 0, packet = 0;
	if (ioc(m, TCGETS, &t) < 0 || ioc(m, TIOCGWINSZ, &ws) < 0)
		return -25;
	if (mp) {
		ioc(m, TIOCGPTLCK, &locked);
		ioc(m, TIOCGPKT, &packet);
	}
	struct pty_extra x = {
		.pty_id = (uint64_t)index, .end = is_master(p) ? 0 : 1,
		.flags = (locked ? PTY_LOCKED : 0) | (packet ? PTY_PACKET : 0),
		.iflag = t.iflag, .oflag = t.oflag, .cflag = t.cflag, .lflag = t.lflag, .line = t.line,
		.rows = ws.row, .cols = ws.col, .xpixel = ws.xpixel, .ypixel = ws.ypixel,
	};
	mem_copy(x.cc, t.cc, 19);
	int first = save_first(c, FK_PTY, (uint64_t)index);
	if (first < 0)
		return first;
	/* Shared with other processes: the pty's owner (a master's, lowest pid) saves the bytes. */
	if ((p->share_flags & SF_PTY) && !(p->share_flags & SF_PTY_OWNER))
		first = 0;
	if (first && mp) {
		uint32_t half = (uint32_t)(c->scratch_len / 2);
		uint8_t *out = c->scratch, *in = c->scratch + half;
		if (locked)
			ioc(m, TIOCSPTLCK, &(int){ 0 });
		int s = open_peer(m, K_O_RDWR | K_O_NONBLOCK);
		if (s >= 0) {
			if (packet)
				ioc(m, TIOCPKT, &(int){ 0 });
			sys_fcntl(m, 4 /* F_SETFL */, (long)(mp->open_flags | K_O_NONBLOCK));
			x.master_len = drain(m, out, half);
			struct kterm d = t;
			d.lflag &= ~T_ICANON;
			d.cc[T_VMIN] = 0;
			d.cc[T_VTIME] = 0;
			ioc(m, TCSETS, &d);
			x.slave_len = drain(s, in, half);
			int e = refill(m, s, &t, out, x.master_len, in, x.slave_len);
			sys_fcntl(m, 4, (long)mp->open_flags);
			if (packet)
				ioc(m, TIOCPKT, &(int){ 1 });
			sys_close(s);
			if (e < 0)
				return e;
			x.master_data = out;
			x.slave_data = in;
		}
		if (locked)
			ioc(m, TIOCSPTLCK, &(int){ 1 });
	}
	pty_put_extra(extra, &x);
	return 0;
}

static int pty_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct pty_extra x;
	if (pty_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed pty record", 0, 0);
	if ((r->share_flags & SF_PTY) && !(r->share_flags & SF_PTY_OWNER)) {
		/* Made by another process: its master comes through stasis-init. */
		if (!c->broker_get)
			return rst_fail(c, "a pty shared with other processes needs them restored too", 0, -22);
		int m = c->broker_get(BROKER_PTY, x.pty_id);
		if (m < 0)
			return rst_fail(c, "the process that owns a shared pty did not provide it", 0, m);
		if (x.end == 0)
			return m;
		int s = open_peer(m, (int)(r->open_flags & (K_O_ACCMODE | K_O_NONBLOCK)));
		sys_close(m);
		return s >= 0 ? s : rst_fail(c, "cannot open a pty slave", 0, s);
	}
	int k = rst_obj_find(c, FK_PTY, x.pty_id);
	if (k < 0) {
		/* A controlling terminal was made by stasis-init before the processes (its session
		 * took it then): the owner takes that one and restores the rest as for any pty. */
		int ctty = (r->share_flags & SF_PTY_CTTY) != 0;
		if (ctty && !c->broker_get)
			return rst_fail(c, "a controlling terminal needs stasis-init", 0, -22);
		int m = ctty ? c->broker_get(BROKER_PTY, x.pty_id) : (int)sys_openat(-100, "/dev/ptmx", K_O_RDWR | K_O_NOCTTY | K_O_CLOEXEC, 0);
		if (m < 0)
			return rst_fail(c, ctty ? "stasis-init did not provide a controlling terminal" : "cannot open /dev/ptmx", 0, m);
		m = rst_stash(c, m);
		if (m < 0)
			return rst_fail(c, "cannot keep a pty master", 0, m);
		ioc(m, TIOCSPTLCK, &(int){ 0 });
		int s = rst_stash(c, open_peer(m, K_O_RDWR | K_O_NONBLOCK));
		if (s < 0)
			return rst_fail(c, "cannot open a pty slave", 0, s);
		struct kterm t = { x.iflag, x.oflag, x.cflag, x.lflag, x.line, { 0 } };
		mem_copy(t.cc, x.cc, 19);
		struct kwinsize ws = { x.rows, x.cols, x.xpixel, x.ypixel };
		long e = ioc(m, TIOCSWINSZ, &ws);
		if (!e)
			e = ioc(m, TCSETS, &t);
		if (e < 0)
			return rst_fail(c, "cannot set a pty's termios or window size", 0, e);
		e = refill(m, s, &t, x.master_data, x.master_len, x.slave_data, x.slave_len);
		if (e < 0)
			return rst_fail(c, "cannot refill a pty", 0, e);
		if (x.flags & PTY_PACKET)
			ioc(m, TIOCPKT, &(int){ 1 });
		k = rst_obj_add(c, FK_PTY, x.pty_id, m, s);
		if (k < 0)
			return rst_fail(c, "too many ptys", 0, k);
		if ((r->share_flags & SF_PTY) && !ctty) {
			if (!c->broker_put)
				return rst_fail(c, "a pty shared with other processes needs them restored too", 0, -22);
			long pe = c->broker_put(BROKER_PTY, x.pty_id, m);
			if (pe < 0)
				return rst_fail(c, "cannot hand a shared pty to stasis-init", 0, pe);
		}
	}
	int fd = x.end == 0 ? (int)sys_fcntl(c->objs[k].fd, 1030 /* F_DUPFD_CLOEXEC */, 0)
			    : open_peer(c->objs[k].fd, (int)(r->open_flags & (K_O_ACCMODE | K_O_NONBLOCK)));
	return fd >= 0 ? fd : rst_fail(c, "cannot open a pty end", 0, fd);
}

/* Once every slave fd is open, the slave may be locked again. */
static int pty_restore_late(const struct fd_rec *r, struct rst_fds *c)
{
	struct pty_extra x;
	if (pty_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed pty record", 0, 0);
	int k = rst_obj_find(c, FK_PTY, x.pty_id);
	if (k >= 0 && !c->objs[k].done && (x.flags & PTY_LOCKED))
		ioc(c->objs[k].fd, TIOCSPTLCK, &(int){ 1 });
	if (k >= 0)
		c->objs[k].done = 1;
	return 0;
}

const struct res_ops res_pty = {
	.kind = FK_PTY, .name = "pty", .claims = pty_claims, .save = pty_save, .check = pty_check,
	.restore = pty_restore, .restore_late = pty_restore_late, .set_fl = 1,
};
