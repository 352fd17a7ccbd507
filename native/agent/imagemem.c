/*
 * Memory a restart mapped from an image (native/loader/place.c). To the kernel it is a
 * private mapping of the image file; to the program it is the anonymous memory it had.
 * The restart block (restart_info) names the image files and where their memory went.
 *
 * A checkpoint saves such memory as the anonymous memory (or heap) it was, every page:
 * agent_image_backed() is how capture.c tells it from a file mapping, whatever path,
 * offset or "(deleted)" the kernel shows for it.
 *
 * Three calls behave differently on a file mapping, and these wrappers keep the anonymous
 * behaviour for them:
 * - madvise(MADV_DONTNEED, MADV_FREE): anonymous pages read as zeros afterwards (jemalloc
 *   and others count on it), a file mapping's read the file again: the image-backed part
 *   of the range is replaced with fresh anonymous memory first;
 * - mremap() that grows: anonymous memory grows with zeros, a file mapping with the bytes
 *   that follow in the file (or SIGBUS past its end); and mremap() that moves a range the
 *   restart split into several mappings (the kernel moves one): the range becomes one
 *   anonymous mapping with the same contents first (a write another thread makes to the
 *   range meanwhile may be lost);
 * - glibc's realloc() of a block it got from mmap grows it with mremap() from inside libc,
 *   where no wrapper reaches: such a block in image-backed memory is moved instead
 *   (malloc, copy, free), as realloc may.
 * The same calls made from inside libc or as raw system calls are not seen; `stasis
 * restart --no-map` copies the memory instead and avoids the question.
 *
 * The wrappers run in application threads, maybe inside an allocator holding its lock: no
 * malloc, no stdio; /proc/self/maps is read through a small buffer on the stack.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "agent.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define PAGE_ 4096ul

static const struct restart_info *mapped_info(void)
{
	const struct restart_info *ri = &g_agent.rinfo;
	return ri->magic == RESTART_INFO_MAGIC && ri->nimages ? ri : 0;
}

int agent_image_backed(uint64_t dev, uint64_t ino)
{
	const struct restart_info *ri = mapped_info();
	for (unsigned i = 0; ri && ino && i < ri->nimages && i < RI_MAX_IMAGES; i++)
		if (ri->images[i].dev == dev && ri->images[i].ino == ino)
			return 1;
	return 0;
}

int agent_image_bound(uint64_t addr)
{
	const struct restart_info *ri = mapped_info();
	unsigned a = 0, b = ri ? (ri->nbounds < RI_MAX_BOUNDS ? ri->nbounds : RI_MAX_BOUNDS) : 0;
	while (a < b) {
		unsigned mid = (a + b) / 2;
		if (ri->bounds[mid] == addr)
			return 1;
		if (ri->bounds[mid] < addr)
			a = mid + 1;
		else
			b = mid;
	}
	return 0;
}

/* Whether [lo, hi) meets a range the loader mapped (a quick filter: the range may have
 * been unmapped or replaced since; /proc/self/maps has the last word). */
