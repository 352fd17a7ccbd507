/*
 * Process-wide kernel state around the restored process (docs/image-format.md:
 * PROC_STATE, POSIX_TIMER, SEM_UNDO), set by the loader as the future main thread. Per-thread state
 * (THREAD_STATE) is set by each thread itself in the agent (agent/kstate.c).
 */
#ifndef STASIS_LOADER_KSTATE_H
#define STASIS_LOADER_KSTATE_H
#include "meta.h"

/* Stage 1: dies with one line if this kernel cannot restore what the image holds. */
void rst_ks_check(const struct meta *m);
/* Stage 2, before the threads exist: personality, subreaper, interval timers, and the
 * shared pending signals (queued by the thread whose TID is the PID, as they must be). */
void rst_ks_process(const struct meta *m);
/* Stage 2, before the threads exist (they share the undo list it makes) and before the
 * broker's DONE (no restored process runs yet, so no value moves between reading it and
 * the semop): the SEM_UNDO adjustments on SysV semaphore sets, without changing any value. */
void rst_ks_sem_undo(const struct meta *m);
/* Stage 2, once every thread exists (a timer may notify one by TID): POSIX timers with
 * their ids, then dumpable (last: it changes who owns /proc/self). */
void rst_ks_late(const struct meta *m);
#endif
