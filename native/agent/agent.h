/*
 * libstasis.so internals. The agent is preloaded into every process of a computation.
 * Its checkpoint thread talks to the coordinator; on SUSPEND it stops every other thread
 * with a signal, captures the process and writes one image.
 *
 * Contract for code that runs while application threads are stopped (suspend.c,
 * capture.c, image.c, ../res/): raw syscalls from ../common/sys.h only, no malloc, no
 * stdio, no locks, memory only from the checkpoint's scratch arena. A stopped thread may
 * hold any libc lock.
 */
#ifndef STASIS_AGENT_H
#define STASIS_AGENT_H
#include <stdint.h>
#include <signal.h>
#include "../common/img.h"
#include "../common/wire.h"
#include "image.h"

#define AGENT_MAX_THREADS 4096
#define AGENT_MAX_SHARES 4096
#define AGENT_EXPORT __attribute__((visibility("default")))

/* One application thread, as its signal handler recorded it when it stopped. */
struct agent_thread {
	int32_t tid;
	uint32_t flags;
	uint64_t fs_base;
	uint64_t ctid;
	uint64_t robust_head, robust_len;
	stack_t altstack;
	ucontext_t *uc;      /* the kernel's signal frame, on the thread's own stack */
	uint64_t resume_sp;
	/* Kernel state only the thread itself reads or sets (kstate.c, THREAD_STATE). */
	int32_t nice;
	uint32_t pdeathsig, ts_flags, personality;
	uint64_t timer_slack;
	char comm[16];
	uint32_t affinity_len;
	uint8_t affinity[128];
	int sigs_held;       /* its pending signals are dequeued, not yet queued back */
};

/* One dequeued pending signal: the thread slot it was pending on, or -1 for the shared
 * queue, and the kernel's siginfo. Entries of one queue keep their queue order. */
#define AGENT_MAX_SIGINFO 4096
struct agent_sig {
	int32_t owner;
	uint32_t pad;
	uint8_t info[IMG_SIGINFO_SIZE];
};

struct agent_state {
	int sig;                 /* the suspend signal */
	int coord_fd;
	int unjoined;            /* runs without a coordinator (it could not join) */
	uint32_t coord_ip;       /* network byte order */
	uint16_t coord_port;
	uint64_t proc_id;
	char ckpt_dir[4096];
	int no_compress;         /* STASIS_COMPRESS=0 (stasis launch --no-compress): raw chunks */
	char name[256];
	int ckpt_tid;
	uint64_t ckpt_resume_sp; /* top of the checkpoint thread's stack, for restart */
	uint64_t ckpt_robust_head, ckpt_robust_len;

	/* Suspension. The futex words are written by the handler and the checkpoint thread. */
	volatile int suspending;
	volatile int nthreads;   /* slots claimed in threads[] */
	volatile int suspended;  /* threads parked in the handler */
	volatile int resume_gen; /* bumped to release parked threads */
	volatile int park_seq;   /* bumped on every event parked threads must look at */
	volatile int shared_req; /* 1: the leader is asked to take the shared queue; 2: done */
	struct agent_thread threads[AGENT_MAX_THREADS];

	/* WRITE's list of fds shared with other processes (docs/protocol.md). */
	struct img_fd_share shares[AGENT_MAX_SHARES];
	int nshares;
	/* WRITE's shared memory objects another process saves (broker_shm_key). */
	uint64_t shm_skip[AGENT_MAX_SHARES];
	int nshm_skip;
	/* Pending signals taken at the last suspension (kstate.c). */
	volatile int nsigs;
	volatile int sig_overflow;
	int shared_taken;        /* the shared queue is in sigs[] (owner -1) */
	struct agent_sig sigs[AGENT_MAX_SIGINFO];

	/* Forked checkpoints (writer.c). */
	int no_fork;             /* STASIS_NO_FORK=1: every image is written with threads stopped */
	uint32_t faults;         /* STASIS_FI: AGENT_FAULT_* */
	uint32_t fault_writer_kill_at; /* writer-kill:N fires in the Nth writer */
	uint32_t nforks;         /* writers started by this process */
	uint64_t pause_start_ns; /* when stopping the threads began (CLOCK_MONOTONIC) */
	volatile int writer_pid; /* the image writer in flight; 0: none (a futex word) */
	int writer_fd;           /* the read end of its result pipe; -1: none */
	char writer_image[4096]; /* the image it finishes */

