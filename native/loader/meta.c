/*
 * Parsing an image's records up to the first chunk (docs/image-format.md), and the record
 * walk chunks.c continues. Every record header, length, order and payload CRC is checked
 * and every field read through a bounds-checked reader, in the order src/image/reader.ts
 * checks them and with the same words; a bad image ends the program with a one-line
 * reason before anything of the restarter's is touched.
 */
#include "meta.h"
#include "decode-pool.h"
#include "meta-records.h"
#include "refs.h"
#include "rt.h"
#include "../common/crc32c.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

void *m_take(struct m_arena *a, size_t n)
{
	n = (n + 63) & ~(size_t)63;
	if (a->cap - a->used < n)
		rst_die("out of memory while reading the image", 0, -12);
	void *p = a->base + a->used;
	a->used += n;
	return p;
}

/* ---- records: naming, dying, reading ---- */

static const char *const type_names[32] = {
	[REC_INFO] = "INFO", [REC_PROCESS] = "PROCESS", [REC_REGION] = "REGION",
	[REC_THREAD] = "THREAD", [REC_FD] = "FD", [REC_FILEDATA] = "FILEDATA", [REC_CHUNK] = "CHUNK",
	[REC_FD_SHARE] = "FD_SHARE", [REC_FD_LOCK] = "FD_LOCK", [REC_PROC_STATE] = "PROC_STATE", [REC_THREAD_STATE] = "THREAD_STATE",
	[REC_POSIX_TIMER] = "POSIX_TIMER", [REC_SEM_UNDO] = "SEM_UNDO", [REC_END] = "END", [REC_PARENT] = "PARENT",
	[REC_REFS] = "REFS", [REC_PAGES] = "PAGES",
};

#define RANK_END 15

/* Order rank of each known type (docs: record order); -1 for types of later versions. */
static int rank_of(uint16_t type)
{
	switch (type) {
	case REC_INFO: return 0;
	case REC_PARENT: return 1;
	case REC_PROCESS: return 2;
	case REC_REGION: return 3;
	case REC_THREAD: return 4;
	case REC_FD: return 5;
	case REC_FD_SHARE: return 6;
	case REC_FD_LOCK: return 7;
	case REC_FILEDATA: return 8;
	case REC_PROC_STATE: return 9;
	case REC_THREAD_STATE: return 10;
	case REC_POSIX_TIMER: return 11;
	case REC_SEM_UNDO: return 12;
	case REC_REFS: return 13;
	case REC_CHUNK: return 14;
	case REC_PAGES: return 14;
	case REC_END: return RANK_END;
	default: return -1;
	}
}

/* Records of which an image holds at most one. */
static int single(int rank)
{
	return rank == rank_of(REC_INFO) || rank == rank_of(REC_PROCESS) || rank == rank_of(REC_PROC_STATE) ||
	       rank == RANK_END;
}

void rst_rec_name(struct sbuf *s, const struct img_cursor *c, uint16_t type)
{
	sb_str(s, "record #");
	sb_udec(s, c->index);
	sb_str(s, " (");
	if (type < 32 && type_names[type]) {
		sb_str(s, type_names[type]);
	} else {
		sb_str(s, "type ");
		sb_udec(s, type);
	}
	sb_str(s, ") at offset ");
	sb_udec(s, c->off);
}

void rst_img_die(const struct img_cursor *c, struct sbuf *s)
{
	rst_say(c->path, ": ", sb_cstr(s));
	rst_exit_failed();
}

void rst_rec_die(const struct img_cursor *c, uint16_t type, const char *sep, const char *what)
{
	char mem[512];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	rst_rec_name(&s, c, type);
	sb_str(&s, sep);
	sb_str(&s, what);
	rst_img_die(c, &s);
}

void rst_payload_fits(const struct img_cursor *c, uint16_t type, int short_, uint64_t len, uint64_t used)
{
	if (short_)
		rst_rec_die(c, type, ": ", "a field runs past the end of the payload");
	if (len > used) {
		char mem[48];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, ": payload has ");
		sb_udec(&s, len - used);
		rst_rec_die(c, type, sb_cstr(&s), " bytes after its last field");
	}
}

