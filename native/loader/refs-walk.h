/*
 * What refs.c and refs-map.c share: reading the record a reference names, and walking the
 * references in order. Loader-internal (stage 2 and img-check's stage 1 checks).
 */
#ifndef STASIS_LOADER_REFS_WALK_H
#define STASIS_LOADER_REFS_WALK_H
#include <stdint.h>
#include "place.h"
#include "refs.h"

/* A parent's record head at rec_at: its type, and for a CHUNK the memory it covers. */
struct prec {
	uint16_t type;
	uint32_t len, crc;
	uint64_t addr, raw;     /* CHUNK */
	uint32_t enc, stored, pad;
};

struct pages_head {
	uint32_t n, enc, stored, pad;
	uint64_t data_at;
	uint32_t crc_head; /* over head, list and pad: the data's CRC goes on from here */
};

/* Calls fn for every REFS entry of the image, in order (ascending addresses). */
void rst_each_ref(struct meta *m, void (*fn)(struct meta *m, const struct m_ref_row *e, void *ctx), void *ctx);
/* Reads the record a reference names (its head, and a PAGES record's page list) into r and
 * ph unless *parent and *rec_at say they hold it already. Returns 1 if it was read. */
int rst_ref_target(struct meta *m, const struct m_ref_row *e, int *parent, uint64_t *rec_at, struct prec *r,
		   struct pages_head *ph);

#define MAPPED_MAX 16384 /* chunks mapped, kept for the copying pass */

/* A raw chunk of an earlier image mapped in place over [start, end). */
struct mapped_chunk {
	uint64_t start, end, rec_at;
	int parent;
};

/* refs-map.c: maps the raw chunks of private anonymous memory that references cover at
 * least half of (while mp allows), from the parents open at parent_fd, and zeroes what
 * those references do not cover; notes them in done (ascending, at most cap) and returns
 * how many. */
uint32_t rst_refs_map(struct meta *m, struct rst_maps *mp, const int *parent_fd, struct mapped_chunk *done, uint32_t cap);
#endif
