/*
 * stasis-restore: turns itself into the process an image describes.
 *
 *   stasis-restore --coord IPV4:PORT [--ckpt-dir DIR] [--no-map] IMAGE
 *   stasis-restore --check IMAGE    (stage 1's checks, and every chunk's head and END)
 *
 * Stage 1 (where the kernel loaded us; may call anything in this binary):
 *   parse and check the whole image's metadata, check every mapped file is unchanged and
 *   that this kernel's vdso has the same layout, then copy this binary into a hole that no
 *   image region uses, relocate the copy and jump to it on a stack inside the hole.
 * Stage 2 (in the hole; may touch only the hole, the image file and the vdso):
 *   unmap everything else, move the vdso/vvar block to where the image had it, map the
 *   regions and put the chunks in place (place.c: large chunks of anonymous memory are
 *   mapped from the image, the rest copied), restore process-wide state and fds, then
 *   create the threads, each entering the agent's stasis_restart_entry() in the image,
 *   and last the POSIX timers (one may notify a thread by TID: kstate.c).
 *   The agent unmaps the hole once every thread has left it.
 *
 *   0 ─────────────────────────────────────────────────────────────── 0x7fff_ffff_f000
 *   stage 1:  [app-like binaries...] [us: stasis-restore] [heap] ... [stack][vvar|vdso]
 *   stage 2:  [      image regions      ]   [hole: us + stack + metadata]   [vvar|vdso]
 *   resumed:  [      image regions      ]   (hole unmapped by the agent)  [vvar|vdso moved]
 *
 *   one anonymous region, stage 2:  [copied page][mapped from the image ...][copied][zero]
 */
#include "chunks.h"
#include "kstate.h"
#include "place.h"
#include "meta.h"
#include "broker.h"
#include "refs.h"
#include "track.h"
#include "../common/broker.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

#define PAGE 4096ul
#define TOP_OF_USER 0x7ffffffff000ul
#define LOADER_STACK (1ul << 20)
#define MAP_PRIVATE_ 0x02
#define MAP_SHARED_ 0x01
#define MAP_ANON_ 0x20
#define MAP_FIXED_ 0x10
#define MAP_NORESERVE_ 0x4000
#define MAP_GROWSDOWN_ 0x100
#define MAP_FIXED_NOREPLACE_ 0x100000
#define MREMAP_MAYMOVE_ 1
#define MREMAP_FIXED_ 2

struct span {
	uintptr_t start, end;
	uint32_t kind;
};

struct args {
	char image[4096];
	int broker;     /* the socket to stasis-init, or -1 */
	int drop_caps;  /* the threads drop the capabilities stasis-init lent for the restore */
	char ckpt_dir[4096];
	uint32_t coord_ip;
	uint16_t coord_port;
	int image_fd;
	int map;              /* map raw chunks from the image (not --no-map) */
	uint64_t image_dev, image_ino;
	uintptr_t hole, hole_len, arena, arena_len;
	struct span special[4]; /* this kernel's vvar/vvar_vclock/vdso, as stage 1 saw them */
	int nspecial;
};

/* Threads get their old TIDs (set_tid): we run in the computation's own PID namespace. */
static int rst_in_pidns;

