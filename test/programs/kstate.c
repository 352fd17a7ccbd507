/*
 * Kernel state around a process that a restart must keep exactly, checked on every step
 * so that a checkpoint landing anywhere is caught if it loses any:
 *   - pending signals: a blocked RT signal queued three times with values to the process
 *     (the shared queue), another three times to the worker thread (its own queue), a
 *     SIGUSR2 sent with kill() (shared, SI_USER) and a SIGWINCH with tgkill() to the main
 *     thread (its own queue). At the end each comes back exactly once, in
 *     order, with its code and value;
 *   - interval timers (real, virtual, prof) with long values: armed, interval exact;
 *   - POSIX timers, ids and all: SIGEV_SIGNAL (a periodic one whose handler every step
 *     waits for, and a long one), SIGEV_THREAD_ID to the worker, SIGEV_NONE, and glibc's
 *     SIGEV_THREAD (a periodic one whose callback every step waits for);
 *   - personality, subreaper, dumpable; per thread: CPU affinity, nice, timer slack,
 *     name, no_new_privs, parent-death signal.
 * Prints one line per step; every line is the same in an uninterrupted run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SIG_SHARED (SIGRTMIN + 2) /* queued 3 times to the process */
#define SIG_WORKER (SIGRTMIN + 3) /* queued 3 times to the worker */
#define SIG_LONG (SIGRTMIN + 4)   /* a long POSIX timer: never fires */
#define SIG_TID (SIGRTMIN + 5)    /* a long POSIX timer aimed at the worker */
#define SIG_TICK (SIGRTMIN + 6)   /* a periodic POSIX timer, handled */
#define PERS (PER_LINUX | ADDR_NO_RANDOMIZE)
#define SEC 1000000000ll

static volatile sig_atomic_t ticks;
static sem_t cb_sem, to_worker, from_worker;
static volatile int finishing;
static pid_t main_tid, worker_tid;
static char worker_report[256];
static timer_t t_long, t_tid, t_none, t_tick, t_thread;
static char timers_at_start[1024];

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void on_thread_timer(union sigval v)
{
	(void)v;
	sem_post(&cb_sem);
}

static long long ns(const struct timespec *t)
{
	return t->tv_sec * SEC + t->tv_nsec;
}

static int cpus(void)
{
	return get_nprocs();
}

static void cpu_set_of(int cpu, cpu_set_t *s)
{
	CPU_ZERO(s);
	CPU_SET(cpu, s);
}

/* This thread's attributes against what it set; "ok" or what differs. */
static const char *check_self(int cpu, int nice, unsigned long slack, const char *name, int pdeath)
{
	static __thread char why[128];
	cpu_set_t want, have;
	cpu_set_of(cpu, &want);
	char nm[16] = "";
	int pd = -1;
	prctl(PR_GET_NAME, nm);
	prctl(PR_GET_PDEATHSIG, &pd);
	errno = 0;
	int nv = getpriority(PRIO_PROCESS, 0);
	if (sched_getaffinity(0, sizeof(have), &have) || !CPU_EQUAL(&want, &have))
		return "affinity LOST";
	if (nv != nice)
		return snprintf(why, sizeof(why), "nice %d LOST", nv), why;
	if ((unsigned long)prctl(PR_GET_TIMERSLACK) != slack)
		return "timerslack LOST";
	if (strcmp(nm, name))
		return snprintf(why, sizeof(why), "name %s LOST", nm), why;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return "no_new_privs LOST";
	if (pd != pdeath)
		return "pdeathsig LOST";
	return "ok";
}

static int pending(int sig)
{
	sigset_t p;
	sigpending(&p);
	return sigismember(&p, sig);
}

/* Takes every queued `sig` now; writes "v1,v2,... CODE" for them. */
static void drain(int sig, char *out, size_t cap)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	size_t n = 0;
	out[0] = 0;
	while (sigtimedwait(&set, &si, &zero) == sig) {
		const char *code = si.si_code == SI_QUEUE ? "SI_QUEUE" : si.si_code == SI_USER ? "SI_USER"
				 : si.si_code == SI_TKILL ? "SI_TKILL" : "other";
		int from_us = si.si_pid == getpid();
		if (si.si_code == SI_QUEUE)
			n += snprintf(out + n, cap - n, "%s%d", n ? "," : "", si.si_value.sival_int);
		n += snprintf(out + n, cap - n, "%s%s%s", n ? " " : "", code, from_us ? "" : " (not from us)");
		if (n >= cap)
			break;
	}
	if (!n)
		snprintf(out, cap, "none");
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = gettid();
	cpu_set_t s;
	cpu_set_of(cpus() - 1, &s);
	sched_setaffinity(0, sizeof(s), &s);
	setpriority(PRIO_PROCESS, 0, 7);
	prctl(PR_SET_TIMERSLACK, 123456ul);
	pthread_setname_np(pthread_self(), "kst-worker");
	sem_post(&from_worker);
	for (;;) {
		while (sem_wait(&to_worker))
			;
		if (finishing)
			break;
		snprintf(worker_report, sizeof(worker_report), "worker %s rt3 %s",
			 check_self(cpus() - 1, 7, 123456, "kst-worker", 0), pending(SIG_WORKER) ? "pending" : "LOST");
		sem_post(&from_worker);
	}
	drain(SIG_WORKER, worker_report, sizeof(worker_report));
	sem_post(&from_worker);
	return 0;
}

