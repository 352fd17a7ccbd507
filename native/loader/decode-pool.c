/*
 * Decoding zstd chunks on several threads at stage 2, so that a compressed image is
 * decoded at the speed of every CPU the restart may use, not one.
 *
 *   main thread (place.c)                     decode threads (one per CPU, at most 8)
 *   for each chunk, in image order:
 *     raw: map it, or copy it (after waiting
 *          for any queued chunk it overlaps)
 *     zstd: take the next slot of the ring ─▶  claim the oldest queued slot, check the CRC
 *           (once its last chunk was checked),  of its data, decode it into k.addr, mark
 *           pread the stored data into it       it done (and why, if it was bad)
 *   finish: every slot done, in order ──────▶  quit, exit (CLONE_CHILD_CLEARTID)
 *           wait until each thread is gone
 *
 * The main thread reads and the threads decode, so reading the image overlaps with
 * decoding it. The chunks of an image cover distinct memory (the writer saves each page
 * once), but nothing in the format says so: a chunk is placed only once every queued
 * chunk that overlaps it is done, so the later one wins as it would in order.
 *
 * Errors: a thread dies on nothing. It leaves why a chunk was bad in its slot, and the
 * main thread, which looks at the slots in image order, dies with the same one-line
 * reason as one decoding alone (rst_chunk_die); exit_group takes the threads with it.
 *
 * Threads at stage 2 (the contract in loader.c: only the hole, the image file and the
 * vdso may be touched): the ring, the contexts and the stacks are arena memory in the
 * hole; the threads are raw clones (no libc here at all) with every signal blocked;
 * each decoder has its own static context (ZSTD_initStaticDCtx: no allocation) and TLS
 * block (chunk-decode.c). A thread takes a TID in the computation's PID namespace, one
 * an application thread of this or another process may need (set_tid) once stasis-init
 * says GO: every thread here is gone, exited and its TID released (tgkill answers ESRCH),
 * before rst_pool_finish returns, which is before this loader says DONE.
 */
#include <linux/futex.h>
#include "decode-pool.h"
#include "chunk-decode.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"

enum { SLOT_FREE, SLOT_QUEUED, SLOT_DONE };

#define STACK_SIZE (256u << 10)
#define GUARD 4096u
#define MAX_SLOTS (RST_POOL_MAX_WORKERS + 2)
#define WHY_MAX 128

struct pool_slot {
	int state;              /* futex word: SLOT_* */
	int bad;                /* rst_chunk_decode's answer */
	struct chunk k;
	uint8_t *in;            /* IMG_CHUNK_MAX bytes: the stored data */
	char why[WHY_MAX];
};

struct pool_worker {
	int tid;                /* set at clone (parent_tid); the kernel clears it at exit */
	int id;                 /* the TID, kept */
	struct rst_pool *p;
	struct rst_unzstd z;
};

struct rst_pool {
	uint32_t posted;        /* chunks queued */
	uint32_t claimed;       /* chunks a thread has taken */
	uint32_t collected;     /* chunks the main thread has seen done */
	int wake;               /* futex word: bumped on every queueing and at the end */
	int quit;
	int nworkers, nslots;
	struct pool_slot slots[MAX_SLOTS];
	struct pool_worker workers[RST_POOL_MAX_WORKERS];
};

