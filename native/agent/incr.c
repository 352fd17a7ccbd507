/*
 * Incremental images (docs/image-format.md: PARENT, REFS, PAGES; docs/architecture.md,
 * "Incremental checkpoints"): after a committed generation, the next image stores only the
 * pages written since, and refers to earlier images for the pages that are still as they
 * were.
 *
 * The table. After each committed checkpoint (and after a restart) the agent reads its own
 * image back, record heads only, into a table of extents: for each run of pages the image
 * holds or refers to, which image file holds its bytes and at which record. References are
 * flat: an image names the file that holds a page's bytes, never an image that refers on,
 * so a restart reads each page from one place and the table never grows a chain. The
 * table lives in a mapping of its own that images leave out (incr_skip_range).
 *
 * A checkpoint (incr_plan). For each trackable region (private, anonymous, read-write):
 * register it on the userfaultfd (dirty.c) if it is not yet, take the map of its present
 * pages, then the pages written since the last checkpoint (write-protecting them again).
 * Present pages that were not written and that the table places are referred to; written
 * pages are stored (long runs as CHUNKs, short ones packed into PAGES records); everything
 * else was zero at the last checkpoint and still is, or is gone now: it is zero.
 * The presence map is taken before the write-protecting scan, so a page counts as
 * unchanged only if it was there at the first scan and not written until the second.
 *
 * Whether the image counts. Once a scan has write-protected the pages again, the old table
 * no longer says what is unchanged: it is dropped at once. The new one is read from the
 * image only when the coordinator says the generation is committed (COMMIT); until then,
 * and if it is not, the next checkpoint is a full one.
 *
 * Memory. The agent never maps or unmaps anything while the program runs: a program that
 * unmaps a range and maps over it again with MAP_FIXED would take back whatever landed in
 * between. The plan lives in the checkpoint's scratch arena; the table in one reservation
 * made once, while the threads are stopped (two halves: the table and the one being read
 * back), and never resized.
 *
 * Same contract as agent.h: raw syscalls, no malloc, no stdio, no locks.
 */
#include "incr.h"
#include "agent.h"
#include "chunk-writer.h"
#include "image-incr.h"
#include "../common/crc32c.h"
#include "../common/fmt.h"
#include "../common/proto.h"
#include "../common/sys.h"
#include "../common/uffd.h"
#include "../common/wire.h"

#define PAGE_ 4096ull
#define REL_MAX 256     /* "gen-NNNNNN/NAME.img" */
#define PAGES_RUN 16    /* written runs shorter than this go into PAGES records */
#define PLAN_RANGES (1ul << 18)  /* written ranges, and one region's presence map */
#define PLAN_REFS (1ul << 18)
#define TABLE_EXTENTS (1ul << 22) /* per half of the reservation: 128 MiB of address space */
#define SCRATCH_LEN (8ul + (uint64_t)IMG_REF_SIZE * IMG_REFS_MAX + 4096)

/* An image the table points into; parent 0 is the image the table was read from. */
struct tparent {
	char path[REL_MAX];   /* relative to the checkpoint directory */
	uint64_t size;
	uint32_t info_crc;
};

/* A run of pages whose bytes are in record rec_at of parent `parent`. */
struct text {
	uint64_t addr, len, rec_at;
	uint32_t parent, pad;
};

static struct {
	uint32_t write_flags;
	int valid;
	char dir[4096];                    /* the checkpoint directory */
	uint64_t dir_dev, dir_ino;
	int nparents;
	struct tparent parents[IMG_MAX_PARENTS];
	struct text *ext;                  /* sorted, disjoint; in one half of the reservation */
	size_t next;
	uint8_t *resv;                     /* scratch, then two halves of TABLE_EXTENTS each */
	uint64_t resv_len;
	/* The image written last, until COMMIT says whether it counts. */
	int pending, committed;
	uint64_t pending_ckpt;
	char pending_path[4096];
} T;

struct rplan {
	uint32_t tracked;
	uint32_t s_first, s_n;             /* written present ranges, in P.s */
};

static struct {
	int track, incremental;
	struct rplan *reg;
	struct page_region *s, *p;         /* written present ranges; one region's presence map */
	size_t ns;
	struct img_ref *refs;
	size_t nrefs;
	int nused;
	int used_of[IMG_MAX_PARENTS];      /* table parent -> this image's parent index */
	int order[IMG_MAX_PARENTS];        /* this image's parent index -> table parent */
	uint64_t ref_bytes[IMG_MAX_PARENTS];
	uint64_t *pg_addr;
	const void **pg_data;
	uint32_t npg;
	uint8_t *recbuf;                   /* one REFS payload */
} P;