static int meets_ranges(uint64_t lo, uint64_t hi)
{
	const struct restart_info *ri = mapped_info();
	if (!ri || lo >= hi)
		return 0;
	unsigned a = 0, b = ri->nranges < RI_MAX_RANGES ? ri->nranges : RI_MAX_RANGES;
	while (a < b) { /* the first range that ends after lo */
		unsigned mid = a + (b - a) / 2;
		if (ri->ranges[mid].end <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < (ri->nranges < RI_MAX_RANGES ? ri->nranges : RI_MAX_RANGES) && ri->ranges[a].start < hi;
}

/* ---- /proc/self/maps, a mapping at a time ---- */

struct vma {
	uint64_t start, end;
	int prot, shared, image, anon;
};

static int parse_vma(const char *line, struct vma *v)
{
	const char *p = line;
	struct maps_line m;
	if (parse_maps_line(&p, &m))
		return -1;
	v->start = m.start;
	v->end = m.end;
	v->prot = (m.perms[0] == 'r' ? PROT_READ : 0) | (m.perms[1] == 'w' ? PROT_WRITE : 0) |
		  (m.perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = m.perms[3] == 's';
	uint64_t dev = (m.minor & 0xff) | ((uint64_t)m.major << 8) | (((uint64_t)m.minor & ~0xffull) << 12);
	v->image = !v->shared && agent_image_backed(dev, m.ino);
	v->anon = !v->shared && !m.ino && (*p != '/');
	return 0;
}

/*
 * Fills out[] with the mappings that meet [lo, hi), in address order, at most max.
 * Returns their number (max: there may be more), or -errno.
 */
static int read_vmas(uint64_t lo, uint64_t hi, struct vma *out, int max)
{
	int fd = (int)sys_openat(-100, "/proc/self/maps", 02000000 /* O_CLOEXEC */, 0);
	if (fd < 0)
		return fd;
	char buf[2048], line[160];
	size_t ll = 0;
	int n = 0, done = 0;
	while (!done) {
		long r = sys_read(fd, buf, sizeof(buf));
		if (r < 0 && r != -4) {
			n = (int)r;
			break;
		}
		if (r <= 0)
			break;
		for (long i = 0; i < r && !done; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i]; /* the fields we need come first */
				continue;
			}
			line[ll] = 0;
			ll = 0;
			struct vma v;
			if (parse_vma(line, &v) || v.end <= lo)
				continue;
			if (v.start >= hi || n == max) {
				done = 1;
				break;
			}
			out[n++] = v;
		}
	}
	sys_close(fd);
	return n;
}

/* Replaces the image-backed part of [lo, hi) with fresh anonymous memory (zeros). */
static void zero_image_part(uint64_t lo, uint64_t hi)
{
	struct vma v[32];
	while (lo < hi) {
		int n = read_vmas(lo, hi, v, 32);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			uint64_t s = v[i].start > lo ? v[i].start : lo, e = v[i].end < hi ? v[i].end : hi;
			if (v[i].image)
				sys_mmap((void *)s, e - s, v[i].prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		}
		lo = v[n - 1].end;
	}
}

/*
 * Makes [lo, hi) one anonymous mapping with the same contents, if it is image-backed
 * memory and private anonymous memory without a hole, all of one protection (what one
 * anonymous mapping was before the restart split it). Otherwise leaves it alone.
 */
static void unite_as_anon(uint64_t lo, uint64_t hi)
{
	struct vma v[32];
	int n = read_vmas(lo, hi, v, 32);
	if (n <= 0 || n == 32 || v[0].start > lo || v[n - 1].end < hi)
		return;
	int image = 0;
	for (int i = 0; i < n; i++) {
		if ((!v[i].image && !v[i].anon) || v[i].prot != v[0].prot || (i && v[i].start != v[i - 1].end))
			return;
		image |= v[i].image;
	}
	if (!image)
		return;
	size_t len = hi - lo;
	long t = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t < 0)
		return;
	/* Through /proc/self/mem: the memory may not be readable. */
	int mem = (int)sys_openat(-100, "/proc/self/mem", 02000000 /* O_CLOEXEC */, 0);
	size_t got = 0;
	while (mem >= 0 && got < len) {
		long r = sys_pread(mem, (char *)t + got, len - got, (long)(lo + got));
		if (r == -4)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (mem >= 0)
		sys_close(mem);
	if (got == len && sys_mprotect((void *)t, len, v[0].prot) == 0 &&
	    sys_mremap((void *)t, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)lo) == (long)lo)
		return;
	sys_munmap((void *)t, len);
}

/* ---- the wrappers ---- */

AGENT_EXPORT int madvise(void *addr, size_t len, int advice)
{
	uint64_t lo = (uint64_t)addr, hi = lo + ((len + PAGE_ - 1) & ~(PAGE_ - 1));
	if ((advice == MADV_DONTNEED || advice == MADV_FREE || advice == 24 /* MADV_DONTNEED_LOCKED */) &&
	    !(lo & (PAGE_ - 1)) && hi > lo && meets_ranges(lo, hi))
		zero_image_part(lo, hi);
	long r = sys_call3(SYS_madvise_, (long)addr, (long)len, advice);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

AGENT_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = 0;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	uint64_t lo = (uint64_t)old, hi = lo + ((old_len + PAGE_ - 1) & ~(PAGE_ - 1));
	/* Growing, or moving (the kernel moves one mapping only: a range the restart split
	 * into a copied first page and mapped chunks would fail with EFAULT). */
	int moves = (flags & MREMAP_FIXED) || (new_len > old_len);
	if (moves && !(lo & (PAGE_ - 1)) && meets_ranges(lo, hi))
		unite_as_anon(lo, hi);
	long r = sys_mremap(old, old_len, new_len, flags, new_addr);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

typedef void *(*realloc_fn)(void *, size_t);

AGENT_EXPORT void *realloc(void *p, size_t n)
{
	static realloc_fn next;
	static void *glibc;
	realloc_fn f = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
	if (!f) {
		glibc = dlsym(RTLD_DEFAULT, "__libc_realloc");
		f = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
		__atomic_store_n(&next, f, __ATOMIC_RELEASE);
	}
	/* glibc's own allocator, a block it mmapped (IS_MMAPPED in the chunk's size word),
	 * growing, in image-backed memory: move it rather than let glibc mremap it. */
	if (p && meets_ranges((uint64_t)p, (uint64_t)p + 1) && (void *)f == glibc && (((const size_t *)p)[-1] & 2)) {
		size_t old = malloc_usable_size(p);
		if (n > old) {
			void *q = malloc(n);
			if (q) {
				memcpy(q, p, old);
				free(p);
			}
			return q;
		}
	}
	return f(p, n);
}

/* glibc's reallocarray calls its realloc directly: through the wrapper above instead. */
AGENT_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return 0;
	}
	return realloc(p, n);
}
