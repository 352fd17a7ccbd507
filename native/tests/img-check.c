/*
 * img-check IMAGE: reads an image with the restore loader's own code (meta.c, chunks.c,
 * chunk-decode.c), every check the loader makes included, reading each chunk's and each
 * FILEDATA record's data (a zstd chunk's decoded) into a scratch buffer instead of into
 * place, and prints a one-line JSON summary; or `error: <message>` and exit status 1.
 * Built like the loader (freestanding, no libc, its own _start), so
 * test/image-vectors.test.ts holds the loader itself to the vectors and the fuzzer.
 * Strings are printed as the TypeScript reader decodes them (utf8-json.h).
 */
#include "../loader/chunks.h"
#include "../loader/meta.h"
#include "../loader/refs.h"
#include "../loader/rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "utf8-json.h"

/* ---- output: one buffer, written out when full ---- */

static char obuf[1 << 16];
static size_t olen;

static void out_flush(void)
{
	for (size_t done = 0; done < olen;) {
		long w = sys_write(1, obuf + done, olen - done);
		if (w == -4)
			continue;
		if (w <= 0)
			sys_exit_group(2);
		done += (size_t)w;
	}
	olen = 0;
}

static void out_mem(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (olen == sizeof(obuf))
			out_flush();
		obuf[olen++] = p[i];
	}
}

static void out(const char *s) { out_mem(s, cstrlen(s)); }

static void out_u(uint64_t v)
{
	char mem[24];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_udec(&s, v);
	out_mem(s.p, s.len);
}

static void out_i(int64_t v)
{
	char mem[24];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_dec(&s, v);
	out_mem(s.p, s.len);
}

/* ,"key":  (no comma before the first key of an object) */
static void key(const char *k, int first)
{
	out(first ? "\"" : ",\"");
	out(k);
	out("\":");
}

static void k_u(const char *k, uint64_t v, int first) { key(k, first); out_u(v); }
static void k_i(const char *k, int64_t v) { key(k, 0); out_i(v); }
/* u64 values are decimal strings, as in the TypeScript reader's JSON form. */
static void k_s64(const char *k, uint64_t v) { key(k, 0); out("\""); out_u(v); out("\""); }
static void k_i64(const char *k, int64_t v) { key(k, 0); out("\""); out_i(v); out("\""); }

static void emit_cp(uint32_t cp, void *ctx)
{
	(void)ctx;
	char b[6];
	out_mem(b, (size_t)json_cp(cp, b));
}

static void k_str(const char *k, const char *str)
{
	key(k, 0);
	out("\"");
	utf8_decode(str, emit_cp, 0);
	out("\"");
}

/* ---- the walk ---- */

static uint8_t scratch[IMG_CHUNK_MAX]; /* a chunk's raw bytes (a zstd chunk's decoded) */

struct chunk_row {
	uint64_t addr, raw, data_at;
	uint32_t enc, stored;
};

/* PARENT, REFS and PAGES: the parents, how many references (and the first ones), how many
 * PAGES records (and the first ones): src/image/incr.ts's view, summarised alike. */
static void print_incremental(const struct meta *m)
{
	const struct m_incr *x = m->incr;
	key("incremental", 0);
	out("{");
	key("parents", 1);
	out("[");
	for (int i = 0; x && i < x->nparents; i++) {
		const struct m_parent *p = &x->parents[i];
		out(i ? ",{" : "{");
		k_u("infoCrc", p->info_crc, 1);
		k_str("path", p->path);
		k_s64("fileSize", p->file_size);
		k_s64("refBytes", p->ref_bytes);
		out("}");
	}
	out("]");
	k_u("nrefs", x ? x->nrefs : 0, 0);
	k_s64("refBytes", x ? x->ref_bytes : 0);
	key("refs", 0);
	out("[");
	for (uint64_t i = 0; x && i < x->nrefs && i < RST_LIST_ROWS; i++) {
		const struct m_ref_row *e = &x->refs[i];
		out(i ? ",{" : "{");
		k_u("parent", e->parent, 1);
		k_s64("addr", e->addr);
		k_s64("len", e->len);
		k_s64("recordAt", e->record_at);
		out("}");
	}
	out("]");
	k_u("npages", x ? x->npages_recs : 0, 0);
	key("pages", 0);
	out("[");
	for (uint64_t i = 0; x && i < x->npages_recs && i < RST_LIST_ROWS; i++) {
		const struct m_pages_row *g = &x->pages[i];
		out(i ? ",{" : "{");
		k_u("dataOffset", g->data_at, 1);
		k_u("pages", g->npages, 0);
		k_s64("first", g->first);
		k_s64("last", g->last);
		out("}");
	}
	out("]}");
}

