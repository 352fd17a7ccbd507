/*
 * The computation's SysV IPC objects, both directions side by side: semaphore sets, shared
 * memory segments and message queues of the namespace's own IPC namespace.
 *
 * Checkpoint: LIST (answered while every process is suspended) reports every set, segment
 * and queue (ids, keys, owners, modes, semaphore values, sizes, message counts); the
 * coordinator keeps them in the manifest. What no image holds — unread messages, the
 * content of segments no process has attached — is written on WRITE (sysv-data.c).
 * Restart (before any process of the namespace exists): every object is made again with
 * its old id (the IPC namespace's *_next_id), owner and mode; semaphores get their values,
 * then sysv-data.c puts the messages back in order and fills the unattached segments.
 *
 * Not kept: the times and the last pids of the objects (msg_lspid, shm_lpid, ...), which
 * say stasis-init after a restart; a segment removed while attached (SHM_DEST) comes back
 * as not removed; a queue's limit above the namespace's msgmnb needs the restart to be
 * allowed to raise msgmnb for a moment (root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include "init.h"
#include "sysv.h"
#include "../common/proto.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		init_die("out of memory");
	return p;
}

/* /proc/sysvipc/WHICH (our IPC namespace's objects) past its header line, or null. */
FILE *sysv_proc(const char *which)
{
	char path[64], header[512];
	snprintf(path, sizeof(path), "/proc/sysvipc/%s", which);
	FILE *f = fopen(path, "re");
	if (f && !fgets(header, sizeof(header), f)) {
		fclose(f);
		f = 0;
	}
	return f;
}

/* A number in /proc/sys/kernel/NAME, or -1. */
long long sysv_sysctl_get(const char *name)
{
	char path[96], text[32];
	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	text[n] = 0;
	return strtoll(text, 0, 10);
}

int sysv_sysctl_put(const char *name, long long v)
{
	char path[96], text[32];
	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	snprintf(text, sizeof(text), "%lld", v);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int e = write(fd, text, strlen(text)) < 0 ? -errno : 0;
	close(fd);
	return e;
}

/* ================================ checkpoint: LIST ================================ */

void sysv_list_sems(struct proto_sem **sems, size_t *nsems, uint32_t **vals, size_t *nvals)
{
	FILE *f = sysv_proc("sem");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int key, id;
		unsigned mode, n, uid, gid;
		if (sscanf(line, "%d %d %o %u %u %u", &key, &id, &mode, &n, &uid, &gid) != 6)
			continue;
		unsigned short *v = xrealloc(0, (n ? n : 1) * sizeof(*v));
		union semun_ arg = { .array = v };
		if (semctl(id, 0, GETALL, arg) < 0) {
			init_say("cannot read SysV semaphore set %d: %s", id, strerror(errno));
			free(v);
			continue;
		}
		*sems = xrealloc(*sems, (*nsems + 1) * sizeof(**sems));
		*vals = xrealloc(*vals, (*nvals + n) * sizeof(**vals));
		(*sems)[(*nsems)++] = (struct proto_sem){ id, (uint32_t)key, mode & 0777, uid, gid, n };
		for (unsigned i = 0; i < n; i++)
			(*vals)[(*nvals)++] = v[i];
		free(v);
	}
	fclose(f);
}

void sysv_list_shmsegs(struct proto_shmseg **v, size_t *n)
{
	FILE *f = sysv_proc("shm");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int key, id;
		unsigned mode, uid, gid;
		unsigned long long size;
		if (sscanf(line, "%d %d %o %llu %*d %*d %*u %u %u", &key, &id, &mode, &size, &uid, &gid) != 6)
			continue;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = (struct proto_shmseg){ id, (uint32_t)key, mode & 0777, uid, gid, size };
	}
	fclose(f);
}

/* The queues of the last LIST: a WRITE must find them as they were (nothing runs between). */
static struct proto_msgq *listed_q;
static size_t nlisted_q;

const struct proto_msgq *sysv_last_listed(size_t *n)
{
	*n = nlisted_q;
	return listed_q;
}

static int msgq_stat(int id, struct proto_msgq *q)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	*q = (struct proto_msgq){ id, (uint32_t)ds.msg_perm.__key, ds.msg_perm.mode & 0777u, ds.msg_perm.uid, ds.msg_perm.gid,
				  (uint32_t)ds.msg_qnum, ds.__msg_cbytes, ds.msg_qbytes };
	return 0;
}

