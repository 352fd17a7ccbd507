/*
 * Incremental images in the loader (docs/image-format.md: PARENT, REFS, PAGES).
 *
 * An incremental image stores the pages written since the generation before it (CHUNK and
 * PAGES records) and refers, with REFS entries, to the CHUNK or PAGES record of an earlier
 * image (a PARENT) that holds each of the others. References are flat: the PARENT is the
 * image that holds the bytes, so each page is read from one place, and a restart never
 * follows a chain. Pages neither stored nor referred to are zero.
 *
 * Stage 1 (rst_refs_open) opens every parent beside this image's generation folder and
 * checks it is the image the record names (size, and the CRC of its INFO record), and that
 * each reference lies inside the record it names; a restart whose earlier generation is
 * gone fails there, with one line, before anything is touched. Stage 2 (rst_refs_place)
 * first maps the raw chunks that references cover mostly (refs-map.c), then reads each
 * other referenced record once (a zstd chunk decoded with chunk-decode.c), checks its CRC
 * and copies the referenced pages into place; a chunk referred to whole is read (or
 * decoded) straight into place.
 */
#include "refs.h"
#include "chunks.h"
#include "chunk-decode.h"
#include "refs-walk.h"
#include "meta-records.h"
#include "rt.h"
#include "../common/crc32c.h"
#include "../common/fmt.h"
#include "../common/sys.h"
#include "../common/wire.h"

#define PAGE 4096ull
#define PIECE 16384 /* REFS payloads are read in pieces of whole entries */

int rst_pages_into_place;

static int parent_fd[IMG_MAX_PARENTS];
static char image_abs[4096];
static uint8_t piece[PIECE + IMG_REF_SIZE];
static uint8_t list_buf[IMG_PAGES_MAX * 8];
static const uint8_t zeros[IMG_CHUNK_ALIGN];

const char *rst_refs_image_path(void)
{
	return image_abs;
}

static struct m_incr *incr_of(struct meta *m, struct m_arena *a)
{
	if (!m->incr) {
		m->incr = m_take(a, sizeof(struct m_incr));
		memset(m->incr, 0, sizeof(struct m_incr));
	}
	return m->incr;
}

static void need_flag(const struct meta *m, uint16_t type)
{
	if (!(m->cur.flags & IMG_FLAG_INCREMENTAL))
		rst_rec_die(&m->cur, type, "", " needs the INCREMENTAL flag in the file header");
}

/* "gen-" and at least six digits, a slash, a file name: an image in a generation folder
 * beside this image's own. */
static int plain_parent_path(const char *p)
{
	if (!str_starts(p, "gen-"))
		return 0;
	const char *q = p + 4;
	int digits = 0;
	while (*q >= '0' && *q <= '9')
		q++, digits++;
	if (digits < 6 || *q != '/')
		return 0;
	q++;
	if (!*q || str_eq(q, ".") || str_eq(q, ".."))
		return 0;
	for (; *q; q++)
		if (*q == '/')
			return 0;
	return 1;
}

static void parse_parent(struct meta *m, const struct rec_head *h, struct m_arena *a)
{
	const struct img_cursor *c = &m->cur;
	struct m_incr *x = incr_of(m, a);
	uint8_t buf[4096 + 64];
	if (h->len > sizeof(buf) - 8)
		rst_rec_die(c, h->type, ": ", "path is longer than 4095 bytes");
	rst_rec_payload(c, h, buf);
	if (x->nparents == IMG_MAX_PARENTS)
		rst_rec_die(c, h->type, ": ", "more than 64 PARENT records");
	struct m_parent *p = &x->parents[x->nparents];
	struct rbuf r;
	rb_init(&r, buf, h->len);
	p->file_size = rb_u64(&r);
	p->info_crc = rb_u32(&r);
	rb_u32(&r);
	p->ref_bytes = rb_u64(&r);
	const char *why = mr_get_str(&r, p->path, sizeof(p->path), "path");
	if (why)
		rst_rec_die(c, h->type, ": ", why);
	rst_payload_fits(c, h->type, r.bad, r.len, r.off);
	if (!plain_parent_path(p->path))
		rst_rec_die(c, h->type, ": ", "path is not of the form gen-NNNNNN/NAME");
	for (int k = 0; k < x->nparents; k++)
		if (str_eq(x->parents[k].path, p->path))
			rst_rec_die(c, h->type, ": ", "path names the same image as an earlier PARENT record");
	x->nparents++;
}

