/*
 * Encoding and decoding of protocol v4 frames. Freestanding (no libc), so the agent can
 * use it while application threads are stopped.
 */
#include "proto.h"
#include "wire.h"

static void put_header(struct wbuf *w, uint16_t type, uint32_t len)
{
	wb_u32(w, PROTO_MAGIC);
	wb_u16(w, PROTO_VERSION);
	wb_u16(w, type);
	wb_u32(w, len);
}

long proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	struct wbuf w;
	if (cap < PROTO_HEADER)
		return -1;
	wb_init(&w, buf + PROTO_HEADER, cap - PROTO_HEADER);
	switch (m->type) {
	case MSG_HELLO:
		wb_u32(&w, m->pid);
		wb_u32(&w, m->ppid);
		wb_u32(&w, m->flags);
		wb_u32(&w, 0);
		wb_u64(&w, m->proc_id);
		wb_u64(&w, m->pidns);
		wb_str(&w, m->name);
		wb_str(&w, m->ckpt_dir);
		wb_str(&w, m->hostname);
		break;
	case MSG_WELCOME:
		wb_u64(&w, m->proc_id);
		break;
	case MSG_SUSPEND:
	case MSG_RESUME:
	case MSG_LIST:
		wb_u64(&w, m->ckpt_id);
		break;
	case MSG_RESUMED:
		wb_u64(&w, m->ckpt_id);
		wb_u64(&w, m->pause_ns);
		break;
	case MSG_CAPTURED:
		wb_u64(&w, m->ckpt_id);
		wb_u32(&w, (uint32_t)m->status);
		wb_u32(&w, m->flags);
		wb_u32(&w, m->writer_pid);
		wb_u32(&w, 0);
		wb_str(&w, m->message);
		break;
	case MSG_LISTED:
		wb_u64(&w, m->ckpt_id);
		wb_u32(&w, m->nprocs);
		wb_bytes(&w, m->procs, (size_t)m->nprocs * PROTO_PROC_SIZE);
		wb_u32(&w, m->nshares);
		wb_bytes(&w, m->shares, (size_t)m->nshares * PROTO_LSHARE_SIZE);
		wb_u32(&w, m->nsems);
		wb_bytes(&w, m->sems, (size_t)m->nsems * PROTO_SEM_SIZE);
		wb_u32(&w, m->nsemvals);
		wb_bytes(&w, m->semvals, (size_t)m->nsemvals * 4);
		wb_u32(&w, m->nshm);
		wb_bytes(&w, m->shm, (size_t)m->nshm * PROTO_SHM_OWNER_SIZE);
		wb_u32(&w, m->nshmsegs);
		wb_bytes(&w, m->shmsegs, (size_t)m->nshmsegs * PROTO_SHMSEG_SIZE);
		wb_u32(&w, m->nmsgqs);
		wb_bytes(&w, m->msgqs, (size_t)m->nmsgqs * PROTO_MSGQ_SIZE);
		wb_u32(&w, m->ncttys);
		wb_bytes(&w, m->cttys, (size_t)m->ncttys * PROTO_CTTY_SIZE);
		break;
	case MSG_SUSPENDED:
		wb_u64(&w, m->ckpt_id);
		wb_u32(&w, (uint32_t)m->status);
		wb_u32(&w, m->nthreads);
		break;
	case MSG_WRITE:
		wb_u64(&w, m->ckpt_id);
		wb_str(&w, m->image_path);
		wb_u32(&w, m->nshares);
		wb_bytes(&w, m->shares, (size_t)m->nshares * PROTO_SHARE_SIZE);
		wb_u32(&w, m->nshm);
		wb_bytes(&w, m->shm, (size_t)m->nshm * 8);
		wb_u32(&w, m->flags);
		wb_u32(&w, 0);
		break;
	case MSG_COMMIT:
		wb_u64(&w, m->ckpt_id);
		wb_u32(&w, m->flags);
		wb_u32(&w, 0);
		break;
	case MSG_WRITTEN:
		wb_u64(&w, m->ckpt_id);
		wb_u32(&w, (uint32_t)m->status);
		wb_u32(&w, 0);
		wb_u64(&w, m->image_bytes);
		wb_str(&w, m->message);
		break;
	case MSG_KILL:
		break;
	case MSG_REQUEST:
	case MSG_RESPONSE:
	case MSG_PROGRESS:
		wb_bytes(&w, m->json, m->json_len);
		break;
	default:
		return -1;
	}
	if (w.overflow || w.len > PROTO_MAX_PAYLOAD)
		return -1;
	struct wbuf h;
	wb_init(&h, buf, PROTO_HEADER);
	put_header(&h, m->type, (uint32_t)w.len);
	return (long)(PROTO_HEADER + w.len);
}

