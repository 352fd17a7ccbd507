#include "fmt.h"

void sb_init(struct sbuf *s, char *mem, size_t cap)
{
	s->p = mem;
	s->len = 0;
	s->cap = cap;
	if (cap)
		mem[0] = 0;
}

void sb_mem(struct sbuf *s, const char *str, size_t n)
{
	for (size_t i = 0; i < n && s->len + 1 < s->cap; i++)
		s->p[s->len++] = str[i];
}

void sb_str(struct sbuf *s, const char *str)
{
	while (*str && s->len + 1 < s->cap)
		s->p[s->len++] = *str++;
}

void sb_udec(struct sbuf *s, uint64_t v)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		sb_mem(s, &t[--n], 1);
}

void sb_dec(struct sbuf *s, int64_t v)
{
	if (v < 0) {
		sb_str(s, "-");
		sb_udec(s, (uint64_t)0 - (uint64_t)v);
	} else {
		sb_udec(s, (uint64_t)v);
	}
}

void sb_hex(struct sbuf *s, uint64_t v)
{
	char t[16];
	int n = 0;
	do {
		t[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		sb_mem(s, &t[--n], 1);
}

const char *sb_cstr(struct sbuf *s)
{
	if (s->cap)
		s->p[s->len < s->cap ? s->len : s->cap - 1] = 0;
	return s->p;
}

uint64_t parse_hex(const char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (uint64_t)(c - 'A' + 10);
		else
			return v;
	}
}

/* "A.B.C.D:PORT" into ip (network byte order in memory) and port; 0, or -1 if malformed. */
int parse_ipv4_port(const char *s, uint32_t *ip, uint16_t *port)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		if (*s < '0' || *s > '9')
			return -1;
		uint64_t b = parse_dec(&s);
		if (b > 255 || *s != (i < 3 ? '.' : ':'))
			return -1;
		s++;
		v |= (uint32_t)b << (8 * i);
	}
	uint64_t p = parse_dec(&s);
	if (*s || !p || p > 65535)
		return -1;
	*ip = v;
	*port = (uint16_t)p;
	return 0;
}

uint64_t parse_dec(const char **p)
{
	uint64_t v = 0;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	return v;
}

int parse_maps_line(const char **p, struct maps_line *m)
{
	const char *s = *p;
	m->start = parse_hex(&s);
	if (*s++ != '-')
		return -1;
	m->end = parse_hex(&s);
	if (*s++ != ' ')
		return -1;
	for (int i = 0; i < 4; i++) {
		if (!s[i] || s[i] == '\n')
			return -1;
		m->perms[i] = s[i];
	}
	s += 4;
	if (*s++ != ' ')
		return -1;
	m->offset = parse_hex(&s);
	s++;
	m->major = (uint32_t)parse_hex(&s);
	if (*s++ != ':')
		return -1;
	m->minor = (uint32_t)parse_hex(&s);
	s++;
	m->ino = parse_dec(&s);
	while (*s == ' ')
		s++;
	*p = s;
	return 0;
}

uint64_t parse_oct(const char **p)
{
	uint64_t v = 0;
	while (**p >= '0' && **p <= '7')
		v = v * 8 + (uint64_t)(*(*p)++ - '0');
	return v;
}

const char *strerror_short(long e)
{
	switch (-e) {
	case 1: return "EPERM";
	case 2: return "ENOENT";
	case 3: return "ESRCH";
	case 4: return "EINTR";
	case 5: return "EIO";
	case 9: return "EBADF";
	case 11: return "EAGAIN";
	case 12: return "ENOMEM";
	case 13: return "EACCES";
	case 14: return "EFAULT";
	case 16: return "EBUSY";
	case 17: return "EEXIST";
	case 20: return "ENOTDIR";
	case 21: return "EISDIR";
	case 22: return "EINVAL";
	case 24: return "EMFILE";
	case 28: return "ENOSPC";
	case 32: return "EPIPE";
	case 36: return "ENAMETOOLONG";
	case 38: return "ENOSYS";
	case 95: return "ENOTSUP";
	case 110: return "ETIMEDOUT";
	case 111: return "ECONNREFUSED";
	case 122: return "EDQUOT";
	default: return "error";
	}
}

int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

int str_starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

const char *str_find(const char *hay, const char *needle)
{
	for (; *hay; hay++)
		if (str_starts(hay, needle))
			return hay;
	return 0;
}

void mem_copy(void *d, const void *s, size_t n)
{
	char *dd = d;
	const char *ss = s;
	while (n--)
		*dd++ = *ss++;
}

void mem_zero(void *d, size_t n)
{
	char *dd = d;
	while (n--)
		*dd++ = 0;
}

void str_copy(char *d, const char *s, size_t cap)
{
	size_t i = 0;
	if (!cap)
		return;
	for (; s[i] && i + 1 < cap; i++)
		d[i] = s[i];
	d[i] = 0;
}