/* "entry K: <a>0xADDR<b>" */
static __attribute__((noreturn)) void die_entry(const struct img_cursor *c, uint64_t k, const char *a, uint64_t v,
						const char *b)
{
	char mem[160];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, ": entry ");
	sb_udec(&s, k);
	sb_str(&s, a);
	sb_hex(&s, v);
	rst_rec_die(c, REC_REFS, sb_cstr(&s), b);
}

/* One REFS row, as docs/image-format.md lays it out. */
static void read_ref_row(struct rbuf *r, struct m_ref_row *e)
{
	e->addr = rb_u64(r);
	e->len = rb_u64(r);
	e->parent = rb_u32(r);
	rb_u32(r); /* reserved */
	e->record_at = rb_u64(r);
}

static void check_entry(struct meta *m, uint64_t k, const struct m_ref_row *e)
{
	const struct img_cursor *c = &m->cur;
	struct m_incr *x = m->incr;
	if (e->parent >= (uint32_t)x->nparents) {
		char mem[96];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, ": entry ");
		sb_udec(&s, k);
		sb_str(&s, ": parent ");
		sb_udec(&s, e->parent);
		rst_rec_die(c, REC_REFS, sb_cstr(&s), " has no PARENT record");
	}
	if (!e->len || e->len > IMG_CHUNK_MAX || e->len % PAGE || e->addr % PAGE || e->addr + e->len < e->addr)
		die_entry(c, k, ": 0x", e->addr, " is not a whole number of pages up to 8 MiB");
	if (e->addr < x->last_end)
		die_entry(c, k, ": 0x", e->addr, " overlaps or precedes the reference before it");
	if (e->record_at < IMG_HEADER_SIZE || e->record_at % 8)
		die_entry(c, k, ": record offset 0x", e->record_at, " is not a record's");
	int target = rst_chunk_target(m, e->addr, e->len);
	if (target <= 0)
		die_entry(c, k, ": 0x", e->addr,
			  target ? " lies in a region whose content is not stored" : " lies outside the recorded memory regions");
	x->last_end = e->addr + e->len;
}

static void parse_refs(struct meta *m, const struct rec_head *h, struct m_arena *a)
{
	struct img_cursor *c = &m->cur;
	struct m_incr *x = incr_of(m, a);
	if (h->len > META_MAX_RECORD || h->len < 8) {
		rst_rec_check_streaming(c, h);
		rst_rec_die(c, h->type, ": ", "a field runs past the end of the payload");
	}
	rst_rec_check_streaming(c, h);
	uint8_t head[8];
	rst_pread_all(c, head, sizeof(head), c->off + IMG_REC_HEADER);
	struct rbuf r;
	rb_init(&r, head, sizeof(head));
	uint32_t n = rb_u32(&r);
	if (n == 0 || n > IMG_REFS_MAX) {
		char mem[64];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, ": holds ");
		sb_udec(&s, n);
		rst_rec_die(c, h->type, sb_cstr(&s), " entries, not 1 to 65536");
	}
	if ((uint64_t)h->len != 8 + (uint64_t)n * IMG_REF_SIZE) {
		char mem[96];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, ": payload has ");
		sb_udec(&s, h->len);
		sb_str(&s, " bytes for ");
		sb_udec(&s, n);
		rst_rec_die(c, h->type, sb_cstr(&s), " entries");
	}
	if (x->nrecs == RST_MAX_REFS_RECS)
		rst_rec_die(c, h->type, ": ", "more than 4096 REFS records");
	x->recs[x->nrecs++] = (struct m_refs_rec){ c->off, c->index, h->len, n };
	for (uint32_t i = 0; i < n; i += PIECE / IMG_REF_SIZE) {
		uint32_t k = n - i < PIECE / IMG_REF_SIZE ? n - i : PIECE / IMG_REF_SIZE;
		rst_pread_all(c, piece, (size_t)k * IMG_REF_SIZE, c->off + IMG_REC_HEADER + 8 + (uint64_t)i * IMG_REF_SIZE);
		rb_init(&r, piece, (size_t)k * IMG_REF_SIZE);
		for (uint32_t j = 0; j < k; j++) {
			struct m_ref_row e;
			read_ref_row(&r, &e);
			check_entry(m, x->nrefs, &e);
			if (x->nrefs < RST_LIST_ROWS)
				x->refs[x->nrefs] = e;
			x->nrefs++;
			x->ref_bytes += e.len;
		}
	}
}