static timer_t make_timer(clockid_t clk, int notify, int sig, int val, long long value, long long interval)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = notify;
	sev.sigev_signo = sig;
	sev.sigev_value.sival_int = val;
	if (notify == SIGEV_THREAD_ID)
		sev._sigev_un._tid = worker_tid;
	if (notify == SIGEV_THREAD)
		sev.sigev_notify_function = on_thread_timer;
	timer_t t;
	if (timer_create(clk, &sev, &t)) {
		perror("timer_create");
		exit(2);
	}
	struct itimerspec its = { { interval / SEC, interval % SEC }, { value / SEC, value % SEC } };
	timer_settime(t, 0, &its, 0);
	return t;
}

/* /proc/self/timers, ids and all, with TIDs named and glibc's pointer left out. */
static void describe_timers(char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/timers", "r");
	char line[256];
	size_t n = 0;
	out[0] = 0;
	if (!f) {
		snprintf(out, cap, "unreadable");
		return;
	}
	int sig = 0;
	unsigned long long val = 0;
	while (fgets(line, sizeof(line), f) && n < cap) {
		int id, who;
		char kind[16], pt[8];
		if (sscanf(line, "ID: %d", &id) == 1) {
			n += snprintf(out + n, cap - n, "%s[%d", n ? " " : "", id);
		} else if (sscanf(line, "signal: %d/%llx", &sig, &val) == 2) {
		} else if (sscanf(line, "notify: %15[a-z]/%7[a-z].%d", kind, pt, &who) == 3) {
			const char *w = who == getpid() ? "us" : who == worker_tid ? "worker" : "other";
			if (sig == 32) /* glibc's SIGEV_THREAD: its own bookkeeping as the value */
				n += snprintf(out + n, cap - n, " sig 32 %s/%s", kind, pt);
			else
				n += snprintf(out + n, cap - n, " sig %d val %llu %s/%s.%s", sig, val, kind, pt, w);
		} else if (sscanf(line, "ClockID: %d", &who) == 1) {
			n += snprintf(out + n, cap - n, " clock %d]", who);
		}
	}
	fclose(f);
}

static const char *plausible(timer_t t, long long max, long long interval)
{
	struct itimerspec its;
	if (timer_gettime(t, &its))
		return "GONE";
	if (ns(&its.it_interval) != interval)
		return "interval LOST";
	if (ns(&its.it_value) <= 0 || ns(&its.it_value) > max)
		return "value LOST";
	return "ok";
}

static const char *itimer_ok(int which, long long max, long long interval)
{
	struct itimerval v;
	getitimer(which, &v);
	long long val = v.it_value.tv_sec * SEC + v.it_value.tv_usec * 1000ll;
	long long iv = v.it_interval.tv_sec * SEC + v.it_interval.tv_usec * 1000ll;
	if (iv != interval)
		return "interval LOST";
	if (val <= 0 || val > max)
		return "value LOST";
	return "ok";
}

static void set_itimer(int which, long long value, long long interval)
{
	struct itimerval v = { { interval / SEC, 0 }, { value / SEC, 0 } };
	setitimer(which, &v, 0);
}

