/*
 * Putting each chunk's data in place (stage 2): mapped straight from the image, or copied.
 *
 * A raw chunk's data is page aligned in the image file, so a chunk of the process's
 * private anonymous memory (kinds ANON and HEAP) can be mapped over its address with
 * MAP_PRIVATE|MAP_FIXED from the image: nothing is read now, each page comes in from the
 * page cache when it is first touched, and a write makes the page the process's own copy.
 * The process runs again before its memory has been read. The agent learns from the
 * restart block which files those are (restart_info.images) and saves such memory as
 * the anonymous memory it was (native/agent/capture.c).
 *
 * Only raw chunks (encoding 0) can be mapped. Copied instead, with the CRC checked on
 * the way in:
 * - chunks of other kinds: shared memory (it must be the shared object), stacks (a stack
 *   grows down from a mapping of its own), private file mappings (a library's changed
 *   pages: their mapping is the library's);
 * - chunks under RST_MAP_MIN: mapping them saves little and costs a VMA each;
 * - beyond the VMA budget (vm.max_map_count) or the restart block's table of ranges, and
 *   everything after a mapping fails (a filesystem that cannot map);
 * - everything, with --no-map, or when the image is on a noexec mount (the program could
 *   not make such memory executable: a JIT does).
 * The first page of a region is always copied, so that memory mapped from the image never
 * forms a whole mapping on its own: mremap() of a whole mapping that grows it (glibc's
 * realloc of a large block) then fails, and the caller copies, instead of growing a
 * mapping of the image into the bytes that follow the chunk in the file.
 *
 * zstd chunks are decoded on threads, one per CPU (decode-pool.c), while this one goes on
 * reading, mapping and copying; all is in place when rst_place_chunks returns.
 *
 * A mapped chunk's data CRC is not checked here (that would read it all): `stasis restart
 * --verify` and `stasis inspect --verify` check every chunk before anything starts.
 */
#include "chunks.h"
#include "decode-pool.h"
#include "place.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

/* Copies [at, at+len) of the chunk's memory from its data, without a CRC (the rest of the
 * chunk is mapped, and the record CRC covers the whole). */
static void copy_part(const struct meta *m, const struct chunk *k, uint64_t at, uint64_t len)
{
	struct img_cursor c = m->cur;
	c.index = k->index;
	c.off = k->off;
	rst_pread_all(&c, (void *)at, len, k->data_at + (at - k->addr));
}

void rst_place_chunks(struct meta *m, struct rst_maps *mp)
{
	struct chunk k;
	uint64_t page = m->page_size;
	int tried_pool = 0;
	struct rst_pool *pool = 0;
	while (rst_next_chunk(m, &k)) {
		if (k.enc != IMG_ENC_RAW && !tried_pool) {
			pool = rst_pool_start(m->arena);
			tried_pool = 1;
		}
		if (k.enc != IMG_ENC_RAW && pool) {
			rst_pool_chunk(pool, m, &k);
			continue;
		}
		rst_pool_wait_range(pool, m, k.addr, k.raw);
		const struct m_region *g = mp->map && k.enc == 0 && mp->budget ? rst_region_of(m, k.addr, k.raw) : 0;
		uint64_t head = g && k.addr == g->start ? page : 0;
		if (!g || !rst_region_mappable(g) || k.raw - head < RST_MAP_MIN || !rst_maps_room(mp, k.addr + head) ||
		    !rst_maps_file(mp, k.addr + head, k.raw - head, m->cur.fd, k.data_at + head)) {
			rst_read_chunk(m, &k, (void *)k.addr);
			continue;
		}
		if (head)
			copy_part(m, &k, k.addr, head);
	}
	rst_pool_finish(pool, m);
}

uint64_t rst_map_budget(int nregions)
{
	uint64_t max = 65530; /* the kernel's default, if /proc does not say */
	int fd = (int)sys_openat(-100, "/proc/sys/vm/max_map_count", K_O_CLOEXEC, 0);
	if (fd >= 0) {
		char buf[32];
		long n = sys_read(fd, buf, sizeof(buf) - 1);
		sys_close(fd);
		if (n > 0) {
			buf[n] = 0;
			const char *p = buf;
			max = parse_dec(&p);
		}
	}
	/* Each mapped chunk is one mapping and may split its region's in two; every region
	 * may be split by copied neighbours too, and the program needs room to map more. */
	uint64_t keep = 4 * (uint64_t)nregions + 1024;
	return max > keep ? (max - keep) / 2 : 0;
}
