/*
 * Pipes. The unread bytes are saved with the first fd of each pipe: drained from a read
 * end (made non-blocking for the moment; opened through /proc if the process holds only
 * the write end) and written straight back, so the running process loses nothing. On
 * restore the first fd of a pipe creates it with its old capacity and refills it; later
 * fds of the same pipe take the matching end. An end that no fd of the process held is
 * closed once all fds are placed.
 *
 * A pipe with ends in several processes (SF_PIPE) is saved and created by one of them,
 * the pipe owner (SF_PIPE_OWNER); the others save no bytes, and on restore get their ends
 * from the owner through stasis-init (loader.c, the fd broker).
 */
#include "res.h"
#include "../common/broker.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

#define F_SETFL_ 4
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032

static int pipe_claims(const struct fd_probe *p)
{
	return (p->st.mode & K_S_IFMT) == K_S_IFIFO && str_starts(p->link, "pipe:");
}

static int is_read_end(uint32_t oflags)
{
	return (oflags & K_O_ACCMODE) == 0;
}

static long drain_and_refill(const struct fd_probe *p, struct save_ctx *c)
{
	const struct fd_probe *rd = 0, *wr = 0;
	for (int i = 0; i < c->nprobes; i++) {
		const struct fd_probe *q = &c->probes[i];
		if (!pipe_claims(q) || q->st.ino != p->st.ino)
			continue;
		if (is_read_end(q->open_flags) && !rd)
			rd = q;
		if (!is_read_end(q->open_flags) && !wr)
			wr = q;
	}
	int rfd = rd ? rd->fd : -1;
	if (!rd && !(p->share_flags & SF_PIPE))
		return 0; /* a pipe to the outside: its bytes are the reader's, not ours */
	if (!rd) {
		/* Only the write end here: the reader is another process of the computation. */
		char path[64];
		struct sbuf s;
		sb_init(&s, path, sizeof(path));
		sb_str(&s, "/proc/self/fd/");
		sb_udec(&s, (uint64_t)wr->fd);
		rfd = (int)sys_openat(-100, sb_cstr(&s), K_O_NONBLOCK | K_O_CLOEXEC, 0);
		if (rfd < 0)
			return rfd;
	}
	long got = 0;
	if (rd)
		sys_fcntl(rfd, F_SETFL_, (long)(rd->open_flags | K_O_NONBLOCK));
	while ((size_t)got < c->scratch_len) {
		long n = sys_read(rfd, c->scratch + got, c->scratch_len - (size_t)got);
		if (n <= 0)
			break;
		got += n;
	}
	if (rd)
		sys_fcntl(rfd, F_SETFL_, (long)rd->open_flags);
	else
		sys_close(rfd);
	if (!got)
		return 0;
	int wfd = wr ? wr->fd : -1, opened = 0;
	if (wfd < 0) {
		char path[64];
		struct sbuf s;
		sb_init(&s, path, sizeof(path));
		sb_str(&s, "/proc/self/fd/");
		sb_udec(&s, (uint64_t)rfd);
		wfd = (int)sys_openat(-100, sb_cstr(&s), K_O_WRONLY | K_O_NONBLOCK | K_O_CLOEXEC, 0);
		opened = 1;
	} else {
		sys_fcntl(wfd, F_SETFL_, (long)(wr->open_flags | K_O_NONBLOCK));
	}
	long put = 0;
	while (wfd >= 0 && put < got) {
		long n = sys_write(wfd, c->scratch + put, (size_t)(got - put));
		if (n <= 0)
			break;
		put += n;
	}
	if (opened && wfd >= 0)
		sys_close(wfd);
	else if (wr)
		sys_fcntl(wfd, F_SETFL_, (long)wr->open_flags);
	return put == got ? got : -5;
}

void pipe_put_extra(struct wbuf *w, const struct pipe_extra *x)
{
	wb_u64(w, x->pipe_id);
	wb_u32(w, x->end);
	wb_u32(w, x->pipe_size);
	wb_u32(w, x->data_len);
	wb_bytes(w, x->data, x->data_len);
}

int pipe_get_extra(const uint8_t *p, uint32_t n, struct pipe_extra *x)
{
	struct rbuf r;
	rb_init(&r, p, n);
	x->pipe_id = rb_u64(&r);
	x->end = rb_u32(&r);
	x->pipe_size = rb_u32(&r);
	x->data_len = rb_u32(&r);
	x->data = rb_take(&r, x->data_len);
	return rb_exact(&r);
}