	/* Restart. */
	struct restart_info rinfo;
	volatile int released;   /* restored threads wait for this to become 1 */
};

extern struct agent_state g_agent;

/* log.c: one line to stderr, prefixed "stasis[pid]: ". Async-signal-safe. */
void agent_log(const char *a, const char *b, const char *c);
void agent_log_err(const char *what, long neg_errno);

/* suspend.c */
int agent_install_handler(void);
void *agent_handler(void);
int agent_suspend_all(char *why, int whylen);
/* Has the parked leader take the shared signal queue (call once, when capturing). */
int agent_take_shared_signals(char *why, int whylen);
void agent_resume_all(void);

/* kstate.c: kernel state around threads (pending signals, attributes) and the process
 * (timers, clocks, prctl flags). The thread functions run in the thread itself. */
void agent_ks_record_self(struct agent_thread *t, int slot);
void agent_ks_put_private(struct agent_thread *t, int slot);
void agent_ks_take_shared(void);
void agent_ks_put_shared(void);
void agent_ks_restore_self(struct agent_thread *t, int slot);
struct img_out;
/* Writes PROC_STATE (with `dumpable` as the process had it), THREAD_STATEs, POSIX_TIMERs. */
int agent_ks_write(struct img_out *o, uint8_t *scratch, size_t cap, uint32_t dumpable, char *why, int whylen);

/* imagemem.c: whether a mapping of this file (dev, inode) is memory a restart mapped from
 * an image: the process's anonymous memory, not a file mapping. */
int agent_image_backed(uint64_t dev, uint64_t ino);

/* interpose.c: forgets the SIGEV_THREAD helper thread, which a forked child lacks. */
void agent_timers_after_fork(void);

/* What capturing a process left to do. */
struct agent_capture_out {
	int forked;          /* a writer process (writer_pid) finishes the image */
	int writer_pid;
	uint64_t bytes;      /* not forked: the image's size */
	char reason[512];    /* not forked: why not */
};

/* capture.c: captures this process into the image at path, or hands the image over to a
 * forked writer (writer.c); returns 0 or -errno with why set. */
int agent_write_image(const char *path, uint64_t ckpt_id, struct agent_capture_out *out, char *why, int whylen);

/* Fault injection points (STASIS_FI=name[:N],..., shared with stasis-init), for tests. */
#define AGENT_FAULT_WRITER_KILL 1u /* writer-kill:N: the Nth writer SIGKILLs itself mid-image */
#define AGENT_FAULT_LOW_MEMORY 2u  /* low-memory: the memory-pressure check sees none available */
#define AGENT_FAULT_WRITER_HOLD 4u /* writer-hold: a writer writes no private memory before
				    * CKPT_DIR/writer-go exists */

/* writer.c: once the writer in flight has sent its result or ended (its pipe,
 * g_agent.writer_fd, is readable), returns its status (0 or -errno) with the image's size,
 * or why it failed; agent_writer_reap() then waits for it to be gone (a writer that died is
 * reaped at once). Reaping wakes agent_writer_wait_idle(). */
int agent_writer_finish(uint64_t *bytes, char *why, int whylen);
void agent_writer_reap(void);
void agent_writer_kill(void);
/* Returns once no writer is in flight (exec.c: an exec must not orphan one). */
void agent_writer_wait_idle(void);

/* agent.c */
int agent_connect(void);
int agent_hello(uint32_t flags);
__attribute__((noreturn)) void agent_ckpt_loop(void);

/* exec.c: remembers what a new program needs to keep the agent (call once, at start). */
void agent_exec_init(void);

/* restart.c */
AGENT_EXPORT __attribute__((noreturn)) void stasis_restart_entry(long idx);
void agent_release_restored(void);
/* agent.c: the checkpoint thread's life after a restart. */
__attribute__((noreturn)) void agent_ckpt_restarted(void);
#endif