static uintptr_t page_up(uintptr_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

static uint32_t special_kind(const char *name)
{
	if (str_eq(name, "[vdso]"))
		return RK_VDSO;
	if (str_eq(name, "[vvar]"))
		return RK_VVAR;
	if (str_eq(name, "[vvar_vclock]"))
		return RK_VVAR_VCLOCK;
	return 0;
}

static int is_special(uint32_t kind)
{
	return kind == RK_VDSO || kind == RK_VVAR || kind == RK_VVAR_VCLOCK;
}

/* Reads this process's vvar/vdso spans from /proc/self/maps. */
static int current_specials(struct span *out, char *buf, size_t cap)
{
	int fd = (int)sys_openat(-100, "/proc/self/maps", 02000000, 0);
	if (fd < 0)
		rst_die("cannot read /proc/self/maps", 0, fd);
	size_t n = 0;
	for (long r; n + 1 < cap && (r = sys_read(fd, buf + n, cap - 1 - n)) > 0;)
		n += (size_t)r;
	sys_close(fd);
	buf[n] = 0;
	int k = 0;
	for (const char *p = buf; *p && k < 4;) {
		uintptr_t s = parse_hex(&p);
		p++;
		uintptr_t e = parse_hex(&p);
		const char *eol = p;
		while (*eol && *eol != '\n')
			eol++;
		const char *name = eol;
		while (name > p && name[-1] != ' ')
			name--;
		char nm[32];
		size_t len = (size_t)(eol - name) < sizeof(nm) - 1 ? (size_t)(eol - name) : sizeof(nm) - 1;
		memcpy(nm, name, len);
		nm[len] = 0;
		uint32_t kind = special_kind(nm);
		if (kind)
			out[k++] = (struct span){ s, e, kind };
		p = *eol ? eol + 1 : eol;
	}
	return k;
}

/* The image's spans of one special kind must match this kernel's in size and order. */
static void check_vdso_layout(const struct meta *m, const struct span *cur, int ncur)
{
	int k = 0;
	for (int i = 0; i < m->nregions; i++) {
		const struct m_region *g = &m->regions[i];
		if (!is_special(g->kind))
			continue;
		if (k >= ncur || cur[k].kind != g->kind || cur[k].end - cur[k].start != g->end - g->start)
			rst_die("this kernel's vdso/vvar layout differs from the checkpointed one; "
				"restart on the kernel the checkpoint was taken on", 0, 0);
		k++;
	}
	if (k && k != ncur)
		rst_die("this kernel's vdso/vvar layout differs from the checkpointed one", 0, 0);
}

static void check_files(const struct meta *m)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct m_region *g = &m->regions[i];
		if (g->kind != RK_FILE || (g->flags & RF_CONTENT))
			continue; /* a tmpfs file kept by content is put back, not checked */
		struct kstat st;
		long e = sys_call4(SYS_newfstatat_, -100, (long)g->path, (long)&st, 0);
		if (e < 0)
			rst_die("a file the process had mapped is gone: ", g->path, e);
		if ((uint64_t)st.size != g->fsize || st.mtime * 1000000000ll + st.mtime_ns != g->mtime)
			rst_die("a file the process had mapped changed since the checkpoint: ", g->path, 0);
	}
}

/* Finds `len` bytes of address space outside every image region and maps them. */
static uintptr_t find_hole(const struct meta *m, size_t len)
{
	uintptr_t hi = TOP_OF_USER;
	for (int i = m->nregions; i >= 0; i--) {
		uintptr_t lo = 0x10000;
		int j = i - 1;
		while (j >= 0 && m->regions[j].kind == RK_VSYSCALL)
			j--;
		if (j >= 0)
			lo = m->regions[j].end;
		if (i < m->nregions && m->regions[i].kind == RK_VSYSCALL)
			continue;
		if (hi > lo + len + 2 * PAGE) {
			/* Try the top and the bottom of this gap: whatever we are now may be there. */
			uintptr_t tries[2] = { (hi - len - PAGE) & ~(PAGE - 1), page_up(lo + PAGE) };
			for (int t = 0; t < 2; t++) {
				long a = sys_mmap((void *)tries[t], len, 3,
						  MAP_PRIVATE_ | MAP_ANON_ | MAP_FIXED_NOREPLACE_ | MAP_NORESERVE_, -1, 0);
				if (a == (long)tries[t])
					return (uintptr_t)a;
				if (a > 0)
					sys_munmap((void *)a, len);
			}
		}
		if (i > 0)
			hi = m->regions[i - 1].start;
	}
	rst_die("no room in the address space for the loader", 0, -12);
}

static void stage2(void *argp);

/* ---- stage 2 ---- */

static void unmap_all_but(const struct args *a)
{
	struct span keep[5];
	int n = 0;
	keep[n++] = (struct span){ a->hole, a->hole + a->hole_len, 0 };
	for (int i = 0; i < a->nspecial; i++)
		keep[n++] = a->special[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && keep[j - 1].start > keep[j].start; j--) {
			struct span t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	uintptr_t at = PAGE;
	for (int i = 0; i <= n; i++) {
		uintptr_t until = i < n ? keep[i].start : TOP_OF_USER;
		if (until > at)
			sys_munmap((void *)at, until - at);
		if (i < n)
			at = keep[i].end;
	}
}

static void move_vdso(const struct meta *m, const struct args *a)
{
	int k = 0;
	struct span dst[4];
	for (int i = 0; i < m->nregions; i++)
		if (is_special(m->regions[i].kind))
			dst[k++] = (struct span){ m->regions[i].start, m->regions[i].end, m->regions[i].kind };
	if (!k) {
		for (int i = 0; i < a->nspecial; i++)
			sys_munmap((void *)a->special[i].start, a->special[i].end - a->special[i].start);
		return;
	}
	/* Park the block in the hole's spare stack room first if source and target overlap. */
	struct span src[4];
	for (int i = 0; i < k; i++)
		src[i] = a->special[i];
	int overlap = 0;
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++)
			overlap |= src[i].start < dst[j].end && dst[j].start < src[i].end;
	if (overlap) {
		long tmp = sys_mmap(0, dst[k - 1].end - dst[0].start, 0, MAP_PRIVATE_ | MAP_ANON_, -1, 0);
		if (tmp < 0)
			rst_die("cannot move the vdso", 0, tmp);
		for (int i = 0; i < k; i++) {
			uintptr_t to = (uintptr_t)tmp + (src[i].start - src[0].start);
			long r = sys_mremap((void *)src[i].start, src[i].end - src[i].start,
					    src[i].end - src[i].start, MREMAP_MAYMOVE_ | MREMAP_FIXED_, (void *)to);
			if (r < 0)
				rst_die("cannot move the vdso", 0, r);
			src[i].end = to + (src[i].end - src[i].start);
			src[i].start = to;
		}
	}
	for (int i = 0; i < k; i++) {
		long r = sys_mremap((void *)src[i].start, src[i].end - src[i].start,
				    src[i].end - src[i].start, MREMAP_MAYMOVE_ | MREMAP_FIXED_, (void *)dst[i].start);
		if (r < 0)
			rst_die("cannot move the vdso to its checkpointed address", 0, r);
	}
}