void rst_pread_all(const struct img_cursor *c, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		long r = sys_pread(c->fd, (char *)buf + got, n - got, (long)(off + got));
		if (r == -4)
			continue;
		if (r < 0)
			rst_die("cannot read ", c->path, r);
		if (r == 0) {
			rst_say(c->path, ": truncated: the file shrank while it was read", 0);
			rst_exit_failed();
		}
		got += (size_t)r;
	}
}

uint64_t rst_rec_next(uint64_t off, uint32_t len)
{
	return off + IMG_REC_HEADER + len + ((8 - (len & 7)) & 7);
}

void rst_rec_head(const struct img_cursor *c, struct rec_head *h)
{
	char mem[512];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	if (c->off + IMG_REC_HEADER > c->size) {
		sb_str(&s, "truncated at offset ");
		sb_udec(&s, c->off);
		sb_str(&s, ": the file ends before record #");
		sb_udec(&s, c->index);
		sb_str(&s, c->off == c->size ? "" : "'s header");
		sb_str(&s, " and has no END record");
		rst_img_die(c, &s);
	}
	uint8_t b[IMG_REC_HEADER];
	rst_pread_all(c, b, sizeof(b), c->off);
	struct rbuf r;
	rb_init(&r, b, sizeof(b));
	if (rb_u32(&r) != IMG_REC_MAGIC) {
		sb_str(&s, "record #");
		sb_udec(&s, c->index);
		sb_str(&s, " at offset ");
		sb_udec(&s, c->off);
		sb_str(&s, " has no SREC magic");
		rst_img_die(c, &s);
	}
	h->type = rb_u16(&r);
	rb_u16(&r); /* flags: none defined */
	h->len = rb_u32(&r);
	h->crc = rb_u32(&r);
	uint64_t payload_at = c->off + IMG_REC_HEADER;
	if (payload_at + h->len > c->size) {
		sb_str(&s, "truncated: ");
		rst_rec_name(&s, c, h->type);
		sb_str(&s, " needs ");
		sb_udec(&s, h->len);
		sb_str(&s, " payload bytes, the file ends ");
		sb_udec(&s, c->size - payload_at);
		sb_str(&s, " bytes in");
		rst_img_die(c, &s);
	}
	if (rst_rec_next(c->off, h->len) > c->size) {
		sb_str(&s, "truncated: ");
		rst_rec_name(&s, c, h->type);
		sb_str(&s, " is missing its padding");
		rst_img_die(c, &s);
	}
}

void rst_rec_order(struct img_cursor *c, const struct rec_head *h)
{
	int r = rank_of(h->type);
	if (r < 0)
		return;
	if (r < c->rank || (r == c->rank && single(r)))
		rst_rec_die(c, h->type, "", " is out of order");
	if (r > 0 && !c->have_info)
		rst_rec_die(c, h->type, "", " comes before the INFO record");
	if (r > rank_of(REC_PROCESS) && !c->have_process)
		rst_rec_die(c, h->type, "", " comes before the PROCESS record");
	c->rank = r;
}

static void check_pad(const struct img_cursor *c, const struct rec_head *h, const uint8_t *pad, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pad[i])
			rst_rec_die(c, h->type, "", " has nonzero padding");
}

static void check_size(const struct img_cursor *c, const struct rec_head *h)
{
	if (h->len > META_MAX_RECORD) {
		char mem[32];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, " is ");
		sb_udec(&s, h->len);
		rst_rec_die(c, h->type, sb_cstr(&s), " bytes, implausibly large");
	}
}

static __attribute__((noreturn)) void die_crc(const struct img_cursor *c, const struct rec_head *h)
{
	char mem[512];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, "CRC mismatch in ");
	rst_rec_name(&s, c, h->type);
	rst_img_die(c, &s);
}

