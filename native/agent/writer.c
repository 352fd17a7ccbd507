/*
 * Forked checkpoints: the process is paused only while its state is captured; a child
 * process, the image writer, writes its private memory into the image while the
 * application runs on (docs/architecture.md, "A forked checkpoint").
 *
 *   checkpoint thread (threads stopped)          writer (a copy-on-write copy of it all)
 *   metadata, fds, pipes, deleted files,
 *   shared memory  ──▶ image.tmp
 *   clone(exit signal 0) ─────────────────────▶  named "stasis-writer"; closes the
 *                                                 application's fds; checks it sees every
 *   ◀── 'V' (or 'D' + why: fall back) ─────────   private mapping (MADV_DONTFORK)
 *   CAPTURED(forked) … RESUME: threads run        private chunks, END, fsync, rename
 *   poll(result pipe, coordinator)  ◀── result ──  exit
 *   waitid(__WCLONE) → WRITTEN
 *
 * The writer is invisible to the application: exit signal 0 (no SIGCHLD; wait() without
 * __WCLONE/__WALL never sees it), no atfork handlers (the raw clone syscall), every
 * signal blocked (the checkpoint thread's mask), a session of its own (no job-control
 * stop), no application fd kept. It keeps the
 * coordinator connection open, so that if the process ends while its image is still being
 * written the coordinator sees the connection close only once the writer is done, and then
 * decides by the image file itself. stasis-init does not list it (its name).
 *
 * Where a fork is unsafe the image is written with threads stopped, as before, and the
 * reason goes back in CAPTURED: turned off (STASIS_NO_FORK), memory pressure (the copy-on-
 * write copies could need as much memory as the process's private resident memory),
 * private hugetlbfs memory (a copy-on-write fault the kernel cannot serve takes the page
 * from the child), memory a fork does not copy (MADV_DONTFORK), or a failed fork.
 *
 * Runs while application threads are stopped: the contract in agent.h holds.
 */
#define _GNU_SOURCE
#include "agent.h"
#include "capture.h"
#include "image.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

#define WRITER_NAME "stasis-writer"
#define HUGETLBFS_MAGIC 0x958458f6
#define P_PID 1
#define K_WEXITED 4
#define K_WCLONE 0x80000000
#define K_POLLIN 1
#define VERDICT_TIMEOUT_MS 10000

/* The result the writer sends up its pipe: i32 status, u32 message length, u64 bytes,
 * message. Under PIPE_BUF, so one write. */
#define RESULT_HEAD 16
#define RESULT_MSG_MAX 1024

static void reason(struct agent_capture_out *out, const char *a, const char *b, const char *c)
{
	struct sbuf s;
	sb_init(&s, out->reason, sizeof(out->reason));
	sb_str(&s, a);
	if (b)
		sb_str(&s, b);
	if (c)
		sb_str(&s, c);
	sb_cstr(&s);
}

/* The value (in kB) of "name" in a /proc file of "name: value kB" lines; -1 if absent. */
static long long kb_field(struct capture *c, const char *path, const char *name)
{
	char *text = cap_slurp(c, path, 0);
	const char *p = text ? str_find(text, name) : 0;
	if (!p)
		return -1;
	p += cstrlen(name);
	while (*p == ' ' || *p == '\t')
		p++;
	return (long long)parse_dec(&p);
}

/* Memory this process's cgroup (v2) may still take, in kB; -1 when it has no limit. */
static long long cgroup_room_kb(struct capture *c)
{
	char *cg = cap_slurp(c, "/proc/self/cgroup", 0);
	const char *p = cg ? str_find(cg, "0::") : 0;
	if (!p)
		return -1;
	p += 3;
	char path[4200];
	struct sbuf s;
	sb_init(&s, path, sizeof(path));
	sb_str(&s, "/sys/fs/cgroup");
	const char *end = p;
	while (*end && *end != '\n')
		end++;
	sb_mem(&s, p, (size_t)(end - p));
	size_t base = s.len;
	sb_str(&s, "/memory.max");
	char *max = cap_slurp(c, sb_cstr(&s), 0);
	if (!max || max[0] < '0' || max[0] > '9')
		return -1;
	const char *q = max;
	uint64_t limit = parse_dec(&q);
	s.len = base;
	sb_str(&s, "/memory.current");
	char *cur = cap_slurp(c, sb_cstr(&s), 0);
	if (!cur)
		return -1;
	q = cur;
	uint64_t used = parse_dec(&q);
	return used >= limit ? 0 : (long long)((limit - used) / 1024);
}

