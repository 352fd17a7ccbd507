/* Putting the chunks' data in place: mapped from the image or copied (place.c). */
#ifndef STASIS_LOADER_PLACE_H
#define STASIS_LOADER_PLACE_H
#include <stdint.h>
#include "meta.h"

struct mapped_range {
	uint64_t start, end;
};

#define RST_MAP_MIN (64u << 10) /* less is copied: mapping saves little and costs a VMA */
#define RST_MAPPED_FILES 7 /* earlier images whose memory may be mapped: restart_info has 8 */

/* What stage 2 maps from image files rather than copies, shared by the references to
 * earlier images (refs.c) and the image's own chunks. */
struct rst_maps {
	int map;                     /* 0: copy everything (--no-map, noexec, a mapping failed) */
	uint64_t budget;             /* mappings still allowed (rst_map_budget) */
	struct mapped_range *ranges; /* the memory mapped: each pass's ascending, adjacent joined */
	int n, max;
	int nfiles;                  /* the earlier images mapped from */
	struct { uint64_t dev, ino; } files[RST_MAPPED_FILES];
};

/* Walks the chunks from where meta_read stopped, to END, mapping what may be mapped from
 * the image at m->cur.fd (while mp->map and mp->budget allow) and copying the rest; dies
 * on a bad chunk. The mapped memory is added to mp->ranges. */
void rst_place_chunks(struct meta *m, struct rst_maps *mp);

/* maps.c, for both: */
/* 1 when memory mapped at `at` can be noted in mp->ranges (it joins the last range, or
 * there is room). */
int rst_maps_room(const struct rst_maps *mp, uint64_t at);
/* Maps [at, at+len) from fd at file offset off (MAP_PRIVATE|MAP_FIXED), spends one of the
 * budget and notes the range; returns 1. When the mapping fails the range is anonymous
 * (zero) again, nothing more is mapped (mp->map = 0), and it returns 0. */
int rst_maps_file(struct rst_maps *mp, uint64_t at, uint64_t len, int fd, uint64_t off);
/* Sorts mp->ranges and joins those that touch or overlap. */
void rst_maps_sort(struct rst_maps *mp);
/* How many chunks may be mapped: half of what vm.max_map_count leaves. */
uint64_t rst_map_budget(int nregions);
#endif
