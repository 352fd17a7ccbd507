/*
 * Decoding zstd chunks on several threads at stage 2 (decode-pool.c explains the design).
 * The loader's main thread reads each chunk's stored data and hands it over; threads of
 * this process check its CRC and decode it into place. Everything is in place, and the
 * threads gone, when rst_pool_finish returns.
 */
#ifndef STASIS_LOADER_DECODE_POOL_H
#define STASIS_LOADER_DECODE_POOL_H
#include <stdint.h>
#include "chunks.h"
#include "meta.h"

#define RST_POOL_MAX_WORKERS 8

/* Arena bytes rst_pool_start may take (meta_arena_size reserves them; NORESERVE memory,
 * touched only as far as it is used). */
#define RST_POOL_ARENA ((2 * RST_POOL_MAX_WORKERS + 2) * (8ul << 20) + RST_POOL_MAX_WORKERS * (512ul << 10) + (64ul << 10))

struct rst_pool;

/* Starts up to RST_POOL_MAX_WORKERS threads, one per CPU this thread may run on, with
 * their memory from the arena. Null where there is one CPU or no thread could be started:
 * the caller then decodes on its own (rst_read_chunk). */
struct rst_pool *rst_pool_start(struct m_arena *a);

/* Reads zstd chunk k's stored data and queues it; a thread puts its raw bytes at k->addr.
 * Dies, as rst_read_chunk does, on a chunk found bad (this one's or an earlier one's). */
void rst_pool_chunk(struct rst_pool *p, const struct meta *m, const struct chunk *k);

/* Waits until no queued chunk covers any of [addr, addr+len): the caller is about to put
 * other data there, and the later chunk in the image must win, as it does in order. */
void rst_pool_wait_range(struct rst_pool *p, const struct meta *m, uint64_t addr, uint64_t len);

/* Waits for every queued chunk (dying at the first bad one, in image order), then stops
 * the threads and waits until they have left this process. */
void rst_pool_finish(struct rst_pool *p, const struct meta *m);
#endif
