/*
 * Decoding CHUNK data stored as zstd (encoding 1, docs/image-format.md) into place. Used
 * by chunks.c for the loader and img-check alike.
 */
#ifndef STASIS_LOADER_CHUNK_DECODE_H
#define STASIS_LOADER_CHUNK_DECODE_H
#include <stdint.h>
#include "../common/fmt.h"

struct m_arena;

struct rst_unzstd {
	void *dctx;
	uint8_t *in;   /* IMG_CHUNK_MAX bytes: a chunk's stored data, read from the file */
};

/* Arena bytes rst_unzstd_init takes. */
#define RST_UNZSTD_ARENA ((8ul << 20) + (256ul << 10))

/* Takes the decoder's memory from the arena (at stage 2, inside the loader's hole). */
void rst_unzstd_init(struct rst_unzstd *z, struct m_arena *a);

/* Decodes the n stored bytes at src, which must be one zstd frame as the format allows,
 * into exactly raw bytes at dst. Returns 0; or -1 after writing what is wrong to why, as
 * the end of "chunk data ..." (the same words as src/image/reader.ts). */
int rst_unzstd(const struct rst_unzstd *z, const uint8_t *src, uint32_t n, void *dst, uint64_t raw,
	       struct sbuf *why);
#endif