void sysv_list_msgqs(struct proto_msgq **v, size_t *n)
{
	nlisted_q = 0;
	FILE *f = sysv_proc("msg");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int key, id;
		struct proto_msgq q;
		if (sscanf(line, "%d %d", &key, &id) != 2)
			continue;
		int e = msgq_stat(id, &q);
		if (e) {
			init_say("cannot read SysV message queue %d: %s", id, strerror(-e));
			continue;
		}
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = q;
	}
	fclose(f);
	listed_q = xrealloc(listed_q, (*n ? *n : 1) * sizeof(*listed_q));
	memcpy(listed_q, *v, *n * sizeof(*listed_q));
	nlisted_q = *n;
}

/* ============================== restart: the objects again ============================== */

/* The next id of the namespace's objects of one kind (we may write it in our own namespace). */
static void next_id(const char *which, const char *what, int id)
{
	int e = sysv_sysctl_put(which, id);
	if (e)
		init_die("cannot choose the id of %s %d: %s", what, id, strerror(-e));
}

static void recreate_sems(const struct plan *p)
{
	for (int i = 0; i < p->nsems; i++) {
		const struct plan_sem *s = &p->sems[i];
		next_id("sem_next_id", "SysV semaphore set", s->id);
		int id = semget((key_t)s->key, (int)s->nsems, IPC_CREAT | IPC_EXCL | (int)s->mode);
		if (id != s->id)
			init_die("cannot recreate SysV semaphore set %d: %s", s->id, id < 0 ? strerror(errno) : "another id came");
		union semun_ arg = { .array = s->values };
		if (semctl(id, 0, SETALL, arg) < 0)
			init_die("cannot set SysV semaphore set %d: %s", s->id, strerror(errno));
		struct semid_ds ds;
		arg.buf = &ds;
		if (semctl(id, 0, IPC_STAT, arg) == 0) {
			ds.sem_perm.uid = s->uid;
			ds.sem_perm.gid = s->gid;
			ds.sem_perm.mode = (unsigned short)s->mode;
			semctl(id, 0, IPC_SET, arg);
		}
	}
}

/* Attached ones are attached again where they were by the loaders, and filled from the
 * images; the others get their content from the data file. */
static void recreate_shmsegs(const struct plan *p)
{
	for (int i = 0; i < p->nsegs; i++) {
		const struct plan_shmseg *g = &p->segs[i];
		next_id("shm_next_id", "SysV shared memory segment", g->id);
		int id = shmget((key_t)g->key, (size_t)g->size, IPC_CREAT | IPC_EXCL | (int)g->mode);
		if (id != g->id)
			init_die("cannot recreate SysV shared memory segment %d: %s", g->id, id < 0 ? strerror(errno) : "another id came");
		struct shmid_ds ds;
		if (shmctl(id, IPC_STAT, &ds) == 0) {
			ds.shm_perm.uid = g->uid;
			ds.shm_perm.gid = g->gid;
			ds.shm_perm.mode = (unsigned short)g->mode;
			shmctl(id, IPC_SET, &ds);
		}
	}
}

static void recreate_msgqs(const struct plan *p)
{
	for (int i = 0; i < p->nmsgqs; i++) {
		const struct plan_msgq *q = &p->msgqs[i];
		next_id("msg_next_id", "SysV message queue", q->id);
		int id = msgget((key_t)q->key, IPC_CREAT | IPC_EXCL | (int)q->mode);
		if (id != q->id)
			init_die("cannot recreate SysV message queue %d: %s", q->id, id < 0 ? strerror(errno) : "another id came");
		struct msqid_ds ds;
		if (msgctl(id, IPC_STAT, &ds) < 0)
			init_die("cannot read SysV message queue %d: %s", q->id, strerror(errno));
		ds.msg_perm.uid = q->uid;
		ds.msg_perm.gid = q->gid;
		ds.msg_perm.mode = (unsigned short)q->mode;
		ds.msg_qbytes = q->qbytes;
		if (msgctl(id, IPC_SET, &ds) == 0)
			continue;
		/* A limit above msgmnb: the old namespace's msgmnb was raised. Raise ours a moment. */
		long long mnb = sysv_sysctl_get("msgmnb");
		int e = errno == EPERM && mnb >= 0 && (long long)q->qbytes > mnb ? sysv_sysctl_put("msgmnb", (long long)q->qbytes) : -errno;
		if (!e) {
			e = msgctl(id, IPC_SET, &ds) < 0 ? -errno : 0;
			sysv_sysctl_put("msgmnb", mnb);
		}
		if (e)
			init_die("cannot give SysV message queue %d its owner, mode and limit of %llu bytes: %s", q->id, q->qbytes,
				 strerror(-e));
	}
}

void sysv_recreate(const struct plan *p)
{
	recreate_sems(p);
	recreate_shmsegs(p);
	recreate_msgqs(p);
	sysv_fill(p);
}