static void mib(struct sbuf *s, long long kb)
{
	sb_udec(s, (uint64_t)(kb < 0 ? 0 : kb) / 1024);
	sb_str(s, " MiB");
}

/* Why forking this process now is unsafe, into out->reason; 0 when it is safe. */
static int fork_unsafe(struct capture *c, struct agent_capture_out *out)
{
	if (g_agent.no_fork) {
		reason(out, "forked checkpoints are turned off (--no-fork, STASIS_NO_FORK=1)", 0, 0);
		return 1;
	}
	uint64_t hugetlb_dev = 0;
	for (int i = 0; i < c->nregions; i++) {
		const struct region *r = &c->regions[i];
		if ((r->flags & RF_SHARED) || r->save == SAVE_NONE || r->path[0] != '/')
			continue;
		int huge = str_starts(r->path, "/anon_hugepage");
		if (!huge && r->dev && r->dev == hugetlb_dev)
			huge = 1;
		if (!huge && r->kind == RK_FILE) {
			uint64_t fs[15];
			huge = sys_call2(137 /* statfs */, (long)r->path, (long)fs) == 0 && fs[0] == HUGETLBFS_MAGIC;
			if (huge)
				hugetlb_dev = r->dev;
		}
		if (huge) {
			char at[32];
			struct sbuf s;
			sb_init(&s, at, sizeof(at));
			sb_str(&s, "0x");
			sb_hex(&s, r->start);
			reason(out, "private huge-page (hugetlbfs) memory at ", sb_cstr(&s),
			       ": a copy-on-write fault could take its pages from the image writer");
			return 1;
		}
	}
	long long rss = kb_field(c, "/proc/self/status", "RssAnon:");
	long long avail = kb_field(c, "/proc/meminfo", "MemAvailable:");
	long long room = cgroup_room_kb(c);
	if (room >= 0 && (avail < 0 || room < avail))
		avail = room;
	if (g_agent.faults & AGENT_FAULT_LOW_MEMORY)
		avail = 0;
	if (rss > 0 && avail >= 0 && avail < rss) {
		char text[256];
		struct sbuf s;
		sb_init(&s, text, sizeof(text));
		sb_str(&s, "memory pressure: ");
		mib(&s, avail);
		sb_str(&s, room >= 0 && avail == room ? " left in its cgroup, " : " available, ");
		mib(&s, rss);
		sb_str(&s, " of private memory could be copied while the image is written");
		reason(out, sb_cstr(&s), 0, 0);
		return 1;
	}
	return 0;
}

/* ---- the writer ---- */

static void put_result(int pfd, int status, uint64_t bytes, const char *msg)
{
	uint8_t buf[RESULT_HEAD + RESULT_MSG_MAX];
	size_t n = msg ? cstrlen(msg) : 0;
	if (n > RESULT_MSG_MAX)
		n = RESULT_MSG_MAX;
	struct wbuf w;
	wb_init(&w, buf, sizeof(buf));
	wb_u32(&w, (uint32_t)status);
	wb_u32(&w, (uint32_t)n);
	wb_u64(&w, bytes);
	wb_bytes(&w, msg, n);
	sys_write(pfd, buf, w.len);
}

/* Closes every fd but the image, the result pipe and the coordinator connection: the
 * application's pipes must see their EOF when the application closes them, not when the
 * writer is done. */