void rst_rec_payload(const struct img_cursor *c, const struct rec_head *h, uint8_t *buf)
{
	check_size(c, h);
	uint32_t pad = (8 - (h->len & 7)) & 7;
	rst_pread_all(c, buf, h->len + pad, c->off + IMG_REC_HEADER);
	if (crc32c(0, buf, h->len) != h->crc)
		die_crc(c, h);
	check_pad(c, h, buf + h->len, pad);
}

void rst_rec_check_streaming(const struct img_cursor *c, const struct rec_head *h)
{
	check_size(c, h);
	uint8_t buf[4096];
	uint32_t crc = 0, pad = (8 - (h->len & 7)) & 7;
	for (uint32_t done = 0; done < h->len;) {
		uint32_t n = h->len - done < sizeof(buf) ? h->len - done : (uint32_t)sizeof(buf);
		rst_pread_all(c, buf, n, c->off + IMG_REC_HEADER + done);
		crc = crc32c(crc, buf, n);
		done += n;
	}
	if (crc != h->crc)
		die_crc(c, h);
	rst_pread_all(c, buf, pad, c->off + IMG_REC_HEADER + h->len);
	check_pad(c, h, buf, pad);
}

void rst_rec_skip(struct img_cursor *c, const struct rec_head *h)
{
	c->off = rst_rec_next(c->off, h->len);
	c->index++;
}

/* ---- the file header ---- */

static __attribute__((noreturn)) void die_path(const char *path, const char *a, const char *b)
{
	rst_say(path, a, b);
	rst_exit_failed();
}

static uint64_t check_header(int fd, const char *path, uint64_t *flags_out)
{
	uint8_t h[IMG_HEADER_SIZE];
	char mem[160];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	struct kstat st;
	long e = sys_call2(SYS_fstat_, fd, (long)&st);
	if (e < 0)
		rst_die("cannot read ", path, e);
	struct img_cursor c = { .fd = fd, .path = path, .size = (uint64_t)st.size };
	if (st.size < IMG_HEADER_SIZE) {
		if (st.size >= 8) {
			rst_pread_all(&c, h, 8, 0);
			if (memcmp(h, IMG_MAGIC, 8) != 0)
				die_path(path, " is not a Stasis image (bad magic)", 0);
		}
		sb_str(&s, ": truncated: ");
		sb_udec(&s, (uint64_t)st.size);
		sb_str(&s, " bytes, shorter than the 32-byte file header");
		die_path(path, sb_cstr(&s), 0);
	}
	rst_pread_all(&c, h, sizeof(h), 0);
	if (memcmp(h, IMG_MAGIC, 8) != 0)
		die_path(path, " is not a Stasis image (bad magic)", 0);
	struct rbuf r;
	rb_init(&r, h + 8, sizeof(h) - 8);
	uint32_t version = rb_u32(&r);
	uint32_t header_size = rb_u32(&r);
	uint64_t flags = rb_u64(&r);
	uint32_t crc = rb_u32(&r);
	if (version != IMG_VERSION) {
		sb_str(&s, ": image format version ");
		sb_udec(&s, version);
		sb_str(&s, " is not supported (this stasis reads version 1)");
		die_path(path, sb_cstr(&s), 0);
	}
	if (crc != crc32c(0, h, 24))
		die_path(path, ": CRC mismatch in the file header at offset 0", 0);
	if (header_size != IMG_HEADER_SIZE) {
		sb_str(&s, ": file header size ");
		sb_udec(&s, header_size);
		sb_str(&s, ", expected 32");
		die_path(path, sb_cstr(&s), 0);
	}
	if (flags_out)
		*flags_out = flags;
	if (flags & ~IMG_FLAG_INCREMENTAL) {
		sb_str(&s, ": image flags 0x");
		sb_hex(&s, flags);
		sb_str(&s, " are not supported by this stasis");
		die_path(path, sb_cstr(&s), 0);
	}
	return (uint64_t)st.size;
}

/* Walks record headers up to the first CHUNK or END, or to whatever stops a walk there:
 * meta_read reports that. */
