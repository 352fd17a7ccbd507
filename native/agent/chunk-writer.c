/*
 * The parallel chunk writer: zstd compresses CHUNK data on worker threads while the
 * checkpoint thread walks memory and writes finished chunks, in order, in large writes.
 *
 * It runs while the application's threads are stopped, or in a forked copy of the process
 * that another thread made with a raw clone, so it relies on raw system calls and memory
 * of its own, nothing else:
 *  - No pthread_create: a stopped thread may hold a libc lock, and a raw-cloned copy has
 *    none of libc's thread bookkeeping. Workers are clone() threads (CLONE_THREAD, so no
 *    exit signal and no reaping) on stacks in the writer's own mapping, each with a small
 *    TLS block of its own there (zstd's functions read the stack guard at %fs:0x28), and
 *    every signal blocked, so no handler of the application ever runs on them.
 *  - No malloc: each worker compresses with ZSTD_initStaticCCtx on that mapping; with a
 *    static context zstd never allocates (a level that needed more memory would fail, and
 *    the chunk would be stored raw).
 *  - Handoff by futexes on words in the mapping. A worker's exit is seen through
 *    CLONE_CHILD_CLEARTID (the kernel clears the word and wakes us once the thread no
 *    longer uses its stack), so the mapping can then be unmapped.
 *  - The mapping is made after /proc/self/maps was read: the image never holds it.
 *
 * Order: chunks are numbered as they are submitted and written in that order, so the image
 * does not depend on which worker finished first. A ring of slots bounds the memory used:
 * when it is full, the checkpoint thread waits for the oldest chunk and writes it. Each
 * worker computes its chunk's CRC too; image.c combines it with the CRC of the record's
 * head, whose padding depends on where in the file the record lands.
 *
 * Which chunks are compressed, and how: a chunk is stored compressed only if that saves at
 * least a quarter of its bytes, since a compressed chunk costs a decompression at restart
 * where a raw one can be mapped in place. Before compressing a chunk of 256 KiB or more, a
 * sample of it (four 16 KiB pieces spread over it) is compressed as it is: if that saves
 * less than 1/32, the chunk is stored raw at once, so incompressible memory costs about 1%
 * of a compression. Otherwise the sample is also byte-shuffled by 8 (encoding 2,
 * ../common/shuffle.h) and compressed: arrays of 8-byte numbers compress much better and
 * faster so. The shuffle is chosen when its sample is at least 10% smaller (else plain
 * zstd, which restarts without an unshuffle), and either only if it saves a quarter. A
 * smaller chunk is compressed as it is, without a sample. Each context has an 8 MiB
 * scratch for the shuffled chunk, in the writer's mapping.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <linux/futex.h>
#include "chunk-writer.h"
#include "../common/crc32c.h"
#include "../common/img.h"
#include "../common/shuffle.h"
#include "../common/sys.h"

enum { SLOT_FREE, SLOT_QUEUED, SLOT_DONE };

#define STACK_SIZE (256u << 10)
#define GUARD 4096u
#define SAMPLE_PIECE (16u << 10)
#define SAMPLE (4 * SAMPLE_PIECE)
#define MAX_SLOTS (2 * CW_MAX_WORKERS + 2)

struct cw_slot {
	int state;              /* futex word: SLOT_* */
	uint32_t enc, stored, crc;
	uint64_t addr, len;
	const uint8_t *src;     /* the memory, or `in` when it had to be copied */
	uint8_t *in, *out;      /* IMG_CHUNK_MAX bytes each */
};

struct cw_worker {
	int tid;                /* set at clone (PARENT_SETTID); the kernel clears it at exit */
	struct cw_shared *sh;
	void *cctx;
	uint8_t *shuf;          /* IMG_CHUNK_MAX bytes: a chunk shuffled for encoding 2 */
	uint64_t tcb[8];        /* the thread's TLS block: [0] itself, [5] the stack guard */
};

/* At the start of the writer's mapping: what the workers and the checkpoint thread share. */
struct cw_shared {
	uint32_t posted;        /* chunks submitted */
	uint32_t claimed;       /* chunks a worker has taken */
	int wake;               /* futex word: bumped on every submission and at the end */
	int quit;
	int nworkers, nslots;
	size_t map_len;
	void *inline_cctx;      /* without workers: the checkpoint thread compresses */
	uint8_t *inline_shuf;
	struct cw_slot slots[MAX_SLOTS];
	struct cw_worker workers[CW_MAX_WORKERS];
};

/* clone(flags, sp, ptid, ctid, tls). The child finds the function and its argument at sp,
 * calls it and exits; the parent gets the tid or -errno. */
