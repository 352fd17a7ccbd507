/*
 * Capturing this process into one image, while every other thread is parked.
 *
 * Order matters: the fds are probed before the image file is opened (so it is not among
 * them), and the scratch arena is mapped before /proc/self/maps is read (so it can be left
 * out by address). Everything here follows the contract in agent.h.
 */
#define _GNU_SOURCE
#include <gnu/libc-version.h>
#include <stddef.h>
#include "agent.h"
#include "image.h"
#include "../common/fmt.h"
#include "../common/sys.h"
#include "../res/res.h"
#include "capture.h"
#include "chunk-writer.h"
#include "incr.h"
#include "../common/broker.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

void *cap_arena_take(struct arena *a, size_t n)
{
	n = (n + 63) & ~(size_t)63;
	if (a->cap - a->used < n)
		return 0;
	void *p = a->base + a->used;
	a->used += n;
	return p;
}


int cap_fail(struct capture *c, const char *a, const char *b, long err)
{
	struct sbuf s;
	sb_init(&s, c->why, (size_t)c->whylen);
	sb_str(&s, a);
	if (b)
		sb_str(&s, b);
	if (err) {
		sb_str(&s, ": ");
		sb_str(&s, strerror_short(err));
	}
	return err ? (int)err : -22;
}

/* Reads a whole small file into the arena, NUL-terminated. */
char *cap_slurp(struct capture *c, const char *path, size_t *len)
{
	int fd = (int)sys_openat(-100, path, K_O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	char *buf = (char *)(c->a.base + c->a.used);
	size_t room = c->a.cap - c->a.used - 1, n = 0;
	for (;;) {
		long r = sys_read(fd, buf + n, room - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	sys_close(fd);
	buf[n] = 0;
	cap_arena_take(&c->a, n + 1);
	if (len)
		*len = n;
	return buf;
}

/* ---- memory map ---- */

static uint64_t encode_dev(uint64_t major, uint64_t minor)
{
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffull) << 12);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = cstrlen(s), m = cstrlen(suffix);
	return n >= m && str_eq(s + n - m, suffix);
}

static int on_tmpfs(const char *path)
{
	uint64_t fs[15];
	return sys_call2(137 /* statfs */, (long)path, (long)fs) == 0 && fs[0] == 0x01021994 /* TMPFS_MAGIC */;
}

/* The program break's span, to tell heap from other anonymous memory as the kernel does. */
struct brk_span {
	uint64_t start, end;
};

static void classify(struct region *r, int shared, const struct brk_span *brk)
{
	const char *p = r->path;
	r->flags = shared ? RF_SHARED : 0;
	r->save = SAVE_PRESENT;
	if (!shared && agent_image_backed(r->dev, r->ino)) {
		/* Back as what it was: anonymous memory, heap where the kernel would say
		 * [heap], and never a mapping of the old image. */
		r->kind = r->start <= brk->end && r->end >= brk->start ? RK_HEAP : RK_ANON;
		r->save = SAVE_IMAGE;
		r->path = r->kind == RK_HEAP ? "[heap]" : "";
		r->off = r->dev = r->ino = 0;
	} else if (str_eq(p, "[heap]")) {
		r->kind = RK_HEAP;
	} else if (str_eq(p, "[stack]")) {
		r->kind = RK_STACK;
		r->flags |= RF_GROWSDOWN;
	} else if (str_eq(p, "[vdso]")) {
		r->kind = RK_VDSO, r->save = SAVE_NONE;
	} else if (str_eq(p, "[vvar]")) {
		r->kind = RK_VVAR, r->save = SAVE_NONE;
	} else if (str_eq(p, "[vvar_vclock]")) {
		r->kind = RK_VVAR_VCLOCK, r->save = SAVE_NONE;
	} else if (str_eq(p, "[vsyscall]")) {
		r->kind = RK_VSYSCALL, r->save = SAVE_NONE;
	} else if (p[0] != '/') {
		r->kind = shared ? RK_SHMEM_ANON : RK_ANON;
	} else {
		struct kstat st;
		int same = !ends_with(p, " (deleted)") &&
			   sys_call4(SYS_newfstatat_, -100, (long)p, (long)&st, 0) == 0 &&
			   st.ino == r->ino && st.dev == r->dev;
		if (same) {
			r->kind = RK_FILE;
			r->fsize = (uint64_t)st.size;
			r->mtime = st.mtime * 1000000000ll + st.mtime_ns;
			r->save = shared ? SAVE_NONE : SAVE_COW;
			if (shared && on_tmpfs(p)) {
				/* POSIX shared memory and the like: memory more than a file, and gone
				 * with the machine: keep its content. */
				r->flags |= RF_CONTENT;
				r->save = SAVE_ALL;
			}
		} else {
			/* The file is gone or replaced: keep the contents the process sees. */
			r->kind = shared ? RK_SHMEM_ANON : RK_ANON;
			r->save = SAVE_ALL;
		}
	}
}

/* Shared memory is saved once, by the process the namespace's init chose (its lowest pid). */
static int shm_saved_by_another(const struct region *r)
{
	uint64_t key = broker_shm_key(r->dev, r->ino);
	for (int i = 0; i < g_agent.nshm_skip; i++)
		if (g_agent.shm_skip[i] == key)
			return 1;
	return 0;
}

/* Leaves [skip_start, skip_end) out of region r (the last one read). The kernel may have
 * merged the skipped mapping with a neighbouring anonymous one, so whatever of the mapping
 * lies outside it is kept (a part above it becomes the next region). 1: nothing is left. */
static int skip_out(struct capture *c, struct region *r, uint64_t skip_start, uint64_t skip_end)
{
	if (!(r->start < skip_end && skip_start < r->end))
		return 0;
	if (r->start < skip_start && r->end > skip_end) {
		struct region *hi = &c->regions[c->nregions + 1];
		*hi = *r;
		hi->start = skip_end;
		r->end = skip_start;
		c->nregions++;
	} else if (r->start < skip_start) {
		r->end = skip_start;
	} else if (r->end > skip_end) {
		r->start = skip_end;
	} else {
		return 1;
	}
	return 0;
}

static uint64_t stat_field(const char *stat, int k);

static int read_maps(struct capture *c, uint64_t skip_start, uint64_t skip_end)
{
	char *stat = cap_slurp(c, "/proc/self/stat", 0);
	struct brk_span brk = { stat ? stat_field(stat, 47) : 0, (uint64_t)sys_call1(SYS_brk_, 0) };
	char *text = cap_slurp(c, "/proc/self/maps", 0);
	c->regions = cap_arena_take(&c->a, sizeof(struct region) * MAX_REGIONS);
	if (!text || !c->regions)
		return cap_fail(c, "cannot read /proc/self/maps", 0, -12);
	for (const char *p = text; *p;) {
		struct region *r = &c->regions[c->nregions];
		mem_zero(r, sizeof(*r));
		r->start = parse_hex(&p);
		p++;
		r->end = parse_hex(&p);
		p++;
		r->prot = (p[0] == 'r' ? 1u : 0) | (p[1] == 'w' ? 2u : 0) | (p[2] == 'x' ? 4u : 0);
		int shared = p[3] == 's';
		p += 5;
		r->off = parse_hex(&p);
		p++;
		uint64_t major = parse_hex(&p);
		p++;
		uint64_t minor = parse_hex(&p);
		r->dev = encode_dev(major, minor);
		p++;
		r->ino = parse_dec(&p);
		while (*p == ' ')
			p++;
		char *path = (char *)p;
		while (*p && *p != '\n')
			p++;
		if (*p)
			*(char *)p++ = 0;
		r->path = path;
		classify(r, shared, &brk);
		if ((r->kind == RK_SHMEM_ANON || (r->flags & RF_CONTENT)) && shm_saved_by_another(r))
			r->save = SAVE_NONE;
		/* Leave out the scratch arena and the incremental table (incr.c). */
		uint64_t tbl_start, tbl_end;
		incr_skip_range(&tbl_start, &tbl_end);
		if (skip_out(c, r, skip_start, skip_end) || skip_out(c, r, tbl_start, tbl_end))
			continue;
		if (++c->nregions >= MAX_REGIONS - 1)
			return cap_fail(c, "too many memory mappings", 0, -12);
	}
	return 0;
}

/* Whether b continues a's memory as one region: the restart split one anonymous region
 * into mappings of its image and copied pages (loader/place.c); saved as one again, it
 * comes back as one, not split a little more at every restart. */
static int continues(const struct region *a, const struct region *b)
{
	return a->end == b->start && (a->save == SAVE_IMAGE || b->save == SAVE_IMAGE) &&
	       (a->kind == RK_ANON || a->kind == RK_HEAP) && a->kind == b->kind &&
	       a->prot == b->prot && !a->flags && !b->flags && !agent_image_bound(b->start);
}

static void put_region_record(struct img_out *o, const struct region *r, uint64_t end)
{
	uint8_t rec[4096 + 128];
	struct img_region g = {
			.start = r->start,
			.end = end,
			.file_offset = r->off,
			.prot = r->prot,
			.flags = r->flags,
			.kind = r->kind,
			.dev = r->dev,
			.inode = r->ino,
			.file_size = r->fsize,
			.file_mtime_ns = r->mtime,
			.path = r->path,
	};
	struct wbuf w;
	wb_init(&w, rec, sizeof(rec));
	img_put_region(&w, &g);
	if (r->rec_at)
		img_rewrite_record(o, r->rec_at, REC_REGION, rec, (uint32_t)w.len);
	else
		img_record(o, REC_REGION, rec, (uint32_t)w.len);
}

static void write_region_records(struct capture *c, struct img_out *o)
{
	for (int i = 0; i < c->nregions; i++) {
		struct region *r = &c->regions[i];
		uint64_t end = r->end;
		while (i + 1 < c->nregions && continues(&c->regions[i], &c->regions[i + 1]))
			end = c->regions[++i].end;
		r->rec_end = end;
		uint64_t at = o->off;
		put_region_record(o, r, end);
		r->rec_at = at;
	}
}

/* The huge-page advice in an smaps VmFlags line ("VmFlags: rd wr mr mw me ac hg"). */
static uint32_t advice_flags(const char *p)
{
	uint32_t f = 0;
	for (p += 8; *p && *p != '\n'; p++)
		if (p[-1] == ' ' && p[0] && p[1] && (p[2] == ' ' || p[2] == '\n' || !p[2])) {
			if (p[0] == 'h' && p[1] == 'g')
				f |= RF_HUGEPAGE;
			else if (p[0] == 'n' && p[1] == 'h')
				f |= RF_NOHUGEPAGE;
		}
	return f;
}

/*
 * Puts each region's huge-page advice (VmFlags hg/nh) into its REGION record, written
 * earlier without it: /proc/self/smaps walks the page tables, tens of ms per GiB of 4 KiB
 * pages (and of a restart's mappings of its image), too long for the pause. So the image
 * writer does this, outside the pause: a copy of the process, with the same mappings and
 * flags. A record whose advice changes is rewritten in place, the same length.
 */
void cap_region_advice(struct capture *c, struct img_out *o)
{
	size_t mark = c->a.used; /* the text is given back at the end */
	char *text = cap_slurp(c, "/proc/self/smaps", 0);
	if (!text)
		return;
	const char *p = text;
	uint64_t vs = 0, ve = 0;
	uint32_t adv = 0;
	for (int i = 0; i < c->nregions; i++) {
		struct region *r = &c->regions[i];
		if (!r->rec_at)
			continue;
		/* The mapping that holds the region's first byte; smaps is in address order. */
		while (ve <= r->start && *p) {
			vs = parse_hex(&p);
			p++;
			ve = parse_hex(&p);
			adv = 0;
			for (;;) {
				while (*p && *p != '\n')
					p++;
				if (*p)
					p++;
				if (!(*p >= 'A' && *p <= 'Z'))
					break;
				if (str_starts(p, "VmFlags:"))
					adv = advice_flags(p);
			}
		}
		uint32_t want = vs <= r->start && r->start < ve ? adv : 0;
		if ((r->flags & RF_ADVICE) == want)
			continue;
		r->flags = (r->flags & ~RF_ADVICE) | want;
		put_region_record(o, r, r->rec_end);
	}
	c->a.used = mark;
}

int cap_page_is_zero(const uint8_t *p)
{
	/* By 64-byte lines, stopping at the first with a nonzero byte: a page of data is
	 * then told from a zero one by its first line, not read whole once more (that pass
	 * over all of memory cost the writer as much as its CRCs). */
	const uint64_t *q = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i += 8) {
		uint64_t acc = q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7];
		if (acc)
			return 0;
	}
	return 1;
}

