/*
 * The records of incremental images (docs/image-format.md: PARENT, REFS, PAGES): the one C
 * definition of their payloads, used by the agent (incr.c) and the vector tool. Like
 * image.h, nothing here allocates, locks or calls libc.
 */
#ifndef STASIS_IMAGE_INCR_H
#define STASIS_IMAGE_INCR_H
#include <stdint.h>
#include "image.h"

/* An earlier image this one refers to; the n-th PARENT record is parent n. */
struct img_parent {
	uint64_t file_size;  /* of the earlier image */
	uint32_t info_crc;   /* the CRC of its INFO record: which image it is */
	uint64_t ref_bytes;  /* bytes of this image's memory that its REFS take from it */
	const char *path;    /* "gen-NNNNNN/NAME", beside this image's own folder */
};

/* Pages whose bytes lie in a CHUNK or PAGES record of a parent. */
struct img_ref {
	uint64_t addr, len;
	uint32_t parent;     /* index of a PARENT record */
	uint64_t record_at;  /* file offset, in the parent, of the record holding them */
};

void img_put_parent(struct wbuf *w, const struct img_parent *v);
/* A REFS payload of n entries (1..IMG_REFS_MAX). */
void img_put_refs(struct wbuf *w, const struct img_ref *refs, uint32_t n);
/* A PAGES record: n pages (1..IMG_PAGES_MAX, ascending addresses), page i's 4096 bytes
 * read from data[i]. Counted with the chunks in END. */
void img_pages(struct img_out *o, const uint64_t *addr, const void *const *data, uint32_t n);
#endif