static void print(const struct meta *m, const struct chunk_row *rows, uint64_t n)
{
	const struct m_process *p = &m->proc;
	out("{\"version\":1");
	k_u("pageSize", m->page_size, 0);
	key("counts", 0);
	out("{");
	k_u("regions", (uint64_t)m->nregions, 1);
	k_u("threads", (uint64_t)m->nthreads, 0);
	k_u("fds", (uint64_t)m->nfds, 0);
	k_u("fileData", (uint64_t)m->nfdata, 0);
	k_u("chunks", n, 0);
	k_u("unknownRecords", m->nunknown, 0);
	out("}");
	key("process", 0);
	out("{");
	k_u("pid", p->pid, 1);
	k_u("ppid", p->ppid, 0);
	k_u("pgid", p->pgid, 0);
	k_u("sid", p->sid, 0);
	k_u("uid", p->uid, 0);
	k_u("gid", p->gid, 0);
	k_u("umask", p->umask, 0);
	k_s64("procId", p->proc_id);
	k_s64("brk", p->mm[5]);
	k_s64("restartEntry", p->restart_entry);
	k_s64("restartInfo", p->restart_info);
	k_u("restartInfoSize", p->restart_info_size, 0);
	k_u("nsig", p->nsig, 0);
	k_u("nrlimit", p->nrlimit, 0);
	k_str("cwd", p->cwd);
	k_str("exe", p->exe);
	k_str("comm", p->comm);
	k_u("auxvLen", p->auxv_len, 0);
	out("}");
	key("regions", 0);
	out("[");
	for (int i = 0; i < m->nregions; i++) {
		const struct m_region *g = &m->regions[i];
		out(i ? ",{" : "{");
		k_u("kind", g->kind, 1);
		k_s64("start", g->start);
		k_s64("end", g->end);
		k_s64("fileOffset", g->off);
		k_u("prot", g->prot, 0);
		k_u("flags", g->flags, 0);
		k_s64("dev", g->dev);
		k_s64("inode", g->ino);
		k_s64("fileSize", g->fsize);
		k_i64("fileMtimeNs", g->mtime);
		k_str("path", g->path);
		out("}");
	}
	out("]");
	key("threads", 0);
	out("[");
	for (int i = 0; i < m->nthreads; i++) {
		const struct m_thread *t = &m->threads[i];
		out(i ? ",{" : "{");
		k_u("tid", t->tid, 1);
		k_u("flags", t->flags, 0);
		k_s64("fsBase", t->fs_base);
		k_s64("clearChildTid", t->ctid);
		k_s64("resumeSp", t->resume_sp);
		out("}");
	}
	out("]");
	key("fds", 0);
	out("[");
	for (int i = 0; i < m->nfds; i++) {
		const struct fd_rec *f = &m->fds[i];
		out(i ? ",{" : "{");
		k_u("fd", (uint64_t)f->fd, 1);
		k_u("fdFlags", f->fd_flags, 0);
		k_u("kind", f->kind, 0);
		k_u("openFlags", f->open_flags, 0);
		k_i("dupOf", f->dup_of);
		k_s64("offset", f->offset);
		k_s64("dev", f->dev);
		k_s64("inode", f->ino);
		k_u("mode", f->mode, 0);
		k_str("path", f->path);
		k_u("extraLen", f->extra_len, 0);
		k_u("shareFlags", f->share_flags, 0);
		k_s64("shareId", f->share_id);
		out("}");
	}
	out("]");
	key("locks", 0);
	out("[");
	for (int i = 0; i < m->nlocks; i++) {
		const struct m_lock *l = &m->locks[i];
		out(i ? ",{" : "{");
		k_u("fd", (uint64_t)l->fd, 1);
		k_u("kind", l->kind, 0);
		k_u("type", l->type, 0);
		k_s64("start", l->start);
		k_s64("end", l->end);
		out("}");
	}
	out("]");
	key("fileData", 0);
	out("[");
	for (int i = 0; i < m->nfdata; i++) {
		const struct m_filedata *d = &m->fdata[i];
		out(i ? ",{" : "{");
		k_u("dataOffset", d->data_at, 1);
		k_s64("fileId", d->file_id);
		k_s64("offset", d->offset);
		k_u("len", d->len, 0);
		out("}");
	}
	out("]");
	key("procState", 0);
	if (!m->ps.present) {
		out("null");
	} else {
		out("{");
		k_u("personality", m->ps.personality, 1);
		k_i64("monotonicNs", m->ps.monotonic_ns);
		k_u("flags", m->ps.flags, 0);
		k_u("dumpable", m->ps.dumpable, 0);
		k_s64("realValueNs", m->ps.itimer[0][0]);
		k_u("nsiginfo", m->ps.nsiginfo, 0);
		out("}");
	}
	key("threadStates", 0);
	out("[");
	for (int i = 0; i < m->ntstates; i++) {
		const struct m_thread_state *t = &m->tstates[i];
		out(i ? ",{" : "{");
		k_u("tid", t->tid, 1);
		k_u("flags", t->flags, 0);
		k_i("nice", t->nice);
		k_u("pdeathsig", t->pdeathsig, 0);
		k_s64("timerSlackNs", t->timer_slack_ns);
		k_str("comm", t->comm);
		k_u("affinityLen", t->affinity_len, 0);
		k_u("nsiginfo", t->nsiginfo, 0);
		out("}");
	}
	out("]");
	key("posixTimers", 0);
	out("[");
	for (int i = 0; i < m->ntimers; i++) {
		const struct m_timer *t = &m->timers[i];
		out(i ? ",{" : "{");
		k_u("timerId", (uint64_t)t->id, 1);
		k_i("clockid", t->clockid);
		k_u("notify", t->notify, 0);
		k_u("signo", t->signo, 0);
		k_u("notifyTid", t->notify_tid, 0);
		k_s64("sigevValue", t->sigev_value);
		k_s64("valueNs", t->value_ns);
		k_s64("intervalNs", t->interval_ns);
		out("}");
	}
	out("]");
	key("semUndo", 0);
	out("[");
	for (int i = 0; i < m->nsem_undos; i++) {
		const struct m_sem_undo *u = &m->sem_undos[i];
		out(i ? ",{" : "{");
		k_u("semid", (uint64_t)u->semid, 1);
		key("adj", 0);
		out("[");
		struct rbuf r;
		rb_init(&r, u->entries, (size_t)u->n * 8);
		for (uint32_t j = 0; j < u->n; j++) {
			out(j ? ",{" : "{");
			k_u("num", rb_u32(&r), 1);
			k_i("adj", (int32_t)rb_u32(&r));
			out("}");
		}
		out("]}");
	}
	out("]");
	key("chunks", 0);
	out("[");
	for (uint64_t i = 0; i < n; i++) {
		out(i ? ",{" : "{");
		k_u("dataOffset", rows[i].data_at, 1);
		k_s64("addr", rows[i].addr);
		k_s64("rawLen", rows[i].raw);
		k_u("encoding", rows[i].enc, 0);
		k_u("storedLen", rows[i].stored, 0);
		out("}");
	}
	out("]");
	key("end", 0);
	out("{\"records\":\"");
	out_u(m->end_records);
	out("\"");
	k_s64("chunks", m->end_chunks);
	k_s64("contentBytes", m->end_content);
	k_s64("endOffset", m->end_offset);
	out("}");
	if (m->cur.flags & IMG_FLAG_INCREMENTAL)
		print_incremental(m);
	out("}\n");
	out_flush();
}