void rst_incr_record(struct meta *m, const struct rec_head *h, struct m_arena *a)
{
	need_flag(m, h->type);
	if (h->type == REC_PARENT)
		parse_parent(m, h, a);
	else
		parse_refs(m, h, a);
}

/* ---- PAGES ---- */

static __attribute__((noreturn)) void die_pages(const struct img_cursor *c, const char *a, uint64_t v, const char *b)
{
	char mem[128];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, a);
	sb_udec(&s, v);
	rst_rec_die(c, REC_PAGES, sb_cstr(&s), b);
}

/* Reads and checks a PAGES record's head and address list (into list_buf) at file offset
 * `off` of the image cursor c. The addresses are checked against m's regions when m is
 * given (the image's own records; a parent's were checked when it was written). */
static void read_pages_head(const struct img_cursor *c, const struct rec_head *h, const struct meta *m,
			    uint32_t page_size, struct pages_head *p)
{
	if (h->len < IMG_PAGES_HEAD)
		die_pages(c, " is ", h->len, " bytes, shorter than a pages head");
	uint8_t head[IMG_PAGES_HEAD];
	uint64_t payload_at = c->off + IMG_REC_HEADER;
	rst_pread_all(c, head, sizeof(head), payload_at);
	struct rbuf r;
	rb_init(&r, head, sizeof(head));
	p->n = rb_u32(&r);
	p->enc = rb_u32(&r);
	p->stored = rb_u32(&r);
	p->pad = rb_u32(&r);
	if (!p->n || p->n > IMG_PAGES_MAX)
		die_pages(c, ": holds ", p->n, " pages, not 1 to 2048");
	uint64_t list_at = payload_at + IMG_PAGES_HEAD;
	p->data_at = list_at + (uint64_t)p->n * 8 + p->pad;
	if (p->pad >= IMG_CHUNK_ALIGN || p->data_at % IMG_CHUNK_ALIGN)
		die_pages(c, ": data at offset ", p->data_at, " is not 4096-aligned");
	if ((uint64_t)IMG_PAGES_HEAD + (uint64_t)p->n * 8 + p->pad + p->stored != h->len)
		die_pages(c, ": head says ", (uint64_t)IMG_PAGES_HEAD + (uint64_t)p->n * 8 + p->pad + p->stored,
			  " bytes, not the record's");
	if (p->enc != 0)
		die_pages(c, " uses encoding ", p->enc, ", not supported by this version");
	if ((uint64_t)p->stored != (uint64_t)p->n * page_size)
		die_pages(c, ": stores ", p->stored, " bytes, not a page for each address");
	rst_pread_all(c, list_buf, (size_t)p->n * 8, list_at);
	uint32_t crc = crc32c(0, head, sizeof(head));
	crc = crc32c(crc, list_buf, (size_t)p->n * 8);
	rb_init(&r, list_buf, (size_t)p->n * 8);
	uint64_t prev = 0;
	for (uint32_t i = 0; i < p->n; i++) {
		uint64_t addr = rb_u64(&r);
		if (addr % page_size)
			die_pages(c, ": address ", i, " is not page aligned");
		if (i && addr <= prev)
			die_pages(c, ": address ", i, " is not above the one before it");
		if (m) {
			int target = rst_chunk_target(m, addr, page_size);
			if (target <= 0)
				die_pages(c, ": address ", i, target ? " lies in a region whose content is not stored"
								     : " lies outside the recorded memory regions");
		}
		prev = addr;
	}
	uint8_t padb[IMG_CHUNK_ALIGN];
	rst_pread_all(c, padb, p->pad, list_at + (uint64_t)p->n * 8);
	for (uint32_t i = 0; i < p->pad; i++)
		if (padb[i])
			rst_rec_die(c, REC_PAGES, "", ": nonzero bytes in the alignment pad");
	p->crc_head = crc32c(crc, padb, p->pad);
}