/* Emits the non-zero pages of [mem, mem+n pages) as chunks for address addr. bounce: mem
 * is the bounce buffer, which the next run reuses. */
static void emit_nonzero(struct cw *w, uint64_t addr, const uint8_t *mem, uint64_t n, int bounce)
{
	uint64_t i = 0;
	while (i < n) {
		while (i < n && cap_page_is_zero(mem + i * PAGE))
			i++;
		uint64_t j = i;
		while (j < n && !cap_page_is_zero(mem + j * PAGE))
			j++;
		if (j > i)
			cw_chunk(w, addr + i * PAGE, mem + i * PAGE, (j - i) * PAGE, bounce);
		i = j;
	}
}

static void emit_run(struct capture *c, struct cw *w, const struct region *r, int mem_fd,
		     uint64_t addr, uint64_t n)
{
	/* The writer's own stack changes under it: snapshot it, so data and CRC agree. Its
	 * frames below the restart stack pointer are dead after a restart anyway. */
	uint64_t here = (uint64_t)__builtin_frame_address(0);
	int own_stack = here >= r->start && here < r->end;
	if ((r->prot & 1) && r->save != SAVE_ALL && !own_stack) {
		emit_nonzero(w, addr, (const uint8_t *)addr, n, 0);
		return;
	}
	if (own_stack && (r->prot & 1)) {
		mem_copy(c->bounce, (const void *)addr, n * PAGE);
		emit_nonzero(w, addr, c->bounce, n, 1);
		return;
	}
	/* Unreadable, or possibly past the end of a vanished file: read via /proc/self/mem,
	 * which reports such pages as an error instead of raising a signal. */
	long got = sys_pread(mem_fd, c->bounce, n * PAGE, (long)addr);
	if (got > 0)
		emit_nonzero(w, addr, c->bounce, (uint64_t)got / PAGE, 1);
}