const char *proto_type_name(uint16_t type)
{
	switch (type) {
	case MSG_HELLO: return "HELLO";
	case MSG_WELCOME: return "WELCOME";
	case MSG_SUSPEND: return "SUSPEND";
	case MSG_SUSPENDED: return "SUSPENDED";
	case MSG_WRITE: return "WRITE";
	case MSG_WRITTEN: return "WRITTEN";
	case MSG_RESUME: return "RESUME";
	case MSG_RESUMED: return "RESUMED";
	case MSG_KILL: return "KILL";
	case MSG_LIST: return "LIST";
	case MSG_LISTED: return "LISTED";
	case MSG_CAPTURED: return "CAPTURED";
	case MSG_COMMIT: return "COMMIT";
	case MSG_REQUEST: return "REQUEST";
	case MSG_RESPONSE: return "RESPONSE";
	case MSG_PROGRESS: return "PROGRESS";
	default: return 0;
	}
}

long proto_check_header(const uint8_t *h, uint16_t *type, const char **why)
{
	struct rbuf r;
	rb_init(&r, h, PROTO_HEADER);
	uint32_t magic = rb_u32(&r);
	uint16_t version = rb_u16(&r);
	*type = rb_u16(&r);
	uint32_t len = rb_u32(&r);
	if (magic != PROTO_MAGIC) {
		*why = "bad-magic";
		return -1;
	}
	if (version != PROTO_VERSION) {
		*why = "bad-version";
		return -1;
	}
	if (len > PROTO_MAX_PAYLOAD) {
		*why = "too-long";
		return -1;
	}
	if (!proto_type_name(*type)) {
		*why = "unknown-type";
		return -1;
	}
	return len;
}

/* Reads a `str` into dst, checking it is UTF-8 and fits. */
static void get_str(struct rbuf *r, char *dst, size_t cap, const char **field_err)
{
	uint16_t n = rb_u16(r);
	const uint8_t *p = rb_take(r, n);
	dst[0] = 0;
	if (!p)
		return;
	if (n >= cap) {
		*field_err = "bad-field";
		return;
	}
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (!len || i + len > n || (len == 2 && c < 0xc2)) {
			*field_err = "bad-utf8";
			return;
		}
		uint32_t cp = len == 1 ? c : c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				*field_err = "bad-utf8";
				return;
			}
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
			*field_err = "bad-utf8";
			return;
		}
		i += len;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)p[i];
	dst[n] = 0;
}

/* `n` entries of `size` bytes; the count is checked against what is left before any
 * multiplication can overflow. */
static const uint8_t *take_list(struct rbuf *r, uint32_t n, uint32_t size)
{
	if (r->bad || n > (r->len - r->off) / size) {
		r->bad = 1;
		return 0;
	}
	return rb_take(r, (size_t)n * size);
}

void proto_share_at(const struct proto_msg *m, uint32_t i, struct proto_share *out)
{
	struct rbuf r;
	rb_init(&r, m->shares + (size_t)i * PROTO_SHARE_SIZE, PROTO_SHARE_SIZE);
	out->fd = (int32_t)rb_u32(&r);
	out->flags = rb_u32(&r);
	out->share_id = rb_u64(&r);
}

void proto_put_share(uint8_t *at, const struct proto_share *s)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_SHARE_SIZE);
	wb_u32(&w, (uint32_t)s->fd);
	wb_u32(&w, s->flags);
	wb_u64(&w, s->share_id);
}

void proto_proc_at(const struct proto_msg *m, uint32_t i, struct proto_proc *out)
{
	struct rbuf r;
	rb_init(&r, m->procs + (size_t)i * PROTO_PROC_SIZE, PROTO_PROC_SIZE);
	out->pid = rb_u32(&r);
	out->ppid = rb_u32(&r);
	out->pgid = rb_u32(&r);
	out->sid = rb_u32(&r);
	out->status = (int32_t)rb_u32(&r);
	out->flags = rb_u32(&r);
}

void proto_put_proc(uint8_t *at, const struct proto_proc *p)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_PROC_SIZE);
	wb_u32(&w, p->pid);
	wb_u32(&w, p->ppid);
	wb_u32(&w, p->pgid);
	wb_u32(&w, p->sid);
	wb_u32(&w, (uint32_t)p->status);
	wb_u32(&w, p->flags);
}

void proto_lshare_at(const struct proto_msg *m, uint32_t i, struct proto_lshare *out)
{
	struct rbuf r;
	rb_init(&r, m->shares + (size_t)i * PROTO_LSHARE_SIZE, PROTO_LSHARE_SIZE);
	out->pid = rb_u32(&r);
	out->fd = (int32_t)rb_u32(&r);
	out->flags = rb_u32(&r);
	out->share_id = rb_u64(&r);
}