/* The region's huge-page advice (VmFlags hg/nh) as it was: given once it is mapped, so
 * that copied memory comes in as huge pages, and again once the chunks are in place, for
 * the mappings of the image that replaced parts of it. Fails harmlessly where the kernel
 * has no THP. */
static void advise_region(const struct m_region *g)
{
	if (g->flags & RF_HUGEPAGE)
		sys_call3(SYS_madvise_, (long)g->start, (long)(g->end - g->start), 14 /* MADV_HUGEPAGE */);
	else if (g->flags & RF_NOHUGEPAGE)
		sys_call3(SYS_madvise_, (long)g->start, (long)(g->end - g->start), 15 /* MADV_NOHUGEPAGE */);
}

static void map_regions(const struct meta *m)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct m_region *g = &m->regions[i];
		size_t len = g->end - g->start;
		long r;
		switch (g->kind) {
		case RK_VDSO:
		case RK_VVAR:
		case RK_VVAR_VCLOCK:
		case RK_VSYSCALL:
			continue;
		case RK_FILE: {
			if (g->flags & RF_CONTENT) {
				int fd = rst_shm_object(g);
				r = sys_mmap((void *)g->start, len, 3, MAP_SHARED_ | MAP_FIXED_NOREPLACE_, fd, (long)g->off);
				sys_close(fd);
				break;
			}
			int shared = g->flags & RF_SHARED;
			int acc = shared && (g->prot & 2) ? K_O_RDWR : 0;
			int fd = (int)sys_openat(-100, g->path, acc | K_O_CLOEXEC, 0);
			if (fd < 0)
				rst_die("cannot open ", g->path, fd);
			int prot = shared ? (int)g->prot : 3;
			r = sys_mmap((void *)g->start, len, prot,
				     (shared ? MAP_SHARED_ : MAP_PRIVATE_) | MAP_FIXED_NOREPLACE_, fd, (long)g->off);
			sys_close(fd);
			break;
		}
		case RK_SHMEM_ANON: {
			/* A SysV segment stasis-init made again with its id (the inode): attached
			 * where it was, so shmctl and shmdt on it work as before. */
			uint64_t ds[16]; /* struct shmid64_ds: the size is at byte 48 */
			if (str_starts(g->path, "/SYSV") && g->off == 0 &&
			    sys_call3(31 /* shmctl */, (long)g->ino, 2 /* IPC_STAT */, (long)ds) == 0 &&
			    ((ds[6] + PAGE - 1) & ~(PAGE - 1)) == len) {
				r = sys_call3(30 /* shmat */, (long)g->ino, (long)g->start, (g->prot & 2) ? 0 : 010000 /* SHM_RDONLY */);
				if (r == (long)g->start)
					break;
				if (r > 0)
					sys_call1(67 /* shmdt */, r);
			}
			int fd = rst_shm_object(g);
			r = sys_mmap((void *)g->start, len, 3, MAP_SHARED_ | MAP_FIXED_NOREPLACE_, fd, (long)g->off);
			sys_close(fd);
			break;
		}
		default:
			r = sys_mmap((void *)g->start, len, 3,
				     MAP_PRIVATE_ | MAP_ANON_ | MAP_FIXED_NOREPLACE_ |
					     (g->flags & RF_GROWSDOWN ? MAP_GROWSDOWN_ : 0), -1, 0);
			break;
		}
		if (r != (long)g->start)
			rst_die("cannot map memory at its checkpointed address for ", g->path[0] ? g->path : "anonymous memory",
				r < 0 ? r : -17);
		advise_region(g);
	}
}

