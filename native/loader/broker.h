/* The loader's side of stasis-init's fd broker (broker.c). */
#ifndef STASIS_LOADER_BROKER_H
#define STASIS_LOADER_BROKER_H
#include <stdint.h>

extern int rst_broker_fd; /* the socket to stasis-init; -1 without one */
int rst_broker_put(uint32_t kind, uint64_t key, int fd); /* 0 or -errno */
int rst_broker_get(uint32_t kind, uint64_t key);         /* an fd or -errno; waits */
void rst_broker_done(void);                               /* every fd is placed */
void rst_broker_failed(void);                             /* we said why we die */
#endif