void incr_set_write_flags(uint32_t flags)
{
	T.write_flags = flags;
}

void incr_skip_range(uint64_t *start, uint64_t *end)
{
	*start = (uint64_t)T.resv;
	*end = (uint64_t)T.resv + T.resv_len;
}

/* The table's reservation: made once, while the program's threads are stopped. */
static int reserve(void)
{
	if (T.resv)
		return 0;
	uint64_t len = SCRATCH_LEN + 2 * TABLE_EXTENTS * sizeof(struct text);
	len = (len + 4095) & ~4095ull;
	long m = sys_mmap(0, len, 3, 0x22 | 0x4000 /* PRIVATE|ANON|NORESERVE */, -1, 0);
	if (m < 0)
		return (int)m;
	T.resv = (uint8_t *)m;
	T.resv_len = len;
	return 0;
}

static struct text *half(int k)
{
	return (struct text *)(T.resv + ((SCRATCH_LEN + 4095) & ~4095ull)) + (size_t)k * TABLE_EXTENTS;
}

/* ---- paths ---- */

/* "/ckpt/gen-000003/x.img": dir "/ckpt", rel "gen-000003/x.img". 0, or -1 if it has no
 * two components to split off. */
static int split_image_path(const char *path, char *dir, size_t dcap, char *rel, size_t rcap)
{
	size_t n = cstrlen(path), slash2 = n, slash1 = n;
	for (size_t i = 0; i < n; i++)
		if (path[i] == '/') {
			slash1 = slash2;
			slash2 = i;
		}
	if (slash2 == n || slash1 == n || n - slash1 >= rcap || slash1 >= dcap)
		return -1;
	str_copy(rel, path + slash1 + 1, rcap);
	mem_copy(dir, path, slash1);
	dir[slash1] = 0;
	if (!dir[0])
		str_copy(dir, "/", dcap);
	return 0;
}

static int dir_id(const char *dir, uint64_t *dev, uint64_t *ino)
{
	struct kstat st;
	long e = sys_call4(SYS_newfstatat_, -100, (long)dir, (long)&st, 0);
	if (e < 0)
		return (int)e;
	*dev = st.dev;
	*ino = st.ino;
	return 0;
}

static int open_in_dir(const char *dir, const char *rel)
{
	char p[4096 + REL_MAX + 2];
	struct sbuf s;
	sb_init(&s, p, sizeof(p));
	sb_str(&s, dir);
	sb_str(&s, "/");
	sb_str(&s, rel);
	return (int)sys_openat(-100, sb_cstr(&s), K_O_CLOEXEC, 0);
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	for (size_t got = 0; got < n;) {
		long r = sys_pread(fd, (char *)buf + got, n - got, (long)(off + got));
		if (r == -4)
			continue;
		if (r <= 0)
			return r ? (int)r : -5;
		got += (size_t)r;
	}
	return 0;
}

/* The INFO record's header of an image: it must be the first record; its CRC names it. */
static int info_crc_of(int fd, uint32_t *crc)
{
	uint8_t h[IMG_REC_HEADER];
	int e = pread_all(fd, h, sizeof(h), IMG_HEADER_SIZE);
	if (e)
		return e;
	struct rbuf r;
	rb_init(&r, h, sizeof(h));
	uint32_t magic = rb_u32(&r);
	uint16_t type = rb_u16(&r);
	rb_u16(&r);
	rb_u32(&r);
	*crc = rb_u32(&r);
	return magic == IMG_REC_MAGIC && type == REC_INFO ? 0 : -22;
}

/* Every image the table points into is still there, as it was. */
static int parents_still_there(void)
{
	for (int k = 0; k < T.nparents; k++) {
		int fd = open_in_dir(T.dir, T.parents[k].path);
		if (fd < 0)
			return fd;
		struct kstat st;
		uint32_t crc = 0;
		long e = sys_call2(SYS_fstat_, fd, (long)&st);
		if (!e)
			e = info_crc_of(fd, &crc);
		sys_close(fd);
		if (e)
			return (int)e;
		if ((uint64_t)st.size != T.parents[k].size || crc != T.parents[k].info_crc)
			return -116; /* ESTALE */
	}
	return 0;
}

