/*
 * Incremental checkpoints in the agent (docs/architecture.md, "Incremental checkpoints"):
 * dirty.c knows which pages were written since the last checkpoint, incr.c knows where
 * every page of the last committed image lies and writes the next image as the pages
 * written since (CHUNK, PAGES) plus references to the rest (PARENT, REFS).
 *
 * The hooks, in the order a checkpoint calls them (capture.c, agent.c):
 *   incr_set_write_flags  WRITE's flags (docs/protocol.md)
 *   incr_plan             after /proc/self/maps is read, in the pause and before a writer
 *                         is forked: registers and scans the regions, decides full or
 *                         incremental and which pages are referenced (the writer inherits
 *                         the plan; the process's tracking starts again here)
 *   incr_header_flags, incr_write_parents (after INFO), incr_write_refs (before the
 *   chunks), incr_write_region (for each region), incr_flush_pages (before END)
 *   incr_plan_end         the capture is done (the image written, or a writer at work):
 *                         what to keep of it until COMMIT
 *   incr_commit           COMMIT (after WRITTEN): whether the generation counts
 *   incr_idle             with the program running again: reads the committed image back
 *                         into the table the next checkpoint refers to
 * Same contract as agent.h: raw syscalls, no malloc, no stdio, no locks.
 */
#ifndef STASIS_AGENT_INCR_H
#define STASIS_AGENT_INCR_H
#include <stddef.h>
#include <stdint.h>
#include "capture.h"
#include "../common/img.h"

struct page_region;
struct cw;

/* dirty.c: the userfaultfd that tracks written pages. */
int dirty_fd(void);         /* the agent's own fd, not the program's: -1 if none */
int dirty_active(void);
int dirty_open(void);
void dirty_adopt(int fd);   /* the loader's, after a restart */
void dirty_close(void);
void dirty_forget(void);    /* a fork child: the fd is the parent's */
int dirty_register(uint64_t start, uint64_t end);
int dirty_scan_begin(void);
void dirty_scan_end(void);
/* Pages of [start, end) that are present or swapped: the presence map, nothing changed. */
long dirty_present(uint64_t start, uint64_t end, struct page_region *vec, size_t cap, size_t *n);
/* Present or swapped pages written since the last scan, write-protected again. vec null:
 * only write-protect them. */
long dirty_scan(uint64_t start, uint64_t end, struct page_region *vec, size_t cap, size_t *n);
/* Every page of [start, end) write-protected, holes too (image-backed memory). */
long dirty_arm_all(uint64_t start, uint64_t end);

/* WRITE's flags: WRITE_FLAG_TRACK, WRITE_FLAG_FULL (../common/proto.h). */
void incr_set_write_flags(uint32_t flags);
/* The table's memory: left out of images like the scratch arena. */
void incr_skip_range(uint64_t *start, uint64_t *end);
void incr_plan(struct capture *c, const char *image_path);
uint64_t incr_header_flags(void);
void incr_write_parents(struct img_out *o);
void incr_write_refs(struct img_out *o);
/* Writes region i if the plan tracks it (returns 1); 0: the caller writes it. */
int incr_write_region(struct capture *c, struct cw *w, int i);
void incr_flush_pages(struct cw *w);
/* ok: the image is at image_path, renamed and fsynced. */
void incr_plan_end(const char *image_path, uint64_t ckpt_id, int ok);
void incr_commit(uint64_t ckpt_id, int committed);
void incr_idle(void);
void incr_after_fork(void);
void incr_restarted(struct restart_info *ri);

/* capture.c */
void cap_emit_run(struct capture *c, struct cw *w, const struct region *r, int mem_fd, uint64_t addr, uint64_t n);
#endif