static uint64_t scan(int fd, const char *path, uint64_t size, int counts[16], uint64_t *bulk)
{
	struct img_cursor c = { .fd = fd, .path = path, .size = size };
	uint64_t off = IMG_HEADER_SIZE;
	while (off + IMG_REC_HEADER <= size) {
		uint8_t b[IMG_REC_HEADER];
		rst_pread_all(&c, b, sizeof(b), off);
		struct rbuf r;
		rb_init(&r, b, sizeof(b));
		if (rb_u32(&r) != IMG_REC_MAGIC)
			break;
		uint16_t type = rb_u16(&r);
		rb_u16(&r);
		uint32_t len = rb_u32(&r);
		if (type == REC_CHUNK || type == REC_PAGES || type == REC_END || rst_rec_next(off, len) > size)
			break;
		if (counts && type < 16)
			counts[type]++;
		if (bulk && (type == REC_FILEDATA || type == REC_REFS))
			*bulk += len; /* streamed, not held */
		off = rst_rec_next(off, len);
	}
	return off;
}

/* FILEDATA payloads are not read into memory: they do not count. */
uint64_t meta_size(int fd, const char *path)
{
	uint64_t bulk = 0;
	return scan(fd, path, check_header(fd, path, 0), 0, &bulk) - bulk;
}

uint64_t meta_arena_size(uint64_t msize)
{
	/* A REGION or FD record of ~100 bytes becomes a ~4.2 KiB struct; plus each payload. */
	return msize * 64 + (64ul << 20) + RST_UNZSTD_ARENA + RST_POOL_ARENA;
}

static void check_region(const struct img_cursor *c, const struct meta *m, const struct m_region *g)
{
	char mem[96];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	uint64_t mask = (uint64_t)c->page_size - 1;
	if (g->start >= g->end || (g->start & mask) || (g->end & mask)) {
		sb_str(&s, ": region 0x");
		sb_hex(&s, g->start);
		sb_str(&s, "-0x");
		sb_hex(&s, g->end);
		rst_rec_die(c, REC_REGION, sb_cstr(&s), " is empty or not page aligned");
	}
	if (m->nregions > 1 && m->regions[m->nregions - 2].end > g->start) {
		sb_str(&s, ": region 0x");
		sb_hex(&s, g->start);
		rst_rec_die(c, REC_REGION, sb_cstr(&s), " overlaps or precedes the one before it");
	}
}

/* A DELETED fd declares its file (the first one with that file_id). */
static void declare_file(struct meta *m, const struct fd_rec *f)
{
	struct deleted_extra x;
	if (f->dup_of >= 0 || f->kind != FK_DELETED || deleted_get_extra(f->extra, f->extra_len, &x))
		return;
	for (int i = 0; i < m->nfiles; i++)
		if (m->files[i].id == x.file_id)
			return;
	m->files[m->nfiles++] = (struct m_file){ x.file_id, x.size, 0 };
}

static __attribute__((noreturn)) void die_fdata(const struct img_cursor *c, const char *a, uint64_t v,
						const char *b, uint64_t w, const char *d)
{
	char mem[160];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, a);
	sb_udec(&s, v);
	if (b) {
		sb_str(&s, b);
		sb_udec(&s, w);
	}
	rst_rec_die(c, REC_FILEDATA, sb_cstr(&s), d);
}

/* A FILEDATA head, checked as src/image/reader.ts checks it; the data is checked (CRC)
 * when it is copied. */