/* ---- the plan ---- */

/* Private anonymous read-write memory, and what a fast restart mapped of it from an image
 * (SAVE_IMAGE: a private mapping of the image file, anonymous memory to the program). */
static int trackable(const struct region *r)
{
	return !(r->flags & RF_SHARED) && (r->save == SAVE_PRESENT || r->save == SAVE_IMAGE) && (r->prot & 3) == 3 &&
	       (r->kind == RK_ANON || r->kind == RK_HEAP || r->kind == RK_STACK);
}

/*
 * What of an image-backed region (a restart mapped it from image N) is stored: everything
 * not referred to. Its pages not written since the restart are image N's bytes whether
 * present or not (the loader write-protected the holes too: loader/track.c), and each
 * generation since referred them back to N; a hole that is not write-protected (the kernel
 * drops the bit only when a written page is zapped: its content is N's again, maybe not the
 * table's) and a page the table does not place are read and stored, not taken for zeros as
 * anonymous memory's would be. The gaps go where the written ranges of other regions go.
 */
static int store_gaps(const struct region *r, struct rplan *rp, size_t ref_first)
{
	rp->s_first = (uint32_t)P.ns;
	uint64_t at = r->start;
	/* The region's first reference may have been merged into the one before it. */
	if (ref_first > 0 && P.refs[ref_first - 1].addr + P.refs[ref_first - 1].len > at)
		at = P.refs[ref_first - 1].addr + P.refs[ref_first - 1].len;
	for (size_t k = ref_first; k <= P.nrefs; k++) {
		uint64_t until = k < P.nrefs ? P.refs[k].addr : r->end;
		if (until > at) {
			if (P.ns == PLAN_RANGES)
				return -28;
			P.s[P.ns++] = (struct page_region){ at, until, 0 };
		}
		if (k < P.nrefs)
			at = P.refs[k].addr + P.refs[k].len;
	}
	rp->s_n = (uint32_t)(P.ns - rp->s_first);
	return 0;
}

/* The plan's memory, from the checkpoint's scratch arena (left out of the image). */
static int plan_alloc(struct capture *c)
{
	P.reg = cap_arena_take(&c->a, sizeof(struct rplan) * (size_t)(c->nregions + 1));
	P.s = cap_arena_take(&c->a, sizeof(struct page_region) * PLAN_RANGES);
	P.p = cap_arena_take(&c->a, sizeof(struct page_region) * PLAN_RANGES);
	P.refs = cap_arena_take(&c->a, sizeof(struct img_ref) * PLAN_REFS);
	P.recbuf = cap_arena_take(&c->a, IMG_REF_SIZE * IMG_REFS_MAX + 4096);
	P.pg_addr = cap_arena_take(&c->a, sizeof(uint64_t) * IMG_PAGES_MAX);
	P.pg_data = cap_arena_take(&c->a, sizeof(void *) * IMG_PAGES_MAX);
	if (!P.reg || !P.s || !P.p || !P.refs || !P.recbuf || !P.pg_addr || !P.pg_data)
		return -12;
	mem_zero(P.reg, sizeof(struct rplan) * (size_t)(c->nregions + 1));
	return 0;
}