static uint64_t list_at(uint32_t i)
{
	struct rbuf r;
	rb_init(&r, list_buf + (size_t)i * 8, 8);
	return rb_u64(&r);
}

static __attribute__((noreturn)) void die_data_crc(const struct img_cursor *c, uint16_t type)
{
	char mem[512];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, "CRC mismatch in ");
	rst_rec_name(&s, c, type);
	sb_str(&s, type == REC_PAGES ? " (pages data)" : " (chunk data)");
	rst_img_die(c, &s);
}

uint64_t rst_pages_record(struct meta *m, const struct rec_head *h)
{
	const struct img_cursor *c = &m->cur;
	need_flag(m, REC_PAGES);
	struct pages_head p;
	read_pages_head(c, h, m, m->page_size, &p);
	uint32_t crc = p.crc_head;
	if (rst_pages_into_place) {
		/* Runs of neighbouring addresses come in with one read each. */
		for (uint32_t i = 0; i < p.n;) {
			uint32_t j = i + 1;
			while (j < p.n && list_at(j) == list_at(j - 1) + m->page_size)
				j++;
			void *dst = (void *)list_at(i);
			size_t len = (size_t)(j - i) * m->page_size;
			rst_pread_all(c, dst, len, p.data_at + (uint64_t)i * m->page_size);
			crc = crc32c(crc, dst, len);
			i = j;
		}
	} else {
		for (uint64_t done = 0; done < p.stored;) {
			uint64_t n = p.stored - done < PIECE ? p.stored - done : PIECE;
			rst_pread_all(c, piece, n, p.data_at + done);
			crc = crc32c(crc, piece, n);
			done += n;
		}
	}
	if (crc != h->crc)
		die_data_crc(c, REC_PAGES);
	struct m_incr *x = m->incr;
	if (x) {
		if (x->npages_recs < RST_LIST_ROWS)
			x->pages[x->npages_recs] = (struct m_pages_row){ p.data_at, list_at(0), list_at(p.n - 1), p.n };
		x->npages_recs++;
		x->npages += p.n;
	}
	return p.stored;
}

/* ---- the parents: stage 1 ---- */

static __attribute__((noreturn)) void die_parent(const struct meta *m, const struct m_parent *p, const char *what,
						 long err)
{
	char mem[4096 + 256];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, ": refers to ");
	sb_str(&s, p->path);
	sb_str(&s, what);
	if (err) {
		sb_str(&s, " (");
		sb_str(&s, strerror_short(err));
		sb_str(&s, ")");
	}
	sb_str(&s, " — restart from a generation whose earlier generations are all there");
	rst_say(m->cur.path, sb_cstr(&s), 0);
	rst_exit_failed();
}

static void note_abs_path(const char *image)
{
	struct sbuf s;
	sb_init(&s, image_abs, sizeof(image_abs));
	if (image[0] != '/') {
		char cwd[4096];
		long n = sys_call2(SYS_getcwd_, (long)cwd, sizeof(cwd));
		if (n <= 0)
			rst_die("cannot read the working directory", 0, n ? n : -2);
		sb_str(&s, cwd);
		sb_str(&s, "/");
	}
	sb_str(&s, image);
	sb_cstr(&s);
}

