/*
 * Kernel state around the process, both directions side by side (docs/image-format.md:
 * PROC_STATE, THREAD_STATE, POSIX_TIMER, SEM_UNDO).
 *
 * Pending signals. The only unprivileged way to read a queued signal's siginfo is to
 * dequeue it (rt_sigtimedwait with a zero timeout), so a checkpoint takes every pending
 * signal out, copies it into g_agent.sigs[] and queues it back, leaving the running
 * process as it was. Which queue a dequeue takes from is the subtle part: the kernel
 * takes the thread's own queue first, then the shared one. So
 *   - each thread, in its suspend handler, takes only the signal numbers its own
 *     /proc/thread-self/status SigPnd shows, one at a time, reading SigPnd again after
 *     each (an RT signal may be queued several times), and queues them back at once;
 *   - the shared queue is taken once every thread is parked (nothing can consume a
 *     signal then), by the leader: rt_sigqueueinfo with a kernel or kill() si_code is
 *     allowed only from the thread whose TID is the PID. The leader keeps its own queue
 *     out until then, so that everything it dequeues is shared.
 * On restart each thread queues its own back itself (rt_tgsigqueueinfo to itself may
 * carry any si_code) before it waits to be released; the loader, running as the leader,
 * queues the shared ones from the image. The agent's suspend signal is never taken.
 *
 * Per-thread attributes (nice, timer slack, parent-death signal, no_new_privs, name,
 * CPU affinity) are read by the thread in its handler and set again by the thread in
 * restart.c: some of them only a thread can set for itself.
 *
 * Process-wide state (clocks, subreaper, dumpable, interval timers, POSIX timers from
 * /proc/self/timers, the main thread's personality, which threads inherit, and the SEM_UNDO
 * adjustments on SysV semaphores) is read by the checkpoint thread while the others are
 * parked, and restored by the loader (../loader/kstate.c).
 *
 * Everything here runs while application threads are stopped: raw syscalls only.
 */
#include "agent.h"
#include "image.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define SYS_getitimer_ 36
#define SYS_rt_sigtimedwait_ 128
#define SYS_rt_sigqueueinfo_ 129
#define SYS_personality_ 135
#define SYS_getpriority_ 140
#define SYS_setpriority_ 141
#define SYS_sched_setaffinity_ 203
#define SYS_sched_getaffinity_ 204
#define SYS_timer_gettime_ 224
#define SYS_rt_tgsigqueueinfo_ 297

#define PR_SET_PDEATHSIG_ 1
#define PR_GET_PDEATHSIG_ 2
#define PR_SET_NAME_ 15
#define PR_GET_NAME_ 16
#define PR_SET_TIMERSLACK_ 29
#define PR_GET_TIMERSLACK_ 30
#define PR_GET_CHILD_SUBREAPER_ 37
#define PR_SET_NO_NEW_PRIVS_ 38
#define PR_GET_NO_NEW_PRIVS_ 39

/* ---- pending signals ---- */

/* One field ("SigPnd:" or "ShdPnd:") of this thread's status, or 0 if unreadable. */
static uint64_t status_mask(const char *field)
{
	char buf[4096];
	int fd = (int)sys_openat(-100, "/proc/thread-self/status", 02000000, 0);
	if (fd < 0)
		return 0;
	long n = sys_read(fd, buf, sizeof(buf) - 1);
	sys_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = str_find(buf, field);
	if (!p)
		return 0;
	p += cstrlen(field);
	while (*p == '\t' || *p == ' ')
		p++;
	return parse_hex(&p);
}

/* Signals that may be taken: never the suspend signal, SIGKILL or SIGSTOP. */
static uint64_t takeable(uint64_t m)
{
	return m & ~(1ull << (g_agent.sig - 1)) & ~(1ull << 8) & ~(1ull << 18);
}

static int lowest(uint64_t m)
{
	return __builtin_ctzll(m) + 1;
}