/* The first table extent that ends after addr. */
static size_t ext_find(uint64_t addr)
{
	size_t lo = 0, hi = T.next;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (T.ext[mid].addr + T.ext[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Refers [a, b) to whatever of it the table places. 0, or -28 when out of room. */
static int refer(uint64_t a, uint64_t b)
{
	for (size_t k = ext_find(a); k < T.next && T.ext[k].addr < b; k++) {
		const struct text *x = &T.ext[k];
		uint64_t s = x->addr > a ? x->addr : a;
		uint64_t e = x->addr + x->len < b ? x->addr + x->len : b;
		int par = P.used_of[x->parent];
		if (par < 0) {
			par = P.nused++;
			P.used_of[x->parent] = par;
			P.order[par] = (int)x->parent;
			P.ref_bytes[par] = 0;
		}
		P.ref_bytes[par] += e - s;
		struct img_ref *last = P.nrefs ? &P.refs[P.nrefs - 1] : 0;
		if (last && last->parent == (uint32_t)par && last->record_at == x->rec_at && last->addr + last->len == s) {
			last->len += e - s;
			continue;
		}
		if (P.nrefs == PLAN_REFS)
			return -28;
		P.refs[P.nrefs++] = (struct img_ref){ s, e - s, (uint32_t)par, x->rec_at };
	}
	return 0;
}

/* Present pages of a region that the write scan did not report: unchanged since the last
 * checkpoint; refer to those the table places. */
static int refer_region(const struct rplan *rp, const struct page_region *pres, size_t npres)
{
	const struct page_region *w = P.s + rp->s_first, *wend = w + rp->s_n;
	for (size_t i = 0; i < npres; i++) {
		uint64_t a = pres[i].start, b = pres[i].end;
		while (a < b) {
			while (w < wend && w->end <= a)
				w++;
			uint64_t until = w < wend && w->start < b ? w->start : b;
			if (until > a) {
				int e = refer(a, until);
				if (e)
					return e;
			}
			a = w < wend && w->start < b ? w->end : b;
		}
	}
	return 0;
}

void incr_plan(struct capture *c, const char *image_path)
{
	incr_idle(); /* a COMMIT not acted on yet (it came while suspending) */
	mem_zero(&P, sizeof(P));
	for (int k = 0; k < IMG_MAX_PARENTS; k++)
		P.used_of[k] = -1;
	P.track = (T.write_flags & WRITE_FLAG_TRACK) != 0;
	if (!P.track) {
		/* Tracking is off: stop the kernel's work for it (closing unregisters). */
		dirty_close();
		T.valid = 0;
		g_agent.rinfo.track = 0;
		return;
	}
	int e = dirty_open();
	if (!e)
		e = reserve(); /* the next table's memory, now that the threads are stopped */
	if (e) {
		static int said;
		if (!said++)
			agent_log_err("cannot track written pages (userfaultfd): writing full images", e);
		P.track = 0;
		T.valid = 0;
		g_agent.rinfo.track = 0;
		return;
	}
	/* Before the scans: this page is then written, and stored, in this image. */
	g_agent.rinfo.track = 1;
	char dir[4096], rel[REL_MAX];
	uint64_t dev = 0, ino = 0;
	int incremental = !(T.write_flags & WRITE_FLAG_FULL) && T.valid &&
			  split_image_path(image_path, dir, sizeof(dir), rel, sizeof(rel)) == 0 &&
			  dir_id(dir, &dev, &ino) == 0 && dev == T.dir_dev && ino == T.dir_ino &&
			  parents_still_there() == 0;
	/* From the first scan on, the old table no longer says what is unchanged. */
	T.valid = 0;
	if (reserve() < 0 || plan_alloc(c) < 0)
		incremental = 0;
	if (dirty_scan_begin() < 0) {
		P.incremental = 0;
		return;
	}
	for (int i = 0; i < c->nregions; i++) {
		const struct region *r = &c->regions[i];
		if (!trackable(r) || dirty_register(r->start, r->end) < 0)
			continue;
		size_t n = 0;
		int image = r->save == SAVE_IMAGE;
		if (!incremental) {
			dirty_scan(r->start, r->end, 0, 0, &n);
			if (image)
				dirty_arm_all(r->start, r->end);
			continue;
		}
		struct rplan *rp = &P.reg[i];
		size_t np = 0; /* the presence map is needed for this region only */
		long e1 = dirty_present(r->start, r->end, P.p, PLAN_RANGES, &np);
		rp->s_first = (uint32_t)P.ns;
		long e2 = dirty_scan(r->start, r->end, P.s + P.ns, PLAN_RANGES - P.ns, &n);
		if (image)
			dirty_arm_all(r->start, r->end); /* holes too: next time they are N's bytes */
		if (e1 || e2) {
			/* Stored whole from the pagemap, as in a full image; still write-protected. */
			if (e2)
				dirty_scan(r->start, r->end, 0, 0, &n);
			continue;
		}
		rp->s_n = (uint32_t)n;
		P.ns += n;
		size_t ref_first = P.nrefs;
		int room = refer_region(rp, P.p, np) == 0;
		if (room && image) {
			P.ns = rp->s_first; /* the written ranges are among the gaps */
			room = store_gaps(r, rp, ref_first) == 0;
		}
		if (!room) {
			/* Out of room for references: this image is a full one after all (this
			 * region is write-protected again; the rest are below). */
			incremental = 0;
			continue;
		}
		rp->tracked = 1;
	}
	dirty_scan_end();
	if (!incremental) {
		/* A full image: every region through the pagemap. */
		if (P.reg)
			mem_zero(P.reg, sizeof(struct rplan) * (size_t)(c->nregions + 1));
		P.nrefs = 0;
		P.nused = 0;
	}
	P.incremental = incremental;
}

uint64_t incr_header_flags(void)
{
	return P.incremental ? IMG_FLAG_INCREMENTAL : 0;
}

void incr_write_parents(struct img_out *o)
{
	if (!P.incremental)
		return;
	uint8_t rec[REL_MAX + 64];
	for (int k = 0; k < P.nused; k++) {
		const struct tparent *tp = &T.parents[P.order[k]];
		struct img_parent v = { tp->size, tp->info_crc, P.ref_bytes[k], tp->path };
		struct wbuf w;
		wb_init(&w, rec, sizeof(rec));
		img_put_parent(&w, &v);
		img_record(o, REC_PARENT, rec, (uint32_t)w.len);
	}
}

void incr_write_refs(struct img_out *o)
{
	if (!P.incremental)
		return;
	for (size_t i = 0; i < P.nrefs; i += IMG_REFS_MAX) {
		uint32_t n = P.nrefs - i < IMG_REFS_MAX ? (uint32_t)(P.nrefs - i) : IMG_REFS_MAX;
		struct wbuf w;
		wb_init(&w, P.recbuf, 8 + (size_t)n * IMG_REF_SIZE);
		img_put_refs(&w, P.refs + i, n);
		img_record(o, REC_REFS, P.recbuf, (uint32_t)w.len);
	}
}

void incr_flush_pages(struct cw *w)
{
	if (P.npg) {
		/* After the chunks submitted before it: the image's order is the plan's. */
		cw_drain(w);
		img_pages(w->o, P.pg_addr, (const void *const *)P.pg_data, P.npg);
	}
	P.npg = 0;
}

int incr_write_region(struct capture *c, struct cw *cw, int i)
{
	if (!P.incremental || !P.reg || !P.reg[i].tracked)
		return 0;
	const struct region *r = &c->regions[i];
	uint64_t here = (uint64_t)__builtin_frame_address(0);
	int own_stack = here >= r->start && here < r->end;
	const struct page_region *w = P.s + P.reg[i].s_first;
	for (uint32_t k = 0; k < P.reg[i].s_n && !cw->o->err; k++) {
		if (w[k].categories & PAGE_IS_PFNZERO_)
			continue;
		uint64_t a = w[k].start, n = (w[k].end - w[k].start) / PAGE_;
		if (own_stack || n >= PAGES_RUN) {
			/* The writer's own stack is snapshot through the bounce buffer there. */
			for (uint64_t done = 0; done < n; done += RUN_MAX)
				cap_emit_run(c, cw, r, -1, a + done * PAGE_, n - done < RUN_MAX ? n - done : RUN_MAX);
			continue;
		}
		for (uint64_t j = 0; j < n; j++) {
			const uint8_t *pg = (const uint8_t *)(a + j * PAGE_);
			if (cap_page_is_zero(pg))
				continue;
			P.pg_addr[P.npg] = (uint64_t)pg;
			P.pg_data[P.npg] = pg;
			if (++P.npg == IMG_PAGES_MAX)
				incr_flush_pages(cw);
		}
	}
	return 1;
}

void incr_plan_end(const char *image_path, uint64_t ckpt_id, int ok)
{
	int track = P.track;
	mem_zero(&P, sizeof(P));
	T.pending = track && ok;
	T.committed = 0;
	T.pending_ckpt = ckpt_id;
	str_copy(T.pending_path, image_path, sizeof(T.pending_path));
}

/* ---- reading an image back into the table ---- */

struct build {
	int fd;
	uint64_t size;
	struct text *ext;        /* the half of the reservation the table is not in */
	size_t n, cap;
	uint8_t *buf;            /* a REFS payload, or a PAGES address list: the scratch */
	size_t buf_len;
};

static int add_ext(struct build *b, uint64_t addr, uint64_t len, uint32_t parent, uint64_t rec_at)
{
	if (b->n && b->ext[b->n - 1].parent == parent && b->ext[b->n - 1].rec_at == rec_at &&
	    b->ext[b->n - 1].addr + b->ext[b->n - 1].len == addr) {
		b->ext[b->n - 1].len += len;
		return 0;
	}
	if (b->n == b->cap)
		return -7; /* E2BIG: more extents than a table holds; the next image is a full one */
	b->ext[b->n++] = (struct text){ addr, len, rec_at, parent, 0 };
	return 0;
}

static void sift(struct text *a, size_t i, size_t n)
{
	for (;;) {
		size_t l = 2 * i + 1, big = i;
		if (l < n && a[l].addr > a[big].addr)
			big = l;
		if (l + 1 < n && a[l + 1].addr > a[big].addr)
			big = l + 1;
		if (big == i)
			return;
		struct text t = a[i];
		a[i] = a[big];
		a[big] = t;
		i = big;
	}
}

static void sort_ext(struct text *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(a, i, n);
	for (size_t k = n; k-- > 1;) {
		struct text t = a[0];
		a[0] = a[k];
		a[k] = t;
		sift(a, 0, k);
	}
}

/* Reads a small record's payload and checks its CRC. */
static int read_payload(struct build *b, uint64_t off, uint32_t len, uint32_t crc)
{
	if (len > b->buf_len)
		return -22;
	int e = pread_all(b->fd, b->buf, len, off + IMG_REC_HEADER);
	if (e)
		return e;
	return crc32c(0, b->buf, len) == crc ? 0 : -74 /* EBADMSG */;
}

static int walk(struct build *b, struct tparent *parents, int *nparents, uint32_t *info_crc)
{
	uint8_t hdr[IMG_HEADER_SIZE];
	int e = pread_all(b->fd, hdr, sizeof(hdr), 0);
	if (e)
		return e;
	struct rbuf r;
	rb_init(&r, hdr + 8, sizeof(hdr) - 8);
	uint32_t version = rb_u32(&r);
	rb_u32(&r);
	uint64_t flags = rb_u64(&r);
	int magic_ok = 1;
	for (int i = 0; i < 8; i++)
		magic_ok &= hdr[i] == (uint8_t)IMG_MAGIC[i];
	if (!magic_ok || version != IMG_VERSION || (flags & ~IMG_FLAG_INCREMENTAL))
		return -22;
	*nparents = 1;
	for (uint64_t off = IMG_HEADER_SIZE; off + IMG_REC_HEADER <= b->size;) {
		uint8_t h[IMG_REC_HEADER + 32];
		e = pread_all(b->fd, h, off + sizeof(h) <= b->size ? sizeof(h) : IMG_REC_HEADER, off);
		if (e)
			return e;
		rb_init(&r, h, sizeof(h));
		uint32_t magic = rb_u32(&r);
		uint16_t type = rb_u16(&r);
		rb_u16(&r);
		uint32_t len = rb_u32(&r), crc = rb_u32(&r);
		if (magic != IMG_REC_MAGIC)
			return -22;
		if (type == REC_END)
			return 0;
		if (type == REC_INFO) {
			*info_crc = crc;
		} else if (type == REC_PARENT) {
			if (*nparents == IMG_MAX_PARENTS || (e = read_payload(b, off, len, crc)))
				return e ? e : -7;
			struct rbuf p;
			rb_init(&p, b->buf, len);
			struct tparent *tp = &parents[(*nparents)++];
			tp->size = rb_u64(&p);
			tp->info_crc = rb_u32(&p);
			rb_u32(&p);
			rb_u64(&p);
			uint16_t plen = rb_u16(&p);
			const uint8_t *s = rb_take(&p, plen);
			if (p.bad || plen >= REL_MAX)
				return -22;
			mem_copy(tp->path, s, plen);
			tp->path[plen] = 0;
		} else if (type == REC_REFS) {
			if ((e = read_payload(b, off, len, crc)))
				return e;
			struct rbuf p;
			rb_init(&p, b->buf, len);
			uint32_t n = rb_u32(&p);
			rb_u32(&p);
			for (uint32_t i = 0; i < n && !p.bad; i++) {
				uint64_t addr = rb_u64(&p), rlen = rb_u64(&p);
				uint32_t par = rb_u32(&p);
				rb_u32(&p);
				uint64_t at = rb_u64(&p);
				if (par + 1 >= (uint32_t)*nparents)
					return -22;
				if ((e = add_ext(b, addr, rlen, par + 1, at)))
					return e;
			}
			if (p.bad)
				return -22;
		} else if (type == REC_CHUNK) {
			uint64_t addr = rb_u64(&r), raw = rb_u64(&r);
			if (r.bad || (e = add_ext(b, addr, raw, 0, off)))
				return r.bad ? -22 : e;
		} else if (type == REC_PAGES) {
			uint32_t n = rb_u32(&r);
			if (r.bad || n > IMG_PAGES_MAX || (uint64_t)n * 8 > b->buf_len)
				return -22;
			if ((e = pread_all(b->fd, b->buf, (size_t)n * 8, off + IMG_REC_HEADER + IMG_PAGES_HEAD)))
				return e;
			struct rbuf p;
			rb_init(&p, b->buf, (size_t)n * 8);
			for (uint32_t i = 0; i < n; i++)
				if ((e = add_ext(b, rb_u64(&p), PAGE_, 0, off)))
					return e;
		}
		off += IMG_REC_HEADER + len + ((8 - (len & 7)) & 7);
	}
	return -5; /* no END */
}

/* Reads the image at path into a new table, in the half of the reservation the old one is
 * not in; the old one is dropped either way. Maps nothing: it may run with the program. */
static int build_table(const char *path)
{
	T.valid = 0;
	T.nparents = 0;
	if (!T.resv)
		return -12;
	struct text *old = T.ext;
	size_t old_n = T.next;
	T.next = 0;
	struct build b;
	mem_zero(&b, sizeof(b));
	b.ext = old == half(0) ? half(1) : half(0);
	b.cap = TABLE_EXTENTS;
	b.buf = T.resv;
	b.buf_len = SCRATCH_LEN;
	char rel[REL_MAX];
	if (split_image_path(path, T.dir, sizeof(T.dir), rel, sizeof(rel)) || dir_id(T.dir, &T.dir_dev, &T.dir_ino))
		return -22;
	b.fd = (int)sys_openat(-100, path, K_O_CLOEXEC, 0);
	if (b.fd < 0)
		return b.fd;
	struct kstat st;
	long e = sys_call2(SYS_fstat_, b.fd, (long)&st);
	b.size = (uint64_t)st.size;
	uint32_t info_crc = 0;
	int np = 0;
	if (!e)
		e = walk(&b, T.parents, &np, &info_crc);
	sys_close(b.fd);
	if (!e) {
		sort_ext(b.ext, b.n);
		for (size_t i = 1; i < b.n && !e; i++)
			if (b.ext[i - 1].addr + b.ext[i - 1].len > b.ext[i].addr)
				e = -22; /* overlapping: not an image this agent wrote */
	}
	/* Give the old table's memory back (this changes no mapping). */
	if (old && old_n)
		sys_call3(28 /* madvise */, (long)old & ~4095l, (long)(((old_n * sizeof(struct text)) + 8191) & ~4095ul),
			  4 /* MADV_DONTNEED */);
	if (e) {
		T.ext = 0;
		return (int)e;
	}
	str_copy(T.parents[0].path, rel, REL_MAX);
	T.parents[0].size = b.size;
	T.parents[0].info_crc = info_crc;
	T.nparents = np;
	T.ext = b.ext;
	T.next = b.n;
	T.valid = 1;
	return 0;
}

void incr_commit(uint64_t ckpt_id, int committed)
{
	if (!T.pending || T.pending_ckpt != ckpt_id)
		return;
	if (committed)
		T.committed = 1;
	else
		T.pending = 0;
}

void incr_idle(void)
{
	if (!T.pending || !T.committed)
		return;
	T.pending = 0;
	int e = build_table(T.pending_path);
	if (e)
		agent_log_err("cannot read the image just committed back: the next image is a full one", e);
}

void incr_after_fork(void)
{
	dirty_close();
	if (T.resv)
		sys_munmap(T.resv, T.resv_len);
	mem_zero(&T, sizeof(T));
	mem_zero(&P, sizeof(P));
}

void incr_restarted(struct restart_info *ri)
{
	/* The table's memory was not in the image: forget it, do not unmap it. */
	uint32_t flags = T.write_flags;
	mem_zero(&T, sizeof(T));
	mem_zero(&P, sizeof(P));
	T.write_flags = flags;
	dirty_forget();
	dirty_adopt(ri->uffd);
	/* The program's threads are held until RESUME: a mapping made now is safe. */
	if (dirty_active() && ri->image[0] && reserve() == 0) {
		int e = build_table(ri->image);
		if (e)
			agent_log_err("cannot read the restored image back: the next image is a full one", e);
	}
}