static void protect_regions(const struct meta *m)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct m_region *g = &m->regions[i];
		if (is_special(g->kind) || g->kind == RK_VSYSCALL)
			continue;
		advise_region(g);
		if (g->kind == RK_FILE && (g->flags & RF_SHARED))
			continue;
		long e = sys_mprotect((void *)g->start, g->end - g->start, (int)g->prot);
		if (e < 0)
			rst_die("cannot protect ", g->path, e);
	}
}

static void restore_process(const struct meta *m)
{
	const struct m_process *p = &m->proc;
	struct {
		uint64_t mm[11];
		uint64_t auxv;
		uint32_t auxv_size, exe_fd;
	} map;
	memcpy(map.mm, p->mm, sizeof(map.mm));
	map.auxv = (uint64_t)p->auxv;
	map.auxv_size = p->auxv_len;
	map.exe_fd = (uint32_t)-1;
	int exe = p->exe[0] ? (int)sys_openat(-100, p->exe, K_O_CLOEXEC, 0) : -1;
	long e = -1;
	if (exe >= 0) {
		map.exe_fd = (uint32_t)exe; /* needs CAP_CHECKPOINT_RESTORE; fine to fail */
		e = sys_prctl(35 /* PR_SET_MM */, 14 /* PR_SET_MM_MAP */, (long)&map, sizeof(map), 0);
		sys_close(exe);
	}
	if (e < 0) {
		map.exe_fd = (uint32_t)-1;
		e = sys_prctl(35, 14, (long)&map, sizeof(map), 0);
	}
	if (e < 0)
		rst_die("cannot restore the memory layout (brk, argv, environment)", 0, e);
	sys_prctl(15 /* PR_SET_NAME */, (long)p->comm, 0, 0, 0);
	e = sys_call1(SYS_chdir_, (long)p->cwd);
	if (e < 0)
		rst_die("cannot return to the working directory ", p->cwd, e);
	sys_call1(SYS_umask_, p->umask);
	for (uint32_t s = 1; s <= p->nsig; s++) {
		if (s == 9 || s == 19)
			continue;
		sys_call4(SYS_rt_sigaction_, s, (long)p->sigact[s - 1], 0, 8);
	}
}

/* Last, after the fds: a lowered RLIMIT_NOFILE would refuse the loader's temporary fds
 * (and an fd the process held above its limit is still legal once it exists). A hard
 * limit above ours cannot be raised without privilege: the soft one is capped there. */
static void restore_rlimits(const struct meta *m)
{
	const struct m_process *p = &m->proc;
	for (uint32_t r = 0; r < p->nrlimit; r++) {
		if (sys_call4(SYS_prlimit64_, 0, r, (long)p->rlim[r], 0) < 0) {
			uint64_t cur[2];
			sys_call4(SYS_prlimit64_, 0, r, 0, (long)cur);
			cur[0] = p->rlim[r][0] < cur[1] ? p->rlim[r][0] : cur[1];
			sys_call4(SYS_prlimit64_, 0, r, (long)cur, 0);
		}
	}
}

/* Lets the loader place fds up to the image's highest, whatever the restarter's limit. */
static void open_fd_limit(int max_fd)
{
	uint64_t cur[2];
	if (sys_call4(SYS_prlimit64_, 0, 7 /* RLIMIT_NOFILE */, 0, (long)cur) < 0)
		return;
	uint64_t want = (uint64_t)max_fd + 64;
	if (cur[0] >= want)
		return;
	cur[0] = want < cur[1] ? want : cur[1];
	sys_call4(SYS_prlimit64_, 0, 7, (long)cur, 0);
}

/* The agent keeps its coordinator socket at RI_COORD_FD. Growing the fd table that far
 * costs a multithreaded process an RCU grace period (milliseconds) in the kernel: do it
 * now, while this process has one thread. */
static void grow_fd_table(const struct rst_fds *c)
{
	int any = rst_broker_fd >= 0 ? rst_broker_fd : c->stdio[0] >= 0 ? c->stdio[0] : c->stdio[1] >= 0 ? c->stdio[1] : c->stdio[2];
	long fd = any >= 0 ? sys_fcntl(any, 1030 /* F_DUPFD_CLOEXEC */, RI_COORD_FD) : -9;
	if (fd >= 0)
		sys_close((int)fd);
}

/* Where deleted files get their contents back (res/deleted.c): the image's FILEDATA. */
struct fill {
	const struct meta *m;
	uint8_t *buf;
	size_t cap;
};

static int fill_file(struct rst_fds *c, uint64_t id, int fd)
{
	const struct fill *f = c->fill_ctx;
	rst_image_advice = 1;
	int e = rst_fill_file(f->m, id, fd, f->buf, f->cap);
	rst_image_advice = 0;
	return e;
}

/*
 * When an fd may be placed. Shared descriptions and pipes come from other processes
 * through stasis-init, so the order avoids waiting in a cycle: first everything this
 * process creates itself (and hands out), then descriptions it owns whose pipe another
 * process creates, then descriptions other processes own, then plain dups of fds placed.
 */