/* Dequeues one instance of sig into info; returns sig, or -EAGAIN if none is pending. */
static long dequeue(int sig, uint8_t *info)
{
	uint64_t set = 1ull << (sig - 1);
	struct { long s, ns; } zero = { 0, 0 };
	return sys_call4(SYS_rt_sigtimedwait_, (long)&set, (long)info, (long)&zero, 8);
}

static long queue_back(int owner, const uint8_t *info)
{
	int32_t sig;
	mem_copy(&sig, info, 4);
	if (owner < 0)
		return sys_call3(SYS_rt_sigqueueinfo_, sys_getpid(), sig, (long)info);
	return sys_call4(SYS_rt_tgsigqueueinfo_, sys_getpid(), sys_gettid(), sig, (long)info);
}

/* Keeps a dequeued signal in g_agent.sigs[]; if there is no room, queues it back and
 * marks the checkpoint as failed. Returns 0 while there was room. */
static int keep(int owner, const uint8_t *info)
{
	int idx = __atomic_fetch_add(&g_agent.nsigs, 1, __ATOMIC_ACQ_REL);
	if (idx >= AGENT_MAX_SIGINFO) {
		queue_back(owner, info);
		g_agent.sig_overflow = 1;
		return -1;
	}
	g_agent.sigs[idx].owner = owner;
	mem_copy(g_agent.sigs[idx].info, info, IMG_SIGINFO_SIZE);
	return 0;
}

/* Takes the calling thread's own pending signals, in queue order per signal number. */
static void take_private(struct agent_thread *t, int slot)
{
	uint8_t info[IMG_SIGINFO_SIZE];
	for (;;) {
		uint64_t pnd = takeable(status_mask("SigPnd:"));
		if (!pnd)
			break;
		int sig = lowest(pnd);
		if (dequeue(sig, info) != sig)
			break;
		t->sigs_held = 1;
		if (keep(slot, info))
			break;
	}
}

static void put_back(int owner)
{
	int n = g_agent.nsigs < AGENT_MAX_SIGINFO ? g_agent.nsigs : AGENT_MAX_SIGINFO;
	for (int i = 0; i < n; i++) {
		if (g_agent.sigs[i].owner != owner)
			continue;
		long e = queue_back(owner, g_agent.sigs[i].info);
		if (e < 0)
			agent_log_err("cannot queue a pending signal back", e);
	}
}

void agent_ks_put_private(struct agent_thread *t, int slot)
{
	if (!t->sigs_held)
		return;
	put_back(slot);
	t->sigs_held = 0;
}

/* The leader, with its own queue held out: everything pending now is shared. */
void agent_ks_take_shared(void)
{
	uint8_t info[IMG_SIGINFO_SIZE];
	for (;;) {
		uint64_t shd = takeable(status_mask("ShdPnd:")) & ~status_mask("SigPnd:");
		if (!shd)
			break;
		int sig = lowest(shd);
		if (dequeue(sig, info) != sig || keep(-1, info))
			break;
	}
	g_agent.shared_taken = 1;
}

void agent_ks_put_shared(void)
{
	put_back(-1);
}

/* ---- per-thread attributes ---- */

void agent_ks_record_self(struct agent_thread *t, int slot)
{
	long prio = sys_call2(SYS_getpriority_, 0 /* PRIO_PROCESS */, 0);
	t->nice = prio > 0 ? (int32_t)(20 - prio) : 0;
	long slack = sys_prctl(PR_GET_TIMERSLACK_, 0, 0, 0, 0);
	t->timer_slack = slack > 0 ? (uint64_t)slack : 0;
	int pd = 0;
	sys_prctl(PR_GET_PDEATHSIG_, (long)&pd, 0, 0, 0);
	t->pdeathsig = (uint32_t)pd;
	t->ts_flags = sys_prctl(PR_GET_NO_NEW_PRIVS_, 0, 0, 0, 0) == 1 ? TSF_NO_NEW_PRIVS : 0;
	t->personality = (uint32_t)sys_call1(SYS_personality_, 0xffffffff);
	mem_zero(t->comm, sizeof(t->comm));
	sys_prctl(PR_GET_NAME_, (long)t->comm, 0, 0, 0);
	t->comm[15] = 0;
	long n = sys_call3(SYS_sched_getaffinity_, 0, sizeof(t->affinity), (long)t->affinity);
	t->affinity_len = n > 0 && !(n & 7) ? (uint32_t)n : 0;
	t->sigs_held = 0;
	take_private(t, slot);
}