static void check_filedata(struct meta *m, const struct rec_head *h, struct m_filedata *d)
{
	const struct img_cursor *c = &m->cur;
	if (h->len < IMG_FILEDATA_HEAD)
		die_fdata(c, " is ", h->len, 0, 0, " bytes, shorter than a file data head");
	uint8_t head[IMG_FILEDATA_HEAD];
	uint64_t payload_at = c->off + IMG_REC_HEADER;
	rst_pread_all(c, head, sizeof(head), payload_at);
	struct rbuf r;
	rb_init(&r, head, sizeof(head));
	uint64_t id = rb_u64(&r), off = rb_u64(&r);
	uint32_t len = rb_u32(&r);
	rb_u32(&r);
	uint32_t pad = rb_u32(&r);
	uint64_t data_at = payload_at + IMG_FILEDATA_HEAD + pad;
	if (pad >= IMG_CHUNK_ALIGN || data_at % IMG_CHUNK_ALIGN)
		die_fdata(c, ": data at offset ", data_at, 0, 0, " is not 4096-aligned");
	if ((uint64_t)IMG_FILEDATA_HEAD + pad + len != h->len)
		die_fdata(c, ": head says ", (uint64_t)IMG_FILEDATA_HEAD + pad + len, " bytes, record has ", h->len, "");
	struct m_file *f = 0;
	for (int i = 0; i < m->nfiles; i++)
		if (m->files[i].id == id)
			f = &m->files[i];
	if (!f)
		die_fdata(c, ": file ", id, 0, 0, " is not declared by a DELETED fd before it");
	if (!len || len > IMG_FILEDATA_MAX || off % IMG_CHUNK_ALIGN)
		die_fdata(c, ": file data at ", off, "+", len, " is empty, over 8 MiB or not page aligned");
	if (off < f->end)
		die_fdata(c, ": file data at ", off, 0, 0, " overlaps or precedes the one before it");
	if (off + len > f->size)
		die_fdata(c, ": file data at ", off, "+", len, " runs past the file's size");
	uint8_t zeros[IMG_CHUNK_ALIGN];
	rst_pread_all(c, zeros, pad, payload_at + IMG_FILEDATA_HEAD);
	for (uint32_t i = 0; i < pad; i++)
		if (zeros[i])
			rst_rec_die(c, REC_FILEDATA, "", ": nonzero bytes in the alignment pad");
	f->end = off + len;
	*d = (struct m_filedata){ id, off, data_at, len, h->crc,
				  crc32c(crc32c(0, head, sizeof(head)), zeros, pad), c->index, c->off };
}

