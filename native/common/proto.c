/*
 * Encoding and decoding of protocol v1 frames. Freestanding (no libc), so the agent can
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
		wb_str(&w, m->name);
		wb_str(&w, m->ckpt_dir);
		wb_str(&w, m->hostname);
		break;
	case MSG_WELCOME:
		wb_u64(&w, m->proc_id);
		break;
	case MSG_SUSPEND:
	case MSG_RESUME:
	case MSG_RESUMED:
		wb_u64(&w, m->ckpt_id);
		break;
	case MSG_SUSPENDED:
		wb_u64(&w, m->ckpt_id);
		wb_u32(&w, (uint32_t)m->status);
		wb_u32(&w, m->nthreads);
		break;
	case MSG_WRITE:
		wb_u64(&w, m->ckpt_id);
		wb_str(&w, m->image_path);
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
		*why = "bad magic";
		return -1;
	}
	if (version != PROTO_VERSION) {
		*why = "unsupported version";
		return -1;
	}
	if (len > PROTO_MAX_PAYLOAD) {
		*why = "payload too large";
		return -1;
	}
	if (!proto_type_name(*type)) {
		*why = "unknown type";
		return -1;
	}
	return len;
}

int proto_decode(uint16_t type, const uint8_t *payload, uint32_t len, struct proto_msg *m,
		 const char **why)
{
	struct rbuf r;
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
			r.bad = 1;
		m->proc_id = rb_u64(&r);
		rb_str(&r, m->name, sizeof(m->name));
		rb_str(&r, m->ckpt_dir, sizeof(m->ckpt_dir));
		rb_str(&r, m->hostname, sizeof(m->hostname));
		break;
	case MSG_WELCOME:
		m->proc_id = rb_u64(&r);
		break;
	case MSG_SUSPEND:
	case MSG_RESUME:
	case MSG_RESUMED:
		m->ckpt_id = rb_u64(&r);
		break;
	case MSG_SUSPENDED:
		m->ckpt_id = rb_u64(&r);
		m->status = (int32_t)rb_u32(&r);
		m->nthreads = rb_u32(&r);
		break;
	case MSG_WRITE:
		m->ckpt_id = rb_u64(&r);
		rb_str(&r, m->image_path, sizeof(m->image_path));
		break;
	case MSG_WRITTEN:
		m->ckpt_id = rb_u64(&r);
		m->status = (int32_t)rb_u32(&r);
		if (rb_u32(&r) != 0)
			r.bad = 1;
		m->image_bytes = rb_u64(&r);
		rb_str(&r, m->message, sizeof(m->message));
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
		*why = "unknown type";
		return -1;
	}
	if (r.bad) {
		*why = "malformed payload";
		return -1;
	}
	if (r.off != len) {
		*why = "trailing bytes in payload";
		return -1;
	}
	return 0;
}
