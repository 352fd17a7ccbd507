#ifndef STASIS_LOADER_NS_H
#define STASIS_LOADER_NS_H
#include <stdint.h>
/* Forks into a PID namespace where this process has `pid`; returns only in that process
 * (or, where namespaces are unavailable, in this one with a warning). */
void rst_enter_namespace(uint32_t pid);
/* clone3 without a new stack (a fork), with an exact PID when tid != 0. */
long rst_clone3(uint64_t flags, uint32_t tid);
extern int rst_in_pidns;
#endif
