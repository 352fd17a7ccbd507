/* The loader's side of stasis-init's fd broker (broker.c). */
#ifndef STASIS_LOADER_BROKER_H
#define STASIS_LOADER_BROKER_H
#include <stdint.h>

extern int rst_broker_fd; /* the socket to stasis-init; -1 without one */
int rst_broker_put(uint32_t kind, uint64_t key, int fd); /* 0 or -errno */
int rst_broker_get(uint32_t kind, uint64_t key);         /* an fd or -errno; waits */
/* Like get, but the first to ask for an object that nobody made gets -17 and its size:
 * it makes the object and PUTs it. */
int rst_broker_get_or_claim(uint32_t kind, uint64_t key, uint64_t *claim_size);
void rst_broker_done(void);                               /* every fd is placed */
void rst_broker_failed(void);                             /* we said why we die */
/* Waits until every process of the restart is whole (init's GO); 0 or -errno. */
int rst_broker_wait_all(void);

/* The shared memory object behind a SHMEM_ANON region or a RF_CONTENT file mapping: made
 * by the first process to ask (and handed to init), received by the others. An fd. */
struct m_region;
int rst_shm_object(const struct m_region *g);
#endif
