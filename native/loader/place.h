/* Putting the chunks' data in place: mapped from the image or copied (place.c). */
#ifndef STASIS_LOADER_PLACE_H
#define STASIS_LOADER_PLACE_H
#include <stdint.h>
#include "meta.h"

struct mapped_range {
	uint64_t start, end;
};

/* Walks the chunks from where meta_read stopped, to END, mapping what may be mapped
 * (map != 0, at most `budget` chunks) from the image at m->cur.fd and copying the rest;
 * dies on a bad chunk. The mapped memory goes into `ranges` (ascending, adjacent chunks
 * as one range, at most `max`); returns their number. */
int rst_place_chunks(struct meta *m, int map, uint64_t budget, struct mapped_range *ranges, int max);
/* How many chunks may be mapped: half of what vm.max_map_count leaves. */
uint64_t rst_map_budget(int nregions);
#endif