void proto_put_lshare(uint8_t *at, const struct proto_lshare *s)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_LSHARE_SIZE);
	wb_u32(&w, s->pid);
	wb_u32(&w, (uint32_t)s->fd);
	wb_u32(&w, s->flags);
	wb_u64(&w, s->share_id);
}

void proto_sem_at(const struct proto_msg *m, uint32_t i, struct proto_sem *out)
{
	struct rbuf r;
	rb_init(&r, m->sems + (size_t)i * PROTO_SEM_SIZE, PROTO_SEM_SIZE);
	out->id = (int32_t)rb_u32(&r);
	out->key = rb_u32(&r);
	out->mode = rb_u32(&r);
	out->uid = rb_u32(&r);
	out->gid = rb_u32(&r);
	out->nsems = rb_u32(&r);
}

void proto_put_sem(uint8_t *at, const struct proto_sem *s)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_SEM_SIZE);
	wb_u32(&w, (uint32_t)s->id);
	wb_u32(&w, s->key);
	wb_u32(&w, s->mode);
	wb_u32(&w, s->uid);
	wb_u32(&w, s->gid);
	wb_u32(&w, s->nsems);
}

uint32_t proto_semval_at(const struct proto_msg *m, uint32_t i)
{
	struct rbuf r;
	rb_init(&r, m->semvals + (size_t)i * 4, 4);
	return rb_u32(&r);
}

void proto_shm_owner_at(const struct proto_msg *m, uint32_t i, struct proto_shm_owner *out)
{
	struct rbuf r;
	rb_init(&r, m->shm + (size_t)i * PROTO_SHM_OWNER_SIZE, PROTO_SHM_OWNER_SIZE);
	out->pid = rb_u32(&r);
	out->key = rb_u64(&r);
}

void proto_put_shm_owner(uint8_t *at, const struct proto_shm_owner *o)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_SHM_OWNER_SIZE);
	wb_u32(&w, o->pid);
	wb_u64(&w, o->key);
}

uint64_t proto_shm_skip_at(const struct proto_msg *m, uint32_t i)
{
	struct rbuf r;
	rb_init(&r, m->shm + (size_t)i * 8, 8);
	return rb_u64(&r);
}

void proto_shmseg_at(const struct proto_msg *m, uint32_t i, struct proto_shmseg *out)
{
	struct rbuf r;
	rb_init(&r, m->shmsegs + (size_t)i * PROTO_SHMSEG_SIZE, PROTO_SHMSEG_SIZE);
	out->id = (int32_t)rb_u32(&r);
	out->key = rb_u32(&r);
	out->mode = rb_u32(&r);
	out->uid = rb_u32(&r);
	out->gid = rb_u32(&r);
	out->size = rb_u64(&r);
}

void proto_put_shmseg(uint8_t *at, const struct proto_shmseg *s)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_SHMSEG_SIZE);
	wb_u32(&w, (uint32_t)s->id);
	wb_u32(&w, s->key);
	wb_u32(&w, s->mode);
	wb_u32(&w, s->uid);
	wb_u32(&w, s->gid);
	wb_u64(&w, s->size);
}

void proto_msgq_at(const struct proto_msg *m, uint32_t i, struct proto_msgq *out)
{
	struct rbuf r;
	rb_init(&r, m->msgqs + (size_t)i * PROTO_MSGQ_SIZE, PROTO_MSGQ_SIZE);
	out->id = (int32_t)rb_u32(&r);
	out->key = rb_u32(&r);
	out->mode = rb_u32(&r);
	out->uid = rb_u32(&r);
	out->gid = rb_u32(&r);
	out->messages = rb_u32(&r);
	out->bytes = rb_u64(&r);
	out->qbytes = rb_u64(&r);
}

void proto_put_msgq(uint8_t *at, const struct proto_msgq *q)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_MSGQ_SIZE);
	wb_u32(&w, (uint32_t)q->id);
	wb_u32(&w, q->key);
	wb_u32(&w, q->mode);
	wb_u32(&w, q->uid);
	wb_u32(&w, q->gid);
	wb_u32(&w, q->messages);
	wb_u64(&w, q->bytes);
	wb_u64(&w, q->qbytes);
}

void proto_ctty_at(const struct proto_msg *m, uint32_t i, struct proto_ctty *out)
{
	struct rbuf r;
	rb_init(&r, m->cttys + (size_t)i * PROTO_CTTY_SIZE, PROTO_CTTY_SIZE);
	out->pid = rb_u32(&r);
	out->pty = rb_u32(&r);
	out->foreground = (int32_t)rb_u32(&r);
}

void proto_put_ctty(uint8_t *at, const struct proto_ctty *c)
{
	struct wbuf w;
	wb_init(&w, at, PROTO_CTTY_SIZE);
	wb_u32(&w, c->pid);
	wb_u32(&w, c->pty);
	wb_u32(&w, (uint32_t)c->foreground);
}