static void read_prec(const struct img_cursor *pc, uint64_t rec_at, struct prec *r)
{
	uint8_t b[IMG_REC_HEADER + IMG_CHUNK_HEAD];
	mem_zero(r, sizeof(*r));
	if (rec_at + sizeof(b) > pc->size)
		return;
	rst_pread_all(pc, b, sizeof(b), rec_at);
	struct rbuf rb;
	rb_init(&rb, b, sizeof(b));
	if (rb_u32(&rb) != IMG_REC_MAGIC)
		return;
	r->type = rb_u16(&rb);
	rb_u16(&rb);
	r->len = rb_u32(&rb);
	r->crc = rb_u32(&rb);
	if (rec_at + IMG_REC_HEADER + r->len > pc->size) {
		r->type = 0;
		return;
	}
	if (r->type == REC_CHUNK) {
		r->addr = rb_u64(&rb);
		r->raw = rb_u64(&rb);
		r->enc = rb_u32(&rb);
		r->stored = rb_u32(&rb);
		r->pad = rb_u32(&rb);
		if (r->len < IMG_CHUNK_HEAD || (uint64_t)IMG_CHUNK_HEAD + r->pad + r->stored != r->len || r->pad >= IMG_CHUNK_ALIGN)
			r->type = 0;
	}
}

/* Index in list_buf of addr, with len bytes of neighbouring pages from there; -1 if not. */
static long pages_index(uint32_t n, uint64_t addr, uint64_t len)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (list_at(mid) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t k = len / PAGE;
	if (lo + k > n || list_at(lo) != addr)
		return -1;
	for (uint64_t i = 1; i < k; i++)
		if (list_at(lo + (uint32_t)i) != addr + i * PAGE)
			return -1;
	return lo;
}

static void parent_cursor(const struct meta *m, int k, struct img_cursor *pc)
{
	mem_zero(pc, sizeof(*pc));
	pc->fd = parent_fd[k];
	pc->path = m->incr->parents[k].path;
	pc->size = m->incr->parents[k].file_size;
}

void rst_each_ref(struct meta *m, void (*fn)(struct meta *m, const struct m_ref_row *e, void *ctx), void *ctx)
{
	struct m_incr *x = m->incr;
	for (int i = 0; i < x->nrecs; i++) {
		const struct m_refs_rec *rr = &x->recs[i];
		struct img_cursor c = m->cur;
		c.off = rr->off;
		c.index = rr->index;
		for (uint32_t j = 0; j < rr->n; j += PIECE / IMG_REF_SIZE) {
			uint32_t k = rr->n - j < PIECE / IMG_REF_SIZE ? rr->n - j : PIECE / IMG_REF_SIZE;
			rst_pread_all(&c, piece, (size_t)k * IMG_REF_SIZE, rr->off + IMG_REC_HEADER + 8 + (uint64_t)j * IMG_REF_SIZE);
			struct rbuf r;
			rb_init(&r, piece, (size_t)k * IMG_REF_SIZE);
			for (uint32_t q = 0; q < k; q++) {
				struct m_ref_row e;
				read_ref_row(&r, &e);
				fn(m, &e, ctx);
			}
		}
	}
}

struct check_ctx {
	int parent;
	uint64_t rec_at;
	struct prec r;
	struct pages_head ph;
};

static __attribute__((noreturn)) void die_ref(const struct meta *m, const struct m_ref_row *e, const char *what)
{
	char mem[4096 + 256];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, ": the reference to 0x");
	sb_hex(&s, e->addr);
	sb_str(&s, "-0x");
	sb_hex(&s, e->addr + e->len);
	sb_str(&s, " in ");
	sb_str(&s, m->incr->parents[e->parent].path);
	sb_str(&s, what);
	rst_image_advice = 1;
	rst_say(m->cur.path, sb_cstr(&s), 0);
	rst_exit_failed();
}