static int pipe_check(const uint8_t *p, uint32_t n)
{
	struct pipe_extra x;
	return pipe_get_extra(p, n, &x);
}

static int pipe_save(const struct fd_probe *p, struct wbuf *extra, struct save_ctx *c)
{
	int first = 1;
	for (int i = 0; i < c->nsaved_pipes; i++)
		first &= c->saved_pipes[i] != p->st.ino;
	long data = 0;
	if ((p->share_flags & SF_PIPE) && !(p->share_flags & SF_PIPE_OWNER))
		first = 0; /* the pipe owner saves its bytes */
	if (first) {
		if (c->nsaved_pipes >= (int)(sizeof(c->saved_pipes) / sizeof(c->saved_pipes[0])))
			return -24;
		c->saved_pipes[c->nsaved_pipes++] = p->st.ino;
		data = drain_and_refill(p, c);
		if (data < 0)
			return (int)data;
	}
	long size = sys_fcntl(p->fd, F_GETPIPE_SZ, 0);
	struct pipe_extra x = {
		.pipe_id = p->st.ino,
		.end = is_read_end(p->open_flags) ? 0 : 1,
		.pipe_size = size > 0 ? (uint32_t)size : 65536,
		.data_len = (uint32_t)data,
		.data = c->scratch,
	};
	pipe_put_extra(extra, &x);
	return 0;
}

static int pipe_restore(const struct fd_rec *r, struct rst_fds *c)
{
	struct pipe_extra x;
	if (pipe_get_extra(r->extra, r->extra_len, &x))
		return rst_fail(c, "malformed pipe record", 0, 0);
	uint64_t id = x.pipe_id;
	uint32_t end = x.end, size = x.pipe_size, len = x.data_len;
	const uint8_t *data = x.data;
	int shared = (r->share_flags & SF_PIPE) != 0;
	if (shared && !(r->share_flags & SF_PIPE_OWNER)) {
		if (!c->broker_get)
			return rst_fail(c, "a pipe shared with other processes needs them restored too", 0, -22);
		int fd = c->broker_get(end ? BROKER_PIPE_WRITE : BROKER_PIPE_READ, id);
		return fd < 0 ? rst_fail(c, "the process that owns a shared pipe did not provide it", 0, fd) : fd;
	}
	int i = 0;
	while (i < c->npipes && c->pipes[i].id != id)
		i++;
	if (i == c->npipes) {
		if (c->npipes >= (int)(sizeof(c->pipes) / sizeof(c->pipes[0])))
			return rst_fail(c, "too many pipes", 0, -24);
		int fds[2];
		long e = sys_call2(SYS_pipe2_, (long)fds, K_O_CLOEXEC);
		if (e < 0)
			return rst_fail(c, "cannot create a pipe", 0, e);
		c->pipes[i].id = id;
		c->pipes[i].rfd = rst_stash(c, fds[0]);
		c->pipes[i].wfd = rst_stash(c, fds[1]);
		if (c->pipes[i].rfd < 0 || c->pipes[i].wfd < 0)
			return rst_fail(c, "cannot keep a pipe's ends apart", 0, c->pipes[i].rfd < 0 ? c->pipes[i].rfd : c->pipes[i].wfd);
		c->npipes++;
		sys_fcntl(c->pipes[i].wfd, F_SETPIPE_SZ, size);
		for (uint32_t put = 0; put < len;) {
			long n = sys_write(c->pipes[i].wfd, data + put, len - put);
			if (n <= 0)
				return rst_fail(c, "cannot refill a pipe", 0, n ? n : -5);
			put += (uint32_t)n;
		}
		if (shared) {
			if (!c->broker_put)
				return rst_fail(c, "a pipe shared with other processes needs them restored too", 0, -22);
			long e = c->broker_put(BROKER_PIPE_READ, id, c->pipes[i].rfd);
			if (!e)
				e = c->broker_put(BROKER_PIPE_WRITE, id, c->pipes[i].wfd);
			if (e)
				return rst_fail(c, "cannot hand a shared pipe to stasis-init", 0, e);
		}
	}
	return (int)sys_fcntl(end ? c->pipes[i].wfd : c->pipes[i].rfd, 1030, 0);
}

const struct res_ops res_pipe = {
	.kind = 5, .name = "pipe", .claims = pipe_claims, .save = pipe_save, .check = pipe_check,
	.restore = pipe_restore, .set_fl = 1,
};