int proto_decode(uint16_t type, const uint8_t *payload, uint32_t len, struct proto_msg *m,
		 const char **why)
{
	struct rbuf r;
	const char *field_err = 0;
	rb_init(&r, payload, len);
	uint8_t *z = (uint8_t *)m;
	for (size_t i = 0; i < sizeof(*m); i++)
		z[i] = 0;
	m->type = type;
	switch (type) {
	case MSG_HELLO:
		m->pid = rb_u32(&r);
		m->ppid = rb_u32(&r);
		m->flags = rb_u32(&r);
		if (rb_u32(&r) != 0)
			field_err = "bad-field";
		m->proc_id = rb_u64(&r);
		m->pidns = rb_u64(&r);
		get_str(&r, m->name, sizeof(m->name), &field_err);
		get_str(&r, m->ckpt_dir, sizeof(m->ckpt_dir), &field_err);
		get_str(&r, m->hostname, sizeof(m->hostname), &field_err);
		break;
	case MSG_WELCOME:
		m->proc_id = rb_u64(&r);
		break;
	case MSG_SUSPEND:
	case MSG_RESUME:
	case MSG_LIST:
		m->ckpt_id = rb_u64(&r);
		break;
	case MSG_RESUMED:
		m->ckpt_id = rb_u64(&r);
		m->pause_ns = rb_u64(&r);
		break;
	case MSG_CAPTURED:
		m->ckpt_id = rb_u64(&r);
		m->status = (int32_t)rb_u32(&r);
		m->flags = rb_u32(&r);
		m->writer_pid = rb_u32(&r);
		if (rb_u32(&r) != 0)
			field_err = "bad-field";
		get_str(&r, m->message, sizeof(m->message), &field_err);
		break;
	case MSG_LISTED:
		m->ckpt_id = rb_u64(&r);
		m->nprocs = rb_u32(&r);
		m->procs = take_list(&r, m->nprocs, PROTO_PROC_SIZE);
		m->nshares = rb_u32(&r);
		m->shares = take_list(&r, m->nshares, PROTO_LSHARE_SIZE);
		m->nsems = rb_u32(&r);
		m->sems = take_list(&r, m->nsems, PROTO_SEM_SIZE);
		m->nsemvals = rb_u32(&r);
		m->semvals = take_list(&r, m->nsemvals, 4);
		m->nshm = rb_u32(&r);
		m->shm = take_list(&r, m->nshm, PROTO_SHM_OWNER_SIZE);
		m->nshmsegs = rb_u32(&r);
		m->shmsegs = take_list(&r, m->nshmsegs, PROTO_SHMSEG_SIZE);
		m->nmsgqs = rb_u32(&r);
		m->msgqs = take_list(&r, m->nmsgqs, PROTO_MSGQ_SIZE);
		m->ncttys = rb_u32(&r);
		m->cttys = take_list(&r, m->ncttys, PROTO_CTTY_SIZE);
		break;
	case MSG_SUSPENDED:
		m->ckpt_id = rb_u64(&r);
		m->status = (int32_t)rb_u32(&r);
		m->nthreads = rb_u32(&r);
		break;
	case MSG_WRITE:
		m->ckpt_id = rb_u64(&r);
		get_str(&r, m->image_path, sizeof(m->image_path), &field_err);
		m->nshares = rb_u32(&r);
		m->shares = take_list(&r, m->nshares, PROTO_SHARE_SIZE);
		m->nshm = rb_u32(&r);
		m->shm = take_list(&r, m->nshm, 8);
		m->flags = rb_u32(&r);
		if (rb_u32(&r) != 0)
			field_err = "bad-field";
		break;
	case MSG_COMMIT:
		m->ckpt_id = rb_u64(&r);
		m->flags = rb_u32(&r);
		if (rb_u32(&r) != 0)
			field_err = "bad-field";
		break;
	case MSG_WRITTEN:
		m->ckpt_id = rb_u64(&r);
		m->status = (int32_t)rb_u32(&r);
		if (rb_u32(&r) != 0)
			field_err = "bad-field";
		m->image_bytes = rb_u64(&r);
		get_str(&r, m->message, sizeof(m->message), &field_err);
		break;
	case MSG_KILL:
		break;
	case MSG_REQUEST:
	case MSG_RESPONSE:
	case MSG_PROGRESS:
		m->json = payload;
		m->json_len = len;
		r.off = len;
		break;
	default:
		*why = "unknown-type";
		return -1;
	}
	if (r.bad) {
		*why = "short-payload";
		return -1;
	}
	if (r.off != len) {
		*why = "trailing-bytes";
		return -1;
	}
	if (field_err) {
		*why = field_err;
		return -1;
	}
	return 0;
}
