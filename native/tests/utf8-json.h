/*
 * Image strings as JSON strings, for the C test tools. A `str` holds bytes (Linux paths
 * need not be UTF-8); they are decoded as the WHATWG Encoding Standard's UTF-8 decoder
 * does, each invalid sequence becoming U+FFFD, which is what TextDecoder does in the
 * TypeScript reader, and each code point is escaped as JSON needs. Freestanding.
 */
#ifndef STASIS_TESTS_UTF8_JSON_H
#define STASIS_TESTS_UTF8_JSON_H
#include <stdint.h>

/* Writes code point cp as it appears inside a JSON string; returns the byte count. */
static inline int json_cp(uint32_t cp, char out[6])
{
	static const char hex[] = "0123456789abcdef";
	if (cp == '"' || cp == '\\') {
		out[0] = '\\', out[1] = (char)cp;
		return 2;
	}
	if (cp < 0x20) {
		out[0] = '\\', out[1] = 'u', out[2] = '0', out[3] = '0';
		out[4] = hex[cp >> 4], out[5] = hex[cp & 15];
		return 6;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Calls emit with each code point of the NUL-terminated byte string s. */
static inline void utf8_decode(const char *s, void (*emit)(uint32_t cp, void *ctx), void *ctx)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t cp = 0, need = 0, seen = 0, lo = 0x80, hi = 0xbf;
	while (*p) {
		uint8_t b = *p;
		if (!need) {
			p++;
			if (b < 0x80) {
				emit(b, ctx);
			} else if (b >= 0xc2 && b <= 0xdf) {
				need = 1, cp = b & 0x1f;
			} else if (b >= 0xe0 && b <= 0xef) {
				lo = b == 0xe0 ? 0xa0 : 0x80;
				hi = b == 0xed ? 0x9f : 0xbf;
				need = 2, cp = b & 0xf;
			} else if (b >= 0xf0 && b <= 0xf4) {
				lo = b == 0xf0 ? 0x90 : 0x80;
				hi = b == 0xf4 ? 0x8f : 0xbf;
				need = 3, cp = b & 0x7;
			} else {
				emit(0xfffd, ctx);
			}
			continue;
		}
		if (b < lo || b > hi) {
			/* An unexpected byte ends the sequence and is looked at again on its own. */
			cp = need = seen = 0, lo = 0x80, hi = 0xbf;
			emit(0xfffd, ctx);
			continue;
		}
		p++;
		lo = 0x80, hi = 0xbf;
		cp = cp << 6 | (b & 0x3f);
		if (++seen == need) {
			emit(cp, ctx);
			cp = need = seen = 0;
		}
	}
	if (need)
		emit(0xfffd, ctx);
}
#endif