void meta_read(int fd, const char *path, struct meta *m, struct m_arena *a)
{
	memset(m, 0, sizeof(*m));
	m->arena = a;
	struct img_cursor *c = &m->cur;
	c->fd = fd;
	c->path = path;
	c->size = check_header(fd, path, &c->flags);
	c->off = IMG_HEADER_SIZE;
	c->rank = -1;
	int counts[16] = { 0 };
	scan(fd, path, c->size, counts, 0);
	m->regions = m_take(a, sizeof(struct m_region) * (size_t)(counts[REC_REGION] + 1));
	m->threads = m_take(a, sizeof(struct m_thread) * (size_t)(counts[REC_THREAD] + 1));
	m->fds = m_take(a, sizeof(struct fd_rec) * (size_t)(counts[REC_FD] + 1));
	m->locks = m_take(a, sizeof(struct m_lock) * (size_t)(counts[REC_FD_LOCK] + 1));
	m->files = m_take(a, sizeof(struct m_file) * (size_t)(counts[REC_FD] + 1));
	m->fdata = m_take(a, sizeof(struct m_filedata) * (size_t)(counts[REC_FILEDATA] + 1));
	m->tstates = m_take(a, sizeof(struct m_thread_state) * (size_t)(counts[REC_THREAD_STATE] + 1));
	m->timers = m_take(a, sizeof(struct m_timer) * (size_t)(counts[REC_POSIX_TIMER] + 1));
	m->sem_undos = m_take(a, sizeof(struct m_sem_undo) * (size_t)(counts[REC_SEM_UNDO] + 1));
	m->max_fd = 2;
	for (;;) {
		struct rec_head h;
		rst_rec_head(c, &h);
		rst_rec_order(c, &h);
		if (h.type == REC_CHUNK || h.type == REC_PAGES || h.type == REC_END) {
			m->pending = h;
			m->have_pending = 1;
			break;
		}
		if (h.type == REC_PARENT || h.type == REC_REFS) {
			rst_incr_record(m, &h, a);
			rst_rec_skip(c, &h);
			continue;
		}
		if (h.type == REC_FILEDATA) {
			if (m->nfdata > counts[REC_FILEDATA])
				rst_die("internal error: the image changed while it was read", 0, 0);
			check_filedata(m, &h, &m->fdata[m->nfdata++]);
			rst_rec_skip(c, &h);
			continue;
		}
		if (rank_of(h.type) < 0 && h.len > META_MAX_RECORD) {
			m->nunknown++; /* a later version's bulk record: skipped unread */
			rst_rec_skip(c, &h);
			continue;
		}
		uint8_t *p = m_take(a, (size_t)h.len + 8);
		rst_rec_payload(c, &h, p);
		struct rbuf r;
		rb_init(&r, p, h.len);
		const char *why = 0;
		switch (h.type) {
		case REC_INFO:
			why = mr_parse_info(&r, &c->page_size);
			break;
		case REC_PROCESS:
			why = mr_parse_process(&r, &m->proc);
			break;
		case REC_REGION:
			if (m->nregions > counts[REC_REGION])
				rst_die("internal error: the image changed while it was read", 0, 0);
			why = mr_parse_region(&r, &m->regions[m->nregions++]);
			break;
		case REC_THREAD:
			if (m->nthreads > counts[REC_THREAD])
				rst_die("internal error: the image changed while it was read", 0, 0);
			why = mr_parse_thread(&r, &m->threads[m->nthreads++]);
			break;
		case REC_FD: {
			if (m->nfds > counts[REC_FD])
				rst_die("internal error: the image changed while it was read", 0, 0);
			struct fd_rec *f = &m->fds[m->nfds++];
			why = mr_parse_fd(&r, f);
			if (f->fd > m->max_fd)
				m->max_fd = f->fd;
			if (!why && !r.bad)
				declare_file(m, f);
			break;
		}
		case REC_FD_SHARE:
			why = mr_parse_fd_share(&r, m);
			break;
		case REC_FD_LOCK:
			if (m->nlocks > counts[REC_FD_LOCK])
				rst_die("internal error: the image changed while it was read", 0, 0);
			why = mr_parse_fd_lock(&r, m, &m->locks[m->nlocks++]);
			break;
		case REC_PROC_STATE:
			why = mr_parse_proc_state(&r, &m->ps);
			break;
		case REC_THREAD_STATE:
			if (m->ntstates > counts[REC_THREAD_STATE])
				rst_die("internal error: the image changed while it was read", 0, 0);
			why = mr_parse_thread_state(&r, &m->tstates[m->ntstates++]);
			break;
		case REC_POSIX_TIMER:
			if (m->ntimers > counts[REC_POSIX_TIMER])
				rst_die("internal error: the image changed while it was read", 0, 0);
			why = mr_parse_timer(&r, &m->timers[m->ntimers++]);
			break;
		case REC_SEM_UNDO:
			if (m->nsem_undos > counts[REC_SEM_UNDO])
				rst_die("internal error: the image changed while it was read", 0, 0);
			why = mr_parse_sem_undo(&r, &m->sem_undos[m->nsem_undos++]);
			break;
		default:
			m->nunknown++; /* a record type of a later version */
			rb_take(&r, h.len);
			break;
		}
		if (why)
			rst_rec_die(c, h.type, ": ", why);
		rst_payload_fits(c, h.type, r.bad, r.len, r.off);
		if (h.type == REC_INFO) {
			uint32_t ps = c->page_size;
			if (ps < 4096 || ps > (1u << 30) || (ps & (ps - 1))) {
				char mem[48];
				struct sbuf s;
				sb_init(&s, mem, sizeof(mem));
				sb_str(&s, ": page size ");
				sb_udec(&s, ps);
				rst_rec_die(c, h.type, sb_cstr(&s), " is not a power of two of at least 4096");
			}
			c->have_info = 1;
		}
		if (h.type == REC_PROCESS)
			c->have_process = 1;
		if (h.type == REC_REGION)
			check_region(c, m, &m->regions[m->nregions - 1]);
		mr_check_refs(c, m, h.type);
		rst_rec_skip(c, &h);
	}
	m->page_size = c->page_size;
}
