/*
 * The loader's side of stasis-init's fd broker (native/init/tree.c, ../common/broker.h):
 * an open file description or a pipe that several restored processes share is created by
 * one of them and passed to the others as SCM_RIGHTS over the process's socket to init.
 * Runs in stage 2: raw syscalls and the hole's memory only.
 */
#include "broker.h"
#include "meta.h"
#include "rt.h"
#include "../common/img.h"
#include "../res/res.h"
#include "../common/broker.h"
#include "../common/sys.h"

#define SYS_sendmsg_ 46
#define SYS_recvmsg_ 47
#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define MSG_NOSIGNAL_ 0x4000
#define MSG_CMSG_CLOEXEC_ 0x40000000

int rst_broker_fd = -1;

struct iov_ { void *base; uint64_t len; };
struct msghdr_ {
	void *name;
	uint32_t namelen, pad0;
	struct iov_ *iov;
	uint64_t iovlen;
	void *control;
	uint64_t controllen;
	int32_t flags, pad1;
};
struct cmsg_fd_ {
	uint64_t len;
	int32_t level, type;
	int32_t fd, pad;
};

static long send_op(uint32_t op, uint32_t kind, uint64_t key, int fd)
{
	struct broker_msg m = { op, kind, key };
	struct iov_ iov = { &m, sizeof(m) };
	struct cmsg_fd_ c = { 20, SOL_SOCKET_, SCM_RIGHTS_, fd, 0 };
	struct msghdr_ h = { 0, 0, 0, &iov, 1, fd >= 0 ? &c : 0, fd >= 0 ? sizeof(c) : 0, 0, 0 };
	long r;
	do
		r = sys_call3(SYS_sendmsg_, rst_broker_fd, (long)&h, MSG_NOSIGNAL_);
	while (r == -4);
	return r == sizeof(m) ? 0 : r < 0 ? r : -5;
}

int rst_broker_put(uint32_t kind, uint64_t key, int fd)
{
	return rst_broker_fd < 0 ? -22 : (int)send_op(BROKER_PUT, kind, key, fd);
}

int rst_broker_get(uint32_t kind, uint64_t key)
{
	uint64_t size;
	int fd = rst_broker_get_or_claim(kind, key, &size);
	return fd == -17 ? -2 : fd;
}

int rst_broker_get_or_claim(uint32_t kind, uint64_t key, uint64_t *claim_size)
{
	if (rst_broker_fd < 0)
		return -22;
	long e = send_op(BROKER_GET, kind, key, -1);
	if (e)
		return (int)e;
	struct broker_msg m;
	struct iov_ iov = { &m, sizeof(m) };
	struct cmsg_fd_ c = { 0, 0, 0, -1, 0 };
	struct msghdr_ h = { 0, 0, 0, &iov, 1, &c, sizeof(c), 0, 0 };
	long r;
	do
		r = sys_call3(SYS_recvmsg_, rst_broker_fd, (long)&h, MSG_CMSG_CLOEXEC_);
	while (r == -4);
	if (r != sizeof(m))
		return r < 0 ? (int)r : -104;
	if (m.op == BROKER_CLAIM) {
		*claim_size = m.key;
		return -17; /* EEXIST-ish: ours to make */
	}
	if (m.op != BROKER_FD || h.controllen < 20 || c.level != SOL_SOCKET_ || c.type != SCM_RIGHTS_)
		return -2;
	return c.fd;
}

void rst_broker_failed(void)
{
	if (rst_broker_fd >= 0)
		send_op(BROKER_FAIL, 0, 0, -1);
}

void rst_broker_done(void)
{
	if (rst_broker_fd >= 0)
		send_op(BROKER_DONE, 0, 0, -1);
}

int rst_broker_wait_all(void)
{
	if (rst_broker_fd < 0)
		return 0;
	struct broker_msg m;
	long r;
	do
		r = sys_read(rst_broker_fd, &m, sizeof(m));
	while (r == -4);
	if (r != sizeof(m))
		return r < 0 ? (int)r : -104;
	return m.op == BROKER_GO && m.kind == 4 ? 0 : -71;
}

/*
 * The memory object behind a SHMEM_ANON region (shared anonymous memory inherited over
 * fork, a deleted /dev/shm file such as a POSIX semaphore's, a memfd, SysV shm), or behind
 * a shared mapping of a /dev/shm file that still exists (RF_CONTENT: the file itself,
 * emptied and filled again from the chunks, recreated if it is gone): one memfd
 * for every region of the computation with the same object id. The first process to ask
 * makes it, as large as the plan says any process maps of it, and hands it to stasis-init;
 * the others map the same one. Its content comes from the chunks of the one process that
 * saved it (the namespace's init chose it); no process runs before all are filled (GO).
 */
int rst_shm_object(const struct m_region *g)
{
	uint64_t key = broker_shm_key(g->dev, g->ino), size = 0;
	int fd = rst_broker_fd >= 0 ? rst_broker_get_or_claim(BROKER_SHM, key, &size) : -17;
	if (fd >= 0)
		return fd;
	if (fd != -17)
		rst_die("a shared memory object did not arrive from the process that made it", 0, fd);
	if (size < g->off + (g->end - g->start))
		size = g->off + (g->end - g->start);
	if (g->flags & RF_CONTENT) {
		/* A /dev/shm file: made again where it was, emptied, as large as it was. */
		if (size < g->fsize)
			size = g->fsize;
		fd = (int)sys_openat(-100, g->path, K_O_RDWR | K_O_CREAT | K_O_CLOEXEC, 0600);
		if (fd >= 0)
			sys_call2(77 /* ftruncate */, fd, 0);
	} else {
		fd = (int)sys_call2(319 /* memfd_create */, (long)"stasis-shm", 1 /* MFD_CLOEXEC */);
	}
	if (fd < 0)
		rst_die("cannot create shared memory ", g->path, fd);
	long e = sys_call2(77 /* ftruncate */, fd, (long)size);
	if (e < 0)
		rst_die("cannot size shared memory", 0, e);
	if (rst_broker_fd >= 0 && (e = rst_broker_put(BROKER_SHM, key, fd)) < 0)
		rst_die("cannot hand shared memory to the other processes", 0, e);
	return fd;
}