long stasis_cw_clone(unsigned long flags, void *sp, int *ptid, int *ctid, void *tls);
__asm__(".text\n"
	".globl stasis_cw_clone\n"
	".hidden stasis_cw_clone\n"
	".type stasis_cw_clone, @function\n"
	"stasis_cw_clone:\n"
	"	mov %rcx, %r10\n"
	"	mov $56, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	pop %rax\n"
	"	pop %rdi\n"
	"	call *%rax\n"
	"	mov $60, %eax\n"
	"	xor %edi, %edi\n"
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size stasis_cw_clone, .-stasis_cw_clone\n");

/* libzstd.a calls these around each frame if anything defines them (weak references):
 * the agent's own say "do not trace", so no function of the application's can run here. */
unsigned long long ZSTD_trace_compress_begin(const void *cctx);
void ZSTD_trace_compress_end(unsigned long long ctx, const void *trace);
unsigned long long ZSTD_trace_compress_begin(const void *cctx)
{
	(void)cctx;
	return 0;
}
void ZSTD_trace_compress_end(unsigned long long ctx, const void *trace)
{
	(void)ctx;
	(void)trace;
}

static size_t page_up(size_t n) { return (n + 4095) & ~(size_t)4095; }

int cw_cpus(void)
{
	uint64_t mask[128];
	long n = sys_call3(204 /* sched_getaffinity */, 0, sizeof(mask), (long)mask);
	int cpus = 0;
	for (long i = 0; i < n / 8; i++)
		cpus += __builtin_popcountll(mask[i]);
	return cpus > 0 ? cpus : 1;
}

/* The compressed size of n bytes at src, into dst (n bytes), or n if not smaller. */
static size_t squeeze(void *cctx, uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t r = ZSTD_compress2(cctx, dst, n, src, n);
	return ZSTD_isError(r) || r == 0 ? n : r;
}

/* The encoding a sample of four 16 KiB pieces spread over the chunk asks for (the policy
 * above); scratch holds 2 * SAMPLE bytes, shuf SAMPLE. */
static uint32_t sample_choice(void *cctx, const uint8_t *src, uint64_t len, uint8_t *scratch, uint8_t *shuf)
{
	if (len < 4 * SAMPLE)
		return IMG_ENC_ZSTD;
	for (uint64_t k = 0; k < 4; k++) {
		uint64_t at = (len - SAMPLE_PIECE) / 3 * k & ~4095ull;
		__builtin_memcpy(scratch + k * SAMPLE_PIECE, src + at, SAMPLE_PIECE);
	}
	size_t plain = squeeze(cctx, scratch + SAMPLE, scratch, SAMPLE);
	if (plain > SAMPLE - SAMPLE / 32)
		return IMG_ENC_RAW;
	shuffle8(shuf, scratch, SAMPLE);
	size_t shuffled = squeeze(cctx, scratch + SAMPLE, shuf, SAMPLE);
	int shuffle = shuffled * 10 < plain * 9;
	if ((shuffle ? shuffled : plain) > SAMPLE - SAMPLE / 4)
		return IMG_ENC_RAW;
	return shuffle ? IMG_ENC_SHUF8_ZSTD : IMG_ENC_ZSTD;
}

/* Decides the slot's encoding, compresses into `out` unless raw (shuffling into shuf
 * first for encoding 2), and checksums what is stored. */
static void encode(void *cctx, uint8_t *shuf, struct cw_slot *s)
{
	uint64_t len = s->len;
	size_t cap = (size_t)(len - len / 4);
	uint32_t enc = sample_choice(cctx, s->src, len, s->out, shuf);
	s->enc = IMG_ENC_RAW;
	s->stored = (uint32_t)len;
	if (enc != IMG_ENC_RAW) {
		const uint8_t *from = s->src;
		if (enc == IMG_ENC_SHUF8_ZSTD) {
			shuffle8(shuf, s->src, len);
			from = shuf;
		}
		size_t r = ZSTD_compress2(cctx, s->out, cap, from, len);
		if (!ZSTD_isError(r) && r > 0 && r <= cap) {
			s->enc = enc;
			s->stored = (uint32_t)r;
		}
	}
	s->crc = crc32c(0, s->enc != IMG_ENC_RAW ? s->out : s->src, s->stored);
}

static void worker_main(void *arg)
{
	struct cw_worker *me = arg;
	struct cw_shared *sh = me->sh;
	for (;;) {
		/* Read `wake` before looking for work: a submission after the look bumps it,
		 * and the futex wait then returns at once instead of missing it. */
		int seen = __atomic_load_n(&sh->wake, __ATOMIC_ACQUIRE);
		uint32_t c = __atomic_load_n(&sh->claimed, __ATOMIC_ACQUIRE);
		if (c != __atomic_load_n(&sh->posted, __ATOMIC_ACQUIRE)) {
			if (__atomic_compare_exchange_n(&sh->claimed, &c, c + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				struct cw_slot *s = &sh->slots[c % (uint32_t)sh->nslots];
				encode(me->cctx, me->shuf, s);
				__atomic_store_n(&s->state, SLOT_DONE, __ATOMIC_RELEASE);
				sys_futex(&s->state, FUTEX_WAKE_PRIVATE, 1, 0);
			}
			continue;
		}
		if (__atomic_load_n(&sh->quit, __ATOMIC_ACQUIRE))
			break;
		sys_futex(&sh->wake, FUTEX_WAIT_PRIVATE, seen, 0);
	}
	for (;;)
		sys_call1(SYS_exit_, 0);
}

/* Starts the workers on their stacks (at p, GUARD + STACK_SIZE bytes each); returns how
 * many run. Every signal is blocked meanwhile, and so in them from their first instruction. */
static int start_workers(struct cw_shared *sh, int n, uint8_t *p)
{
	uint64_t guard;
	__asm__ volatile("mov %%fs:0x28, %0" : "=r"(guard));
	uint64_t all = ~0ull, old = 0;
	sys_call4(SYS_rt_sigprocmask_, 2 /* SIG_SETMASK */, (long)&all, (long)&old, 8);
	const unsigned long flags = 0x100 | 0x200 | 0x400 | 0x800 /* VM|FS|FILES|SIGHAND */ |
				    0x10000 | 0x40000 /* THREAD|SYSVSEM */ | 0x80000 /* SETTLS */ |
				    0x100000 | 0x200000 /* PARENT_SETTID|CHILD_CLEARTID */;
	int started = 0;
	for (int i = 0; i < n; i++, p += GUARD + STACK_SIZE) {
		struct cw_worker *wk = &sh->workers[i];
		wk->sh = sh;
		wk->tcb[0] = (uint64_t)wk->tcb;
		wk->tcb[5] = guard;
		if (sys_mprotect(p, GUARD, 0) < 0)
			break;
		uint64_t *sp = (uint64_t *)(p + GUARD + STACK_SIZE) - 2;
		sp[0] = (uint64_t)worker_main;
		sp[1] = (uint64_t)wk;
		if (stasis_cw_clone(flags, sp, &wk->tid, &wk->tid, wk->tcb) < 0)
			break;
		started++;
	}
	sys_call4(SYS_rt_sigprocmask_, 2, (long)&old, 0, 8);
	return started;
}

/* The chunk parameters (chunk-writer.h): CW_LEVEL's, with CW_MIN_MATCH. */
static ZSTD_compressionParameters cw_params(void)
{
	ZSTD_compressionParameters p = ZSTD_getCParams(CW_LEVEL, IMG_CHUNK_MAX, 0);
	p.minMatch = CW_MIN_MATCH;
	return p;
}

/* A static context on len bytes at mem, set to compress chunks; null if it does not fit.
 * ZSTD_compress2 then compresses in one pass, with no buffer of its own. A static
 * context starts with every parameter zero, the content size flag too: reset them to
 * zstd's defaults first, since the loader wants each frame to declare its size. */
static void *cw_cctx(void *mem, size_t len)
{
	ZSTD_CCtx *c = ZSTD_initStaticCCtx(mem, len);
	if (!c || ZSTD_isError(ZSTD_CCtx_reset(c, ZSTD_reset_parameters)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, CW_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, CW_MIN_MATCH)))
		return 0;
	return c;
}

void cw_start(struct cw *w, struct img_out *o, int compress, int workers)
{
	w->o = o;
	w->sh = 0;
	w->submitted = w->written = 0;
	w->raw_bytes = w->stored_bytes = 0;
	w->last_enc = w->last_stored = 0;
	w->by_enc[0] = w->by_enc[1] = w->by_enc[2] = 0;
	if (!compress)
		return;
	if (workers > CW_MAX_WORKERS)
		workers = CW_MAX_WORKERS;
	if (workers < 0)
		workers = 0;
	int nslots = workers ? 2 * workers + 2 : 1, nctx = workers ? workers : 1;
	size_t cctx_len = page_up(ZSTD_estimateCCtxSize_usingCParams(cw_params()));
	size_t head = page_up(sizeof(struct cw_shared));
	size_t len = head + (size_t)nslots * 2 * IMG_CHUNK_MAX + (size_t)nctx * (cctx_len + IMG_CHUNK_MAX) +
		     (size_t)workers * (GUARD + STACK_SIZE);
	long m = sys_mmap(0, len, 3, 0x22 | 0x4000 /* PRIVATE|ANON|NORESERVE */, -1, 0);
	if (m < 0)
		return;
	struct cw_shared *sh = (struct cw_shared *)m;
	sh->map_len = len;
	sh->nslots = nslots;
	uint8_t *p = (uint8_t *)m + head;
	for (int i = 0; i < nslots; i++) {
		sh->slots[i].in = p;
		sh->slots[i].out = p + IMG_CHUNK_MAX;
		p += 2 * IMG_CHUNK_MAX;
	}
	for (int i = 0; i < nctx; i++, p += cctx_len + IMG_CHUNK_MAX) {
		void *cctx = cw_cctx(p, cctx_len);
		if (!cctx) {
			sys_munmap((void *)m, len);
			return;
		}
		if (workers) {
			sh->workers[i].cctx = cctx;
			sh->workers[i].shuf = p + cctx_len;
		} else {
			sh->inline_cctx = cctx;
			sh->inline_shuf = p + cctx_len;
		}
	}
	if (workers) {
		sh->nworkers = start_workers(sh, workers, p);
		if (!sh->nworkers) {
			sh->inline_cctx = sh->workers[0].cctx;
			sh->inline_shuf = sh->workers[0].shuf;
			sh->nslots = 1;
		}
	}
	w->sh = sh;
}

static void emit(struct cw *w, const struct cw_slot *s)
{
	img_chunk_stored(w->o, s->addr, s->len, s->enc, s->enc != IMG_ENC_RAW ? s->out : s->src, s->stored, s->crc);
	w->raw_bytes += s->len;
	w->stored_bytes += s->stored;
	w->last_enc = s->enc;
	w->last_stored = s->stored;
	w->by_enc[s->enc]++;
}

/* Writes the oldest chunk in flight if it is done (or, with wait, once it is). Returns 1
 * when it wrote one. */
static int write_next(struct cw *w, int wait)
{
	struct cw_shared *sh = w->sh;
	if (w->written == w->submitted)
		return 0;
	struct cw_slot *s = &sh->slots[w->written % (uint32_t)sh->nslots];
	int st;
	while ((st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) != SLOT_DONE) {
		if (!wait)
			return 0;
		sys_futex(&s->state, FUTEX_WAIT_PRIVATE, st, 0);
	}
	emit(w, s);
	s->state = SLOT_FREE;
	w->written++;
	return 1;
}

void cw_chunk(struct cw *w, uint64_t addr, const void *mem, uint64_t len, int volatile_mem)
{
	struct cw_shared *sh = w->sh;
	if (!sh) {
		img_chunk(w->o, addr, mem, len);
		w->raw_bytes += len;
		w->stored_bytes += len;
		w->last_enc = IMG_ENC_RAW;
		w->last_stored = (uint32_t)len;
		w->by_enc[IMG_ENC_RAW]++;
		return;
	}
	if (!sh->nworkers) {
		struct cw_slot *s = &sh->slots[0];
		s->addr = addr;
		s->len = len;
		s->src = mem;
		encode(sh->inline_cctx, sh->inline_shuf, s);
		emit(w, s);
		return;
	}
	while (w->submitted - w->written >= (uint32_t)sh->nslots)
		write_next(w, 1);
	struct cw_slot *s = &sh->slots[w->submitted % (uint32_t)sh->nslots];
	s->addr = addr;
	s->len = len;
	s->src = mem;
	if (volatile_mem) {
		__builtin_memcpy(s->in, mem, len);
		s->src = s->in;
	}
	s->state = SLOT_QUEUED;
	w->submitted++;
	__atomic_store_n(&sh->posted, w->submitted, __ATOMIC_RELEASE);
	__atomic_fetch_add(&sh->wake, 1, __ATOMIC_RELEASE);
	sys_futex(&sh->wake, FUTEX_WAKE_PRIVATE, 1, 0);
	while (write_next(w, 0))
		;
}

void cw_drain(struct cw *w)
{
	if (w->sh)
		while (write_next(w, 1))
			;
}

void cw_finish(struct cw *w)
{
	struct cw_shared *sh = w->sh;
	if (!sh)
		return;
	while (write_next(w, 1))
		;
	__atomic_store_n(&sh->quit, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&sh->wake, 1, __ATOMIC_RELEASE);
	sys_futex(&sh->wake, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0);
	for (int i = 0; i < sh->nworkers; i++) {
		int *tid = &sh->workers[i].tid, t;
		/* Not a private futex: the kernel's wake at thread exit is a shared one. */
		while ((t = __atomic_load_n(tid, __ATOMIC_ACQUIRE)) != 0)
			sys_futex(tid, FUTEX_WAIT, t, 0);
	}
	sys_munmap(sh, sh->map_len);
	w->sh = 0;
}
