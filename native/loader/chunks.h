/*
 * The records after the metadata: CHUNKs, records of later versions, and END, and the
 * copying of FILEDATA (checked by meta.c, whose data is read only when copied). Shared by
 * the loader, which reads each chunk's data into the process's memory, and img-check,
 * which reads it into a scratch buffer; the checks and their wording are the same.
 */
#ifndef STASIS_LOADER_CHUNKS_H
#define STASIS_LOADER_CHUNKS_H
#include <stdint.h>
#include "meta.h"
#include "chunk-decode.h"
#include "../common/fmt.h"

struct chunk {
	uint64_t addr, raw;   /* memory it covers */
	uint32_t enc;         /* IMG_ENC_* (only raw data can be mapped in place) */
	uint32_t stored;
	uint64_t data_at;     /* file offset of the data */
	uint32_t crc;         /* the record's CRC */
	uint32_t crc_head;    /* CRC of the head and pad, to be continued over the data */
	uint64_t index, off;  /* the record's number and file offset, for messages */
};

/* Next chunk, its head checked: 1. At an END that agrees with the file: 0. Else dies. */
int rst_next_chunk(struct meta *m, struct chunk *k);
/* Reads the chunk's data, checks its CRC and puts its raw bytes at dst (a zstd chunk is
 * decoded into place: chunk-decode.c); dies on a mismatch or a bad frame. */
void rst_read_chunk(const struct meta *m, const struct chunk *k, void *dst);
/* Checks the CRC of a chunk's stored data and, if zstd, decodes it to exactly k->raw bytes
 * at dst. Dies on nothing, touches nothing shared but dst: a decode thread calls it
 * (decode-pool.c). Returns 0; 1 for a CRC mismatch; 2 for a bad frame, what is wrong in
 * why. */
int rst_chunk_decode(const struct rst_unzstd *z, const struct chunk *k, const uint8_t *data, void *dst,
		     struct sbuf *why);
/* Dies with the one-line reason for a bad chunk: a CRC mismatch (why null) or the frame's
 * fault, as rst_chunk_decode said it. */
__attribute__((noreturn)) void rst_chunk_die(const struct meta *m, const struct chunk *k, const char *why);
/* 1 when [addr, addr+len) lies in one region whose content the image stores, 0 when in
 * no region, -1 when in a region without stored content (vdso, shared file, ...). */
int rst_chunk_target(const struct meta *m, uint64_t addr, uint64_t len);
/* The region that holds all of [addr, addr+len), or null. */
const struct m_region *rst_region_of(const struct meta *m, uint64_t addr, uint64_t len);
/* 1 when the region's memory may be mapped from an image file (place.c says which). */
int rst_region_mappable(const struct m_region *g);
#endif
