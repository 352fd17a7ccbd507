/*
 * Stopping and releasing application threads.
 *
 * The checkpoint thread sends the suspend signal to every thread listed in
 * /proc/self/task, then lists again until a pass finds no thread it has not signalled:
 * a thread created meanwhile is caught by the next pass. Each thread records, in its
 * handler, what only it can read about itself (TLS base, cleared-TID address, robust list,
 * alternate stack) and where the kernel put its signal frame, then parks on a futex. The
 * frame holds every register, the FPU/AVX state and the signal mask at the moment of
 * interruption: a restored thread resumes with rt_sigreturn on it (restart.c).
 *
 * The handler also takes the thread's pending signals and attributes (kstate.c). When the
 * process is captured (WRITE: every process of the computation is stopped by then, and one
 * that was exiting meanwhile is a zombie whose SIGCHLD is already pending here), the
 * checkpoint thread asks the leader, still parked in its handler, to take the shared
 * signal queue: parked threads wait on park_seq, which is bumped both for that request and
 * for the release.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/prctl.h>
#include <asm/prctl.h>
#include "agent.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define SUSPEND_TIMEOUT_NS (10ull * 1000000000ull)

struct agent_state g_agent;

static uint64_t now_ns(void)
{
	struct { long s, ns; } ts;
	sys_call2(SYS_clock_gettime_, 1 /* CLOCK_MONOTONIC */, (long)&ts);
	return (uint64_t)ts.s * 1000000000ull + (uint64_t)ts.ns;
}

static void futex_wake_all(volatile int *w)
{
	sys_futex((int *)w, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0);
}

/* Records this thread into a fresh slot; the handler and the checkpoint thread share it. */
static struct agent_thread *record_self(void *uc, int *slot)
{
	int idx = __atomic_fetch_add(&g_agent.nthreads, 1, __ATOMIC_ACQ_REL);
	if (idx >= AGENT_MAX_THREADS)
		return 0;
	*slot = idx;
	struct agent_thread *t = &g_agent.threads[idx];
	t->tid = (int32_t)sys_gettid();
	t->flags = t->tid == sys_getpid() ? TF_LEADER : 0;
	unsigned long fs = 0;
	sys_arch_prctl(ARCH_GET_FS, (long)&fs);
	t->fs_base = fs;
	unsigned long *ctid = 0;
	if (sys_prctl(PR_GET_TID_ADDRESS, (long)&ctid, 0, 0, 0) < 0)
		ctid = 0;
	t->ctid = (uint64_t)ctid;
	long head = 0;
	size_t len = 0;
	if (sys_call3(SYS_get_robust_list_, 0, (long)&head, (long)&len) < 0)
		head = 0, len = 0;
	t->robust_head = (uint64_t)head;
	t->robust_len = len;
	sys_call2(SYS_sigaltstack_, 0, (long)&t->altstack);
	t->uc = uc;
	/* Below the frame and the red zone: the restart entry runs here before sigreturn. */
	t->resume_sp = uc ? (((uint64_t)uc - 4096) & ~15ull) : 0;
	agent_ks_record_self(t, idx);
	return t;
}

static void on_suspend(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	if (!g_agent.suspending || si->si_code != SI_TKILL || si->si_pid != sys_getpid())
		return;
	int gen = g_agent.resume_gen, slot;
	struct agent_thread *t = record_self(uc, &slot);
	if (!t)
		return;
	/* The leader keeps its own signals out until it has taken the shared queue. */
	int leader = t->flags & TF_LEADER;
	if (!leader)
		agent_ks_put_private(t, slot);
	__atomic_fetch_add(&g_agent.suspended, 1, __ATOMIC_ACQ_REL);
	futex_wake_all(&g_agent.suspended);
	for (;;) {
		int seq = __atomic_load_n(&g_agent.park_seq, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&g_agent.resume_gen, __ATOMIC_ACQUIRE) != gen)
			break;
		if (leader && __atomic_load_n(&g_agent.shared_req, __ATOMIC_ACQUIRE) == 1) {
			agent_ks_take_shared();
			agent_ks_put_private(t, slot);
			agent_ks_put_shared();
			__atomic_store_n(&g_agent.shared_req, 2, __ATOMIC_RELEASE);
			futex_wake_all(&g_agent.shared_req);
			continue;
		}
		sys_futex((int *)&g_agent.park_seq, FUTEX_WAIT_PRIVATE, seq, 0);
	}
	agent_ks_put_private(t, slot);
}

static void bump_park_seq(void)
{
	__atomic_fetch_add(&g_agent.park_seq, 1, __ATOMIC_ACQ_REL);
	futex_wake_all(&g_agent.park_seq);
}

