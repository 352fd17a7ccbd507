/* The metadata of an image (every record but the chunks), parsed and checked. */
#ifndef STASIS_LOADER_META_H
#define STASIS_LOADER_META_H
#include <stdint.h>
#include "../res/res.h"

struct m_region {
	uint64_t start, end, off, dev, ino, fsize;
	int64_t mtime;
	uint32_t prot, flags, kind;
	char path[4096];
};

struct m_thread {
	uint32_t tid, flags;
	uint64_t fs_base, ctid, resume_sp;
};

struct m_process {
	uint32_t pid, ppid, pgid, sid, uid, gid, umask;
	uint64_t proc_id;
	uint64_t mm[11]; /* start_code … env_end, in record order */
	uint64_t restart_entry, restart_info;
	uint32_t restart_info_size;
	uint64_t sigact[64][4];
	uint32_t nsig;
	uint64_t rlim[16][2];
	uint32_t nrlimit;
	char cwd[4096], exe[4096], comm[64];
	uint8_t auxv[1024];
	uint32_t auxv_len;
};

struct meta {
	struct m_process proc;
	struct m_region *regions;
	int nregions;
	struct m_thread *threads;
	int nthreads;
	struct fd_rec *fds;
	int nfds;
	int max_fd;
	uint64_t first_chunk; /* file offset of the first CHUNK (or END) record */
	uint64_t meta_bytes;
};

/* A bump allocator over memory the caller maps. */
struct m_arena {
	uint8_t *base;
	size_t used, cap;
};
void *m_take(struct m_arena *a, size_t n);

/* Reads and checks every record before the chunks. Dies with a one-line reason. */
void meta_read(int fd, const char *path, struct meta *m, struct m_arena *a);
/* How many bytes of metadata the image has (to size an arena), without parsing it. */
uint64_t meta_size(int fd, const char *path);
#endif
