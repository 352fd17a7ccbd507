/*
 * Restoring the process-wide kernel state of an image (see kstate.h). POSIX timers come
 * back with their old ids through PR_TIMER_CREATE_RESTORE_IDS (Linux 6.17, made for
 * CRIU): while it is on, timer_create takes the id to use from *created_timer_id.
 * Timers are armed with the remaining time the image recorded, so the time between the
 * checkpoint and the restart does not count; a TIMER_ABSTIME timer becomes relative.
 */
#include "kstate.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

#define SYS_setitimer_ 38
#define SYS_rt_sigqueueinfo_ 129
#define SYS_personality_ 135
#define SYS_timer_create_ 222
#define SYS_timer_settime_ 223
#define PR_SET_DUMPABLE_ 4
#define PR_SET_CHILD_SUBREAPER_ 36
#define PR_TIMER_CREATE_RESTORE_IDS_ 77
#define RESTORE_IDS_OFF 0
#define RESTORE_IDS_ON 1
#define RESTORE_IDS_GET 2

struct kts {
	long s, ns;
};

static struct kts from_ns(uint64_t ns)
{
	return (struct kts){ (long)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
}

void rst_ks_check(const struct meta *m)
{
	if (m->ntimers && sys_prctl(PR_TIMER_CREATE_RESTORE_IDS_, RESTORE_IDS_GET, 0, 0, 0) < 0)
		rst_die("the image has POSIX timers and this kernel cannot recreate them with their "
			"ids (PR_TIMER_CREATE_RESTORE_IDS needs Linux 6.17 or later)", 0, 0);
}

void rst_ks_process(const struct meta *m)
{
	const struct m_proc_state *ps = &m->ps;
	if (!ps->present)
		return;
	long e = sys_call1(SYS_personality_, ps->personality);
	if (e < 0)
		rst_die("cannot restore the personality", 0, e);
	if (ps->flags & PSF_CHILD_SUBREAPER)
		sys_prctl(PR_SET_CHILD_SUBREAPER_, 1, 0, 0, 0);
	for (int i = 0; i < IMG_NITIMER; i++) {
		struct { long isec, iusec, vsec, vusec; } it = {
			(long)(ps->itimer[i][1] / 1000000000ull), (long)(ps->itimer[i][1] % 1000000000ull / 1000),
			(long)(ps->itimer[i][0] / 1000000000ull), (long)(ps->itimer[i][0] % 1000000000ull / 1000),
		};
		/* A value below a microsecond would read as disarmed: keep it armed. */
		if (ps->itimer[i][0] && !it.vsec && !it.vusec)
			it.vusec = 1;
		e = sys_call3(SYS_setitimer_, i, (long)&it, 0);
		if (e < 0)
			rst_die("cannot restore an interval timer", 0, e);
	}
	long pid = sys_getpid();
	for (uint32_t i = 0; i < ps->nsiginfo; i++) {
		const uint8_t *info = ps->siginfo + (size_t)i * IMG_SIGINFO_SIZE;
		int32_t sig;
		memcpy(&sig, info, 4);
		e = sys_call3(SYS_rt_sigqueueinfo_, pid, sig, (long)info);
		if (e < 0)
			rst_die("cannot queue a pending signal again", 0, e);
	}
}

/*
 * SEM_UNDO adjustments (see ../agent/kstate.c for how they were read). The kernel offers
 * no call to set them either, but one semtimedop can make semadj anything without
 * changing the value: take the value v down to 0, then for each piece c of the wanted
 * change (at most 32767) add c with SEM_UNDO and take it away without (or the other way
 * round), then give v back. The call is atomic: nobody sees the values move. Before the
 * threads exist: they share this undo list (CLONE_SYSVSEM), made by the first SEM_UNDO.
 */
/* SysV semaphore calls: ../common/sys.h (struct ksembuf). */

static void set_adj(int32_t id, uint32_t num, int32_t adj)
{
	long v = sys_call4(SYS_semctl_, id, num, GETVAL_, 0);
	long e = v;
	if (v >= 0) {
		struct ksembuf ops[8];
		int k = 0;
		if (v > 0)
			ops[k++] = (struct ksembuf){ (uint16_t)num, (int16_t)-v, IPC_NOWAIT_ };
		/* semadj = -(sum of the SEM_UNDO operations): they add up to -adj. */
		for (long d = -(long)adj; d != 0;) {
			long c = d > 32767 ? 32767 : d < -32767 ? -32767 : d;
			if (c > 0) {
				ops[k++] = (struct ksembuf){ (uint16_t)num, (int16_t)c, IPC_NOWAIT_ | SEM_UNDO_ };
				ops[k++] = (struct ksembuf){ (uint16_t)num, (int16_t)-c, IPC_NOWAIT_ };
			} else {
				ops[k++] = (struct ksembuf){ (uint16_t)num, (int16_t)-c, IPC_NOWAIT_ };
				ops[k++] = (struct ksembuf){ (uint16_t)num, (int16_t)c, IPC_NOWAIT_ | SEM_UNDO_ };
			}
			d -= c;
		}
		if (v > 0)
			ops[k++] = (struct ksembuf){ (uint16_t)num, (int16_t)v, IPC_NOWAIT_ };
		e = sys_call4(SYS_semtimedop_, id, (long)ops, k, 0);
	}
	if (e < 0) {
		char mem[96];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, "cannot set the SEM_UNDO adjustments on SysV semaphore set ");
		sb_udec(&s, (uint64_t)id);
		rst_die(sb_cstr(&s), 0, e);
	}
}