static void wait_tick(const sigset_t *during)
{
	sig_atomic_t seen = ticks;
	while (ticks == seen)
		sigsuspend(during);
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 30;
	main_tid = gettid();
	sem_init(&cb_sem, 0, 0);
	sem_init(&to_worker, 0, 0);
	sem_init(&from_worker, 0, 0);

	/* Every signal of the test stays blocked in every thread; the tick is let in by
	 * sigsuspend only. */
	sigset_t block, during;
	sigemptyset(&block);
	int sigs[] = { SIG_SHARED, SIG_WORKER, SIG_LONG, SIG_TID, SIG_TICK, SIGUSR2, SIGWINCH };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &during);
	sigaddset(&during, SIG_SHARED); /* keep the rest blocked while waiting */
	sigaddset(&during, SIG_WORKER);
	sigaddset(&during, SIG_LONG);
	sigaddset(&during, SIG_TID);
	sigaddset(&during, SIGUSR2);
	sigaddset(&during, SIGWINCH);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigaction(SIG_TICK, &sa, 0);

	personality(PERS);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGURG);
	prctl(PR_SET_TIMERSLACK, 250000ul);
	prctl(PR_SET_NAME, "kst-main");
	setpriority(PRIO_PROCESS, 0, 3);
	cpu_set_t s;
	cpu_set_of(0, &s);
	sched_setaffinity(0, sizeof(s), &s);

	pthread_t th;
	pthread_create(&th, 0, worker, 0);
	sem_wait(&from_worker);

	union sigval v;
	for (int k = 1; k <= 3; k++) {
		v.sival_int = k;
		sigqueue(getpid(), SIG_SHARED, v);
		v.sival_int = 10 * k;
		pthread_sigqueue(th, SIG_WORKER, v);
	}
	kill(getpid(), SIGUSR2);
	syscall(SYS_tgkill, getpid(), main_tid, SIGWINCH);

	set_itimer(ITIMER_REAL, 1000 * SEC, 500 * SEC);
	set_itimer(ITIMER_VIRTUAL, 10000 * SEC, 77 * SEC);
	set_itimer(ITIMER_PROF, 20000 * SEC, 33 * SEC);
	t_long = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIG_LONG, 4242, 3600 * SEC, 1800 * SEC);
	t_tid = make_timer(CLOCK_REALTIME, SIGEV_THREAD_ID, SIG_TID, 77, 2000 * SEC, 0);
	t_none = make_timer(CLOCK_BOOTTIME, SIGEV_NONE, 0, 5, 4000 * SEC, 7 * SEC);
	t_tick = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIG_TICK, 6, 15000000, 15000000);
	t_thread = make_timer(CLOCK_MONOTONIC, SIGEV_THREAD, 0, 0, 40000000, 40000000);
	prctl(PR_SET_DUMPABLE, 0);

	describe_timers(timers_at_start, sizeof(timers_at_start));
	printf("personality %#x cpus %d timers %s\n", personality(0xffffffff), cpus(), timers_at_start);
	fflush(stdout);

	char now[1024];
	volatile double x = 1.0;
	for (int i = 0; i < steps; i++) {
		wait_tick(&during);
		while (sem_wait(&cb_sem))
			;
		for (int k = 0; k < 3000000; k++)
			x = x * 1.0000001 + 1e-9;
		sem_post(&to_worker);
		while (sem_wait(&from_worker))
			;
		describe_timers(now, sizeof(now));
		int sub = 0;
		prctl(PR_GET_CHILD_SUBREAPER, &sub);
		printf("step %d main %s %s pending shared %s usr2 %s winch %s itimers %s/%s/%s "
		       "timers %s long %s tid %s none %s tick %s thread %s pers %s sub %d dump %d\n",
		       i, check_self(0, 3, 250000, "kst-main", SIGURG), worker_report,
		       pending(SIG_SHARED) ? "yes" : "LOST", pending(SIGUSR2) ? "yes" : "LOST",
		       pending(SIGWINCH) ? "yes" : "LOST",
		       itimer_ok(ITIMER_REAL, 1000 * SEC, 500 * SEC), itimer_ok(ITIMER_VIRTUAL, 10000 * SEC, 77 * SEC),
		       itimer_ok(ITIMER_PROF, 20000 * SEC, 33 * SEC),
		       strcmp(now, timers_at_start) ? "CHANGED" : "same",
		       plausible(t_long, 3600 * SEC, 1800 * SEC), plausible(t_tid, 2000 * SEC, 0),
		       plausible(t_none, 4000 * SEC, 7 * SEC), plausible(t_tick, 15000000, 15000000),
		       plausible(t_thread, 40000000, 40000000),
		       personality(0xffffffff) == PERS ? "ok" : "LOST", sub, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
		fflush(stdout);
	}

	timer_delete(t_tick);
	timer_delete(t_thread);
	finishing = 1;
	sem_post(&to_worker);
	while (sem_wait(&from_worker))
		;
	char a[256], b[256], c[256];
	drain(SIG_SHARED, a, sizeof(a));
	drain(SIGUSR2, b, sizeof(b));
	drain(SIGWINCH, c, sizeof(c));
	printf("taken: shared %s; usr2 %s; winch %s; worker rt3 %s\n", a, b, c, worker_report);
	pthread_join(th, 0);
	return 0;
}