static int candidate(uint32_t save, uint64_t pm)
{
	switch (save) {
	case SAVE_PRESENT:
		return (pm & (PM_PRESENT | PM_SWAPPED)) != 0;
	case SAVE_COW:
		return (pm & PM_SWAPPED) || ((pm & PM_PRESENT) && !(pm & PM_FILE));
	case SAVE_ALL:
	case SAVE_IMAGE:
		return 1;
	default:
		return 0;
	}
}

int cap_region_volatile(const struct region *r)
{
	/* Shared memory changes once the processes run again; so do the pages of a deleted
	 * file that a private mapping has not copied yet (written through an fd). */
	return (r->flags & RF_SHARED) || (r->save == SAVE_ALL && r->path[0] == '/');
}

/* One pass's chunks, compressed on worker threads (of the process that calls it: the
 * writer's own, in a forked writer) unless the launch turned compression off. */
int cap_write_chunks(struct capture *c, struct img_out *o, enum chunk_pass pass)
{
	/* Most processes have no volatile memory: then no writer threads for the pause. */
	int any = 0;
	for (int i = 0; i < c->nregions && !any; i++)
		any = c->regions[i].save != SAVE_NONE && cap_region_volatile(&c->regions[i]) == (pass == PASS_VOLATILE);
	if (!any)
		return 0;
	int pm_fd = (int)sys_openat(-100, "/proc/self/pagemap", K_O_CLOEXEC, 0);
	int mem_fd = (int)sys_openat(-100, "/proc/self/mem", K_O_CLOEXEC, 0);
	uint64_t *pm = cap_arena_take(&c->a, PM_BATCH * 8);
	if (pm_fd < 0 || mem_fd < 0 || !pm)
		return cap_fail(c, "cannot open /proc/self/pagemap or mem", 0, pm_fd < 0 ? pm_fd : mem_fd);
	struct cw w;
	int cpus = cw_cpus();
	cw_start(&w, o, !g_agent.no_compress, cpus > 1 ? cpus : 0);
	int e = 0;
	for (int i = 0; i < c->nregions && !o->err && !e; i++) {
		const struct region *r = &c->regions[i];
		if (r->save == SAVE_NONE || cap_region_volatile(r) != (pass == PASS_VOLATILE))
			continue;
		if (pass == PASS_PRIVATE && incr_write_region(c, &w, i))
			continue;
		uint64_t run_start = 0, run_len = 0;
		for (uint64_t addr = r->start; addr < r->end && !e;) {
			uint64_t n = (r->end - addr) / PAGE;
			if (n > PM_BATCH)
				n = PM_BATCH;
			int all = r->save == SAVE_ALL || r->save == SAVE_IMAGE;
			if (!all && sys_pread(pm_fd, pm, n * 8, (long)(addr / PAGE * 8)) != (long)(n * 8)) {
				e = cap_fail(c, "cannot read /proc/self/pagemap", 0, -5);
				break;
			}
			for (uint64_t k = 0; k < n; k++) {
				uint64_t a = addr + k * PAGE;
				int cand = candidate(r->save, all ? 0 : pm[k]);
				if (cand && run_len && run_start + run_len * PAGE == a && run_len < RUN_MAX) {
					run_len++;
					continue;
				}
				if (run_len)
					emit_run(c, &w, r, mem_fd, run_start, run_len);
				run_start = a;
				run_len = cand ? 1 : 0;
			}
			addr += n * PAGE;
		}
		if (run_len && !e)
			emit_run(c, &w, r, mem_fd, run_start, run_len);
	}
	incr_flush_pages(&w);
	cw_finish(&w);
	sys_close(pm_fd);
	sys_close(mem_fd);
	return e;
}