int rst_ref_target(struct meta *m, const struct m_ref_row *e, int *parent, uint64_t *rec_at, struct prec *r,
		   struct pages_head *ph)
{
	if (*parent == (int)e->parent && *rec_at == e->record_at)
		return 0;
	struct img_cursor pc;
	parent_cursor(m, (int)e->parent, &pc);
	*parent = (int)e->parent;
	*rec_at = e->record_at;
	read_prec(&pc, e->record_at, r);
	if (r->type == REC_PAGES) {
		pc.off = e->record_at;
		struct rec_head h = { REC_PAGES, r->len, r->crc };
		read_pages_head(&pc, &h, 0, (uint32_t)PAGE, ph);
	}
	return 1;
}

static void check_ref(struct meta *m, const struct m_ref_row *e, void *ctx)
{
	struct check_ctx *k = ctx;
	rst_ref_target(m, e, &k->parent, &k->rec_at, &k->r, &k->ph);
	if (k->r.type == REC_CHUNK) {
		if (e->addr < k->r.addr || e->addr + e->len > k->r.addr + k->r.raw)
			die_ref(m, e, ": the CHUNK it names does not hold those pages");
		if (k->r.enc > IMG_ENC_SHUF8_ZSTD)
			die_ref(m, e, ": the CHUNK it names uses an encoding this version cannot read");
	} else if (k->r.type == REC_PAGES) {
		if (pages_index(k->ph.n, e->addr, e->len) < 0)
			die_ref(m, e, ": the PAGES record it names does not hold those pages");
	} else {
		die_ref(m, e, ": no CHUNK or PAGES record is at the offset it names");
	}
}

void rst_refs_open(struct meta *m, const char *image)
{
	note_abs_path(image);
	for (int k = 0; k < IMG_MAX_PARENTS; k++)
		parent_fd[k] = -1;
	struct m_incr *x = m->incr;
	if (!x || !x->nparents)
		return;
	/* The parents are beside this image's folder: <dir of image>/../gen-NNNNNN/NAME. */
	char dir[4096];
	str_copy(dir, image_abs, sizeof(dir));
	char *slash = 0;
	for (char *p = dir; *p; p++)
		if (*p == '/')
			slash = p;
	if (slash)
		*slash = 0;
	for (int k = 0; k < x->nparents; k++) {
		const struct m_parent *p = &x->parents[k];
		char path[8192 + 8];
		struct sbuf s;
		sb_init(&s, path, sizeof(path));
		sb_str(&s, dir);
		sb_str(&s, "/../");
		sb_str(&s, p->path);
		int fd = (int)sys_openat(-100, sb_cstr(&s), K_O_CLOEXEC, 0);
		if (fd < 0)
			die_parent(m, p, ", which cannot be opened: its generation is gone", fd);
		struct kstat st;
		long e = sys_call2(SYS_fstat_, fd, (long)&st);
		if (e < 0)
			die_parent(m, p, ", which cannot be read", e);
		uint8_t h[IMG_HEADER_SIZE + IMG_REC_HEADER];
		if ((uint64_t)st.size != p->file_size || st.size < (long)sizeof(h))
			die_parent(m, p, ", which is not the image it was (its size changed)", 0);
		struct img_cursor pc = { .fd = fd, .path = p->path, .size = (uint64_t)st.size };
		rst_pread_all(&pc, h, sizeof(h), 0);
		struct rbuf r;
		rb_init(&r, h + 8, sizeof(h) - 8);
		uint32_t version = rb_u32(&r);
		rb_u32(&r);
		uint64_t flags = rb_u64(&r);
		rb_u32(&r);
		rb_u32(&r);
		uint32_t magic = rb_u32(&r);
		uint16_t type = rb_u16(&r);
		rb_u16(&r);
		rb_u32(&r);
		uint32_t crc = rb_u32(&r);
		if (memcmp(h, IMG_MAGIC, 8) || version != IMG_VERSION || (flags & ~IMG_FLAG_INCREMENTAL) ||
		    magic != IMG_REC_MAGIC || type != REC_INFO || crc != p->info_crc)
			die_parent(m, p, ", which is not the image it was (another checkpoint's)", 0);
		parent_fd[k] = fd;
	}
	struct check_ctx k = { -1, 0, { 0 }, { 0 } };
	rst_each_ref(m, check_ref, &k);
}

