/*
 * The records of incremental images in the loader (docs/image-format.md: PARENT, REFS,
 * PAGES), and bringing back the pages they refer to. Checked with the words of
 * src/image/reader.ts; shared by the loader and img-check like meta.c and chunks.c.
 *
 * Contract: stage 1 may call anything here; stage 2 calls rst_refs_place (after the
 * regions are mapped) and rst_pages_record (through rst_next_chunk), which touch only the
 * image, the parent images opened in stage 1 and the process's memory.
 */
#ifndef STASIS_LOADER_REFS_H
#define STASIS_LOADER_REFS_H
#include <stdint.h>
#include "meta.h"
#include "../common/img.h"

#define RST_LIST_ROWS 64 /* REFS entries and PAGES records kept for img-check to print */

struct m_parent {
	uint64_t file_size, ref_bytes;
	uint32_t info_crc;
	char path[4096];
};

/* Where a REFS record is: read again, entry by entry, when its references are resolved. */
struct m_refs_rec {
	uint64_t off, index;
	uint32_t len, n;
};

struct m_ref_row {
	uint64_t addr, len, record_at;
	uint32_t parent;
};

struct m_pages_row {
	uint64_t data_at, first, last;
	uint32_t npages;
};

#define RST_MAX_REFS_RECS 4096

struct m_incr {
	int nparents;
	struct m_parent parents[IMG_MAX_PARENTS];
	int nrecs;
	struct m_refs_rec recs[RST_MAX_REFS_RECS];
	uint64_t nrefs, ref_bytes, last_end;
	struct m_ref_row refs[RST_LIST_ROWS];
	uint64_t npages_recs, npages;
	struct m_pages_row pages[RST_LIST_ROWS];
};

/* meta.c: a PARENT or REFS record, at the cursor. */
void rst_incr_record(struct meta *m, const struct rec_head *h, struct m_arena *a);
/* chunks.c: a PAGES record, at the cursor: checked, and its pages read into place when
 * rst_pages_into_place is set (the loader), else only read (img-check). Returns the
 * bytes of memory it holds. */
uint64_t rst_pages_record(struct meta *m, const struct rec_head *h);
extern int rst_pages_into_place;

/* Stage 1: opens every PARENT image (beside this image's folder), checks it is the one the
 * record names, and that each reference lies in a CHUNK or PAGES record of it. Dies with
 * one line otherwise. Also notes the image's absolute path for the agent. */
void rst_refs_open(struct meta *m, const char *image);
/* Stage 2: maps the raw chunks references cover mostly (while mp allows), copies the other
 * referenced pages into place (checking each record's CRC) and closes the parent images. */
struct rst_maps;
void rst_refs_place(struct meta *m, struct rst_maps *mp);
/* The image's absolute path, as stage 1 noted it. */
const char *rst_refs_image_path(void);
#endif
