/*
 * The SysV IPC data file (docs/image-format.md, "SysV IPC data"), both directions side by
 * side: what the computation's SysV objects hold that no image can, written by the
 * namespace's init on WRITE while every process is suspended, read back on restart.
 *
 * Written: every unread message of every queue, read without taking it (msgrcv MSG_COPY,
 * or — on a kernel without CONFIG_CHECKPOINT_RESTORE — taken and sent back at once, in
 * order, before anything is written, so a checkpoint that fails later leaves the queue
 * whole), and the content of every segment no process has attached (an attached one's
 * memory is in the images). Read back: checked whole before anything is created
 * (sysv_check), then, once the objects exist again (sysv.c), the messages are sent back in
 * order and the segments filled (sysv_fill).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include "init.h"
#include "sysv.h"
#include "../common/crc32c.h"
#include "../common/img.h"
#include "../common/proto.h"
#include "../common/wire.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

/* The SysV IPC data file (docs/image-format.md, "SysV IPC data"). */
#define SV_MAGIC "STASISSV"
#define SV_VERSION 1
#define SV_MSG 1
#define SV_SHMDATA 2
#define SV_END 15
#define SV_HEAD 24                    /* MSG and SHMDATA: the fixed fields before the bytes */
#define SV_PIECE (8u << 20)           /* SHMDATA: at most this much per record */
#define SV_MSG_MAX (16u << 20)        /* MSG: a longer message is refused */
#define PAGE 4096

/*
 * Named fault injection points, chosen with STASIS_FI (a comma-separated list) in the
 * environment of `stasis launch`:
 *   no-msg-copy             read queues as on a kernel without MSG_COPY (take, send back);
 *   sysv-write-fails-once   the first WRITE fails once every queue has been read.
 */
static int fault(const char *name)
{
	const char *fi = getenv("STASIS_FI");
	size_t n = strlen(name);
	for (const char *p = fi; p && *p;) {
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return 1;
		p = strchr(p, ',');
		p = p ? p + 1 : 0;
	}
	return 0;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		init_die("out of memory");
	return p;
}

/* ================================ checkpoint: WRITE ================================ */

struct sv_out {
	int fd;
	uint64_t off, records, messages, shm_bytes;
	char *why;
	size_t whylen;
};

