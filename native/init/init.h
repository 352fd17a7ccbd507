/*
 * stasis-init: the computation's own PID namespace and the process that is its PID 1.
 *
 *   stasis-init launch  --coord IPV4:PORT --ckpt-dir DIR [--preload LIB] -- PROGRAM [ARGS...]
 *   stasis-init restart --coord IPV4:PORT --ckpt-dir DIR --loader PATH [--no-map]   (plan on fd 3)
 *
 * A normal libc program (it never runs while application threads are stopped). Files:
 * ns.c (namespaces, supervision), coord.c (the init's coordinator link: LIST, WRITE),
 * sysv.c, sysv-data.c (the namespace's SysV IPC objects: listed, made again; what of
 * them no image holds: saved on WRITE, put back),
 * tree.c (restart: recreating processes, sessions, groups and zombies, controlling
 * terminals, and the fd broker).
 */
#ifndef STASIS_INIT_H
#define STASIS_INIT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct init_opts {
	const char *coord;    /* IPV4:PORT */
	const char *ckpt_dir;
	const char *loader;   /* restart: path of stasis-restore */
	const char *preload;  /* launch: LD_PRELOAD for the program (the agent first) */
	char **argv;          /* launch: the program */
	int restart;
	int no_map;           /* restart: the loaders copy memory instead of mapping the images */
};

/* One process of a restart plan (docs/architecture.md, "Restart plan"). */
struct plan_proc {
	pid_t pid, ppid, pgid, sid;
	int zombie;           /* 1: recreate as a zombie with wait status `status` */
	int helper;           /* 1: only a session's leader for a moment (its old one exited) */
	int status;
	char *image;          /* live processes: the image to restore */
	int sock[2];          /* [0] init's end, [1] the process's: phases and the fd broker */
	int done;             /* its loader finished placing fds (or it is a zombie) */
};

struct plan_shm {
	uint64_t key;         /* broker_shm_key() of its regions */
	uint64_t size;        /* the most any process maps of it */
};

/* A SysV semaphore set to recreate with its id (the namespace's, from the manifest). */
struct plan_sem {
	int id;
	unsigned key, mode, uid, gid, nsems;
	unsigned short *values;
};

/* A SysV shared memory segment to recreate with its id. */
struct plan_shmseg {
	int id;
	unsigned key, mode, uid, gid;
	unsigned long long size;
};

/* A SysV message queue to recreate with its id; its messages are in the SysV IPC data. */
struct plan_msgq {
	int id;
	unsigned key, mode, uid, gid;
	unsigned long long qbytes, messages, bytes;
};

/* A pty that is a session's controlling terminal: stasis-init makes it before the processes. */
struct plan_ctty {
	unsigned pty;         /* its number at checkpoint time (the images' pty_id) */
	pid_t sid, fg;        /* the session, its foreground process group (-1: none) */
	pid_t *pids;          /* the processes that have it */
	int npids;
	int master;           /* init's master, made before the processes (inherited, CLOEXEC) */
};

struct plan {
	pid_t main;           /* the process whose exit ends the computation */
	struct plan_proc *procs;
	int n;
	struct plan_shm *shm;
	int nshm;
	int64_t mono_ns, boot_ns; /* the clocks to go on from; 0: the host's */
	struct plan_sem *sems;
	int nsems;
	struct plan_shmseg *segs;
	int nsegs;
	struct plan_msgq *msgqs;
	int nmsgqs;
	char *sysv_data;      /* the SysV IPC data file, or null */
	struct plan_ctty *cttys;
	int ncttys;
};

/* semctl's fourth argument, which the caller declares (semctl(2)). */
union semun_ {
	int val;
	void *buf;
	unsigned short *array;
};

extern int init_in_userns;   /* not root: a user namespace maps us to ourselves */

/* ns.c */
void init_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void init_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Enters the namespaces; returns in PID 1 of the new PID namespace (the caller's process
 * waits for it and exits with its status). */
void init_enter_namespaces(const struct plan *p);
pid_t init_clone_pid(pid_t want);       /* fork with an exact PID (0 in the child) */
uint64_t init_pidns(void);
/* Runs the computation's PID 1 until `main` exits; returns its exit code. */
__attribute__((noreturn)) void init_serve(pid_t main, int coord_fd);

/* coord.c */
int coord_connect(const char *addr, const char *ckpt_dir); /* HELLO as init; fd or -errno */
/* Handles one frame from the coordinator; returns -1 when the link is gone. */
int coord_handle(int fd);
/* The agents' image writers in the namespace (at most max, zombies too); returns how many. */
int coord_writers(pid_t *pids, int max);

/* sysv.c, sysv-data.c: the namespace's SysV IPC objects, both directions */
struct proto_sem;
struct proto_shmseg;
struct proto_msgq;
void sysv_list_sems(struct proto_sem **sems, size_t *nsems, uint32_t **vals, size_t *nvals);
void sysv_list_shmsegs(struct proto_shmseg **v, size_t *n);
void sysv_list_msgqs(struct proto_msgq **v, size_t *n);
/* WRITE: the SysV IPC data file at `path` (fsynced, renamed); 0 or -errno with `why`. */
int sysv_write_data(const char *path, uint64_t *bytes, char *why, size_t whylen);
void sysv_check(const struct plan *p);     /* before the namespaces: the data file is whole */
void sysv_recreate(const struct plan *p);  /* in the namespace, before any process */

/* tree.c */
void plan_read(int fd, struct plan *p);
/* Recreates the plan's processes; returns in init once every one has placed its fds. */
void tree_restore(struct plan *p, const struct init_opts *o);
#endif
