/*
 * Write tracking after a restore (docs/architecture.md, "Incremental checkpoints"): so that
 * the first checkpoint after a restart can refer to the image just restored, the loader
 * write-protects the restored pages, on a userfaultfd it hands to the agent, as soon as
 * they are all in place and before anything else writes to the process's memory.
 * Stage 2 only: touches the process's memory and the restart block, nothing else.
 */
#ifndef STASIS_LOADER_TRACK_H
#define STASIS_LOADER_TRACK_H
#include "meta.h"
#include "place.h"

/* Arms tracking if the agent had it on (restart_info.track), and fills in the restart
 * block's uffd and image fields either way. ranges: what place.c mapped from the image,
 * whose holes are armed too (they hold the image's bytes, not zeros). */
void rst_track_arm(const struct meta *m, const struct mapped_range *ranges, int nranges);
/* close_range(from, ~0) but for the userfaultfd. */
void rst_track_close_from(int from);
#endif
