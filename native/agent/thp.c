/*
 * Transparent huge pages for large private memory, so that a forked checkpoint's pause
 * stays short (docs/architecture.md, "Huge pages and the pause").
 *
 * A forked checkpoint's pause is mostly the clone copying page tables: one 8-byte entry
 * per resident 4 KiB page (about 25 ms per GiB), but one per 2 MiB huge page. So:
 *
 * - mmap() of private anonymous writable memory of THP_MIN or more gets
 *   MADV_HUGEPAGE: the kernel (THP in "madvise" mode) backs it with huge pages as it is
 *   touched. Not a mapping that says it is sparse or special: MAP_NORESERVE, MAP_STACK,
 *   MAP_GROWSDOWN, MAP_HUGETLB. `stasis launch` also sets glibc's
 *   glibc.malloc.hugetlb=1 tunable, which does the same for what malloc maps.
 * - After each checkpoint (its writer gone), the checkpoint thread collapses
 *   (MADV_COLLAPSE) every 2 MiB range of private anonymous memory whose 512 pages are all
 *   present and mapped by this process alone: pages the application wrote while the
 *   writer shared them were split into 4 KiB mappings by the copy-on-write, and dense
 *   memory that was never advised becomes huge too. A range with a page missing, swapped,
 *   the shared zero page or shared with a fork child is left as it is: collapsing adds no
 *   memory. It stops as soon as the coordinator says anything.
 *
 * Off with STASIS_NO_THP=1 (`stasis launch --no-thp`, kept across exec) or when the
 * system's THP is "never". The advice itself (VmFlags hg/nh) is saved in the image and
 * given back on restart whatever the setting (capture.c, RF_HUGEPAGE).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include "agent.h"
#include "../common/fmt.h"
#include "../common/sys.h"

#define THP_MIN (64ul << 20)
#define PAGE_SIZE_4K 4096ul
#define K_O_CLOEXEC_ 02000000
#define HPAGE (2ul << 20)
#define HPAGE_PAGES 512
#define COLLAPSE_STEP (64ul << 20) /* between two looks at the coordinator */
#define K_MADV_HUGEPAGE 14
#define K_MADV_COLLAPSE 25
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)
#define PM_EXCLUSIVE (1ull << 56)

void agent_thp_init(const char *no_thp)
{
	if (no_thp && no_thp[0] && !str_eq(no_thp, "0")) {
		g_agent.no_thp = 1;
		return;
	}
	char buf[128];
	int fd = (int)sys_openat(-100, "/sys/kernel/mm/transparent_hugepage/enabled", K_O_CLOEXEC_, 0);
	long n = fd >= 0 ? sys_read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		sys_close(fd);
	buf[n > 0 ? n : 0] = 0;
	/* No THP in this kernel, or "never" chosen: nothing to advise or collapse. */
	g_agent.thp = n > 0 && !str_find(buf, "[never]");
}

static int wants_thp(size_t len, int prot, int flags)
{
	return g_agent.thp && len >= THP_MIN && (prot & PROT_WRITE) &&
	       (flags & (MAP_PRIVATE | MAP_SHARED | MAP_SHARED_VALIDATE)) == MAP_PRIVATE && (flags & MAP_ANONYMOUS) &&
	       !(flags & (MAP_NORESERVE | MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB));
}

AGENT_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = sys_mmap(addr, len, prot, flags, fd, off);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	if (wants_thp(len, prot, flags))
		sys_call3(SYS_madvise_, r, (long)len, K_MADV_HUGEPAGE);
	return (void *)r;
}

AGENT_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

/* Whether the coordinator has something to say (then the collapse stops). */
static int coordinator_speaks(void)
{
	struct { int fd; short events, revents; } p = { g_agent.coord_fd, 1 /* POLLIN */, 0 };
	return g_agent.coord_fd < 0 || sys_call3(7 /* poll */, (long)&p, 1, 0) != 0;
}

/* Collapses the dense 2 MiB ranges of [lo, hi) (both 2 MiB aligned); entries is scratch
 * for COLLAPSE_STEP's pagemap. Returns -1 once the coordinator speaks. */
static int collapse_span(int pm, uint64_t lo, uint64_t hi, uint64_t *entries)
{
	for (uint64_t at = lo; at < hi; at += COLLAPSE_STEP) {
		uint64_t end = hi - at > COLLAPSE_STEP ? at + COLLAPSE_STEP : hi;
		size_t n = (size_t)((end - at) / PAGE_SIZE_4K);
		if (sys_pread(pm, entries, n * 8, (long)(at / PAGE_SIZE_4K * 8)) != (long)(n * 8))
			return 0;
		uint64_t run = 0; /* start of the dense ranges not yet collapsed; 0: none */
		for (uint64_t w = at; w <= end; w += HPAGE) {
			int dense = w < end;
			const uint64_t *e = entries + (w - at) / PAGE_SIZE_4K;
			for (int i = 0; dense && i < HPAGE_PAGES; i++)
				dense = (e[i] & (PM_PRESENT | PM_SWAPPED | PM_FILE | PM_EXCLUSIVE)) == (PM_PRESENT | PM_EXCLUSIVE);
			if (dense && !run)
				run = w;
			if (!dense && run) {
				/* A range mapped huge already returns at once. */
				sys_call3(SYS_madvise_, (long)run, (long)(w - run), K_MADV_COLLAPSE);
				run = 0;
			}
		}
		if (coordinator_speaks())
			return -1;
	}
	return 0;
}

void agent_thp_collapse(void)
{
	if (!g_agent.thp)
		return;
	size_t text_cap = 4u << 20, scratch = text_cap + COLLAPSE_STEP / PAGE_SIZE_4K * 8;
	long base = sys_mmap(0, scratch, 3, 0x22 | 0x4000 /* PRIVATE|ANON|NORESERVE */, -1, 0);
	if (base < 0)
		return;
	char *text = (char *)base;
	uint64_t *entries = (uint64_t *)(base + (long)text_cap);
	int fd = (int)sys_openat(-100, "/proc/self/maps", K_O_CLOEXEC_, 0);
	int pm = (int)sys_openat(-100, "/proc/self/pagemap", K_O_CLOEXEC_, 0);
	size_t n = 0;
	while (fd >= 0 && n < text_cap - 1) {
		long r = sys_read(fd, text + n, text_cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	text[n] = 0;
	/* Only whole lines: a map longer than the buffer is collapsed up to where it was cut. */
	while (n > 0 && text[n - 1] != '\n')
		text[--n] = 0;
	for (const char *p = text; pm >= 0 && *p;) {
		struct maps_line m;
		int ok = !parse_maps_line(&p, &m);
		int rw_private = ok && m.perms[0] == 'r' && m.perms[1] == 'w' && m.perms[3] == 'p';
		/* Anonymous memory: no path (or the heap), no device, no inode. */
		int anon = ok && !m.major && !m.minor && !m.ino && (*p == '\n' || str_starts(p, "[heap]"));
		uint64_t start = m.start, end = m.end;
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
		uint64_t lo = (start + HPAGE - 1) & ~(HPAGE - 1), hi = end & ~(HPAGE - 1);
		if (!anon || !rw_private || hi <= lo)
			continue;
		if (collapse_span(pm, lo, hi, entries))
			break;
	}
	if (pm >= 0)
		sys_close(pm);
	if (fd >= 0)
		sys_close(fd);
	sys_munmap((void *)base, scratch);
}
