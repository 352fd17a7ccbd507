/*
 * Writes the records of incremental images (docs/image-format.md): PARENT, REFS and
 * PAGES. A PAGES record is laid out like a CHUNK (data page-aligned in the file, so a
 * loader may map a page of it in place) but holds scattered pages: its head lists their
 * addresses. It exists because a page dirtied alone would otherwise cost a CHUNK of one
 * page plus up to a page of alignment padding: twice its size.
 */
#include <sys/uio.h>
#include "image-incr.h"
#include "../common/crc32c.h"
#include "../common/img.h"
#include "../common/wire.h"

#define PAGE_SIZE_ 4096u

static const uint8_t zeros[IMG_CHUNK_ALIGN];

void img_put_parent(struct wbuf *w, const struct img_parent *v)
{
	wb_u64(w, v->file_size);
	wb_u32(w, v->info_crc);
	wb_u32(w, 0);
	wb_u64(w, v->ref_bytes);
	wb_str(w, v->path);
}

void img_put_refs(struct wbuf *w, const struct img_ref *refs, uint32_t n)
{
	wb_u32(w, n);
	wb_u32(w, 0);
	for (uint32_t i = 0; i < n; i++) {
		wb_u64(w, refs[i].addr);
		wb_u64(w, refs[i].len);
		wb_u32(w, refs[i].parent);
		wb_u32(w, 0);
		wb_u64(w, refs[i].record_at);
	}
}

void img_pages(struct img_out *o, const uint64_t *addr, const void *const *data, uint32_t n)
{
	uint8_t head[IMG_REC_HEADER + IMG_PAGES_HEAD];
	uint64_t list_len = (uint64_t)n * 8;
	uint64_t data_at = o->off + sizeof(head) + list_len;
	uint32_t pad = (uint32_t)((IMG_CHUNK_ALIGN - (data_at & (IMG_CHUNK_ALIGN - 1))) & (IMG_CHUNK_ALIGN - 1));
	uint32_t stored = n * PAGE_SIZE_;
	struct wbuf w;
	wb_init(&w, head + IMG_REC_HEADER, IMG_PAGES_HEAD);
	wb_u32(&w, n);
	wb_u32(&w, 0); /* encoding: raw */
	wb_u32(&w, stored);
	wb_u32(&w, pad);
	/* The address list, little-endian, in pieces through a small buffer. */
	uint8_t lbuf[512];
	uint32_t crc = crc32c(0, head + IMG_REC_HEADER, IMG_PAGES_HEAD);
	for (uint32_t i = 0; i < n; i += sizeof(lbuf) / 8) {
		uint32_t k = n - i < sizeof(lbuf) / 8 ? n - i : (uint32_t)(sizeof(lbuf) / 8);
		wb_init(&w, lbuf, sizeof(lbuf));
		for (uint32_t j = 0; j < k; j++)
			wb_u64(&w, addr[i + j]);
		crc = crc32c(crc, lbuf, w.len);
	}
	crc = crc32c(crc, zeros, pad);
	for (uint32_t i = 0; i < n; i++)
		crc = crc32c(crc, data[i], PAGE_SIZE_);
	uint32_t plen = IMG_PAGES_HEAD + (uint32_t)list_len + pad + stored;
	wb_init(&w, head, IMG_REC_HEADER);
	wb_u32(&w, IMG_REC_MAGIC);
	wb_u16(&w, REC_PAGES);
	wb_u16(&w, 0);
	wb_u32(&w, plen);
	wb_u32(&w, crc);
	img_put_bytes(o, head, sizeof(head));
	for (uint32_t i = 0; i < n; i += sizeof(lbuf) / 8) {
		uint32_t k = n - i < sizeof(lbuf) / 8 ? n - i : (uint32_t)(sizeof(lbuf) / 8);
		wb_init(&w, lbuf, sizeof(lbuf));
		for (uint32_t j = 0; j < k; j++)
			wb_u64(&w, addr[i + j]);
		img_put_bytes(o, lbuf, w.len);
	}
	img_put_bytes(o, zeros, pad);
	/* The pages straight from where they are, neighbours in one iovec. The data is a whole
	 * number of pages: no padding after it. */
	struct iovec v[256];
	int nv = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (nv && (const uint8_t *)v[nv - 1].iov_base + v[nv - 1].iov_len == (const uint8_t *)data[i]) {
			v[nv - 1].iov_len += PAGE_SIZE_;
			continue;
		}
		if (nv == (int)(sizeof(v) / sizeof(v[0]))) {
			img_put_iov(o, v, nv);
			nv = 0;
		}
		v[nv].iov_base = (void *)data[i];
		v[nv].iov_len = PAGE_SIZE_;
		nv++;
	}
	if (nv)
		img_put_iov(o, v, nv);
	o->nrec++;
	o->nchunk++;
	o->content += stored;
}
