/*
 * Which pages were written since the last checkpoint (docs/architecture.md, "Incremental
 * checkpoints"). This kernel has no soft-dirty bits; the agent uses a userfaultfd in
 * asynchronous write-protect mode instead (../common/uffd.h): each trackable region is
 * registered once, and one PAGEMAP_SCAN per region returns the pages written since the
 * previous scan and write-protects them again. The kernel resolves the write faults
 * itself; there is no handler thread.
 *
 * What a scan can be trusted with, and why it is safe (docs/architecture.md has it whole):
 *   - A region whose VMA is not registered on our userfaultfd (new since, moved by
 *     mremap, which drops the registration, or remapped over) is registered now: none of
 *     its pages carries the write-protect bit yet, so every present page reads as written.
 *   - A page zapped since (MADV_DONTNEED, MADV_FREE reclaimed) is not present, or, read
 *     again, the zero page marked written: it is stored as nothing, so it comes back as
 *     zero, never as stale data.
 *   - incr.c takes the presence map before the scan that write-protects again, and counts
 *     a page as unchanged only if it was present at the first and not written until the
 *     second.
 * Only present pages are write-protected again (see dirty_scan).
 *
 * The fd is kept high and close-on-exec; a fork child closes its copy (its VMAs lose the
 * registration anyway). Raw syscalls only: this runs while application threads are stopped.
 */
#include "incr.h"
#include "../common/fmt.h"
#include "../common/sys.h"
#include "../common/uffd.h"
#include "../res/res.h"

#define SCAN_VEC_MAX 512 /* the kernel's buffer: PAGEMAP_WALK_SIZE >> PAGE_SHIFT */

static int uffd = -1;
static int pm_fd = -1;

static long ioctl_(int fd, unsigned long req, void *arg)
{
	return sys_call3(SYS_ioctl_, fd, (long)req, (long)arg);
}

/* Still our userfaultfd? A program may close fds it does not know and reuse the number. */
static int still_ours(int fd)
{
	char link[64], path[40];
	struct sbuf s;
	sb_init(&s, path, sizeof(path));
	sb_str(&s, "/proc/self/fd/");
	sb_udec(&s, (uint64_t)fd);
	long n = sys_call4(SYS_readlinkat_, -100, (long)sb_cstr(&s), (long)link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	return str_eq(link, "anon_inode:[userfaultfd]");
}

int dirty_fd(void)
{
	return uffd;
}

int dirty_active(void)
{
	if (uffd >= 0 && !still_ours(uffd))
		uffd = -1;
	return uffd >= 0;
}

int dirty_open(void)
{
	if (dirty_active())
		return 0;
	int fd = (int)sys_call1(SYS_userfaultfd_, K_O_CLOEXEC | K_O_NONBLOCK | UFFD_USER_MODE_ONLY_);
	if (fd < 0)
		return fd;
	struct uffd_api api = { UFFD_API_, UFFD_FEATURE_WP_ASYNC_ | UFFD_FEATURE_WP_UNPOPULATED_, 0 };
	long e = ioctl_(fd, UFFDIO_API_, &api);
	if (e < 0) {
		sys_close(fd);
		return (int)e;
	}
	/* Out of the program's way, like the coordinator's fd: high and close-on-exec. */
	uint64_t lim[2] = { 1024, 1024 };
	sys_call4(SYS_prlimit64_, 0, 7 /* RLIMIT_NOFILE */, 0, (long)lim);
	long want = lim[0] >= 1024 ? 1001 : (long)lim[0] - 7;
	if (want > fd) {
		long hi = sys_fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, want);
		if (hi >= 0) {
			sys_close(fd);
			fd = (int)hi;
		}
	}
	uffd = fd;
	return 0;
}

void dirty_adopt(int fd)
{
	uffd = fd >= 0 && still_ours(fd) ? fd : -1;
}

void dirty_close(void)
{
	if (uffd >= 0)
		sys_close(uffd);
	uffd = -1;
}

void dirty_forget(void)
{
	uffd = -1;
	pm_fd = -1;
}