void agent_ks_restore_self(struct agent_thread *t, int slot)
{
	long e = sys_call3(SYS_setpriority_, 0 /* PRIO_PROCESS */, 0, t->nice);
	if (e < 0)
		agent_log_err("cannot restore a thread's nice value", e);
	if (t->timer_slack)
		sys_prctl(PR_SET_TIMERSLACK_, (long)t->timer_slack, 0, 0, 0);
	sys_prctl(PR_SET_PDEATHSIG_, t->pdeathsig, 0, 0, 0);
	if (t->ts_flags & TSF_NO_NEW_PRIVS)
		sys_prctl(PR_SET_NO_NEW_PRIVS_, 1, 0, 0, 0);
	sys_prctl(PR_SET_NAME_, (long)t->comm, 0, 0, 0);
	if (t->affinity_len) {
		e = sys_call3(SYS_sched_setaffinity_, 0, t->affinity_len, (long)t->affinity);
		if (e < 0)
			agent_log_err("cannot restore a thread's CPU affinity", e);
	}
	t->sigs_held = 1;
	agent_ks_put_private(t, slot);
}

/* ---- writing the records ---- */

struct kts {
	long s, ns;
};

static uint64_t ts_ns(const struct kts *t)
{
	return (uint64_t)t->s * 1000000000ull + (uint64_t)t->ns;
}

static int64_t clock_ns(int clk)
{
	struct kts t = { 0, 0 };
	sys_call2(SYS_clock_gettime_, clk, (long)&t);
	return (int64_t)ts_ns(&t);
}

/* Copies the siginfo of every kept signal of one owner to dst; returns how many. */
static uint32_t gather(int owner, uint8_t *dst)
{
	uint32_t k = 0;
	int n = g_agent.nsigs < AGENT_MAX_SIGINFO ? g_agent.nsigs : AGENT_MAX_SIGINFO;
	for (int i = 0; i < n; i++)
		if (g_agent.sigs[i].owner == owner)
			mem_copy(dst + (size_t)k++ * IMG_SIGINFO_SIZE, g_agent.sigs[i].info, IMG_SIGINFO_SIZE);
	return k;
}

static int64_t parse_int(const char **p)
{
	int neg = **p == '-';
	if (neg)
		(*p)++;
	int64_t v = (int64_t)parse_dec(p);
	return neg ? -v : v;
}

/* The value after "key" on the line that starts with it, from `from` on. */
static const char *field(const char *from, const char *key)
{
	const char *p = str_find(from, key);
	return p ? p + cstrlen(key) : 0;
}

/* One timer of /proc/self/timers (fs/proc/base.c show_timer):
 *   ID: 0 / signal: 14/00000000deadbeef / notify: signal/pid.1234 / ClockID: 1 */
static const char *parse_timer(const char *p, struct img_posix_timer *v)
{
	mem_zero(v, sizeof(*v));
	const char *f = field(p, "ID: ");
	if (!f)
		return 0;
	v->timer_id = (int32_t)parse_int(&f);
	if (!(f = field(f, "signal: ")))
		return 0;
	v->signo = (uint32_t)parse_dec(&f);
	if (*f == '/')
		f++;
	v->sigev_value = parse_hex(&f);
	if (!(f = field(f, "notify: ")))
		return 0;
	if (str_starts(f, "none"))
		v->notify = PT_SIGEV_NONE;
	else if (str_starts(f, "thread"))
		v->notify = PT_SIGEV_THREAD;
	else
		v->notify = PT_SIGEV_SIGNAL;
	while (*f && *f != '/')
		f++;
	if (str_starts(f, "/tid.")) {
		v->notify |= PT_SIGEV_THREAD_ID;
		f += 5;
		v->notify_tid = (uint32_t)parse_dec(&f);
	}
	if (!(f = field(f, "ClockID: ")))
		return 0;
	v->clockid = (int32_t)parse_int(&f);
	return f;
}