void rst_ks_sem_undo(const struct meta *m)
{
	for (int i = 0; i < m->nsem_undos; i++) {
		const struct m_sem_undo *u = &m->sem_undos[i];
		struct rbuf r;
		rb_init(&r, u->entries, (size_t)u->n * 8);
		for (uint32_t j = 0; j < u->n; j++) {
			uint32_t num = rb_u32(&r);
			set_adj(u->semid, num, (int32_t)rb_u32(&r));
		}
	}
}

void rst_ks_late(const struct meta *m)
{
	if (m->ntimers) {
		long e = sys_prctl(PR_TIMER_CREATE_RESTORE_IDS_, RESTORE_IDS_ON, 0, 0, 0);
		if (e < 0)
			rst_die("cannot recreate POSIX timers with their ids (PR_TIMER_CREATE_RESTORE_IDS)", 0, e);
	}
	/* The image lists them as /proc/self/timers does, newest first: create the oldest
	 * first, so that the kernel lists them in the same order again. */
	for (int i = m->ntimers - 1; i >= 0; i--) {
		const struct m_timer *t = &m->timers[i];
		struct {
			uint64_t value;
			int32_t signo, notify, tid, pad[11];
		} sev = { t->sigev_value, (int32_t)t->signo, (int32_t)t->notify, (int32_t)t->notify_tid, { 0 } };
		int32_t id = t->id;
		long e = sys_call3(SYS_timer_create_, t->clockid, (long)&sev, (long)&id);
		if (e < 0 || id != t->id)
			rst_die("cannot recreate a POSIX timer with its id", 0, e < 0 ? e : -16);
		struct { struct kts interval, value; } its = { from_ns(t->interval_ns), from_ns(t->value_ns) };
		e = sys_call4(SYS_timer_settime_, id, 0, (long)&its, 0);
		if (e < 0)
			rst_die("cannot arm a POSIX timer", 0, e);
	}
	if (m->ntimers)
		sys_prctl(PR_TIMER_CREATE_RESTORE_IDS_, RESTORE_IDS_OFF, 0, 0, 0);
	if (m->ps.present && m->ps.dumpable != 1) {
		long e = sys_prctl(PR_SET_DUMPABLE_, m->ps.dumpable, 0, 0, 0);
		if (e < 0 && m->ps.dumpable == 0)
			rst_die("cannot make the process non-dumpable again", 0, e);
	}
}
