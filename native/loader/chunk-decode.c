/*
 * zstd chunks, decoded with Debian's libzstd.a linked into this freestanding binary.
 *
 * The frame header and its blocks' layout are checked by hand first, against what the
 * format allows (one frame, its content size declared and equal to the chunk's, no
 * dictionary, no checksum, no reserved bit, a window of at most 8 MiB), in the order and
 * words of src/image/zstd.ts; then libzstd decodes it straight into place. What libzstd needs from a libc is here:
 *  - a static decompression context (ZSTD_initStaticDCtx on arena memory): it never
 *    allocates, so the allocator it links against only says "no memory";
 *  - memcpy, memmove and memset from rt.c;
 *  - a TLS block: Debian builds libzstd with the stack protector, whose functions read
 *    their guard at %fs:0x28, and this binary has no thread pointer of its own. Each
 *    decoder has its block, set as the calling thread's before each decode, so it is this
 *    copy's (stage 1 or the relocated stage 2) and, with decode threads (decode-pool.c),
 *    each thread's own.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include "chunk-decode.h"
#include "meta.h"
#include "rt.h"
#include "../common/img.h"
#include "../common/shuffle.h"
#include "../common/sys.h"

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void free(void *p);
void __stack_chk_fail(void);

void *malloc(size_t n)
{
	(void)n;
	return 0;
}

void *calloc(size_t n, size_t m)
{
	(void)n;
	(void)m;
	return 0;
}

void free(void *p)
{
	(void)p;
}

void __stack_chk_fail(void)
{
	rst_die("stack smashing detected while decoding a chunk", 0, 0);
}

size_t rst_unzstd_dctx_size(void)
{
	return ZSTD_estimateDCtxSize();
}

int rst_unzstd_setup(struct rst_unzstd *z, void *dctx_mem, uint8_t *in, uint8_t *shuf)
{
	size_t len = ZSTD_estimateDCtxSize();
	z->in = in;
	z->shuf = shuf;
	z->dctx = ZSTD_initStaticDCtx(dctx_mem, len);
	z->tcb[0] = (uint64_t)z->tcb;
	return z->dctx ? 0 : -12;
}

void rst_unzstd_init(struct rst_unzstd *z, struct m_arena *a)
{
	size_t len = ZSTD_estimateDCtxSize();
	if (len + 2 * IMG_CHUNK_MAX > RST_UNZSTD_ARENA)
		rst_die("the zstd decoder needs more memory than the loader has", 0, -12);
	uint8_t *in = m_take(a, IMG_CHUNK_MAX), *shuf = m_take(a, IMG_CHUNK_MAX);
	if (rst_unzstd_setup(z, m_take(a, len), in, shuf))
		rst_die("cannot set up the zstd decoder", 0, -12);
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The frame's length by its block headers (RFC 8878), or -1 when it does not hold
 * together: a window over 8 MiB, a reserved block type, a block over 128 KiB or one that
 * runs past the data. */
static int64_t frame_size(const uint8_t *src, uint32_t n, uint32_t single, uint32_t header_len)
{
	if (header_len > n)
		return -1;
	if (!single) {
		uint64_t base = 1ull << (10 + (src[5] >> 3));
		if (base + base / 8 * (src[5] & 7) > IMG_CHUNK_MAX)
			return -1;
	}
	for (uint32_t pos = header_len;;) {
		if (n - pos < 3)
			return -1;
		uint32_t bh = (uint32_t)le(src + pos, 3), type = bh >> 1 & 3, size = bh >> 3;
		if (type == 3 || size > (128u << 10))
			return -1;
		uint32_t body = type == 1 ? 1 : size;
		if (3 + body > n - pos)
			return -1;
		pos += 3 + body;
		if (bh & 1)
			return pos;
	}
}

int rst_unzstd(const struct rst_unzstd *z, const uint8_t *src, uint32_t n, void *dst, uint64_t raw, int shuffled,
	       struct sbuf *why)
{
	if (n < 5 || le(src, 4) != 0xfd2fb528u) {
		sb_str(why, "is not a zstd frame");
		return -1;
	}
	uint8_t fhd = src[4];
	uint32_t fcs_flag = fhd >> 6, single = fhd >> 5 & 1;
	if (fhd & 0x0f) { /* reserved bit 3, checksum bit 2, dictionary id bits 1-0 */
		sb_str(why, "is a zstd frame with a reserved bit, a checksum or a dictionary");
		return -1;
	}
	uint32_t fcs_len = fcs_flag ? 1u << fcs_flag : single;
	uint32_t at = single ? 5 : 6;
	if (!fcs_len) {
		sb_str(why, "is a zstd frame without its content size");
		return -1;
	}
	if (at + fcs_len <= n) {
		uint64_t fcs = le(src + at, (int)fcs_len) + (fcs_len == 2 ? 256 : 0);
		if (fcs != raw) {
			sb_str(why, "is a zstd frame of ");
			sb_udec(why, fcs);
			sb_str(why, " bytes, the chunk covers ");
			sb_udec(why, raw);
			return -1;
		}
	}
	/* Exactly one frame, nothing after it; then exactly raw bytes out of it. */
	int ok = frame_size(src, n, single, at + fcs_len) == n;
	if (ok) {
		sys_arch_prctl(0x1002 /* ARCH_SET_FS */, (long)z->tcb);
		size_t r = ZSTD_decompressDCtx(z->dctx, shuffled ? z->shuf : dst, raw, src, n);
		ok = !ZSTD_isError(r) && r == raw;
		if (ok && shuffled)
			unshuffle8(dst, z->shuf, raw);
	}
	if (!ok) {
		sb_str(why, "does not decompress to ");
		sb_udec(why, raw);
		sb_str(why, " bytes");
		return -1;
	}
	return 0;
}
