/*
 * Decoding CHUNK data stored as zstd (encoding 1, docs/image-format.md), or as zstd of the
 * memory byte-shuffled by 8 (encoding 2), into place. Used by chunks.c for the loader and
 * img-check alike.
 */
#ifndef STASIS_LOADER_CHUNK_DECODE_H
#define STASIS_LOADER_CHUNK_DECODE_H
#include <stddef.h>
#include <stdint.h>
#include "../common/fmt.h"

struct m_arena;

struct rst_unzstd {
	void *dctx;
	uint8_t *in;   /* IMG_CHUNK_MAX bytes: a chunk's stored data, read from the file */
	uint8_t *shuf; /* IMG_CHUNK_MAX bytes: an encoding-2 chunk decoded, before its unshuffle */
	uint64_t tcb[8]; /* the TLS block of the thread that decodes (chunk-decode.c) */
};

/* Arena bytes rst_unzstd_init takes. */
#define RST_UNZSTD_ARENA ((16ul << 20) + (256ul << 10))

/* Takes the decoder's memory from the arena (at stage 2, inside the loader's hole). */
void rst_unzstd_init(struct rst_unzstd *z, struct m_arena *a);

/* Bytes of a static decompression context. */
size_t rst_unzstd_dctx_size(void);
/* A decoder on dctx_mem (rst_unzstd_dctx_size bytes) and the buffers in and shuf; 0 or
 * -ENOMEM. */
int rst_unzstd_setup(struct rst_unzstd *z, void *dctx_mem, uint8_t *in, uint8_t *shuf);

/* Decodes the n stored bytes at src, which must be one zstd frame as the format allows,
 * into exactly raw bytes at dst; with shuffled (encoding 2), into z->shuf, then unshuffled
 * into dst. Returns 0; or -1 after writing what is wrong to why, as the end of "chunk
 * data ..." (the same words as src/image/reader.ts). */
int rst_unzstd(const struct rst_unzstd *z, const uint8_t *src, uint32_t n, void *dst, uint64_t raw, int shuffled,
	       struct sbuf *why);
#endif