static int write_timers(struct img_out *o, uint8_t *scratch, size_t cap, char *why, int whylen)
{
	int fd = (int)sys_openat(-100, "/proc/self/timers", 02000000, 0);
	if (fd < 0)
		return 0; /* no CONFIG_CHECKPOINT_RESTORE: the kernel shows no timers */
	char *text = (char *)scratch;
	size_t n = 0;
	for (long r; n + 1 < cap && (r = sys_read(fd, text + n, cap - 1 - n)) > 0;)
		n += (size_t)r;
	sys_close(fd);
	text[n] = 0;
	uint8_t rec[128];
	struct img_posix_timer v;
	for (const char *p = text; (p = parse_timer(p, &v));) {
		struct { struct kts interval, value; } its;
		long e = sys_call2(SYS_timer_gettime_, v.timer_id, (long)&its);
		if (e < 0) {
			struct sbuf s;
			sb_init(&s, why, (size_t)whylen);
			sb_str(&s, "cannot read POSIX timer ");
			sb_udec(&s, (uint64_t)v.timer_id);
			sb_str(&s, ": ");
			sb_str(&s, strerror_short(e));
			return (int)e;
		}
		v.value_ns = ts_ns(&its.value);
		v.interval_ns = ts_ns(&its.interval);
		struct wbuf w;
		wb_init(&w, rec, sizeof(rec));
		img_put_posix_timer(&w, &v);
		img_record(o, REC_POSIX_TIMER, rec, (uint32_t)w.len);
	}
	return 0;
}

/* ---- SEM_UNDO adjustments ---- */

/*
 * The kernel keeps, per process, what it will add to each SysV semaphore when the process
 * exits (semadj: minus the sum of its SEM_UNDO operations), and offers no call to read it.
 * But a semop with SEM_UNDO fails with ERANGE when it would take semadj out of
 * -32768..32767, and an operation that fails changes nothing. So each question "is semadj
 * below T?" is one semtimedop that cannot succeed: in one call (the kernel applies a call's
 * operations in order, atomically, and undoes them all when one fails),
 *   - take the value v down to 0 (not SEM_UNDO), so that what follows cannot overflow it;
 *   - add T + 32768 with SEM_UNDO, in pieces of at most 32767, taking each piece away
 *     again without SEM_UNDO: semadj goes down by T + 32768, out of range exactly when it
 *     was below T (ERANGE);
 *   - then take 1 from the value, now 0: with IPC_NOWAIT that fails (EAGAIN).
 * Nothing else runs meanwhile (every process of the computation is stopped), no value
 * changes, nobody is woken. A binary search finds semadj with 16 questions; 2 say it is 0,
 * the common case. Asking makes the kernel allocate an undo entry of zeros for the set,
 * which changes nothing at exit. The loader sets the values again (../loader/kstate.c).
 */
/* SysV semaphore calls: ../common/sys.h (struct ksembuf). */

/* 1: semadj of semaphore n of set id is below t; 0: it is not; or -errno. */
static long adj_below(int id, int n, int v, long t)
{
	struct ksembuf ops[8];
	int k = 0;
	if (v > 0)
		ops[k++] = (struct ksembuf){ (uint16_t)n, (int16_t)-v, IPC_NOWAIT_ };
	for (long s = t + 32768; s > 0;) {
		int16_t c = (int16_t)(s > 32767 ? 32767 : s);
		ops[k++] = (struct ksembuf){ (uint16_t)n, c, IPC_NOWAIT_ | SEM_UNDO_ };
		ops[k++] = (struct ksembuf){ (uint16_t)n, (int16_t)-c, IPC_NOWAIT_ };
		s -= c;
	}
	ops[k++] = (struct ksembuf){ (uint16_t)n, -1, IPC_NOWAIT_ };
	long e = sys_call4(SYS_semtimedop_, id, (long)ops, k, 0);
	if (e == -34 /* ERANGE */)
		return 1;
	if (e == -11 /* EAGAIN */)
		return 0;
	return e < 0 ? e : -5; /* it cannot succeed; if it did, say so */
}