void cap_emit_run(struct capture *c, struct cw *w, const struct region *r, int mem_fd, uint64_t addr, uint64_t n)
{
	emit_run(c, w, r, mem_fd, addr, n);
}

/* ---- threads ---- */

static void write_thread(struct img_out *o, const struct agent_thread *t, uint8_t *rec, size_t cap)
{
	struct img_thread v = {
		.tid = (uint32_t)t->tid,
		.flags = t->flags,
		.fs_base = t->fs_base,
		.clear_child_tid = t->ctid,
		.robust_list = t->robust_head,
		.robust_list_len = t->robust_len,
		.altstack_sp = (uint64_t)t->altstack.ss_sp,
		.altstack_size = t->altstack.ss_size,
		.altstack_flags = (uint32_t)t->altstack.ss_flags,
		.resume_sp = t->uc ? (uint64_t)t->uc : t->resume_sp,
		.ngregs = IMG_NGREGS,
	};
	uint64_t gregs[IMG_NGREGS];
	if (t->uc) {
		mem_copy(&v.sigmask, &t->uc->uc_sigmask, 8);
		for (int i = 0; i < IMG_NGREGS; i++)
			gregs[i] = (uint64_t)t->uc->uc_mcontext.gregs[i];
		v.gregs = gregs;
	}
	const uint8_t *fp = t->uc ? (const uint8_t *)t->uc->uc_mcontext.fpregs : 0;
	if (fp) {
		uint32_t magic1, ext;
		mem_copy(&magic1, fp + 464, 4);
		mem_copy(&ext, fp + 468, 4);
		v.xsave_len = magic1 == 0x46505853u ? ext : 512;
		v.xsave = fp;
	}
	struct wbuf w;
	wb_init(&w, rec, cap);
	img_put_thread(&w, &v);
	img_record(o, REC_THREAD, rec, (uint32_t)w.len);
}

