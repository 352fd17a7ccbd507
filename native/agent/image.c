/*
 * Writes image format v1 (docs/image-format.md). Small records are staged and written in
 * large blocks; a chunk's data goes from the process's memory to the file in one writev,
 * placed at a 4096-aligned offset so a loader may map it in place.
 */
#include <sys/uio.h>
#include "image.h"
#include "../common/crc32c.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

static const uint8_t zeros[IMG_CHUNK_ALIGN];

static long write_all_v(int fd, struct iovec *iov, int n)
{
	long total = 0;
	while (n > 0) {
		long w = sys_call3(SYS_writev_, fd, (long)iov, n);
		if (w == -4)
			continue;
		if (w < 0)
			return w;
		if (w == 0)
			return -28;
		total += w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (long)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return total;
}

static void flush(struct img_out *o)
{
	if (o->err || !o->blen)
		return;
	struct iovec v = { o->buf, o->blen };
	long w = write_all_v(o->fd, &v, 1);
	if (w < 0)
		o->err = w;
	o->blen = 0;
}

static void stage(struct img_out *o, const void *p, size_t n)
{
	if (o->blen + n > o->bcap)
		flush(o);
	if (n > o->bcap) {
		struct iovec v = { (void *)p, n };
		long w = write_all_v(o->fd, &v, 1);
		if (w < 0 && !o->err)
			o->err = w;
	} else {
		const uint8_t *s = p;
		for (size_t i = 0; i < n; i++)
			o->buf[o->blen + i] = s[i];
		o->blen += n;
	}
	o->off += n;
}

static void rec_header(uint8_t h[IMG_REC_HEADER], uint16_t type, uint32_t len, uint32_t crc)
{
	struct wbuf w;
	wb_init(&w, h, IMG_REC_HEADER);
	wb_u32(&w, IMG_REC_MAGIC);
	wb_u16(&w, type);
	wb_u16(&w, 0);
	wb_u32(&w, len);
	wb_u32(&w, crc);
}

void img_open(struct img_out *o, int fd, uint8_t *buf, size_t cap)
{
	o->fd = fd;
	o->off = 0;
	o->buf = buf;
	o->blen = 0;
	o->bcap = cap;
	o->nrec = o->nchunk = o->content = 0;
	o->err = 0;
	uint8_t h[IMG_HEADER_SIZE];
	struct wbuf w;
	wb_init(&w, h, sizeof(h));
	wb_bytes(&w, IMG_MAGIC, 8);
	wb_u32(&w, IMG_VERSION);
	wb_u32(&w, IMG_HEADER_SIZE);
	wb_u64(&w, 0);
	wb_u32(&w, crc32c(0, h, 24));
	wb_u32(&w, 0);
	stage(o, h, sizeof(h));
}

void img_record(struct img_out *o, uint16_t type, const void *payload, uint32_t len)
{
	uint8_t h[IMG_REC_HEADER];
	rec_header(h, type, len, crc32c(0, payload, len));
	stage(o, h, sizeof(h));
	stage(o, payload, len);
	stage(o, zeros, (8 - (len & 7)) & 7);
	o->nrec++;
}

void img_chunk(struct img_out *o, uint64_t addr, const void *mem, uint64_t len)
{
	uint8_t head[IMG_REC_HEADER + IMG_CHUNK_HEAD];
	uint64_t data_at = o->off + sizeof(head);
	uint32_t pad = (uint32_t)((IMG_CHUNK_ALIGN - (data_at & (IMG_CHUNK_ALIGN - 1))) & (IMG_CHUNK_ALIGN - 1));
	struct wbuf w;
	wb_init(&w, head + IMG_REC_HEADER, IMG_CHUNK_HEAD);
	wb_u64(&w, addr);
	wb_u64(&w, len);
	wb_u32(&w, 0);
	wb_u32(&w, (uint32_t)len);
	wb_u32(&w, pad);
	wb_u32(&w, 0);
	uint32_t crc = crc32c(0, head + IMG_REC_HEADER, IMG_CHUNK_HEAD);
	crc = crc32c(crc, zeros, pad);
	crc = crc32c(crc, mem, len);
	uint32_t plen = IMG_CHUNK_HEAD + pad + (uint32_t)len;
	rec_header(head, REC_CHUNK, plen, crc);
	stage(o, head, sizeof(head));
	stage(o, zeros, pad);
	flush(o);
	struct iovec v[2] = { { (void *)mem, len }, { (void *)zeros, (8 - (plen & 7)) & 7 } };
	long wr = o->err ? 0 : write_all_v(o->fd, v, 2);
	if (wr < 0 && !o->err)
		o->err = wr;
	o->off += len + v[1].iov_len;
	o->nrec++;
	o->nchunk++;
	o->content += len;
}

long img_finish(struct img_out *o)
{
	uint8_t p[32];
	struct wbuf w;
	wb_init(&w, p, sizeof(p));
	wb_u64(&w, o->nrec);
	wb_u64(&w, o->nchunk);
	wb_u64(&w, o->content);
	wb_u64(&w, o->off);
	img_record(o, REC_END, p, sizeof(p));
	flush(o);
	return o->err;
}