__attribute__((used)) static void check_main(long *sp)
{
	rst_relocate(rst_image_base());
	rst_err_fd = 1;
	rst_prefix = "error: ";
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	if (argc != 2 || argv[1][0] == '-') {
		rst_say("usage: img-check IMAGE", 0, 0);
		sys_exit_group(2);
	}
	const char *path = argv[1];
	int fd = (int)sys_openat(-100, path, 02000000 /* O_CLOEXEC */, 0);
	if (fd < 0)
		rst_die("cannot open ", path, fd);
	uint64_t msize = meta_size(fd, path);
	size_t arena_len = (meta_arena_size(msize) + 4095) & ~4095ul;
	long mem = sys_mmap(0, arena_len, 3, 0x22 | 0x4000 /* PRIVATE|ANON|NORESERVE */, -1, 0);
	if (mem < 0)
		rst_die("cannot map memory", 0, mem);
	struct m_arena arena = { (uint8_t *)mem, 0, arena_len };
	struct meta *m = m_take(&arena, sizeof(*m));
	meta_read(fd, path, m, &arena);
	/* FILEDATA precedes the chunks: its data is checked first, as the loader copies it. */
	for (int i = 0; i < m->nfiles; i++)
		rst_fill_file(m, m->files[i].id, -1, scratch, sizeof(scratch));
	/* Every chunk holds at least one 4096-byte page of data in the file. */
	uint64_t max_rows = m->cur.size / 4096 + 1;
	long rows = sys_mmap(0, max_rows * sizeof(struct chunk_row), 3, 0x22 | 0x4000, -1, 0);
	if (rows < 0)
		rst_die("cannot map memory", 0, rows);
	struct chunk_row *row = (struct chunk_row *)rows;
	uint64_t n = 0;
	struct chunk k;
	while (rst_next_chunk(m, &k)) {
		rst_read_chunk(m, &k, scratch);
		if (n < max_rows)
			row[n++] = (struct chunk_row){ k.addr, k.raw, k.data_at, k.enc, k.stored };
	}
	print(m, row, n);
	sys_exit_group(0);
}

RST_START(check_main);
