/*
 * Parsing an image's metadata records (docs/image-format.md). Every payload's CRC is
 * checked, every field read through a bounds-checked reader; a bad image ends the loader
 * with a one-line reason before anything of the restarter's is touched.
 */
#include "meta.h"
#include "rt.h"
#include "../common/crc32c.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

#define MAX_META_RECORD (16u << 20)

void *m_take(struct m_arena *a, size_t n)
{
	n = (n + 63) & ~(size_t)63;
	if (a->cap - a->used < n)
		rst_die("out of memory while reading the image", 0, -12);
	void *p = a->base + a->used;
	a->used += n;
	return p;
}

static __attribute__((noreturn)) void die_at(const char *path, const char *what, uint64_t off)
{
	char mem[160];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, ": ");
	sb_str(&s, what);
	sb_str(&s, " at offset ");
	sb_udec(&s, off);
	rst_say(path, sb_cstr(&s), 0);
	sys_exit_group(1);
}

static void pread_all(int fd, const char *path, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		long r = sys_pread(fd, (char *)buf + got, n - got, (long)(off + got));
		if (r == -4)
			continue;
		if (r < 0)
			rst_die("cannot read ", path, r);
		if (r == 0) {
			rst_say(path, ": the image is truncated", 0);
			sys_exit_group(1);
		}
		got += (size_t)r;
	}
}

static void check_header(int fd, const char *path)
{
	uint8_t h[IMG_HEADER_SIZE];
	struct kstat st;
	if (sys_call2(SYS_fstat_, fd, (long)&st) == 0 && st.size < IMG_HEADER_SIZE) {
		rst_say(path, ": the image is truncated", 0);
		sys_exit_group(1);
	}
	pread_all(fd, path, h, sizeof(h), 0);
	if (memcmp(h, IMG_MAGIC, 8) != 0) {
		rst_say(path, " is not a Stasis image (bad magic)", 0);
		sys_exit_group(1);
	}
	struct rbuf r;
	rb_init(&r, h + 8, sizeof(h) - 8);
	uint32_t version = rb_u32(&r);
	rb_u32(&r);
	rb_u64(&r);
	uint32_t crc = rb_u32(&r);
	if (crc != crc32c(0, h, 24)) {
		rst_say(path, ": the image header is corrupt (CRC mismatch)", 0);
		sys_exit_group(1);
	}
	if (version != IMG_VERSION) {
		rst_say(path, ": unsupported image version (this Stasis reads version 1)", 0);
		sys_exit_group(1);
	}
}

struct rec_head {
	uint16_t type;
	uint32_t len, crc;
};

static void read_rec_head(int fd, const char *path, uint64_t off, struct rec_head *h)
{
	uint8_t b[IMG_REC_HEADER];
	pread_all(fd, path, b, sizeof(b), off);
	struct rbuf r;
	rb_init(&r, b, sizeof(b));
	if (rb_u32(&r) != IMG_REC_MAGIC) {
		rst_say(path, ": corrupt record header (bad record magic)", 0);
		sys_exit_group(1);
	}
	h->type = rb_u16(&r);
	rb_u16(&r);
	h->len = rb_u32(&r);
	h->crc = rb_u32(&r);
}

static uint64_t next_rec(uint64_t off, uint32_t len)
{
	return off + IMG_REC_HEADER + len + ((8 - (len & 7)) & 7);
}

uint64_t meta_size(int fd, const char *path)
{
	check_header(fd, path);
	uint64_t off = IMG_HEADER_SIZE;
	for (;;) {
		struct rec_head h;
		read_rec_head(fd, path, off, &h);
		if (h.type == REC_CHUNK || h.type == REC_END)
			return off;
		off = next_rec(off, h.len);
	}
}

static void parse_process(struct rbuf *r, struct m_process *p)
{
	p->pid = rb_u32(r);
	p->ppid = rb_u32(r);
	p->pgid = rb_u32(r);
	p->sid = rb_u32(r);
	p->uid = rb_u32(r);
	p->gid = rb_u32(r);
	p->umask = rb_u32(r);
	rb_u32(r);
	p->proc_id = rb_u64(r);
	for (int i = 0; i < 11; i++)
		p->mm[i] = rb_u64(r);
	p->restart_entry = rb_u64(r);
	p->restart_info = rb_u64(r);
	p->restart_info_size = rb_u32(r);
	rb_u32(r);
	rb_u64(r); /* rseq: re-registered by the agent itself */
	rb_u32(r);
	rb_u32(r);
	p->nsig = rb_u32(r);
	if (p->nsig > 64)
		r->bad = 1;
	for (uint32_t s = 0; s < p->nsig && !r->bad; s++)
		for (int k = 0; k < 4; k++)
			p->sigact[s][k] = rb_u64(r);
	p->nrlimit = rb_u32(r);
	if (p->nrlimit > 16)
		r->bad = 1;
	for (uint32_t i = 0; i < p->nrlimit && !r->bad; i++) {
		p->rlim[i][0] = rb_u64(r);
		p->rlim[i][1] = rb_u64(r);
	}
	rb_str(r, p->cwd, sizeof(p->cwd));
	rb_str(r, p->exe, sizeof(p->exe));
	rb_str(r, p->comm, sizeof(p->comm));
	p->auxv_len = rb_u32(r);
	const uint8_t *aux = p->auxv_len <= sizeof(p->auxv) ? rb_take(r, p->auxv_len) : 0;
	if (!aux)
		r->bad = 1;
	else
		memcpy(p->auxv, aux, p->auxv_len);
}