/* ---- process ---- */

static uint64_t stat_field(const char *stat, int k)
{
	const char *p = stat, *close = 0;
	for (; *p; p++)
		if (*p == ')')
			close = p;
	if (!close)
		return 0;
	p = close + 2; /* field 3 */
	for (int f = 3; f < k && *p; p++)
		if (*p == ' ')
			f++;
	if (*p == '-')
		return 0;
	return parse_dec(&p);
}

static void write_info(struct img_out *o, uint64_t ckpt_id)
{
	struct { char f[6][65]; } u;
	sys_call1(SYS_uname_, (long)&u);
	struct { long s, ns; } ts;
	sys_call2(SYS_clock_gettime_, 0, (long)&ts);
	struct img_info v = {
		.page_size = PAGE,
		.created_unix_ns = (uint64_t)ts.s * 1000000000ull + (uint64_t)ts.ns,
		.ckpt_id = ckpt_id,
		.machine = u.f[4],
		.kernel_release = u.f[2],
		.kernel_version = u.f[3],
		.glibc_version = gnu_get_libc_version(),
		.hostname = u.f[1],
		.stasis_version = "0.1.0",
	};
	uint8_t rec[1024];
	struct wbuf w;
	wb_init(&w, rec, sizeof(rec));
	img_put_info(&w, &v);
	img_record(o, REC_INFO, rec, (uint32_t)w.len);
}