/* Asks the parked leader to take the shared signal queue (see kstate.c) and waits. */
int agent_take_shared_signals(char *why, int whylen)
{
	int leader = -1;
	for (int i = 0; i < g_agent.nthreads && i < AGENT_MAX_THREADS; i++)
		if (g_agent.threads[i].flags & TF_LEADER)
			leader = i;
	if (leader < 0)
		return 0; /* the main thread has exited: the shared queue is not saved */
	uint64_t deadline = now_ns() + SUSPEND_TIMEOUT_NS;
	__atomic_store_n(&g_agent.shared_req, 1, __ATOMIC_RELEASE);
	bump_park_seq();
	for (;;) {
		int v = __atomic_load_n(&g_agent.shared_req, __ATOMIC_ACQUIRE);
		if (v == 2)
			return 0;
		if (now_ns() > deadline) {
			struct sbuf s;
			sb_init(&s, why, (size_t)whylen);
			sb_str(&s, "the main thread did not save the shared signal queue within 10 s");
			return -110;
		}
		struct { long s, ns; } ts = { 0, 20 * 1000 * 1000 };
		sys_futex((int *)&g_agent.shared_req, FUTEX_WAIT_PRIVATE, v, &ts);
	}
}

void *agent_handler(void)
{
	return (void *)on_suspend;
}

int agent_install_handler(void)
{
	struct sigaction sa;
	mem_zero(&sa, sizeof(sa));
	sa.sa_sigaction = on_suspend;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return sigaction(g_agent.sig, &sa, 0);
}

/* Signals every listed thread not yet signalled. Returns how many were newly signalled. */
static int signal_new_threads(int *sent, int *nsent, int self)
{
	char buf[4096];
	int fresh = 0;
	int dfd = (int)sys_openat(-100, "/proc/self/task", 0x10000 /* O_DIRECTORY */, 0);
	if (dfd < 0)
		return dfd;
	for (;;) {
		long n = sys_call3(SYS_getdents64_, dfd, (long)buf, sizeof(buf));
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; uint16_t reclen; uint8_t type; char name[]; } *d =
				(void *)(buf + off);
			off += d->reclen;
			const char *p = d->name;
			if (*p < '0' || *p > '9')
				continue;
			int tid = (int)parse_dec(&p);
			if (tid == self)
				continue;
			int seen = 0;
			for (int i = 0; i < *nsent; i++)
				seen |= sent[i] == tid;
			if (seen || *nsent >= AGENT_MAX_THREADS)
				continue;
			if (sys_call3(SYS_tgkill_, sys_getpid(), tid, g_agent.sig) == 0) {
				sent[(*nsent)++] = tid;
				fresh++;
			}
		}
	}
	sys_close(dfd);
	return fresh;
}

/* Threads that were signalled but died before handling it will never park. */
static int live_count(const int *sent, int nsent)
{
	int live = 0;
	for (int i = 0; i < nsent; i++)
		if (sys_call3(SYS_tgkill_, sys_getpid(), sent[i], 0) == 0)
			live++;
	return live;
}

int agent_suspend_all(char *why, int whylen)
{
	static int sent[AGENT_MAX_THREADS];
	int nsent = 0, self = (int)sys_gettid();
	uint64_t deadline = now_ns() + SUSPEND_TIMEOUT_NS;
	struct sbuf s;

	g_agent.nthreads = 0;
	g_agent.suspended = 0;
	g_agent.nsigs = 0;
	g_agent.sig_overflow = 0;
	g_agent.shared_taken = 0;
	g_agent.shared_req = 0;
	__atomic_store_n(&g_agent.suspending, 1, __ATOMIC_RELEASE);
	for (;;) {
		int fresh = signal_new_threads(sent, &nsent, self);
		if (fresh < 0) {
			sb_init(&s, why, (size_t)whylen);
			sb_str(&s, "cannot list threads: ");
			sb_str(&s, strerror_short(fresh));
			return fresh;
		}
		for (;;) {
			int parked = __atomic_load_n(&g_agent.suspended, __ATOMIC_ACQUIRE);
			if (parked >= nsent || parked >= live_count(sent, nsent))
				break;
			if (now_ns() > deadline) {
				sb_init(&s, why, (size_t)whylen);
				sb_str(&s, "a thread did not stop within 10 s (it may block signal ");
				sb_udec(&s, (uint64_t)g_agent.sig);
				sb_str(&s, ")");
				return -110;
			}
			struct { long s, ns; } ts = { 0, 20 * 1000 * 1000 };
			sys_futex((int *)&g_agent.suspended, FUTEX_WAIT_PRIVATE, parked, &ts);
		}
		if (!fresh)
			break;
	}
	if (g_agent.nthreads >= AGENT_MAX_THREADS) {
		sb_init(&s, why, (size_t)whylen);
		sb_str(&s, "too many threads");
		return -12;
	}
	return 0;
}

void agent_resume_all(void)
{
	__atomic_store_n(&g_agent.suspending, 0, __ATOMIC_RELEASE);
	__atomic_fetch_add(&g_agent.resume_gen, 1, __ATOMIC_ACQ_REL);
	bump_park_seq();
}