static void close_others(int a, int b, int c)
{
	int keep[3] = { a, b, c };
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	unsigned from = 0;
	for (int i = 0; i < 3; i++) {
		if (keep[i] < 0)
			continue;
		if ((unsigned)keep[i] > from)
			sys_call3(SYS_close_range_, from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	sys_call3(SYS_close_range_, from, ~0u, 0);
}

/* A private mapping the fork did not copy (MADV_DONTFORK): the start of the first one not
 * wholly in this process's map, or 0 when every one is. */
static uint64_t missing_mapping(struct capture *c)
{
	char *text = cap_slurp(c, "/proc/self/maps", 0);
	if (!text)
		return 1;
	const char *p = text;
	uint64_t ls = 0, le = 0;
	for (int i = 0; i < c->nregions; i++) {
		const struct region *r = &c->regions[i];
		if (r->save == SAVE_NONE || cap_region_volatile(r))
			continue;
		uint64_t at = r->start;
		while (at < r->end) {
			while (le <= at && *p) {
				ls = parse_hex(&p);
				p++;
				le = parse_hex(&p);
				while (*p && *p != '\n')
					p++;
				if (*p)
					p++;
			}
			if (le <= at || ls > at)
				return r->start;
			at = le;
		}
	}
	return 0;
}

/* Fault injection (writer-hold): waits until a file named writer-go is in the checkpoint
 * directory before writing any private memory, so a test can let the program run on as
 * long as it likes first. Waits on inotify, not by polling. */
static void hold_until_go(void)
{
	char path[4200];
	struct sbuf s;
	sb_init(&s, path, sizeof(path));
	sb_str(&s, g_agent.ckpt_dir);
	sb_str(&s, "/writer-go");
	sb_cstr(&s);
	int in = (int)sys_call1(294 /* inotify_init1 */, K_O_CLOEXEC);
	if (in < 0)
		return;
	sys_call3(254 /* inotify_add_watch */, in, (long)g_agent.ckpt_dir, 0x100 | 0x80 /* IN_CREATE|IN_MOVED_TO */);
	struct kstat st;
	uint8_t ev[4096];
	while (sys_call4(SYS_newfstatat_, -100, (long)path, (long)&st, 0) != 0)
		if (sys_read(in, ev, sizeof(ev)) < 0)
			break;
	sys_close(in);
}

static __attribute__((noreturn)) void writer_main(struct capture *c, struct img_out *o, int fd, const char *tmp,
						  const char *path, int pfd)
{
	sys_prctl(15 /* PR_SET_NAME */, (long)WRITER_NAME, 0, 0, 0);
	/* Out of the application's process group and session: a SIGSTOP to the group (job
	 * control) must not stop it, nor tell the application about it with a SIGCHLD. */
	sys_call0(112 /* setsid */);
	close_others(fd, pfd, g_agent.coord_fd);
	uint64_t gone = missing_mapping(c);
	if (gone) {
		char msg[128];
		struct sbuf s;
		sb_init(&s, msg, sizeof(msg));
		sb_str(&s, "D");
		sb_str(&s, "memory a fork does not copy (MADV_DONTFORK) at 0x");
		sb_hex(&s, gone);
		sys_write(pfd, msg, s.len);
		sys_exit_group(0);
	}
	sys_write(pfd, "V", 1);
	/* If memory runs out, the writer is the one to go: the checkpoint fails cleanly. */
	int adj = (int)sys_openat(-100, "/proc/self/oom_score_adj", K_O_WRONLY | K_O_CLOEXEC, 0);
	if (adj >= 0) {
		sys_write(adj, "1000", 4);
		sys_close(adj);
	}

	if (g_agent.faults & AGENT_FAULT_WRITER_HOLD)
		hold_until_go();
	uint64_t bytes = 0;
	cap_region_advice(c, o);
	int e = cap_write_chunks(c, o, PASS_PRIVATE);
	if (!e && (g_agent.faults & AGENT_FAULT_WRITER_KILL) && g_agent.nforks == g_agent.fault_writer_kill_at)
		sys_call2(SYS_kill_, sys_getpid(), 9); /* fault injection: killed mid-write */
	if (!e)
		e = cap_seal(c, o, fd, tmp, path, &bytes);
	else
		cap_discard(fd, tmp);
	put_result(pfd, e, bytes, e ? c->why : "");
	/* Done: the checkpoint thread (or, if the process has ended, the coordinator) hears of
	 * it now, not once the kernel has torn this copy of the memory down. */
	sys_close(pfd);
	sys_close(g_agent.coord_fd);
	sys_exit_group(e ? 1 : 0);
}

/* Reads until EOF (or n bytes); returns what it read. */
static long read_upto(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		long r = sys_read(fd, (uint8_t *)buf + got, n - got);
		if (r == -4)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

/* waitid(P_PID, pid, WEXITED|__WCLONE): 0 with the child's si_code and si_status, or -errno. */
static long reap(int pid, int *code, int *status)
{
	uint8_t si[128];
	long e;
	do
		e = sys_call5(247 /* waitid */, P_PID, pid, (long)si, K_WEXITED | K_WCLONE, 0);
	while (e == -4);
	if (e < 0)
		return e;
	int32_t v;
	mem_copy(&v, si + 8, 4);
	*code = v;
	mem_copy(&v, si + 24, 4);
	*status = v;
	return 0;
}

int writer_fork(struct capture *c, struct img_out *o, int fd, const char *tmp, const char *path,
		struct agent_capture_out *out)
{
	if (fork_unsafe(c, out))
		return 0;
	agent_mark("fork check");
	int p[2];
	long e = sys_call2(SYS_pipe2_, (long)p, K_O_CLOEXEC);
	if (e < 0) {
		reason(out, "cannot make the image writer's pipe: ", strerror_short(e), 0);
		return 0;
	}
	g_agent.nforks++;
	/* Flags 0: a copy of the process (no CLONE_VM, no CLONE_FILES) whose exit signal is 0. */
	long pid = sys_call5(SYS_clone_, 0, 0, 0, 0, 0);
	if (pid == 0) {
		sys_close(p[0]);
		writer_main(c, o, fd, tmp, path, p[1]);
	}
	sys_close(p[1]);
	agent_mark("clone");
	if (pid < 0) {
		sys_close(p[0]);
		reason(out, "fork failed: ", strerror_short(pid), 0);
		return 0;
	}
	/* The writer's first words, within VERDICT_TIMEOUT_MS: the application waits. */
	char verdict[256];
	struct { int fd; short events, revents; } pw = { p[0], K_POLLIN, 0 };
	long ready;
	do
		ready = sys_call3(7 /* poll */, (long)&pw, 1, VERDICT_TIMEOUT_MS);
	while (ready == -4);
	long n = ready > 0 ? read_upto(p[0], verdict, 1) : 0;
	if (n != 1 || verdict[0] != 'V') {
		/* The writer cannot take over (or died): write here, from where it left off; it
		 * wrote nothing into the image. */
		long m = n == 1 ? read_upto(p[0], verdict, sizeof(verdict) - 1) : 0;
		verdict[m > 0 ? m : 0] = 0;
		int code = 0, status = 0;
		sys_call2(SYS_kill_, pid, 9);
		reap((int)pid, &code, &status);
		sys_close(p[0]);
		reason(out, n == 1 ? verdict : ready > 0 ? "the image writer ended before it started" :
			    "the image writer did not start within 10 s", 0, 0);
		return 0;
	}
	agent_mark("writer's verdict");
	int hi = (int)sys_fcntl(p[0], 1030 /* F_DUPFD_CLOEXEC */, g_agent.coord_fd > 0 ? g_agent.coord_fd + 1 : 100);
	if (hi >= 0) {
		sys_close(p[0]);
		p[0] = hi;
	}
	g_agent.writer_fd = p[0];
	str_copy(g_agent.writer_image, path, sizeof(g_agent.writer_image));
	__atomic_store_n(&g_agent.writer_pid, (int)pid, __ATOMIC_RELEASE);
	out->forked = 1;
	out->writer_pid = (int)pid;
	return 1;
}

static const char *signame(int sig)
{
	switch (sig) {
	case 6: return "SIGABRT";
	case 7: return "SIGBUS";
	case 9: return "SIGKILL";
	case 11: return "SIGSEGV";
	case 15: return "SIGTERM";
	default: return "a signal";
	}
}

void agent_writer_reap(void)
{
	int pid = g_agent.writer_pid, code, status;
	if (!pid)
		return;
	reap(pid, &code, &status);
	__atomic_store_n(&g_agent.writer_pid, 0, __ATOMIC_RELEASE);
	sys_futex((int *)&g_agent.writer_pid, 129 /* FUTEX_WAKE_PRIVATE */, 0x7fffffff, 0);
}

int agent_writer_finish(uint64_t *bytes, char *why, int whylen)
{
	int pid = g_agent.writer_pid;
	uint8_t buf[RESULT_HEAD + RESULT_MSG_MAX + 1];
	long n = read_upto(g_agent.writer_fd, buf, sizeof(buf) - 1);
	sys_close(g_agent.writer_fd);
	g_agent.writer_fd = -1;

	struct sbuf s;
	sb_init(&s, why, (size_t)whylen);
	*bytes = 0;
	if (n >= RESULT_HEAD) {
		struct rbuf r;
		rb_init(&r, buf, (size_t)n);
		int st = (int)rb_u32(&r);
		uint32_t len = rb_u32(&r);
		uint64_t b = rb_u64(&r);
		if (len <= (uint64_t)n - RESULT_HEAD) {
			sb_mem(&s, (const char *)buf + RESULT_HEAD, len);
			sb_cstr(&s);
			*bytes = b;
			return st; /* reaped by agent_writer_reap, once this is reported */
		}
	}
	/* No result. A writer that exited 0 renamed its image into place (the pipe was lost:
	 * the application closed our fd); otherwise it died, and waitid says how. */
	int code = 0, status = 0;
	long re = reap(pid, &code, &status);
	__atomic_store_n(&g_agent.writer_pid, 0, __ATOMIC_RELEASE);
	sys_futex((int *)&g_agent.writer_pid, 129 /* FUTEX_WAKE_PRIVATE */, 0x7fffffff, 0);
	struct kstat st;
	if (re == 0 && code == 1 /* CLD_EXITED */ && status == 0 &&
	    sys_call4(SYS_newfstatat_, -100, (long)g_agent.writer_image, (long)&st, 0) == 0) {
		*bytes = (uint64_t)st.size;
		sb_cstr(&s);
		return 0;
	}
	sb_str(&s, "the image writer (pid ");
	sb_udec(&s, (uint64_t)pid);
	if (re == 0 && (code == 2 || code == 3) /* CLD_KILLED, CLD_DUMPED */) {
		sb_str(&s, ") was killed by ");
		sb_str(&s, signame(status));
		sb_str(&s, " (signal ");
		sb_udec(&s, (uint64_t)status);
		sb_str(&s, ") before the image was complete");
	} else {
		sb_str(&s, ") ended before the image was complete");
	}
	sb_cstr(&s);
	return -5; /* EIO */
}

void agent_writer_kill(void)
{
	int pid = g_agent.writer_pid;
	if (pid > 0)
		sys_call2(SYS_kill_, pid, 9);
}

void agent_writer_wait_idle(void)
{
	for (;;) {
		int pid = __atomic_load_n(&g_agent.writer_pid, __ATOMIC_ACQUIRE);
		if (!pid)
			return;
		sys_futex((int *)&g_agent.writer_pid, 128 /* FUTEX_WAIT_PRIVATE */, pid, 0);
	}
}