static int write_process(struct capture *c, struct img_out *o)
{
	char *stat = cap_slurp(c, "/proc/self/stat", 0);
	size_t auxv_len = 0;
	char *auxv = cap_slurp(c, "/proc/self/auxv", &auxv_len);
	char *comm = cap_slurp(c, "/proc/self/comm", 0);
	uint8_t *rec = cap_arena_take(&c->a, 65536);
	if (!stat || !auxv || !comm || !rec)
		return cap_fail(c, "cannot read /proc/self", 0, -5);
	for (char *p = comm; *p; p++)
		if (*p == '\n')
			*p = 0;
	struct img_process v;
	mem_zero(&v, sizeof(v));
	v.pid = (uint32_t)sys_getpid();
	v.ppid = (uint32_t)sys_call0(SYS_getppid_);
	v.pgid = (uint32_t)sys_call0(SYS_getpgrp_);
	v.sid = (uint32_t)sys_call1(SYS_getsid_, 0);
	v.uid = (uint32_t)sys_call0(SYS_getuid_);
	v.gid = (uint32_t)sys_call0(SYS_getgid_);
	long mask = sys_call1(SYS_umask_, 022);
	sys_call1(SYS_umask_, mask);
	v.umask = (uint32_t)mask;
	v.proc_id = g_agent.proc_id;
	v.start_code = stat_field(stat, 26);
	v.end_code = stat_field(stat, 27);
	v.start_data = stat_field(stat, 45);
	v.end_data = stat_field(stat, 46);
	v.start_brk = stat_field(stat, 47);
	v.brk = (uint64_t)sys_call1(SYS_brk_, 0);
	v.start_stack = stat_field(stat, 28);
	v.arg_start = stat_field(stat, 48);
	v.arg_end = stat_field(stat, 49);
	v.env_start = stat_field(stat, 50);
	v.env_end = stat_field(stat, 51);
	v.restart_entry = (uint64_t)&stasis_restart_entry;
	v.restart_info = (uint64_t)&g_agent.rinfo;
	v.restart_info_size = sizeof(g_agent.rinfo);
	int rseq_on = &__rseq_size && &__rseq_offset && __rseq_size;
	v.rseq_offset = rseq_on ? (int64_t)__rseq_offset : 0;
	v.rseq_size = rseq_on ? (__rseq_size < 32 ? 32 : __rseq_size) : 0;
	v.rseq_sig = 0x53053053u;
	struct img_sigaction sigact[IMG_NSIG];
	for (int s = 1; s <= IMG_NSIG; s++) {
		uint64_t ksa[4] = { 0, 0, 0, 0 };
		sys_call4(SYS_rt_sigaction_, s, 0, (long)ksa, 8);
		sigact[s - 1] = (struct img_sigaction){ ksa[0], ksa[1], ksa[2], ksa[3] };
	}
	v.nsig = IMG_NSIG;
	v.sigactions = sigact;
	struct img_rlimit rlim[IMG_NRLIMIT];
	for (int r = 0; r < IMG_NRLIMIT; r++) {
		uint64_t lim[2] = { ~0ull, ~0ull };
		sys_call4(SYS_prlimit64_, 0, r, 0, (long)lim);
		rlim[r] = (struct img_rlimit){ lim[0], lim[1] };
	}
	v.nrlimit = IMG_NRLIMIT;
	v.rlimits = rlim;
	char cwd[4096], exe[4096];
	long n = sys_call2(SYS_getcwd_, (long)cwd, sizeof(cwd));
	if (n <= 0)
		return cap_fail(c, "cannot read the working directory", 0, n ? n : -2);
	n = sys_call3(SYS_readlink_, (long)"/proc/self/exe", (long)exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	v.cwd = cwd;
	v.exe = exe;
	v.comm = comm;
	v.auxv_len = (uint32_t)auxv_len;
	v.auxv = auxv;
	struct wbuf w;
	wb_init(&w, rec, 65536);
	img_put_process(&w, &v);
	if (w.overflow)
		return cap_fail(c, "process record too large", 0, -12);
	img_record(o, REC_PROCESS, rec, (uint32_t)w.len);
	return 0;
}

/* ---- the whole image ---- */

static int fsync_parent(const char *path)
{
	char dir[4096];
	str_copy(dir, path, sizeof(dir));
	char *slash = 0;
	for (char *p = dir; *p; p++)
		if (*p == '/')
			slash = p;
	if (!slash)
		return 0;
	*slash = 0;
	int dfd = (int)sys_openat(-100, dir[0] ? dir : "/", K_O_DIRECTORY | K_O_CLOEXEC, 0);
	if (dfd < 0)
		return dfd;
	long e = sys_fsync(dfd);
	sys_close(dfd);
	return (int)e;
}

void cap_discard(int fd, const char *tmp)
{
	sys_close(fd);
	sys_call1(SYS_unlink_, (long)tmp);
}

int cap_seal(struct capture *c, struct img_out *o, int fd, const char *tmp, const char *path, uint64_t *bytes)
{
	int e = 0;
	long err = img_finish(o);
	if (err)
		e = cap_fail(c, "cannot write ", tmp, err);
	if (!e) {
		err = sys_fsync(fd);
		if (err)
			e = cap_fail(c, "cannot fsync ", tmp, err);
	}
	if (e) {
		cap_discard(fd, tmp);
		return e;
	}
	sys_close(fd);
	err = sys_call2(SYS_rename_, (long)tmp, (long)path);
	if (err) {
		sys_call1(SYS_unlink_, (long)tmp);
		return cap_fail(c, "cannot rename ", tmp, err);
	}
	fsync_parent(path);
	*bytes = o->off;
	return 0;
}

/*
 * Captures this process while its threads are stopped. Everything that other processes
 * or the kernel can change once the computation runs again (fds, pipe contents, deleted
 * files' data, shared memory, kernel state) is written here; the private memory is
 * written here too, or by a forked writer (writer.c) while the process runs on.
 */
int agent_write_image(const char *path, uint64_t ckpt_id, struct agent_capture_out *out, char *why, int whylen)
{
	struct capture c;
	mem_zero(&c, sizeof(c));
	mem_zero(out, sizeof(*out));
	c.why = why;
	c.whylen = whylen;
	long base = sys_mmap(0, ARENA_SIZE, 3, 0x22 | 0x4000 /* PRIVATE|ANON|NORESERVE */, -1, 0);
	if (base < 0)
		return cap_fail(&c, "cannot map scratch memory", 0, base);
	c.a.base = (uint8_t *)base;
	c.a.cap = ARENA_SIZE;
	c.bounce = cap_arena_take(&c.a, IMG_CHUNK_MAX);
	uint8_t *stagebuf = cap_arena_take(&c.a, 4u << 20);
	char tmp[4200];
	struct sbuf s;
	sb_init(&s, tmp, sizeof(tmp));
	sb_str(&s, path);
	sb_str(&s, ".tmp");
	sb_cstr(&s);

	/* A non-dumpable process's /proc/self files belong to root, and the unprivileged
	 * owner cannot read its own pagemap, mem or auxv: be dumpable while the image is
	 * written (PROC_STATE keeps the real value), as the kernel would allow anyway. A
	 * forked writer stays dumpable. */
	long dumpable = sys_prctl(3 /* PR_GET_DUMPABLE */, 0, 0, 0, 0);
	if (dumpable == 0)
		sys_prctl(4 /* PR_SET_DUMPABLE */, 1, 0, 0, 0);
	int e = cap_probe_fds(&c);
	agent_mark("fds");
	if (!e)
		e = read_maps(&c, (uint64_t)base, (uint64_t)base + ARENA_SIZE);
	agent_mark("maps");
	int fd = -1;
	struct img_out o;
	if (!e)
		incr_plan(&c, path);
	if (!e) {
		fd = (int)sys_openat(-100, tmp, K_O_WRONLY | K_O_CREAT | K_O_TRUNC | K_O_CLOEXEC, 0600);
		if (fd < 0)
			e = cap_fail(&c, "cannot create ", tmp, fd);
	}
	if (!e) {
		img_open(&o, fd, stagebuf, 4u << 20);
		if (incr_header_flags())
			img_set_flags(&o, incr_header_flags());
		write_info(&o, ckpt_id);
		incr_write_parents(&o);
		e = write_process(&c, &o);
	}
	agent_mark("process");
	if (!e) {
		write_region_records(&c, &o);
		uint8_t *trec = cap_arena_take(&c.a, 16384);
		for (int i = 0; i < g_agent.nthreads; i++)
			write_thread(&o, &g_agent.threads[i], trec, 16384);
		struct agent_thread self;
		mem_zero(&self, sizeof(self));
		self.tid = (int32_t)sys_gettid();
		self.flags = TF_CKPT;
		unsigned long fsb = 0;
		sys_arch_prctl(0x1003 /* ARCH_GET_FS */, (long)&fsb);
		self.fs_base = fsb;
		unsigned long *ctid = 0;
		sys_prctl(40 /* PR_GET_TID_ADDRESS */, (long)&ctid, 0, 0, 0);
		self.ctid = (uint64_t)ctid;
		long head = 0;
		size_t len = 0;
		sys_call3(SYS_get_robust_list_, 0, (long)&head, (long)&len);
		self.robust_head = (uint64_t)head;
		self.robust_len = len;
		self.resume_sp = g_agent.ckpt_resume_sp;
		write_thread(&o, &self, trec, 16384);
		agent_mark("regions, threads");
		e = cap_write_fds(&c, &o);
	}
	agent_mark("records");
	if (!e) {
		size_t kcap = (size_t)AGENT_MAX_SIGINFO * IMG_SIGINFO_SIZE * 2 + 4096;
		uint8_t *ks = cap_arena_take(&c.a, kcap);
		e = ks ? agent_ks_write(&o, ks, kcap, (uint32_t)dumpable, why, whylen)
		       : cap_fail(&c, "out of scratch memory", 0, -12);
	}
	agent_mark("kstate");
	if (!e) {
		incr_write_refs(&o);
		e = cap_write_chunks(&c, &o, PASS_VOLATILE);
	}
	agent_mark("shared memory");
	/* In the writer, writer_fork() does not return. */
	int forked = !e && writer_fork(&c, &o, fd, tmp, path, out);
	if (forked) {
		sys_close(fd);
	} else {
		if (!e)
			cap_region_advice(&c, &o);
		if (!e)
			e = cap_write_chunks(&c, &o, PASS_PRIVATE);
		if (!e)
			e = cap_seal(&c, &o, fd, tmp, path, &out->bytes);
		else if (fd >= 0)
			cap_discard(fd, tmp);
	}
	incr_plan_end(path, ckpt_id, !e);
	sys_munmap((void *)base, ARENA_SIZE);
	if (dumpable == 0)
		sys_prctl(4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0);
	return e;
}
