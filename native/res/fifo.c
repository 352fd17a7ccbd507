/*
 * Named FIFOs (mkfifo). Reopened by path, each fd with its own access mode; the unread
 * bytes are saved with the first fd of each FIFO, drained through an fd of the agent's own
 * (opened O_RDWR, which a FIFO allows and which never blocks) and written straight back.
 *
 * Opening a FIFO blocks until the other end is open, or fails with O_NONBLOCK for a lone
 * writer. So on restore the first fd of a FIFO opens a keeper, O_RDWR, refills it, and
 * every fd then opens through the keeper with O_NONBLOCK added (it cannot block: the
 * keeper is both ends); the fd's own flags are put back afterwards. The keeper closes
 * with the loader's other temporary fds. A FIFO whose path is gone is not claimed.
 */
#include "res.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032

static int fifo_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFIFO && p->link[0] == '/' && p->st.nlink > 0;
}

void fifo_put_extra(struct wbuf *w, const struct fifo_extra *x)
{
	wb_u64(w, x->fifo_id);
	wb_u32(w, x->pipe_size);
	wb_u32(w, x->data_len);
	wb_bytes(w, x->data, x->data_len);
}

int fifo_get_extra(const uint8_t *p, uint32_t n, struct fifo_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->fifo_id = rb_u64(&r);
	x->pipe_size = rb_u32(&r);
	x->data_len = rb_u32(&r);
	x->data = rb_take(&r, x->data_len);
	return rb_exact(&r);
}

static int fifo_check(const uint8_t *p, uint32_t n)
{
	struct fifo_extra x;
	return fifo_get_extra(p, n, &x);
}

/* Reads what the FIFO holds and puts it back; returns the byte count or -errno. */
static long drain_and_refill(int fd, uint8_t *buf, size_t cap)
{
	int own = reopen_fd(fd, K_O_RDWR | K_O_NONBLOCK | K_O_CLOEXEC);
	if (own < 0)
		return own;
	long got = 0;
	while ((size_t)got < cap) {
		long n = sys_read(own, buf + got, cap - (size_t)got);
		if (n <= 0)
			break;
		got += n;
	}
	long put = 0;
	while (put < got) {
		long n = sys_write(own, buf + put, (size_t)(got - put));
		if (n <= 0)
			break;
		put += n;
	}
	sys_close(own);
	return put == got ? got : -5;
}

static int fifo_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	int first = save_first(c, FK_FIFO, p->st.ino);
	if (first < 0)
		return first;
	long data = first ? drain_and_refill(p->fd, c->scratch, c->scratch_len) : 0;
	if (data < 0)
		return (int)data;
	long size = sys_fcntl(p->fd, F_GETPIPE_SZ, 0);
	fifo_put_extra(extra, &(struct fifo_extra){ p->st.ino, size > 0 ? (uint32_t)size : 65536,
						    (uint32_t)data, c->scratch });
	return 0;
}

static int fifo_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct fifo_extra x;
	if (fifo_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed FIFO record", 0, 0);
	int k = rst_obj_find(c, FK_FIFO, x.fifo_id);
	if (k < 0) {
		int keep = (int)sys_openat(-100, r->path, K_O_RDWR | K_O_NONBLOCK | K_O_CLOEXEC, 0);
		if (keep < 0)
			return rst_fail(c, "cannot open the FIFO ", r->path, keep);
		struct kstat st;
		if (sys_call2(SYS_fstat_, keep, (long)&st) < 0 || (st.mode & K_S_IFMT) != K_S_IFIFO) {
			sys_close(keep);
			return rst_fail(c, "no longer a FIFO: ", r->path, 0);
		}
		keep = rst_stash(c, keep);
		if (keep < 0)
			return rst_fail(c, "cannot keep a FIFO open", 0, keep);
		sys_fcntl(keep, F_SETPIPE_SZ, x.pipe_size);
		for (uint32_t put = 0; put < x.data_len;) {
			long n = sys_write(keep, x.data + put, x.data_len - put);
			if (n <= 0)
				return rst_fail(c, "cannot refill the FIFO ", r->path, n ? n : -5);
			put += (uint32_t)n;
		}
		k = rst_obj_add(c, FK_FIFO, x.fifo_id, keep, -1);
		if (k < 0)
			return rst_fail(c, "too many FIFOs", 0, k);
	}
	int flags = (int)(r->open_flags & ~(uint32_t)(K_O_CREAT | K_O_EXCL | K_O_TRUNC));
	int fd = reopen_fd(c->objs[k].fd, flags | K_O_NONBLOCK | K_O_CLOEXEC);
	return fd >= 0 ? fd : rst_fail(c, "cannot reopen the FIFO ", r->path, fd);
}

const struct res_ops res_fifo = {
	.kind = FK_FIFO, .name = "FIFO", .claims = fifo_claims, .save = fifo_save, .check = fifo_check,
	.restore = fifo_restore, .set_fl = 1,
};