static long sem_adj(int id, int n, int32_t *adj)
{
	long v = sys_call4(SYS_semctl_, id, n, GETVAL_, 0);
	if (v < 0)
		return v;
	long lo = IMG_SEM_ADJ_MIN, hi = IMG_SEM_ADJ_MAX;
	long b = adj_below(id, n, (int)v, 0);
	if (b < 0)
		return b;
	if (b) {
		hi = -1;
	} else {
		if ((b = adj_below(id, n, (int)v, 1)) < 0)
			return b;
		if (b) {
			*adj = 0;
			return 0;
		}
		lo = 1;
	}
	while (lo < hi) {
		long mid = lo + (hi - lo + 1) / 2;
		if ((b = adj_below(id, n, (int)v, mid)) < 0)
			return b;
		if (b)
			hi = mid - 1;
		else
			lo = mid;
	}
	*adj = (int32_t)lo;
	return 0;
}

/* One set: a SEM_UNDO record if any adjustment is not 0. A set this process may not
 * alter (EACCES) or that is gone is one it holds no adjustments on. */
static int write_sem_undo(struct img_out *o, int id, uint32_t nsems, uint8_t *rec, size_t cap, char *why, int whylen)
{
	struct img_sem_adj *adj = (struct img_sem_adj *)rec;
	size_t room = cap / 2 / sizeof(*adj);
	uint32_t n = 0;
	for (uint32_t i = 0; i < nsems && i < IMG_MAX_SEM_ADJ; i++) {
		int32_t a;
		long e = sem_adj(id, (int)i, &a);
		if (e == -13 /* EACCES */ || e == -22 /* EINVAL */ || e == -43 /* EIDRM */)
			return 0;
		if (e < 0) {
			struct sbuf s;
			sb_init(&s, why, (size_t)whylen);
			sb_str(&s, "cannot read the SEM_UNDO adjustments on SysV semaphore set ");
			sb_udec(&s, (uint64_t)id);
			sb_str(&s, ": ");
			sb_str(&s, strerror_short(e));
			return (int)e;
		}
		if (a && n < room)
			adj[n++] = (struct img_sem_adj){ i, a };
	}
	if (!n)
		return 0;
	struct img_sem_undo v = { id, n, adj };
	struct wbuf w;
	wb_init(&w, rec + cap / 2, cap / 2);
	img_put_sem_undo(&w, &v);
	img_record(o, REC_SEM_UNDO, rec + cap / 2, (uint32_t)w.len);
	return 0;
}

/* Under stasis-init (PID 1 of the computation's own namespaces, IPC included): only then
 * are the semaphore sets the computation's, and made again on restart. */
static int in_computation_ipc(void)
{
	char comm[32];
	int fd = (int)sys_openat(-100, "/proc/1/comm", 02000000, 0);
	long n = fd >= 0 ? sys_read(fd, comm, sizeof(comm) - 1) : -1;
	if (fd >= 0)
		sys_close(fd);
	comm[n > 0 ? n : 0] = 0;
	return str_eq(comm, "stasis-init\n");
}

/* Every set of /proc/sysvipc/sem (the computation's IPC namespace), read line by line. */
static int write_sem_undos(struct img_out *o, uint8_t *scratch, size_t cap, char *why, int whylen)
{
	int fd = in_computation_ipc() ? (int)sys_openat(-100, "/proc/sysvipc/sem", 02000000, 0) : -1;
	if (fd < 0)
		return 0;
	char *text = (char *)scratch;
	size_t tcap = 65536, n = 0;
	uint8_t *rec = scratch + tcap;
	int header = 1, e = 0;
	for (;;) {
		long r = sys_read(fd, text + n, tcap - 1 - n);
		if (r > 0)
			n += (size_t)r;
		text[n] = 0;
		char *nl;
		while (!e && (nl = (char *)str_find(text, "\n"))) {
			*nl = 0;
			const char *p = text;
			if (!header) {
				/* key semid perms nsems uid gid ...: numbers after spaces. */
				uint64_t f[4];
				for (int i = 0; i < 4; i++) {
					while (*p == ' ')
						p++;
					if (*p == '-')
						p++;
					f[i] = i == 2 ? parse_oct(&p) : parse_dec(&p);
				}
				e = write_sem_undo(o, (int)f[1], (uint32_t)f[3], rec, cap - tcap, why, whylen);
			}
			header = 0;
			size_t used = (size_t)(nl + 1 - text);
			mem_copy(text, nl + 1, n - used + 1);
			n -= used;
		}
		if (e || r <= 0 || n + 1 >= tcap)
			break;
	}
	sys_close(fd);
	return e;
}