int dirty_register(uint64_t start, uint64_t end)
{
	if (uffd < 0)
		return -9;
	/* Registering a range already ours changes nothing; one another userfaultfd holds
	 * (the program's own) is EBUSY, and is left alone. */
	struct uffd_register r = { { start, end - start }, UFFDIO_REGISTER_MODE_WP_, 0 };
	return (int)ioctl_(uffd, UFFDIO_REGISTER_, &r);
}

int dirty_scan_begin(void)
{
	if (pm_fd < 0)
		pm_fd = (int)sys_openat(-100, "/proc/self/pagemap", K_O_CLOEXEC, 0);
	return pm_fd < 0 ? pm_fd : 0;
}

void dirty_scan_end(void)
{
	if (pm_fd >= 0)
		sys_close(pm_fd);
	pm_fd = -1;
}

/* One PAGEMAP_SCAN over [start, end), looping while the output vector fills up. */
static long scan(uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof, uint64_t ret,
		 struct page_region *vec, size_t cap, size_t *n)
{
	*n = 0;
	if (pm_fd < 0)
		return -9;
	for (uint64_t at = start; at < end;) {
		struct pm_scan_arg a;
		mem_zero(&a, sizeof(a));
		a.size = sizeof(a);
		a.flags = flags | PM_SCAN_CHECK_WPASYNC_;
		a.start = at;
		a.end = end;
		a.category_mask = mask;
		a.category_anyof_mask = anyof;
		if (vec) {
			if (*n == cap)
				return -28; /* ENOSPC: more ranges than room */
			/* At most one kernel buffer's worth per call: when the kernel's own buffer
			 * of 512 ranges fills and it goes on walking within one call, the walk_end
			 * it reports can be the stale one of the refill (seen on 6.18), and the
			 * next call would report ranges again that this one already did. */
			a.vec = (uint64_t)(vec + *n);
			a.vec_len = cap - *n < SCAN_VEC_MAX ? cap - *n : SCAN_VEC_MAX;
			a.return_mask = ret;
		}
		long r = ioctl_(pm_fd, PAGEMAP_SCAN_, &a);
		if (r < 0)
			return r;
		/* The ranges must go up: a caller's plan depends on it. */
		if (r > 0 && ((*n && vec[*n].start < vec[*n - 1].end) || vec[*n].start < at))
			return -5;
		*n += (size_t)r;
		if (a.walk_end <= at)
			return -5;
		at = a.walk_end;
	}
	return 0;
}

long dirty_present(uint64_t start, uint64_t end, struct page_region *vec, size_t cap, size_t *n)
{
	return scan(start, end, 0, 0, PAGE_IS_PRESENT_ | PAGE_IS_SWAPPED_, PAGE_IS_PRESENT_ | PAGE_IS_SWAPPED_, vec, cap, n);
}

/* Only pages that are there are write-protected again: arming a hole would make the kernel
 * build page tables for it (GiBs of reserved address space cost MiBs of them), and a hole
 * left unarmed reads as written, which is what it should be taken for anyway. */
long dirty_scan(uint64_t start, uint64_t end, struct page_region *vec, size_t cap, size_t *n)
{
	return scan(start, end, PM_SCAN_WP_MATCHING_, PAGE_IS_WRITTEN_, PAGE_IS_PRESENT_ | PAGE_IS_SWAPPED_,
		    PAGE_IS_WRITTEN_ | PAGE_IS_PRESENT_ | PAGE_IS_SWAPPED_ | PAGE_IS_PFNZERO_, vec, cap, n);
}

/* Write-protects every page of [start, end), holes too (as markers): for memory mapped from
 * an image, where a hole is the image's bytes, not zeros, and must read as unwritten until
 * it is written. Costs the range's page tables, which such memory has anyway once read. */
long dirty_arm_all(uint64_t start, uint64_t end)
{
	size_t n;
	return scan(start, end, PM_SCAN_WP_MATCHING_, 0, 0, 0, 0, 0, &n);
}