static void parse_region(struct rbuf *r, struct m_region *g)
{
	g->start = rb_u64(r);
	g->end = rb_u64(r);
	g->off = rb_u64(r);
	g->prot = rb_u32(r);
	g->flags = rb_u32(r);
	g->kind = rb_u32(r);
	rb_u32(r);
	g->dev = rb_u64(r);
	g->ino = rb_u64(r);
	g->fsize = rb_u64(r);
	g->mtime = (int64_t)rb_u64(r);
	rb_str(r, g->path, sizeof(g->path));
	if (g->start >= g->end || (g->start | g->end) & 4095)
		r->bad = 1;
}

static void parse_thread(struct rbuf *r, struct m_thread *t)
{
	t->tid = rb_u32(r);
	t->flags = rb_u32(r);
	t->fs_base = rb_u64(r);
	rb_u64(r);
	t->ctid = rb_u64(r);
	rb_u64(r);
	rb_u64(r);
	rb_u64(r);
	rb_u64(r);
	rb_u64(r);
	rb_u32(r);
	rb_u32(r);
	t->resume_sp = rb_u64(r);
	uint32_t n = rb_u32(r);
	rb_take(r, (size_t)n * 8);
	uint32_t x = rb_u32(r);
	rb_take(r, x);
}

static void parse_fd(struct rbuf *r, struct fd_rec *f)
{
	f->fd = (int)rb_u32(r);
	f->fd_flags = rb_u32(r);
	f->kind = rb_u32(r);
	f->open_flags = rb_u32(r);
	f->dup_of = (int)rb_u32(r);
	rb_u32(r);
	f->offset = rb_u64(r);
	f->dev = rb_u64(r);
	f->ino = rb_u64(r);
	f->mode = rb_u32(r);
	f->extra_len = rb_u32(r);
	rb_str(r, f->path, sizeof(f->path));
	f->extra = rb_take(r, f->extra_len);
	if (f->fd < 0 || f->fd > (1 << 20) || (f->dup_of >= 0 && f->dup_of >= f->fd))
		r->bad = 1;
}

void meta_read(int fd, const char *path, struct meta *m, struct m_arena *a)
{
	memset(m, 0, sizeof(*m));
	check_header(fd, path);
	int counts[16] = { 0 };
	uint64_t off = IMG_HEADER_SIZE;
	for (;;) {
		struct rec_head h;
		read_rec_head(fd, path, off, &h);
		if (h.type == REC_CHUNK || h.type == REC_END)
			break;
		if (h.type < 16)
			counts[h.type]++;
		off = next_rec(off, h.len);
	}
	m->first_chunk = off;
	if (counts[REC_INFO] != 1 || counts[REC_PROCESS] != 1 || !counts[REC_THREAD]) {
		rst_say(path, ": the image lacks its INFO, PROCESS or THREAD records", 0);
		sys_exit_group(1);
	}
	m->regions = m_take(a, sizeof(struct m_region) * (size_t)(counts[REC_REGION] + 1));
	m->threads = m_take(a, sizeof(struct m_thread) * (size_t)counts[REC_THREAD]);
	m->fds = m_take(a, sizeof(struct fd_rec) * (size_t)(counts[REC_FD] + 1));
	m->max_fd = 2;
	for (off = IMG_HEADER_SIZE; off < m->first_chunk;) {
		struct rec_head h;
		read_rec_head(fd, path, off, &h);
		if (h.len > MAX_META_RECORD)
			die_at(path, "oversized record", off);
		uint8_t *p = m_take(a, h.len + 8);
		pread_all(fd, path, p, h.len, off + IMG_REC_HEADER);
		if (crc32c(0, p, h.len) != h.crc)
			die_at(path, "corrupt record (CRC mismatch)", off);
		struct rbuf r;
		rb_init(&r, p, h.len);
		switch (h.type) {
		case REC_PROCESS:
			parse_process(&r, &m->proc);
			break;
		case REC_REGION:
			parse_region(&r, &m->regions[m->nregions++]);
			break;
		case REC_THREAD:
			parse_thread(&r, &m->threads[m->nthreads++]);
			break;
		case REC_FD: {
			struct fd_rec *f = &m->fds[m->nfds++];
			parse_fd(&r, f);
			if (f->fd > m->max_fd)
				m->max_fd = f->fd;
			break;
		}
		default:
			break; /* INFO, and record types of later versions: not needed here */
		}
		if (r.bad)
			die_at(path, "malformed record", off);
		off = next_rec(off, h.len);
	}
	m->meta_bytes = m->first_chunk;
}