enum fd_pass { PASS_OWN, PASS_OWN_FROM_PIPE, PASS_OTHERS, PASS_DUP };

static enum fd_pass pass_of(const struct fd_rec *r)
{
	if (r->dup_of >= 0)
		return PASS_DUP;
	if (r->share_id && !(r->share_flags & SF_OWNER))
		return PASS_OTHERS;
	if ((r->share_flags & SF_PIPE) && !(r->share_flags & SF_PIPE_OWNER))
		return PASS_OWN_FROM_PIPE;
	if ((r->share_flags & SF_PTY) && !(r->share_flags & SF_PTY_OWNER))
		return PASS_OWN_FROM_PIPE; /* the pty's owner makes it, like a pipe's */
	return PASS_OWN;
}

static void place_fd(const struct fd_rec *r, struct rst_fds *c)
{
	int nfd;
	const struct res_ops *ops = 0;
	enum fd_pass pass = pass_of(r);
	if (pass == PASS_DUP) {
		nfd = (int)sys_fcntl(r->dup_of, 1030, 0);
	} else if (pass == PASS_OTHERS) {
		nfd = rst_broker_get(BROKER_DESC, r->share_id);
		if (nfd < 0)
			rst_die("an fd shared with another process did not arrive from it", 0, nfd);
		ops = res_find_kind(r->kind);
	} else {
		ops = res_find_kind(r->kind);
		if (!ops)
			rst_die("the image has an fd of unknown kind", 0, 0);
		nfd = ops->restore(r, c);
		if (nfd >= 0 && r->share_id) {
			long e = rst_broker_put(BROKER_DESC, r->share_id, nfd);
			if (e < 0)
				rst_die("cannot hand a shared fd to the other processes", 0, e);
		}
	}
	{
		if (nfd < 0)
			rst_die(c->why[0] ? c->why : "cannot restore an fd", 0, 0);
		int cloexec = r->fd_flags & 1;
		if (nfd != r->fd) {
			long e = sys_dup3(nfd, r->fd, cloexec ? K_O_CLOEXEC : 0);
			sys_close(nfd);
			if (e < 0)
				rst_die("cannot place an fd", 0, e);
		} else if (!cloexec) {
			sys_fcntl(nfd, 2 /* F_SETFD */, 0);
		}
		if (ops && ops->set_fl)
			sys_fcntl(r->fd, 4 /* F_SETFL */, (long)r->open_flags);
	}
}

/*
 * The locks the process held, taken again through the same fds once they all exist:
 * flock and OFD locks belong to the open file description, POSIX record locks to the
 * process (which we are). Not waiting: one another process holds now is a conflict to
 * report, not to sit out. (A POSIX lock dies when the process closes any fd of its file:
 * the loader's own fds after this point are the image and the restarter's stdio.)
 */
static void restore_locks(const struct meta *m)
{
	for (int i = 0; i < m->nlocks; i++) {
		const struct m_lock *k = &m->locks[i];
		long e;
		if (k->kind == LK_FLOCK) {
			e = sys_call2(73 /* flock */, k->fd, (k->type == LK_WRITE ? 2 /* LOCK_EX */ : 1 /* LOCK_SH */) | 4 /* LOCK_NB */);
		} else {
			struct { int16_t type, whence; int64_t start, len; int32_t pid, pad; } fl = {
				(int16_t)(k->type == LK_WRITE ? 1 /* F_WRLCK */ : 0 /* F_RDLCK */), 0 /* SEEK_SET */,
				(int64_t)k->start, k->end == LK_EOF ? 0 : (int64_t)(k->end - k->start + 1), 0, 0,
			};
			e = sys_fcntl(k->fd, k->kind == LK_OFD ? 37 /* F_OFD_SETLK */ : 6 /* F_SETLK */, (long)&fl);
		}
		if (e < 0) {
			const char *path = "a file";
			for (int j = 0; j < m->nfds; j++)
				if (m->fds[j].fd == k->fd)
					path = m->fds[j].path;
			rst_die("cannot take back a lock on ", path, e == -11 || e == -13 ? -16 /* EBUSY: held by another */ : e);
		}
	}
}

static void restore_fds(const struct meta *m, struct rst_fds *c)
{
	for (int pass = PASS_OWN; pass <= PASS_DUP; pass++)
		for (int i = 0; i < m->nfds; i++)
			if (pass_of(&m->fds[i]) == (enum fd_pass)pass)
				place_fd(&m->fds[i], c);
	rst_broker_done();
	for (int i = 0; i < m->nfds; i++) {
		const struct fd_rec *r = &m->fds[i];
		enum fd_pass pass = pass_of(r);
		const struct res_ops *ops = pass == PASS_OWN || pass == PASS_OWN_FROM_PIPE ? res_find_kind(r->kind) : 0;
		if (ops && ops->restore_late && ops->restore_late(r, c) < 0)
			rst_die(c->why, 0, 0);
	}
	restore_locks(m);
}

