/*
 * The other half of suspend.c: how threads come back after `stasis restart`.
 *
 * The loader maps the image and creates one thread per THREAD record with its TLS base
 * and cleared-TID word already set (so glibc's cached TID is the new one), each entering
 * stasis_restart_entry() with its record index. Application threads re-register what the
 * kernel does not keep in memory (robust list, rseq), wait until the coordinator says
 * RESUME, then rt_sigreturn on the signal frame that stopped them: every register, the
 * FPU/AVX state, the signal mask and the alternate stack come back exactly. The
 * checkpoint thread unmaps the loader, rejoins a coordinator and releases the others.
 * Before it counts as entered, each application thread sets again what only it can set
 * for itself and queues its own pending signals back (kstate.c).
 *
 * Runs before libc is usable in the thread: raw syscalls only.
 */
#include <linux/futex.h>
#include <stddef.h>
#include "agent.h"
#include "../common/sys.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static void reregister_kernel_state(uint64_t fs_base, uint64_t robust_head, uint64_t robust_len)
{
	if (robust_head)
		sys_call2(SYS_set_robust_list_, (long)robust_head, (long)robust_len);
	if (&__rseq_size && &__rseq_offset && __rseq_size) {
		uint32_t len = __rseq_size < 32 ? 32 : __rseq_size;
		uint64_t *area = (uint64_t *)(fs_base + (uint64_t)__rseq_offset);
		area[1] = 0; /* rseq_cs: not inside a critical section */
		sys_call4(SYS_rseq_, (long)area, len, 0, 0x53053053);
	}
}

static __attribute__((noreturn)) void sigreturn_on(void *uc)
{
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "mov $15, %%eax\n\t"
			 "syscall\n\t"
			 "hlt" : : "r"(uc) : "memory");
	__builtin_unreachable();
}

/* Credentials are per thread: each drops what stasis-init lent the loader (only
 * CAP_CHECKPOINT_RESTORE, as an ambient capability inside the user namespace). */
static void drop_caps(void)
{
	struct { uint32_t version; int pid; } h = { 0x20080522 /* v3 */, 0 };
	struct { uint32_t eff, perm, inh; } d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	sys_prctl(47 /* PR_CAP_AMBIENT */, 4 /* CLEAR_ALL */, 0, 0, 0);
	sys_call2(126 /* capset */, (long)&h, (long)d);
}

void stasis_restart_entry(long idx)
{
	struct restart_info *ri = &g_agent.rinfo;
	int ckpt = idx >= g_agent.nthreads;
	if (ri->flags & RI_DROP_CAPS)
		drop_caps();
	if (ckpt) {
		unsigned long fs = 0;
		sys_arch_prctl(0x1003 /* ARCH_GET_FS */, (long)&fs);
		reregister_kernel_state(fs, g_agent.ckpt_robust_head, g_agent.ckpt_robust_len);
	} else {
		struct agent_thread *t = &g_agent.threads[idx];
		reregister_kernel_state(t->fs_base, t->robust_head, t->robust_len);
		t->tid = (int32_t)sys_gettid();
		agent_ks_restore_self(t, (int)idx);
	}
	__atomic_fetch_add(&ri->entered, 1, __ATOMIC_ACQ_REL);
	sys_futex((int *)&ri->entered, FUTEX_WAKE_PRIVATE, 1, 0);
	if (ckpt)
		agent_ckpt_restarted();
	while (!__atomic_load_n(&g_agent.released, __ATOMIC_ACQUIRE))
		sys_futex((int *)&g_agent.released, FUTEX_WAIT_PRIVATE, 0, 0);
	sigreturn_on(g_agent.threads[idx].uc);
}

void agent_release_restored(void)
{
	__atomic_store_n(&g_agent.released, 1, __ATOMIC_RELEASE);
	sys_futex((int *)&g_agent.released, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0);
}