/* ---- the parents: stage 2 ---- */

/*
 * A record's data is read (and its CRC checked, and a zstd frame decoded) once into one of
 * a few buffers and the referenced pages copied from there. References come in address
 * order, so the pages of one earlier chunk are usually referred to by neighbouring entries;
 * a chunk whose pages later generations rewrote here and there alternates with the records
 * that hold those pages, which is why there are several buffers, reused least recently
 * used first: a frame is then decoded once, not once per gap.
 */
#define SLOTS 4

struct slot {
	int parent;
	uint64_t rec_at;
	uint64_t used;         /* when it was last used: the least recent is reused */
	uint8_t *data;         /* IMG_CHUNK_MAX bytes: the record's raw memory */
};

struct place_ctx {
	int parent;
	uint64_t rec_at;
	struct prec r;
	struct pages_head ph;
	struct slot slot[SLOTS];
	uint64_t clock;
	const struct mapped_chunk *done; /* the chunks the mapping pass mapped, ascending */
	uint32_t ndone, di;
};

/* Reads a parent record's data into dst (a zstd chunk decoded: raw bytes), checking the
 * record's CRC and, for zstd, the frame. */
static void load_data(struct meta *m, const struct m_ref_row *e, struct place_ctx *k, uint8_t *dst)
{
	struct img_cursor pc;
	parent_cursor(m, (int)e->parent, &pc);
	pc.off = e->record_at;
	uint32_t crc;
	uint64_t data_at, len;
	int zstd = k->r.type == REC_CHUNK && (k->r.enc == IMG_ENC_ZSTD || k->r.enc == IMG_ENC_SHUF8_ZSTD);
	if (k->r.type == REC_CHUNK) {
		uint8_t head[IMG_CHUNK_HEAD];
		rst_pread_all(&pc, head, sizeof(head), e->record_at + IMG_REC_HEADER);
		crc = crc32c(crc32c(0, head, sizeof(head)), zeros, k->r.pad);
		data_at = e->record_at + IMG_REC_HEADER + IMG_CHUNK_HEAD + k->r.pad;
		len = k->r.stored;
	} else {
		crc = k->ph.crc_head;
		data_at = k->ph.data_at;
		len = k->ph.stored;
	}
	if (zstd && !m->unzstd.in)
		rst_unzstd_init(&m->unzstd, m->arena);
	uint8_t *in = zstd ? m->unzstd.in : dst;
	rst_pread_all(&pc, in, len, data_at);
	if (crc32c(crc, in, len) != k->r.crc) {
		rst_image_advice = 1;
		die_data_crc(&pc, k->r.type);
	}
	if (!zstd)
		return;
	char whymem[128], mem[512];
	struct sbuf why, s;
	sb_init(&why, whymem, sizeof(whymem));
	if (rst_unzstd(&m->unzstd, in, (uint32_t)len, dst, k->r.raw, k->r.enc == IMG_ENC_SHUF8_ZSTD, &why)) {
		sb_init(&s, mem, sizeof(mem));
		rst_rec_name(&s, &pc, REC_CHUNK);
		sb_str(&s, ": chunk data ");
		sb_str(&s, sb_cstr(&why));
		rst_image_advice = 1;
		rst_img_die(&pc, &s);
	}
}

/* The buffer that holds the current record's data, read into the least recently used one
 * if none does. */
