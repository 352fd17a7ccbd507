/*
 * The chunk writer: CHUNK records, compressed with zstd on worker threads while the caller
 * goes on finding memory to save, written in the order they were submitted
 * (chunk-writer.c explains the design). Runs while application threads are stopped, or in
 * a forked copy of the process: raw system calls and its own memory only.
 */
#ifndef STASIS_CHUNK_WRITER_H
#define STASIS_CHUNK_WRITER_H
#include <stdint.h>
#include "image.h"

/* zstd parameters for chunks (docs/image-format.md, CHUNK): level -1 (the "fast"
 * strategy with a smaller hash table and a little acceleration) finding matches from 5
 * bytes on, not level 1's 7. Measured on 8 MiB chunks of two kinds of memory, on one core
 * of the 2-core bench VM: a float64 field stored from float32 (bench workload field4gib)
 * compresses 1.2-1.5x faster, 2.65x instead of 2.41x, and decodes 1.3-1.8x faster;
 * 64-byte text records (test/programs/records.c) 1-2x faster, 11.8x instead of 10.4x.
 * Level -3 and below compress the field far less (1.5x). */
#define CW_LEVEL (-1)
#define CW_MIN_MATCH 5
#define CW_MAX_WORKERS 8

struct cw_shared;

struct cw {
	struct img_out *o;
	struct cw_shared *sh;     /* null: every chunk is written raw, at once */
	uint32_t submitted, written;
	uint64_t raw_bytes, stored_bytes;
	uint32_t last_enc, last_stored; /* the chunk written last (for the vector tool) */
	uint32_t by_enc[3];             /* chunks written in each encoding (for tests) */
};

/* CPUs this thread may run on (sched_getaffinity), at least 1. */
int cw_cpus(void);

/* Starts writing chunks to o. compress 0: raw chunks, written as they come (no threads, no
 * memory). Otherwise up to `workers` threads compress (0: the caller does, between
 * submissions). Where the memory or the threads cannot be had, it does with fewer (down
 * to raw chunks): a checkpoint never fails for want of compression. */
void cw_start(struct cw *w, struct img_out *o, int compress, int workers);

/* One chunk of len bytes (whole pages, at most IMG_CHUNK_MAX) of memory at addr, whose
 * contents are at mem. volatile_mem: mem is reused as soon as this returns (a bounce
 * buffer), so the writer copies it; otherwise mem stays as it is until cw_finish. */
void cw_chunk(struct cw *w, uint64_t addr, const void *mem, uint64_t len, int volatile_mem);

/* Writes every chunk in flight now, so that the caller may write a record of its own
 * after them (incremental images' PAGES, incr.c). The threads stay. */
void cw_drain(struct cw *w);

/* Writes what is still in flight, stops the threads and frees the memory. Errors are the
 * image's (o->err). */
void cw_finish(struct cw *w);
#endif