static void stage2(void *argp)
{
	struct args *a = argp;
	if (a->broker >= 0)
		rst_on_die = rst_broker_failed; /* this copy's: the first one is unmapped next */
	unmap_all_but(a);
	struct m_arena arena = { (uint8_t *)a->arena, 0, a->arena_len };
	struct meta *m = m_take(&arena, sizeof(*m));
	rst_image_advice = 1;
	meta_read(a->image_fd, a->image, m, &arena);
	rst_image_advice = 0;
	move_vdso(m, a);
	map_regions(m);
	struct rst_maps *mp = m_take(&arena, sizeof(*mp));
	memset(mp, 0, sizeof(*mp));
	mp->map = a->map;
	mp->budget = a->map ? rst_map_budget(m->nregions) : 0;
	mp->ranges = m_take(&arena, sizeof(*mp->ranges) * RI_MAX_RANGES);
	mp->max = RI_MAX_RANGES;
	rst_refs_place(m, mp); /* pages kept in earlier generations' images */
	rst_image_advice = 1;
	rst_pages_into_place = 1; /* PAGES records come among the chunks */
	rst_place_chunks(m, mp);
	rst_image_advice = 0;
	rst_maps_sort(mp);
	struct mapped_range *ranges = mp->ranges;
	int nranges = mp->n;
	rst_track_arm(m, ranges, nranges); /* before anything else writes to the process's memory */
	protect_regions(m);
	restore_process(m);

	struct rst_fds *c = m_take(&arena, sizeof(*c));
	memset(c, 0, sizeof(*c));
	static char why[1024];
	c->why = why;
	c->whylen = sizeof(why);
	c->stash_base = m->max_fd + 1 < 3 ? 3 : m->max_fd + 1;
	open_fd_limit(c->stash_base);
	/* The image stays open for the fds (deleted files' contents), above their numbers. */
	m->cur.fd = (int)sys_fcntl(a->image_fd, 1030 /* F_DUPFD_CLOEXEC */, c->stash_base);
	sys_close(a->image_fd);
	if (m->cur.fd < 0)
		rst_die("cannot keep the image open", 0, m->cur.fd);
	struct fill fill = { m, m_take(&arena, 1u << 20), 1u << 20 };
	c->fill_file = fill_file;
	c->fill_ctx = &fill;
	c->spill_dir = a->ckpt_dir;
	for (int i = 0; i < 3; i++)
		c->stdio[i] = (int)sys_fcntl(i, 1030, c->stash_base);
	if (a->broker >= 0) {
		rst_broker_fd = (int)sys_fcntl(a->broker, 1030, c->stash_base);
		if (rst_broker_fd < 0)
			rst_die("cannot keep the link to stasis-init", 0, rst_broker_fd);
		c->broker_put = rst_broker_put;
		c->broker_get = rst_broker_get;
	}
	if (c->stdio[2] >= 0)
		rst_err_fd = c->stdio[2];
	else if (sys_fcntl(2, 1 /* F_GETFD */, 0) >= 0)
		rst_die("cannot keep stderr out of the process's fds", 0, -24);
	sys_call3(SYS_close_range_, 0, (long)c->stash_base - 1, 0);
	/* Before DONE: once every process said it, some may run and move the values. */
	rst_ks_sem_undo(m);
	restore_fds(m, c);
	sys_close(m->cur.fd);
	restore_rlimits(m);
	rst_ks_process(m);
	grow_fd_table(c);

	if (m->proc.restart_info_size != sizeof(struct restart_info))
		rst_die("the image's agent is of another Stasis version", 0, 0);
	if (rst_chunk_target(m, m->proc.restart_info, sizeof(struct restart_info)) != 1)
		rst_die("the image's restart block is not in writable memory", 0, 0);
	struct restart_info *ri = (struct restart_info *)m->proc.restart_info;
	ri->magic = RESTART_INFO_MAGIC;
	ri->version = RI_VERSION;
	ri->coord_ip = a->coord_ip;
	ri->coord_port = a->coord_port;
	ri->loader_start = a->hole;
	ri->loader_len = a->hole_len;
	ri->nthreads = (unsigned)m->nthreads;
	ri->flags = a->drop_caps ? RI_DROP_CAPS : 0;
	ri->entered = 0;
	str_copy(ri->ckpt_dir, a->ckpt_dir, sizeof(ri->ckpt_dir));
	/* The files memory was mapped from: this image, and earlier ones references named. */
	ri->nimages = nranges > 0 ? 1 + (unsigned)mp->nfiles : 0;
	ri->images[0].dev = a->image_dev;
	ri->images[0].ino = a->image_ino;
	for (int i = 0; i < mp->nfiles; i++) {
		ri->images[1 + i].dev = mp->files[i].dev;
		ri->images[1 + i].ino = mp->files[i].ino;
	}
	ri->nranges = (unsigned)nranges;
	for (int i = 0; i < nranges; i++) { /* ascending and apart (rst_maps_sort) */
		ri->ranges[i].start = ranges[i].start;
		ri->ranges[i].end = ranges[i].end;
	}
	ri->nbounds = 0;
	for (int i = 0; i < m->nregions && nranges > 0; i++) {
		const struct m_region *g = &m->regions[i];
		if (!(g->flags & RF_ADVICE) || (g->kind != RK_ANON && g->kind != RK_HEAP))
			continue;
		if (ri->nbounds + 2 > RI_MAX_BOUNDS)
			break; /* the rest may be saved merged with a neighbour, and its advice */
		if (!ri->nbounds || ri->bounds[ri->nbounds - 1] != g->start)
			ri->bounds[ri->nbounds++] = g->start;
		ri->bounds[ri->nbounds++] = g->end;
	}

	/* The others' memory and fds may not be whole yet: no thread of ours runs before. */
	long ge = rst_broker_wait_all();
	if (ge < 0)
		rst_die("stasis-init did not let the restart go on", 0, ge);

	int leader = -1;
	void (*entry)(void *) = (void (*)(void *))m->proc.restart_entry;
	for (int i = 0; i < m->nthreads; i++) {
		const struct m_thread *t = &m->threads[i];
		uintptr_t sp = t->flags & TF_CKPT ? (t->resume_sp & ~15ul) : ((t->resume_sp - 1024) & ~15ul);
		if (t->flags & TF_LEADER) {
			leader = i;
			continue;
		}
		unsigned long flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000;
		if (t->ctid)
			flags |= 0x01000000 | 0x00200000;
		uint32_t want = t->tid;
		struct {
			uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
				set_tid, set_tid_size, cgroup;
		} ca = { flags, 0, t->ctid, 0, 0, sp - 16 - 4096, 4096, t->fs_base,
			 rst_in_pidns ? (uint64_t)&want : 0, rst_in_pidns ? 1 : 0, 0 };
		((uint64_t *)sp)[-2] = (uint64_t)entry;
		((uint64_t *)sp)[-1] = (uint64_t)i;
		long tid = rst_clone3_thread(&ca, sizeof(ca));
		if (tid < 0)
			rst_die("cannot create a thread with its old TID", 0, tid);
	}
	if (leader < 0)
		rst_die("the image has no main thread", 0, 0);
	rst_ks_late(m);
	const struct m_thread *t = &m->threads[leader];
	sys_arch_prctl(0x1002 /* ARCH_SET_FS */, (long)t->fs_base);
	if (t->ctid) {
		sys_call1(SYS_set_tid_address_, (long)t->ctid);
		*(int *)t->ctid = (int)sys_gettid();
	}
	rst_track_close_from(c->stash_base);
	rst_switch((void *)((t->resume_sp - 1024) & ~15ul), entry, (void *)(long)leader);
}