static const uint8_t *record_data(struct meta *m, const struct m_ref_row *e, struct place_ctx *k)
{
	struct slot *lru = &k->slot[0];
	for (int i = 0; i < SLOTS; i++) {
		struct slot *sl = &k->slot[i];
		if (sl->parent == k->parent && sl->rec_at == k->rec_at) {
			sl->used = ++k->clock;
			return sl->data;
		}
		if (sl->used < lru->used)
			lru = sl;
	}
	load_data(m, e, k, lru->data);
	lru->parent = k->parent;
	lru->rec_at = k->rec_at;
	lru->used = ++k->clock;
	return lru->data;
}

static int in_a_slot(const struct place_ctx *k)
{
	for (int i = 0; i < SLOTS; i++)
		if (k->slot[i].parent == k->parent && k->slot[i].rec_at == k->rec_at)
			return 1;
	return 0;
}

static void place_ref(struct meta *m, const struct m_ref_row *e, void *ctx)
{
	struct place_ctx *k = ctx;
	if (rst_ref_target(m, e, &k->parent, &k->rec_at, &k->r, &k->ph) && k->r.type != REC_PAGES &&
	    (k->r.type != REC_CHUNK || k->r.enc > IMG_ENC_SHUF8_ZSTD))
		die_ref(m, e, ": no CHUNK or PAGES record is at the offset it names");
	if (k->r.type == REC_CHUNK) {
		if (e->addr < k->r.addr || e->addr + e->len > k->r.addr + k->r.raw)
			die_ref(m, e, ": the CHUNK it names does not hold those pages");
		while (k->di < k->ndone && k->done[k->di].end <= e->addr)
			k->di++;
		if (k->di < k->ndone) {
			const struct mapped_chunk *d = &k->done[k->di];
			if (d->parent == k->parent && d->rec_at == k->rec_at && e->addr >= d->start && e->addr + e->len <= d->end)
				return; /* mapped in place */
		}
		if (e->addr == k->r.addr && e->len == k->r.raw && !in_a_slot(k)) {
			/* The whole chunk: straight into place (decoded there, if zstd). */
			load_data(m, e, k, (uint8_t *)e->addr);
			return;
		}
		memcpy((void *)e->addr, record_data(m, e, k) + (e->addr - k->r.addr), e->len);
		return;
	}
	long i = pages_index(k->ph.n, e->addr, e->len);
	if (i < 0)
		die_ref(m, e, ": the PAGES record it names does not hold those pages");
	memcpy((void *)e->addr, record_data(m, e, k) + (uint64_t)i * PAGE, e->len);
}

void rst_refs_place(struct meta *m, struct rst_maps *mp)
{
	struct m_incr *x = m->incr;
	if (x && x->nrecs) {
		/* Every image region is mapped by now: this lands elsewhere. */
		uint64_t len = (uint64_t)SLOTS * IMG_CHUNK_MAX;
		long buf = sys_mmap(0, len, 3, 0x22 | 0x4000 /* PRIVATE|ANON|NORESERVE */, -1, 0);
		if (buf < 0)
			rst_die("cannot map memory for the earlier generations' pages", 0, buf);
		static struct place_ctx k;
		mem_zero(&k, sizeof(k));
		k.parent = -1;
		for (int i = 0; i < SLOTS; i++)
			k.slot[i] = (struct slot){ -1, 0, 0, (uint8_t *)buf + (uint64_t)i * IMG_CHUNK_MAX };
		uint64_t done_len = (uint64_t)MAPPED_MAX * sizeof(struct mapped_chunk);
		long done = mp->map ? sys_mmap(0, done_len, 3, 0x22 | 0x4000, -1, 0) : -1;
		if (done >= 0) {
			k.done = (struct mapped_chunk *)done;
			k.ndone = rst_refs_map(m, mp, parent_fd, (struct mapped_chunk *)done, MAPPED_MAX);
		}
		rst_each_ref(m, place_ref, &k);
		if (done >= 0)
			sys_munmap((void *)done, done_len);
		sys_munmap((void *)buf, len);
	}
	for (int i = 0; i < IMG_MAX_PARENTS; i++)
		if (parent_fd[i] >= 0) {
			sys_close(parent_fd[i]);
			parent_fd[i] = -1;
		}
}
