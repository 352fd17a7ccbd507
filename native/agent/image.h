/* The image writer: records staged in a buffer, chunks written straight from memory. */
#ifndef STASIS_IMAGE_H
#define STASIS_IMAGE_H
#include <stdint.h>
#include <stddef.h>

struct img_out {
	int fd;
	uint64_t off;       /* file offset of the next byte */
	uint8_t *buf;       /* staging for small records */
	size_t blen, bcap;
	uint64_t nrec, nchunk, content;
	long err;           /* first error, -errno */
};

void img_open(struct img_out *o, int fd, uint8_t *buf, size_t cap);
void img_record(struct img_out *o, uint16_t type, const void *payload, uint32_t len);
void img_chunk(struct img_out *o, uint64_t addr, const void *mem, uint64_t len);
/* Writes END and flushes. Returns 0 or the first error. */
long img_finish(struct img_out *o);
#endif
