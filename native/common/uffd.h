/*
 * The kernel ABI for tracking written pages without soft-dirty bits: a userfaultfd in
 * asynchronous write-protect mode (Linux 6.7+) and the PAGEMAP_SCAN ioctl on
 * /proc/self/pagemap (Linux 6.7+). Written down here from the kernel's documented uapi
 * (Documentation/admin-guide/mm/pagemap.rst, userfaultfd.rst) because Debian 12's headers
 * predate both. Freestanding: used by the agent (dirty.c) and the loader (track.c).
 *
 * How Stasis uses it: a private anonymous region is registered in WP mode on a userfaultfd
 * with WP_ASYNC (the kernel resolves write faults itself: no handler thread) and
 * WP_UNPOPULATED (holes count as protected). A scan with PM_SCAN_WP_MATCHING returns the
 * pages written since the last scan and write-protects them again, in one call.
 */
#ifndef STASIS_UFFD_H
#define STASIS_UFFD_H
#include <stdint.h>

#define SYS_userfaultfd_ 323
#define SYS_ioctl_ 16
#define UFFD_USER_MODE_ONLY_ 1 /* vm.unprivileged_userfaultfd=0 still allows this */
#define UFFD_API_ 0xAAull

#define UFFDIO_API_ 0xc018aa3ful        /* _IOWR(0xAA, 0x3F, struct uffd_api) */
#define UFFDIO_REGISTER_ 0xc020aa00ul   /* _IOWR(0xAA, 0x00, struct uffd_register) */
#define UFFDIO_UNREGISTER_ 0x8010aa01ul /* _IOR(0xAA, 0x01, struct uffd_range) */
#define UFFDIO_REGISTER_MODE_WP_ 2ull

#define UFFD_FEATURE_WP_UNPOPULATED_ (1ull << 13)
#define UFFD_FEATURE_WP_ASYNC_ (1ull << 15)

struct uffd_api {
	uint64_t api, features, ioctls;
};

struct uffd_range {
	uint64_t start, len;
};

struct uffd_register {
	struct uffd_range range;
	uint64_t mode, ioctls;
};

#define PAGEMAP_SCAN_ 0xc0606610ul /* _IOWR('f', 16, struct pm_scan_arg) */

/* Page categories. */
#define PAGE_IS_WPALLOWED_ (1ull << 0)
#define PAGE_IS_WRITTEN_ (1ull << 1)
#define PAGE_IS_FILE_ (1ull << 2)
#define PAGE_IS_PRESENT_ (1ull << 3)
#define PAGE_IS_SWAPPED_ (1ull << 4) /* also a write-protect marker on a hole */
#define PAGE_IS_PFNZERO_ (1ull << 5)

/* Scan flags. */
#define PM_SCAN_WP_MATCHING_ (1ull << 0)
#define PM_SCAN_CHECK_WPASYNC_ (1ull << 1) /* -EPERM if a VMA is not registered WP_ASYNC */

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

struct page_region {
	uint64_t start, end, categories;
};
#endif