/* ---- stage 1 ---- */

static void usage(void)
{
	rst_die("usage: stasis-restore --coord IPV4:PORT [--ckpt-dir DIR] [--broker FD] [--in-pidns] [--drop-caps] [--no-map] IMAGE\n"
		"       stasis-restore --check IMAGE   (the checks of stage 1, every chunk head and END)\n"
		"(run by stasis-init: use `stasis restart`)", 0, 0);
}

__attribute__((used)) static void stage1(long *sp)
{
	uint64_t all = ~0ull;
	sys_call4(SYS_rt_sigprocmask_, 2 /* SIG_SETMASK */, (long)&all, 0, 8);
	rst_relocate(rst_image_base());

	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	const char *image = 0, *coord = 0, *dir = "";
	int broker = -1, drop_caps = 0, check_only = 0, map = 1;
	for (int i = 1; i < argc; i++) {
		if (str_eq(argv[i], "--coord") && i + 1 < argc)
			coord = argv[++i];
		else if (str_eq(argv[i], "--ckpt-dir") && i + 1 < argc)
			dir = argv[++i];
		else if (str_eq(argv[i], "--broker") && i + 1 < argc) {
			const char *p = argv[++i];
			broker = (int)parse_dec(&p);
			if (*p || sys_fcntl(broker, 1 /* F_GETFD */, 0) < 0)
				usage();
		} else if (str_eq(argv[i], "--check"))
			check_only = 1;
		else if (str_eq(argv[i], "--in-pidns"))
			rst_in_pidns = 1;
		else if (str_eq(argv[i], "--drop-caps"))
			drop_caps = 1;
		else if (str_eq(argv[i], "--no-map"))
			map = 0;
		else if (argv[i][0] != '-' && !image)
			image = argv[i];
		else
			usage();
	}
	if (!image || (!coord && !check_only))
		usage();
	if (broker >= 0) {
		rst_broker_fd = broker;
		rst_on_die = rst_broker_failed;
	}
	uint32_t ip = 0;
	uint16_t port = 0;
	if (coord && parse_ipv4_port(coord, &ip, &port))
		rst_die("--coord must be IPV4:PORT, not ", coord, 0);
	if (cstrlen(image) >= 4096 || cstrlen(dir) >= 4096)
		rst_die("path too long", 0, 0);

	int fd = (int)sys_openat(-100, image, K_O_CLOEXEC, 0);
	if (fd < 0)
		rst_die("cannot open ", image, fd);
	rst_image_advice = 1;
	uint64_t msize = meta_size(fd, image);
	rst_image_advice = 0;
	size_t arena_len = page_up(meta_arena_size(msize));
	long tmp = sys_mmap(0, arena_len, 3, MAP_PRIVATE_ | MAP_ANON_ | MAP_NORESERVE_, -1, 0);
	if (tmp < 0)
		rst_die("cannot map memory", 0, tmp);
	struct m_arena arena = { (uint8_t *)tmp, 0, arena_len };
	struct meta *m = m_take(&arena, sizeof(*m));
	rst_image_advice = 1;
	meta_read(fd, image, m, &arena);
	if (check_only) {
		/* Every chunk's head and the END record too (a cut or spliced image), before
		 * what this machine makes of the image; not the chunks' data: that is
		 * `stasis restart --verify`'s. */
		struct chunk k;
		while (rst_next_chunk(m, &k))
			;
	}
	rst_image_advice = 0;
	if (m->page_size != PAGE)
		rst_die(image, ": the image was taken on a machine with another page size", 0);

	static char mapsbuf[1 << 20];
	struct span cur[4];
	int ncur = current_specials(cur, mapsbuf, sizeof(mapsbuf));
	check_vdso_layout(m, cur, ncur);
	check_files(m);
	rst_ks_check(m);
	rst_refs_open(m, image);
	if (check_only)
		sys_exit_group(0);
	if (rst_in_pidns && sys_getpid() != (long)m->proc.pid)
		rst_die(image, ": stasis-init did not give this process its old PID", 0);
	int leaders = 0;
	for (int i = 0; i < m->nthreads; i++)
		leaders += (m->threads[i].flags & TF_LEADER) != 0;
	if (leaders != 1)
		rst_die(image, ": the image must have exactly one main thread", 0);

	uintptr_t base = rst_image_base();
	size_t self_len = page_up(rst_image_end()) - base;
	size_t hole_len = self_len + LOADER_STACK + page_up(sizeof(struct args)) + arena_len;
	uintptr_t hole = find_hole(m, hole_len);
	memcpy((void *)hole, (void *)base, self_len);
	rst_relocate(hole);
	rst_protect_copy(hole);

	struct args *a = (struct args *)(hole + self_len + LOADER_STACK);
	str_copy(a->image, image, sizeof(a->image));
	str_copy(a->ckpt_dir, dir, sizeof(a->ckpt_dir));
	a->coord_ip = ip;
	a->coord_port = port;
	a->image_fd = fd;
	a->map = map;
	struct kstat st;
	uint64_t fs[15]; /* struct statfs: f_flags at [10] */
	if (sys_call2(SYS_fstat_, fd, (long)&st) == 0) {
		a->image_dev = st.dev;
		a->image_ino = st.ino;
	} else {
		a->map = 0; /* the agent could not tell the image's memory from a file's */
	}
	if (sys_call2(138 /* fstatfs */, fd, (long)fs) < 0 || (fs[10] & 8 /* ST_NOEXEC */))
		a->map = 0; /* the program could not make that memory executable (a JIT) */
	a->broker = broker;
	a->drop_caps = drop_caps;
	a->hole = hole;
	a->hole_len = hole_len;
	a->arena = (uintptr_t)a + page_up(sizeof(struct args));
	a->arena_len = arena_len;
	for (int i = 0; i < ncur; i++)
		a->special[i] = cur[i];
	a->nspecial = ncur;
	void (*fn)(void *) = (void (*)(void *))((uintptr_t)&stage2 - base + hole);
	rst_switch((void *)(hole + self_len + LOADER_STACK - 64), fn, a);
}

RST_START(stage1);
