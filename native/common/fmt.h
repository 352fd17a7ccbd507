/*
 * Number formatting and parsing without libc, for the loader and for agent code that
 * runs while application threads are stopped (no stdio there: a stopped thread may hold
 * its lock).
 */
#ifndef STASIS_FMT_H
#define STASIS_FMT_H
#include <stddef.h>
#include <stdint.h>

/* An append-only text buffer that never overflows: excess is dropped. */
struct sbuf {
	char *p;
	size_t len, cap;
};

void sb_init(struct sbuf *s, char *mem, size_t cap);
void sb_str(struct sbuf *s, const char *str);
void sb_mem(struct sbuf *s, const char *str, size_t n);
void sb_dec(struct sbuf *s, int64_t v);
void sb_udec(struct sbuf *s, uint64_t v);
void sb_hex(struct sbuf *s, uint64_t v);
const char *sb_cstr(struct sbuf *s); /* NUL-terminates */

/* Parsers: advance *p past what they read. */
uint64_t parse_hex(const char **p);
uint64_t parse_dec(const char **p);
/* "A.B.C.D:PORT": ip in network byte order, port; 0, or -1 if malformed. */
int parse_ipv4_port(const char *s, uint32_t *ip, uint16_t *port);
uint64_t parse_oct(const char **p);
/* The fields of a /proc/PID/maps line up to the path: *p is left at the path (or at the
 * line's end when there is none). 0, or -1 if the line is not one. */
struct maps_line {
	uint64_t start, end, offset, ino;
	uint32_t major, minor;
	char perms[4]; /* "rwxp" */
};
int parse_maps_line(const char **p, struct maps_line *m);

const char *strerror_short(long neg_errno); /* "ENOENT", ... */
int str_eq(const char *a, const char *b);
int str_starts(const char *s, const char *prefix);
const char *str_find(const char *hay, const char *needle);
void mem_copy(void *d, const void *s, size_t n);
void mem_zero(void *d, size_t n);
void str_copy(char *d, const char *s, size_t cap);
#endif