static void worker_main(void *arg)
{
	struct pool_worker *me = arg;
	struct rst_pool *p = me->p;
	for (;;) {
		/* Read `wake` before looking for work: a queueing after the look bumps it, and
		 * the futex wait then returns at once instead of missing it. */
		int seen = __atomic_load_n(&p->wake, __ATOMIC_ACQUIRE);
		uint32_t c = __atomic_load_n(&p->claimed, __ATOMIC_ACQUIRE);
		if (c != __atomic_load_n(&p->posted, __ATOMIC_ACQUIRE)) {
			if (__atomic_compare_exchange_n(&p->claimed, &c, c + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				struct pool_slot *s = &p->slots[c % (uint32_t)p->nslots];
				struct sbuf why;
				sb_init(&why, s->why, sizeof(s->why));
				s->bad = rst_chunk_decode(&me->z, &s->k, s->in, (void *)s->k.addr, &why);
				sb_cstr(&why);
				__atomic_store_n(&s->state, SLOT_DONE, __ATOMIC_RELEASE);
				sys_futex(&s->state, FUTEX_WAKE_PRIVATE, 1, 0);
			}
			continue;
		}
		if (__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
			break;
		sys_futex(&p->wake, FUTEX_WAIT_PRIVATE, seen, 0);
	}
	for (;;)
		sys_call1(SYS_exit_, 0);
}

static int cpus(void)
{
	uint64_t mask[16];
	long n = sys_call3(204 /* sched_getaffinity */, 0, sizeof(mask), (long)mask);
	int c = 0;
	for (long i = 0; i < n / 8; i++)
		for (uint64_t v = mask[i]; v; v &= v - 1) /* no libgcc here for popcount */
			c++;
	return c;
}

static uint8_t *take_pages(struct m_arena *a, size_t n)
{
	uint8_t *p = m_take(a, n + 4096);
	return (uint8_t *)(((uintptr_t)p + 4095) & ~(uintptr_t)4095);
}

struct rst_pool *rst_pool_start(struct m_arena *a)
{
	int n = cpus();
	if (n > RST_POOL_MAX_WORKERS)
		n = RST_POOL_MAX_WORKERS;
	if (n < 2)
		return 0;
	struct rst_pool *p = m_take(a, sizeof(*p));
	memset(p, 0, sizeof(*p));
	p->nslots = n + 2;
	for (int i = 0; i < p->nslots; i++)
		p->slots[i].in = m_take(a, IMG_CHUNK_MAX);
	size_t dctx = (rst_unzstd_dctx_size() + 63) & ~(size_t)63;
	for (int i = 0; i < n; i++) {
		p->workers[i].p = p;
		if (rst_unzstd_setup(&p->workers[i].z, m_take(a, dctx), 0, m_take(a, IMG_CHUNK_MAX)))
			return 0;
	}

	uint64_t all = ~0ull, old = 0;
	sys_call4(SYS_rt_sigprocmask_, 2 /* SIG_SETMASK */, (long)&all, (long)&old, 8);
	for (int i = 0; i < n; i++) {
		struct pool_worker *w = &p->workers[i];
		uint8_t *stack = take_pages(a, GUARD + STACK_SIZE);
		if (sys_mprotect(stack, GUARD, 0) < 0)
			break;
		uint64_t *top = (uint64_t *)(stack + GUARD + STACK_SIZE);
		top[-2] = (uint64_t)worker_main;
		top[-1] = (uint64_t)w;
		struct {
			uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
				set_tid, set_tid_size, cgroup;
		} ca = {
			0x100 | 0x200 | 0x400 | 0x800 /* VM|FS|FILES|SIGHAND */ | 0x10000 | 0x40000 /* THREAD|SYSVSEM */ |
				0x100000 | 0x200000 /* PARENT_SETTID|CHILD_CLEARTID */,
			0, (uint64_t)&w->tid, (uint64_t)&w->tid, 0, (uint64_t)(stack + GUARD),
			STACK_SIZE - 16, 0, 0, 0, 0,
		};
		long tid = rst_clone3_thread(&ca, sizeof(ca));
		if (tid < 0)
			break;
		w->id = (int)tid;
		p->nworkers++;
	}
	sys_call4(SYS_rt_sigprocmask_, 2, (long)&old, 0, 8);
	if (p->nworkers < 2) {
		/* One thread would only take turns with this one: decode alone. */
		rst_pool_finish(p, 0);
		return 0;
	}
	return p;
}

/* Waits for the oldest queued chunk; dies if it was bad. */
static void collect(struct rst_pool *p, const struct meta *m)
{
	struct pool_slot *s = &p->slots[p->collected % (uint32_t)p->nslots];
	int st;
	while ((st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) != SLOT_DONE)
		sys_futex(&s->state, FUTEX_WAIT_PRIVATE, st, 0);
	if (s->bad)
		rst_chunk_die(m, &s->k, s->bad == 1 ? 0 : s->why);
	s->state = SLOT_FREE;
	p->collected++;
}

void rst_pool_wait_range(struct rst_pool *p, const struct meta *m, uint64_t addr, uint64_t len)
{
	if (!p)
		return;
	uint32_t last = p->collected;
	for (uint32_t i = p->collected; i != p->posted; i++) {
		const struct chunk *k = &p->slots[i % (uint32_t)p->nslots].k;
		if (k->addr < addr + len && addr < k->addr + k->raw)
			last = i + 1;
	}
	while (p->collected != last)
		collect(p, m);
}

void rst_pool_chunk(struct rst_pool *p, const struct meta *m, const struct chunk *k)
{
	rst_pool_wait_range(p, m, k->addr, k->raw);
	if (p->posted - p->collected == (uint32_t)p->nslots)
		collect(p, m);
	struct pool_slot *s = &p->slots[p->posted % (uint32_t)p->nslots];
	struct img_cursor c = m->cur;
	c.index = k->index;
	c.off = k->off;
	rst_pread_all(&c, s->in, k->stored, k->data_at);
	s->k = *k;
	s->state = SLOT_QUEUED;
	__atomic_store_n(&p->posted, p->posted + 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&p->wake, 1, __ATOMIC_RELEASE);
	sys_futex(&p->wake, FUTEX_WAKE_PRIVATE, 1, 0);
}

void rst_pool_finish(struct rst_pool *p, const struct meta *m)
{
	if (!p)
		return;
	while (p->collected != p->posted)
		collect(p, m);
	__atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&p->wake, 1, __ATOMIC_RELEASE);
	sys_futex(&p->wake, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0);
	long pid = sys_getpid();
	for (int i = 0; i < p->nworkers; i++) {
		int *tid = &p->workers[i].tid, t = __atomic_load_n(tid, __ATOMIC_ACQUIRE);
		/* Not a private futex: the kernel's wake at thread exit is a shared one. */
		while (t != 0) {
			sys_futex(tid, FUTEX_WAIT, t, 0);
			t = __atomic_load_n(tid, __ATOMIC_ACQUIRE);
		}
		/* The word is cleared before the thread is released: wait until its TID is free. */
		while (sys_call3(SYS_tgkill_, pid, p->workers[i].id, 0) != -3 /* ESRCH */)
			sys_call0(24 /* sched_yield */);
	}
	p->nworkers = 0;
}
