/*
 * Mapping memory from image files in place, for the image's own chunks (place.c) and the
 * earlier images' chunks an incremental image refers to (refs-map.c): the mapping, what
 * happens when it fails, and the ranges the restart block lists (loader.c).
 */
#include "place.h"
#include "rt.h"
#include "../common/sys.h"

#define MAP_PRIVATE_ 0x02
#define MAP_ANON_ 0x20
#define MAP_FIXED_ 0x10

int rst_maps_room(const struct rst_maps *mp, uint64_t at)
{
	return mp->n < mp->max || mp->ranges[mp->n - 1].end == at;
}

int rst_maps_file(struct rst_maps *mp, uint64_t at, uint64_t len, int fd, uint64_t off)
{
	long r = sys_mmap((void *)at, len, 3, MAP_PRIVATE_ | MAP_FIXED_, fd, (long)off);
	if (r != (long)at) {
		/* A failed MAP_FIXED may have unmapped the range: make it anonymous again, and
		 * copy from here on. */
		r = sys_mmap((void *)at, len, 3, MAP_PRIVATE_ | MAP_ANON_ | MAP_FIXED_, -1, 0);
		if (r != (long)at)
			rst_die("cannot map memory at its checkpointed address", 0, r < 0 ? r : -17);
		mp->map = 0;
		return 0;
	}
	mp->budget--;
	if (mp->n > 0 && mp->ranges[mp->n - 1].end == at)
		mp->ranges[mp->n - 1].end = at + len;
	else
		mp->ranges[mp->n++] = (struct mapped_range){ at, at + len };
	return 1;
}

void rst_maps_sort(struct rst_maps *mp)
{
	struct mapped_range *v = mp->ranges;
	for (int i = 1; i < mp->n; i++) {
		struct mapped_range x = v[i];
		int j = i;
		for (; j > 0 && v[j - 1].start > x.start; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	int n = 0;
	for (int i = 0; i < mp->n; i++) {
		if (n > 0 && v[i].start <= v[n - 1].end) {
			if (v[i].end > v[n - 1].end)
				v[n - 1].end = v[i].end;
		} else {
			v[n++] = v[i];
		}
	}
	mp->n = n;
}
