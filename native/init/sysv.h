/*
 * What the two halves of stasis-init's SysV IPC code share: sysv.c (the objects: listed,
 * made again) and sysv-data.c (the data file: written, read back). The rest of stasis-init
 * uses the functions init.h declares.
 */
#ifndef STASIS_INIT_SYSV_H
#define STASIS_INIT_SYSV_H
#include <stdio.h>
#include "init.h"

struct proto_msgq;

/* /proc/sysvipc/WHICH (our IPC namespace's objects) past its header line, or null. */
FILE *sysv_proc(const char *which);
/* A number in /proc/sys/kernel/NAME (the IPC namespace's own), or -1; setting one. */
long long sysv_sysctl_get(const char *name);
int sysv_sysctl_put(const char *name, long long v);
/* The message queues the last LIST reported. */
const struct proto_msgq *sysv_last_listed(size_t *n);
/* Restart, once the objects exist: the messages back in order, the segments filled. */
void sysv_fill(const struct plan *p);
#endif
