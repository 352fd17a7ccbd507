/*
 * Little-endian field encoding shared by the image format and the wire protocol.
 * A writer that runs out of room sets `overflow` and stops writing; a reader that runs
 * past its end sets `bad` and returns zeros. Callers check the flag once at the end.
 * Freestanding: used by the agent and by the restore loader.
 */
#ifndef STASIS_WIRE_H
#define STASIS_WIRE_H
#include <stddef.h>
#include <stdint.h>

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int overflow;
};

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static inline void wb_init(struct wbuf *w, void *mem, size_t cap)
{
	w->p = mem;
	w->len = 0;
	w->cap = cap;
	w->overflow = 0;
}

static inline void wb_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = 1;
		return;
	}
	const uint8_t *s = src;
	for (size_t i = 0; i < n; i++)
		w->p[w->len + i] = s[i];
	w->len += n;
}

static inline void wb_u16(struct wbuf *w, uint16_t v) { uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; wb_bytes(w, b, 2); }
static inline void wb_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wb_bytes(w, b, 4);
}
static inline void wb_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wb_bytes(w, b, 8);
}

static inline size_t cstrlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* A `str`: u16 length then the bytes. Longer strings are an overflow, not a truncation. */
static inline void wb_str(struct wbuf *w, const char *s)
{
	size_t n = cstrlen(s);
	if (n > 0xffff) {
		w->overflow = 1;
		return;
	}
	wb_u16(w, (uint16_t)n);
	wb_bytes(w, s, n);
}

static inline void rb_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

static inline const uint8_t *rb_take(struct rbuf *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static inline uint64_t rb_le(struct rbuf *r, int n)
{
	const uint8_t *p = rb_take(r, (size_t)n);
	uint64_t v = 0;
	if (!p)
		return 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint16_t rb_u16(struct rbuf *r) { return (uint16_t)rb_le(r, 2); }
static inline uint32_t rb_u32(struct rbuf *r) { return (uint32_t)rb_le(r, 4); }
static inline uint64_t rb_u64(struct rbuf *r) { return rb_le(r, 8); }

/* 0 when every byte was read and none was missing, else -22 (EINVAL). */
static inline int rb_exact(const struct rbuf *r)
{
	return !r->bad && r->off == r->len ? 0 : -22;
}

/* Copies a `str` into dst (NUL-terminated); one that does not fit makes the reader bad. */
static inline void rb_str(struct rbuf *r, char *dst, size_t cap)
{
	uint16_t n = rb_u16(r);
	const uint8_t *p = rb_take(r, n);
	if (!p || n >= cap) {
		r->bad = 1;
		if (cap)
			dst[0] = 0;
		return;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)p[i];
	dst[n] = 0;
}
#endif