static int out_fail(struct sv_out *o, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int out_fail(struct sv_out *o, int e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->why, o->whylen, fmt, ap);
	va_end(ap);
	return e < 0 ? e : -EIO;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One record: its header, `head` and `data` (the payload), zeros up to a multiple of 8. */
static int put_record(struct sv_out *o, uint16_t type, const uint8_t *head, size_t hlen, const void *data, size_t dlen)
{
	uint8_t rh[IMG_REC_HEADER], zero[8] = { 0 };
	struct wbuf w;
	wb_init(&w, rh, sizeof(rh));
	wb_u32(&w, IMG_REC_MAGIC);
	wb_u16(&w, type);
	wb_u16(&w, 0);
	wb_u32(&w, (uint32_t)(hlen + dlen));
	wb_u32(&w, crc32c(crc32c(0, head, hlen), data, dlen));
	size_t pad = (8 - (hlen + dlen) % 8) % 8;
	int e = write_all(o->fd, rh, sizeof(rh));
	if (!e)
		e = write_all(o->fd, head, hlen);
	if (!e && dlen)
		e = write_all(o->fd, data, dlen);
	if (!e && pad)
		e = write_all(o->fd, zero, pad);
	if (e)
		return out_fail(o, e, "cannot write the SysV IPC data: %s", strerror(-e));
	o->off += sizeof(rh) + hlen + dlen + pad;
	o->records++;
	return 0;
}

static int put_msg(struct sv_out *o, int id, long type, const void *text, size_t len)
{
	uint8_t head[SV_HEAD];
	struct wbuf w;
	wb_init(&w, head, sizeof(head));
	wb_u32(&w, (uint32_t)id);
	wb_u32(&w, 0);
	wb_u64(&w, (uint64_t)type);
	wb_u32(&w, (uint32_t)len);
	wb_u32(&w, 0);
	o->messages++;
	return put_record(o, SV_MSG, head, sizeof(head), text, len);
}

/* A message buffer (`long mtype` then the text) that grows up to SV_MSG_MAX on E2BIG. */
struct msgbuf_ {
	long *m;
	size_t cap; /* bytes of text it holds */
};

static int grow(struct msgbuf_ *b)
{
	if (b->cap >= SV_MSG_MAX)
		return -E2BIG;
	b->cap = b->cap ? b->cap * 2 : 65536;
	if (b->cap > SV_MSG_MAX)
		b->cap = SV_MSG_MAX;
	b->m = xrealloc(b->m, sizeof(long) + b->cap);
	return 0;
}

/* One message taken out while every process is stopped, to be sent back in order. */
struct taken {
	long type;
	size_t len;
	uint8_t *text;
};

/*
 * Without MSG_COPY: take every message, put them all back in the same order at once, then
 * write them from memory. The queue is whole again before anything can fail, so a
 * checkpoint that fails later leaves it as it was (only its times and pids change).
 */
static int save_queue_by_taking(struct sv_out *o, const struct proto_msgq *q, struct msgbuf_ *b)
{
	struct taken *t = 0;
	size_t n = 0;
	int e = 0;
	for (;;) {
		ssize_t got = msgrcv(q->id, b->m, b->cap, 0, IPC_NOWAIT);
		if (got < 0 && errno == E2BIG && !(e = grow(b)))
			continue;
		if (got < 0) {
			if (errno != ENOMSG && !e)
				e = -errno;
			break;
		}
		t = xrealloc(t, (n + 1) * sizeof(*t));
		t[n] = (struct taken){ b->m[0], (size_t)got, xrealloc(0, (size_t)got) };
		memcpy(t[n].text, b->m + 1, (size_t)got);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		b->m[0] = t[i].type;
		memcpy(b->m + 1, t[i].text, t[i].len);
		if (msgsnd(q->id, b->m, t[i].len, IPC_NOWAIT) < 0) {
			/* It held them a moment ago; nothing else runs. Say so loudly: it lost one. */
			init_say("SysV message queue %d: cannot put back message %zu of %zu: %s", q->id, i + 1, n, strerror(errno));
			if (!e)
				e = -errno;
		}
	}
	if (e)
		out_fail(o, e, "cannot read the messages of SysV message queue %d: %s", q->id, strerror(-e));
	for (size_t i = 0; i < n; i++) {
		if (!e)
			e = put_msg(o, q->id, t[i].type, t[i].text, t[i].len);
		free(t[i].text);
	}
	free(t);
	return e;
}

static int save_queue(struct sv_out *o, const struct proto_msgq *q, struct msgbuf_ *b, int *copy)
{
	if (!*copy)
		return save_queue_by_taking(o, q, b);
	for (uint32_t i = 0; i < q->messages; i++) {
		ssize_t got = msgrcv(q->id, b->m, b->cap, (long)i, IPC_NOWAIT | MSG_COPY);
		if (got < 0 && errno == E2BIG) {
			int e = grow(b);
			if (e)
				return out_fail(o, e, "SysV message queue %d holds a message over %u bytes", q->id, SV_MSG_MAX);
			i--;
			continue;
		}
		if (got < 0 && errno == ENOSYS && i == 0) {
			*copy = 0; /* no CONFIG_CHECKPOINT_RESTORE: no MSG_COPY */
			return save_queue_by_taking(o, q, b);
		}
		if (got < 0)
			return out_fail(o, -errno, "cannot read message %u of SysV message queue %d: %s", i + 1, q->id, strerror(errno));
		int e = put_msg(o, q->id, b->m[0], b->m + 1, (size_t)got);
		if (e)
			return e;
	}
	return 0;
}

static int page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* The content of a segment no process has attached: its non-zero pages, in pieces. */
static int save_segment(struct sv_out *o, int id, uint64_t size)
{
	const uint8_t *mem = shmat(id, 0, SHM_RDONLY);
	if (mem == (void *)-1)
		return out_fail(o, -errno, "cannot read SysV shared memory segment %d: %s", id, strerror(errno));
	int e = 0;
	for (uint64_t at = 0; !e && at < size;) {
		if (page_is_zero(mem + at)) {
			at += PAGE;
			continue;
		}
		uint64_t end = at;
		while (end < size && end - at < SV_PIECE && !page_is_zero(mem + end))
			end += PAGE;
		if (end > size)
			end = size;
		uint8_t head[SV_HEAD];
		struct wbuf w;
		wb_init(&w, head, sizeof(head));
		wb_u32(&w, (uint32_t)id);
		wb_u32(&w, 0);
		wb_u64(&w, at);
		wb_u32(&w, (uint32_t)(end - at));
		wb_u32(&w, 0);
		e = put_record(o, SV_SHMDATA, head, sizeof(head), mem + at, end - at);
		o->shm_bytes += end - at;
		at = end;
	}
	shmdt(mem);
	return e;
}

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int e = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int write_data(struct sv_out *o)
{
	uint8_t h[IMG_HEADER_SIZE];
	struct wbuf w;
	wb_init(&w, h, sizeof(h));
	wb_bytes(&w, SV_MAGIC, 8);
	wb_u32(&w, SV_VERSION);
	wb_u32(&w, IMG_HEADER_SIZE);
	wb_u64(&w, 0);
	wb_u32(&w, crc32c(0, h, 24));
	wb_u32(&w, 0);
	int e = write_all(o->fd, h, sizeof(h));
	if (e)
		return out_fail(o, e, "cannot write the SysV IPC data: %s", strerror(-e));
	o->off = sizeof(h);

	struct proto_msgq *qs = 0;
	size_t nq = 0;
	size_t keep;
	const struct proto_msgq *last = sysv_last_listed(&keep);
	struct proto_msgq *before = xrealloc(0, (keep ? keep : 1) * sizeof(*before));
	memcpy(before, last, keep * sizeof(*before));
	sysv_list_msgqs(&qs, &nq);
	int changed = nq != keep;
	for (size_t i = 0; i < nq && !changed; i++)
		changed = qs[i].id != before[i].id || qs[i].messages != before[i].messages || qs[i].bytes != before[i].bytes;
	free(before);
	struct msgbuf_ b = { 0, 0 };
	grow(&b);
	int copy = !fault("no-msg-copy");
	if (changed)
		e = out_fail(o, -EAGAIN, "a SysV message queue changed while the computation was suspended");
	for (size_t i = 0; i < nq && !e; i++)
		e = save_queue(o, &qs[i], &b, &copy);
	free(b.m);
	free(qs);
	static int failed_once;
	if (!e && !failed_once && fault("sysv-write-fails-once")) {
		failed_once = 1;
		e = out_fail(o, -EIO, "fault injected after reading the message queues (STASIS_FI=sysv-write-fails-once)");
	}

	FILE *f = e ? 0 : sysv_proc("shm");
	char line[512];
	while (f && !e && fgets(line, sizeof(line), f)) {
		int key, id;
		unsigned long long size, nattch;
		if (sscanf(line, "%d %d %*o %llu %*d %*d %llu", &key, &id, &size, &nattch) == 4 && nattch == 0)
			e = save_segment(o, id, size);
	}
	if (f)
		fclose(f);
	if (e)
		return e;

	uint8_t end[32];
	wb_init(&w, end, sizeof(end));
	wb_u64(&w, o->records);
	wb_u64(&w, o->messages);
	wb_u64(&w, o->shm_bytes);
	wb_u64(&w, o->off);
	return put_record(o, SV_END, end, sizeof(end), 0, 0);
}

int sysv_write_data(const char *path, uint64_t *bytes, char *why, size_t whylen)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	struct sv_out o = { .why = why, .whylen = whylen };
	why[0] = 0;
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (o.fd < 0)
		return out_fail(&o, -errno, "cannot create %s: %s", tmp, strerror(errno));
	int e = write_data(&o);
	if (!e && fsync(o.fd) < 0)
		e = out_fail(&o, -errno, "cannot write %s: %s", tmp, strerror(errno));
	close(o.fd);
	if (!e && rename(tmp, path) < 0)
		e = out_fail(&o, -errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (!e && (e = fsync_dir_of(path)))
		out_fail(&o, e, "cannot sync the folder of %s: %s", path, strerror(-e));
	if (e)
		unlink(tmp);
	*bytes = o.off;
	return e;
}

/* ================================ restart: read back ================================ */

/* Reading the data file back, record by record (read_data). */
struct sv_in {
	int fd;
	const char *path;
	uint64_t off;                  /* of the next byte */
	uint8_t *buf;
	size_t cap;
	uint64_t *got_n, *got_b;       /* per plan queue: messages and bytes read */
	uint64_t *seg_end;             /* per plan segment: where its content has come to */
	uint64_t records, messages, shm_bytes;
	const struct plan_msgq *msg_q; /* the MSG record just read (its text in buf) */
	long msg_type;
	uint32_t msg_len;
};

static __attribute__((noreturn, format(printf, 2, 3))) void bad(const struct sv_in *r, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	init_die("%s is not valid SysV IPC data (%s) — restart from an earlier generation", r->path, what);
}

static void read_exact(struct sv_in *r, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t got = read(r->fd, b, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			init_die("cannot read %s: %s", r->path, strerror(errno));
		if (got == 0)
			bad(r, "it ends at byte %llu, before its END record", (unsigned long long)r->off);
		b += got;
		n -= (size_t)got;
		r->off += (uint64_t)got;
	}
}

static uint64_t get_u(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static struct plan_msgq *queue_of(const struct plan *p, int id)
{
	for (int i = 0; i < p->nmsgqs; i++)
		if (p->msgqs[i].id == id)
			return &p->msgqs[i];
	return 0;
}

static const struct plan_shmseg *segment_of(const struct plan *p, int id)
{
	for (int i = 0; i < p->nsegs; i++)
		if (p->segs[i].id == id)
			return &p->segs[i];
	return 0;
}

/* The namespace's msgmax while messages go back, if one is longer (the old namespace's was). */
static long long msgmax_was = -1;

static void put_message(const struct plan_msgq *q, long type, const uint8_t *text, size_t len)
{
	long *m = xrealloc(0, sizeof(long) + len);
	m[0] = type;
	memcpy(m + 1, text, len);
	long long max = sysv_sysctl_get("msgmax");
	if (max >= 0 && (long long)len > max) {
		if (msgmax_was < 0)
			msgmax_was = max;
		if (sysv_sysctl_put("msgmax", (long long)len))
			init_die("SysV message queue %d holds a message of %zu bytes, longer than this namespace allows (msgmax %lld)",
				 q->id, len, max);
	}
	if (msgsnd(q->id, m, len, IPC_NOWAIT) < 0)
		init_die("cannot put a message back into SysV message queue %d: %s", q->id, strerror(errno));
	free(m);
}

/* Reads n bytes into `to` (or, when null, through the buffer), adding them to *crc. */
static void read_crc(struct sv_in *r, uint8_t *to, uint64_t n, uint32_t *crc)
{
	for (uint64_t done = 0; done < n;) {
		size_t piece = n - done < r->cap ? (size_t)(n - done) : r->cap;
		uint8_t *at = to ? to + done : r->buf;
		read_exact(r, at, piece);
		*crc = crc32c(*crc, at, piece);
		done += piece;
	}
}

static void msg_record(struct sv_in *r, const struct plan *p, int id, long type, uint32_t n, uint32_t *crc)
{
	const struct plan_msgq *q = queue_of(p, id);
	if (!q)
		bad(r, "a message of SysV message queue %d, which the manifest does not list", id);
	if (type <= 0 || n > SV_MSG_MAX)
		bad(r, "a message with type %ld and %u bytes", type, n);
	if (n > r->cap)
		r->buf = xrealloc(r->buf, r->cap = n);
	read_crc(r, r->buf, n, crc);
	r->got_n[q - p->msgqs]++;
	r->got_b[q - p->msgqs] += n;
	r->messages++;
	r->msg_q = q;
	r->msg_type = type;
	r->msg_len = n;
}

static void shmdata_record(struct sv_in *r, const struct plan *p, int id, uint64_t off, uint32_t n, uint32_t *crc, int apply)
{
	const struct plan_shmseg *g = segment_of(p, id);
	if (!g)
		bad(r, "content of SysV shared memory segment %d, which the manifest does not list", id);
	uint64_t *low = &r->seg_end[g - p->segs];
	if (off % PAGE || !n || n > SV_PIECE || off < *low || off + n > g->size)
		bad(r, "content of segment %d at %llu (%u bytes) that does not fit it", id, (unsigned long long)off, n);
	*low = off + n;
	uint8_t *mem = 0;
	if (apply && (mem = shmat(id, 0, 0)) == (void *)-1)
		init_die("cannot fill SysV shared memory segment %d: %s", id, strerror(errno));
	read_crc(r, mem ? mem + off : 0, n, crc);
	if (mem)
		shmdt(mem);
	r->shm_bytes += n;
}

/* END: the last record, agreeing with what came before it. */
static void end_record(struct sv_in *r, uint64_t at, uint32_t len, uint32_t crc)
{
	uint8_t end[32];
	if (len != sizeof(end))
		bad(r, "an END record of %u bytes", len);
	read_exact(r, end, sizeof(end));
	if (crc32c(0, end, sizeof(end)) != crc)
		bad(r, "the END record's checksum is wrong");
	if (get_u(end, 8) != r->records || get_u(end + 8, 8) != r->messages || get_u(end + 16, 8) != r->shm_bytes ||
	    get_u(end + 24, 8) != at)
		bad(r, "its END record disagrees with what comes before it");
	if (read(r->fd, r->buf, 1) != 0)
		bad(r, "bytes after its END record");
}

/*
 * One pass over the data file. `apply` 0: checks it all (before anything exists): CRCs,
 * sizes, ids the manifest has, each queue's messages and bytes as the manifest counted
 * them. `apply` 1 (after a check): also sends every message back and fills the segments.
 * A message is sent once its own CRC is checked; a segment is filled as it is read (a bad
 * CRC then ends the restart, which the check made sure of before).
 */
static void read_data(const struct plan *p, int apply)
{
	if (!p->sysv_data)
		return;
	struct sv_in r = { .fd = -1, .path = p->sysv_data, .cap = 1u << 20 };
	r.fd = open(p->sysv_data, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0)
		init_die("cannot open %s: %s — restart from an earlier generation", p->sysv_data, strerror(errno));
	r.buf = xrealloc(0, r.cap);
	r.got_n = calloc((size_t)p->nmsgqs + 1, sizeof(uint64_t));
	r.got_b = calloc((size_t)p->nmsgqs + 1, sizeof(uint64_t));
	r.seg_end = calloc((size_t)p->nsegs + 1, sizeof(uint64_t));
	if (!r.got_n || !r.got_b || !r.seg_end)
		init_die("out of memory");
	uint8_t h[IMG_HEADER_SIZE];
	read_exact(&r, h, sizeof(h));
	if (memcmp(h, SV_MAGIC, 8))
		bad(&r, "no STASISSV magic");
	if (get_u(h + 8, 4) != SV_VERSION)
		bad(&r, "version %llu, this stasis reads %d", (unsigned long long)get_u(h + 8, 4), SV_VERSION);
	if (get_u(h + 12, 4) != IMG_HEADER_SIZE || get_u(h + 16, 8) || get_u(h + 28, 4) || get_u(h + 24, 4) != crc32c(0, h, 24))
		bad(&r, "a damaged header");
	for (;;) {
		uint64_t at = r.off;
		uint8_t rh[IMG_REC_HEADER];
		read_exact(&r, rh, sizeof(rh));
		uint32_t type = (uint32_t)get_u(rh + 4, 2), len = (uint32_t)get_u(rh + 8, 4), crc = (uint32_t)get_u(rh + 12, 4), c = 0;
		if (get_u(rh, 4) != IMG_REC_MAGIC || get_u(rh + 6, 2))
			bad(&r, "no record at byte %llu", (unsigned long long)at);
		if (type == SV_END) {
			end_record(&r, at, len, crc);
			break;
		}
		if (type == SV_MSG || type == SV_SHMDATA) {
			uint8_t head[SV_HEAD];
			if (len < SV_HEAD)
				bad(&r, "a record of %u bytes at byte %llu", len, (unsigned long long)at);
			read_exact(&r, head, sizeof(head));
			c = crc32c(0, head, sizeof(head));
			int id = (int)get_u(head, 4);
			uint64_t x = get_u(head + 8, 8);
			uint32_t n = (uint32_t)get_u(head + 16, 4);
			if (get_u(head + 4, 4) || get_u(head + 20, 4) || n != len - SV_HEAD)
				bad(&r, "a malformed record at byte %llu", (unsigned long long)at);
			if (type == SV_MSG)
				msg_record(&r, p, id, (long)x, n, &c);
			else
				shmdata_record(&r, p, id, x, n, &c, apply);
		} else {
			read_crc(&r, 0, len, &c); /* a record type a later version added: checked, skipped */
		}
		if (c != crc)
			bad(&r, "the checksum of the record at byte %llu is wrong", (unsigned long long)at);
		if (type == SV_MSG && apply)
			put_message(r.msg_q, r.msg_type, r.buf, r.msg_len);
		uint8_t pad[8];
		if (len % 8) {
			read_exact(&r, pad, 8 - len % 8);
			for (uint32_t i = 0; i < 8 - len % 8; i++)
				if (pad[i])
					bad(&r, "padding that is not zero at byte %llu", (unsigned long long)(r.off - 8 + len % 8 + i));
		}
		r.records++;
	}
	for (int i = 0; i < p->nmsgqs; i++)
		if (r.got_n[i] != p->msgqs[i].messages || r.got_b[i] != p->msgqs[i].bytes)
			bad(&r, "SysV message queue %d has %llu messages of %llu bytes, the manifest says %llu of %llu", p->msgqs[i].id,
			    (unsigned long long)r.got_n[i], (unsigned long long)r.got_b[i], (unsigned long long)p->msgqs[i].messages,
			    (unsigned long long)p->msgqs[i].bytes);
	if (apply && msgmax_was >= 0)
		sysv_sysctl_put("msgmax", msgmax_was);
	free(r.buf);
	free(r.got_n);
	free(r.got_b);
	free(r.seg_end);
	close(r.fd);
}

void sysv_fill(const struct plan *p)
{
	read_data(p, 1);
}

void sysv_check(const struct plan *p)
{
	if (!p->sysv_data) {
		for (int i = 0; i < p->nmsgqs; i++)
			if (p->msgqs[i].messages)
				init_die("the restart plan has SysV message queues with messages but no SysV IPC data file");
		return;
	}
	read_data(p, 0);
}

