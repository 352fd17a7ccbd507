/*
 * Arming write tracking in the restored process (see track.h). The same regions as the
 * agent's (native/agent/incr.c: private, anonymous, read-write) are registered on a new
 * userfaultfd in asynchronous write-protect mode, and their present pages write-protected:
 * from here on, a write marks a page as changed since the image. What place.c mapped from
 * the image (a private file mapping inside such a region: WP_ASYNC registers any kind of
 * memory) is armed whole, holes included: a hole there is the image's bytes, and a page
 * read in from the image must not read as written (agent/incr.c refers all of it to this
 * image until it is written). The fd goes high, above every fd the image has, and survives
 * the loader's closing of its own fds.
 * Failing to arm is not an error: the agent then writes a full image next time.
 */
#include "track.h"
#include "chunks.h"
#include "refs.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/uffd.h"
#include "../res/res.h"

static int track_fd = -1;

static long ioctl_(int fd, unsigned long req, void *arg)
{
	return sys_call3(SYS_ioctl_, fd, (long)req, (long)arg);
}

static int trackable(const struct m_region *g)
{
	return !(g->flags & RF_SHARED) && (g->prot & 3) == 3 &&
	       (g->kind == RK_ANON || g->kind == RK_HEAP || g->kind == RK_STACK);
}

static int open_uffd(int min_fd)
{
	int fd = (int)sys_call1(SYS_userfaultfd_, K_O_CLOEXEC | K_O_NONBLOCK | UFFD_USER_MODE_ONLY_);
	if (fd < 0)
		return fd;
	struct uffd_api api = { UFFD_API_, UFFD_FEATURE_WP_ASYNC_ | UFFD_FEATURE_WP_UNPOPULATED_, 0 };
	long e = ioctl_(fd, UFFDIO_API_, &api);
	long hi = e < 0 ? e : sys_fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, min_fd);
	sys_close(fd);
	return (int)hi;
}

/* PAGEMAP_SCAN write-protecting [start, end): the pages of the categories in anyof (0: all,
 * holes too). */
static void arm(int pm, uint64_t start, uint64_t end, uint64_t anyof)
{
	for (uint64_t at = start; at < end;) {
		struct pm_scan_arg a;
		mem_zero(&a, sizeof(a));
		a.size = sizeof(a);
		a.flags = PM_SCAN_WP_MATCHING_ | PM_SCAN_CHECK_WPASYNC_;
		a.start = at;
		a.end = end;
		a.category_mask = anyof ? PAGE_IS_WRITTEN_ : 0;
		a.category_anyof_mask = anyof;
		if (ioctl_(pm, PAGEMAP_SCAN_, &a) < 0 || a.walk_end <= at)
			return;
		at = a.walk_end;
	}
}

void rst_track_arm(const struct meta *m, const struct mapped_range *ranges, int nranges)
{
	if (m->proc.restart_info_size != sizeof(struct restart_info) ||
	    rst_chunk_target(m, m->proc.restart_info, sizeof(struct restart_info)) != 1)
		return; /* the loader refuses this image a little later */
	struct restart_info *ri = (struct restart_info *)m->proc.restart_info;
	int want = ri->track != 0;
	ri->uffd = -1;
	str_copy(ri->image, rst_refs_image_path(), sizeof(ri->image));
	if (!want)
		return;
	int fd = open_uffd(m->max_fd + 1 > 1001 ? m->max_fd + 1 : 1001);
	if (fd < 0)
		return;
	int pm = (int)sys_openat(-100, "/proc/self/pagemap", K_O_CLOEXEC, 0);
	if (pm < 0) {
		sys_close(fd);
		return;
	}
	int k = 0;
	for (int i = 0; i < m->nregions; i++) {
		const struct m_region *g = &m->regions[i];
		if (!trackable(g))
			continue;
		struct uffd_register r = { { g->start, g->end - g->start }, UFFDIO_REGISTER_MODE_WP_, 0 };
		if (ioctl_(fd, UFFDIO_REGISTER_, &r) < 0)
			continue;
		/* Write-protect the pages that are there (holes stay holes: see agent/dirty.c). */
		arm(pm, g->start, g->end, PAGE_IS_PRESENT_ | PAGE_IS_SWAPPED_);
		/* Both ascending: the ranges inside this region are the next ones. */
		while (k < nranges && ranges[k].end <= g->start)
			k++;
		for (; k < nranges && ranges[k].end <= g->end; k++)
			arm(pm, ranges[k].start, ranges[k].end, 0);
	}
	sys_close(pm);
	track_fd = fd;
	ri->uffd = fd;
}

void rst_track_close_from(int from)
{
	if (track_fd >= from) {
		if (track_fd > from)
			sys_call3(SYS_close_range_, from, track_fd - 1, 0);
		sys_call3(SYS_close_range_, track_fd + 1, 0x7fffffff, 0);
	} else {
		sys_call3(SYS_close_range_, from, 0x7fffffff, 0);
	}
}
