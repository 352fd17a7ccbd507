/*
 * Mapping the raw chunks of earlier images that an incremental image refers to, in place
 * (stage 2, before refs.c copies the rest; docs/architecture.md, "A restart from an
 * incremental generation").
 *
 * A generation restarted from an incremental image has most of its memory in raw
 * chunks of earlier images. Copied, all of it is read and copied into new memory (4 GiB:
 * about 6 s on the machine this was written on, most of it the kernel clearing the new
 * pages); mapped like the image's own raw chunks (place.c), pages come in from the page
 * cache when first touched. A chunk is referred to in many pieces when scattered pages
 * of it were written since (stored in a later image), and a mapping per piece would soon
 * hit vm.max_map_count; so a raw chunk of private anonymous memory whose references cover
 * at least half of it is mapped whole, once, and the pages of it that no reference to it
 * covers are set to zero, which is what the anonymous memory under it held. Everything
 * else then goes on top as before: the other references, copied, and the image's own
 * chunks and PAGES records (loader.c). The first page of a region is never mapped
 * (place.c says why). The agent learns the files from the restart block, as for the
 * image's own chunks; the data CRCs of mapped chunks are not checked (--verify does).
 */
#include "refs-walk.h"
#include "chunks.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define PAGE 4096ull
#define KEEP_MAX (IMG_CHUNK_MAX / PAGE / 2 + 1) /* disjoint runs of pages in one chunk */

/* The mapping pass: references come in address order, and the raw chunk being gathered
 * covers [start, end): from its first reference seen (or the region's second page) to
 * its end. Every reference to it inside [start, end) comes while it is being gathered, so
 * is in keep; refs.c skips exactly those (same chunk, inside a mapped [start, end)) and
 * copies every other reference on top. */
struct map_ctx {
	struct rst_maps *mp;
	const int *parent_fd;
	int parent;
	uint64_t rec_at;
	struct prec r;
	struct pages_head ph;
	int open, cparent, bad;
	uint64_t crec, start, end, data_at, covered;
	uint32_t nkeep;
	struct mapped_range keep[KEEP_MAX]; /* what references to the chunk cover, ascending */
	struct mapped_chunk *done;          /* the chunks mapped, ascending */
	uint32_t ndone, cap;
};

/* The parent image's place in mp->files, added if there is room; -1 if not. */
static int mapped_file(struct rst_maps *mp, int fd)
{
	struct kstat st;
	if (sys_call2(SYS_fstat_, fd, (long)&st) < 0)
		return -1;
	for (int i = 0; i < mp->nfiles; i++)
		if (mp->files[i].dev == st.dev && mp->files[i].ino == st.ino)
			return i;
	if (mp->nfiles == RST_MAPPED_FILES)
		return -1;
	mp->files[mp->nfiles].dev = st.dev;
	mp->files[mp->nfiles].ino = st.ino;
	return mp->nfiles++;
}

/* Maps the gathered chunk if its references cover at least half of it, and zeroes what
 * they do not cover. */
static void map_gathered(struct map_ctx *k)
{
	struct rst_maps *mp = k->mp;
	uint64_t len = k->end - k->start;
	k->open = 0;
	if (k->bad || len < RST_MAP_MIN || k->covered * 2 < len || !mp->map || !mp->budget || k->ndone == k->cap ||
	    !rst_maps_room(mp, k->start))
		return;
	int fd = k->parent_fd[k->cparent];
	if (mapped_file(mp, fd) < 0 || !rst_maps_file(mp, k->start, len, fd, k->data_at))
		return;
	uint64_t at = k->start;
	for (uint32_t i = 0; i < k->nkeep; i++) {
		if (k->keep[i].start > at)
			memset((void *)at, 0, k->keep[i].start - at);
		at = k->keep[i].end;
	}
	if (at < k->end)
		memset((void *)at, 0, k->end - at);
	k->done[k->ndone++] = (struct mapped_chunk){ k->start, k->end, k->crec, k->cparent };
}

static void gather_ref(struct meta *m, const struct m_ref_row *e, void *ctx)
{
	struct map_ctx *k = ctx;
	rst_ref_target(m, e, &k->parent, &k->rec_at, &k->r, &k->ph);
	if (k->open && e->addr >= k->end)
		map_gathered(k);
	if (k->r.type != REC_CHUNK || k->r.enc != IMG_ENC_RAW)
		return;
	if (!k->open) {
		/* A chunk starts: referred to from here on, up to its end. */
		const struct m_region *g = rst_region_of(m, k->r.addr, k->r.raw);
		if (!g || !rst_region_mappable(g))
			return;
		k->open = 1;
		k->cparent = k->parent;
		k->crec = k->rec_at;
		k->start = k->r.addr + (k->r.addr == g->start ? PAGE : 0);
		/* Not below this reference: earlier ones to this chunk (among another chunk's
		 * pages, while that one was gathered) are not in keep, and would be zeroed and
		 * then skipped by the copying pass. */
		if (e->addr > k->start)
			k->start = e->addr;
		k->end = k->r.addr + k->r.raw;
		k->data_at = k->rec_at + IMG_REC_HEADER + IMG_CHUNK_HEAD + k->r.pad + (k->start - k->r.addr);
		k->bad = k->start >= k->end || k->data_at % PAGE != 0;
		k->covered = 0;
		k->nkeep = 0;
	} else if (k->parent != k->cparent || k->rec_at != k->crec) {
		return; /* another raw chunk's pages among this one's: copied on top later */
	}
	uint64_t lo = e->addr > k->start ? e->addr : k->start;
	uint64_t hi = e->addr + e->len < k->end ? e->addr + e->len : k->end;
	if (lo >= hi)
		return;
	if (k->nkeep > 0 && k->keep[k->nkeep - 1].end == lo)
		k->keep[k->nkeep - 1].end = hi;
	else if (k->nkeep < KEEP_MAX)
		k->keep[k->nkeep++] = (struct mapped_range){ lo, hi };
	else
		k->bad = 1;
	k->covered += hi - lo;
}

uint32_t rst_refs_map(struct meta *m, struct rst_maps *mp, const int *parent_fd, struct mapped_chunk *done, uint32_t cap)
{
	static struct map_ctx g;
	mem_zero(&g, sizeof(g));
	g.mp = mp;
	g.parent_fd = parent_fd;
	g.parent = -1;
	g.done = done;
	g.cap = cap;
	rst_each_ref(m, gather_ref, &g);
	if (g.open)
		map_gathered(&g);
	return g.ndone;
}