int agent_ks_write(struct img_out *o, uint8_t *scratch, size_t cap, uint32_t dumpable, char *why, int whylen)
{
	struct sbuf s;
	if (g_agent.sig_overflow) {
		sb_init(&s, why, (size_t)whylen);
		sb_str(&s, "more than 4096 signals are pending");
		return -12;
	}
	size_t list_cap = (size_t)AGENT_MAX_SIGINFO * IMG_SIGINFO_SIZE;
	uint8_t *list = scratch, *rec = scratch + list_cap;
	size_t rec_cap = list_cap + 4096;
	if (cap < list_cap + rec_cap) {
		sb_init(&s, why, (size_t)whylen);
		sb_str(&s, "out of scratch memory");
		return -12;
	}

	struct img_proc_state ps;
	mem_zero(&ps, sizeof(ps));
	ps.realtime_ns = clock_ns(0);
	ps.monotonic_ns = clock_ns(1);
	ps.boottime_ns = clock_ns(7);
	/* Personality is per thread, but only the main thread's is shown (/proc/PID/personality)
	 * and threads inherit it: the image holds the main thread's. */
	ps.personality = (uint32_t)sys_call1(SYS_personality_, 0xffffffff);
	for (int i = 0; i < g_agent.nthreads && i < AGENT_MAX_THREADS; i++)
		if (g_agent.threads[i].flags & TF_LEADER)
			ps.personality = g_agent.threads[i].personality;
	int sub = 0;
	sys_prctl(PR_GET_CHILD_SUBREAPER_, (long)&sub, 0, 0, 0);
	ps.flags = sub ? PSF_CHILD_SUBREAPER : 0;
	ps.dumpable = dumpable;
	for (int i = 0; i < IMG_NITIMER; i++) {
		struct { long isec, iusec, vsec, vusec; } it = { 0, 0, 0, 0 };
		sys_call2(SYS_getitimer_, i, (long)&it);
		ps.itimers[i].value_ns = (uint64_t)it.vsec * 1000000000ull + (uint64_t)it.vusec * 1000ull;
		ps.itimers[i].interval_ns = (uint64_t)it.isec * 1000000000ull + (uint64_t)it.iusec * 1000ull;
	}
	ps.nsiginfo = g_agent.shared_taken ? gather(-1, list) : 0;
	ps.siginfo = list;
	struct wbuf w;
	wb_init(&w, rec, rec_cap);
	img_put_proc_state(&w, &ps);
	img_record(o, REC_PROC_STATE, rec, (uint32_t)w.len);

	for (int i = 0; i < g_agent.nthreads && i < AGENT_MAX_THREADS; i++) {
		const struct agent_thread *t = &g_agent.threads[i];
		struct img_thread_state ts = {
			.tid = (uint32_t)t->tid,
			.flags = t->ts_flags,
			.nice = t->nice,
			.pdeathsig = t->pdeathsig,
			.timer_slack_ns = t->timer_slack,
			.comm = t->comm,
			.affinity_len = t->affinity_len,
			.affinity = t->affinity,
			.nsiginfo = gather(i, list),
			.siginfo = list,
		};
		wb_init(&w, rec, rec_cap);
		img_put_thread_state(&w, &ts);
		img_record(o, REC_THREAD_STATE, rec, (uint32_t)w.len);
	}
	int e = write_timers(o, scratch, cap, why, whylen);
	return e ? e : write_sem_undos(o, scratch, cap, why, whylen);
}
