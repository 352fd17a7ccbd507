/*
 * Messages between stasis-init and the processes it recreates on restart (one
 * SOCK_SEQPACKET pair each; native/init/tree.c): first the phases that rebuild sessions
 * and process groups, then the fd broker the loaders use for what processes share.
 * Both sides are built from this header; the messages never leave the machine.
 */
#ifndef STASIS_BROKER_H
#define STASIS_BROKER_H
#include <stdint.h>

enum broker_op {
	BROKER_PUT = 1,   /* loader → init, with the fd (SCM_RIGHTS) */
	BROKER_GET = 2,   /* loader → init; answered by FD (with the fd) or FAIL */
	BROKER_DONE = 3,  /* loader → init: every fd is placed */
	BROKER_FD = 4,
	BROKER_FAIL = 5,
	BROKER_CLAIM = 6,  /* init → loader, answering GET of a SHM object nobody made yet:
			    * make it (`key` holds its size), then PUT it */
	BROKER_PHASE = 10, /* process → init: reached phase `kind` */
	BROKER_GO = 11,    /* init → process: every process reached phase `kind` */
};

enum broker_kind {
	BROKER_DESC = 1,      /* key: the FD_SHARE share id */
	BROKER_PIPE_READ = 2, /* key: the pipe's id (its inode at checkpoint time) */
	BROKER_PIPE_WRITE = 3,
	BROKER_SHM = 4,       /* key: broker_shm_key(dev, inode) of a SHMEM_ANON region */
	BROKER_PTY = 5,       /* key: the pty's id; the fd is its master (others open a slave from it) */
};

/* The one id of a shared memory object across the computation's images: regions of kind
 * SHMEM_ANON with the same dev and inode were one object (src/restart/plan.ts too). */
static inline uint64_t broker_shm_key(uint64_t dev, uint64_t ino)
{
	return ino ^ (dev << 48);
}

struct broker_msg {
	uint32_t op;
	uint32_t kind;
	uint64_t key;
};
#endif
