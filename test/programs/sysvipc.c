/*
 * SysV IPC that only the kernel holds must come back after a restart: message queues with
 * their unread messages, a shared memory segment no process has attached, and the
 * SEM_UNDO adjustments a process holds.
 *
 *   - a work queue (IPC_PRIVATE): the parent keeps up to 8 jobs of different sizes ahead of
 *     a child that takes one every 30 ms and sends back a checksum of it as a reply on the
 *     same queue (another message type); the parent prints each reply. A checkpoint lands
 *     while jobs wait in the queue;
 *   - a mailbox queue (a key, mode 0640, its byte limit lowered to 12000): 5 messages of
 *     mixed types sent at the start and read only at the end, by type and in order;
 *   - a segment (a key, 3 pages and 100 bytes, page 1 left zero) written and detached at the
 *     start, attached again only at the end and checksummed;
 *   - a holder child takes semaphore 0 (SEM_UNDO, -1) and adds 2 to semaphore 1 (SEM_UNDO)
 *     and waits for a message; when it exits the kernel must undo both: the parent then
 *     finds 1 and 0 again.
 * Keys come from the tag argument, so runs outside a namespace do not collide. Only the
 * parent prints. Any queue, message, byte, key, mode or adjustment that comes back different
 * changes the output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOB 1
#define REPLY 2
#define QUIT 3
#define AHEAD 8
#define SEGSIZE (3 * 4096 + 100)

struct msg {
	long type;
	char text[4000];
};

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/* A blocking msgrcv/semop returns EINTR when a checkpoint stops the process: try again. */
static ssize_t recv_msg(int q, struct msg *m, long type)
{
	for (;;) {
		ssize_t n = msgrcv(q, m, sizeof(m->text), type, 0);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

static void send_msg(int q, long type, const char *text, size_t len)
{
	struct msg m;
	m.type = type;
	memcpy(m.text, text, len);
	while (msgsnd(q, &m, len, 0) < 0)
		if (errno != EINTR)
			die("msgsnd");
}

static void sem_op(int id, int num, int delta, int flags)
{
	struct sembuf op = { (unsigned short)num, (short)delta, (short)flags };
	while (semop(id, &op, 1) < 0)
		if (errno != EINTR)
			die("semop");
}

static unsigned sum(const unsigned char *p, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* A fresh object for a key: one left by a killed run goes first. */
static int fresh(int (*get)(key_t, int), int (*rm)(int), key_t key, int flags)
{
	int id = get(key, flags | IPC_CREAT | IPC_EXCL);
	if (id < 0 && errno == EEXIST) {
		rm(get(key, 0));
		id = get(key, flags | IPC_CREAT | IPC_EXCL);
	}
	return id;
}
static int msg_get(key_t k, int f) { return msgget(k, f); }
static int msg_rm(int id) { return msgctl(id, IPC_RMID, 0); }
static int shm_get(key_t k, int f) { return shmget(k, SEGSIZE, f); }
static int shm_rm(int id) { return shmctl(id, IPC_RMID, 0); }

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 60;
	unsigned tag = argc > 2 ? sum((const unsigned char *)argv[2], strlen(argv[2])) : 1;
	key_t mkey = (key_t)(0x51000000 | (tag & 0xffff00)), skey = mkey | 1;
	setvbuf(stdout, 0, _IOLBF, 0);

	int work = msgget(IPC_PRIVATE, 0600);
	int box = fresh(msg_get, msg_rm, mkey, 0640);
	int seg = fresh(shm_get, shm_rm, skey, 0600);
	int sems = semget(IPC_PRIVATE, 2, 0600);
	if (work < 0 || box < 0 || seg < 0 || sems < 0)
		die("creating the IPC objects");
	unsigned short init[2] = { 1, 0 };
	if (semctl(sems, 0, SETALL, init) < 0)
		die("semctl SETALL");

	unsigned char *mem = shmat(seg, 0, 0);
	if (mem == (void *)-1)
		die("shmat");
	for (int i = 0; i < SEGSIZE; i++)
		mem[i] = i / 4096 == 1 ? 0 : (unsigned char)(i * 7 + 3);
	unsigned seg_sum = sum(mem, SEGSIZE);
	shmdt(mem);

	static const long types[5] = { 7, 3, 7, 1, 9 };
	char text[4000];
	for (int i = 0; i < 5; i++) {
		size_t len = i == 2 ? 3000 : (size_t)(10 + i);
		for (size_t j = 0; j < len; j++)
			text[j] = (char)('a' + (i * 5 + j) % 26);
		send_msg(box, types[i], text, len);
	}
	struct msqid_ds ds;
	if (msgctl(box, IPC_STAT, &ds) < 0)
		die("IPC_STAT");
	ds.msg_qbytes = 12000;
	if (msgctl(box, IPC_SET, &ds) < 0)
		die("IPC_SET");

	pid_t holder = fork();
	if (holder == 0) {
		sem_op(sems, 0, -1, SEM_UNDO);
		sem_op(sems, 1, 2, SEM_UNDO);
		struct msg m;
		recv_msg(work, &m, QUIT);
		_exit(0); /* without giving anything back: the kernel undoes it */
	}
	pid_t worker = fork();
	if (worker == 0) {
		for (;;) {
			struct msg m;
			ssize_t n = recv_msg(work, &m, JOB);
			if (n < 0)
				die("msgrcv");
			if (n == 0)
				_exit(0);
			nap_ms(30);
			char reply[64];
			int len = snprintf(reply, sizeof(reply), "%zd bytes, sum %08x", n, sum((unsigned char *)m.text, (size_t)n));
			send_msg(work, REPLY, reply, (size_t)len);
		}
	}

	int sent = 0;
	for (int r = 0; r < rounds; r++) {
		while (sent < rounds && sent < r + AHEAD) {
			size_t len = 1 + (size_t)(sent * 37) % 500;
			for (size_t j = 0; j < len; j++)
				text[j] = (char)(sent + j);
			send_msg(work, JOB, text, len);
			sent++;
		}
		struct msg m;
		ssize_t n = recv_msg(work, &m, REPLY);
		if (n < 0)
			die("msgrcv reply");
		printf("job %d: %.*s\n", r, (int)n, m.text);
	}
	send_msg(work, JOB, "", 0);
	int st;
	waitpid(worker, &st, 0);
	printf("worker: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	send_msg(work, QUIT, "q", 1);
	waitpid(holder, &st, 0);
	printf("holder: exit %d; semaphores after its undo: %d %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	       semctl(sems, 0, GETVAL), semctl(sems, 1, GETVAL));

	if (msgctl(box, IPC_STAT, &ds) < 0)
		die("IPC_STAT");
	printf("mailbox: same id by key %s, mode %o, limit %lu, %lu messages, %lu bytes\n",
	       msgget(mkey, 0) == box ? "yes" : "NO", ds.msg_perm.mode & 0777, (unsigned long)ds.msg_qbytes,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
	static const long order[5] = { 9, -3, 7, 0, 0 };
	for (int i = 0; i < 5; i++) {
		struct msg m;
		ssize_t n = msgrcv(box, &m, sizeof(m.text), order[i], IPC_NOWAIT);
		if (n < 0)
			die("msgrcv mailbox");
		printf("mailbox %d (asked %ld): type %ld, %zd bytes, sum %08x\n", i, order[i], m.type, n,
		       sum((unsigned char *)m.text, (size_t)n));
	}

	struct shmid_ds sds;
	if (shmctl(seg, IPC_STAT, &sds) < 0)
		die("shm IPC_STAT");
	mem = shmat(seg, 0, SHM_RDONLY);
	if (mem == (void *)-1)
		die("shmat again");
	int zero = 1;
	for (int i = 4096; i < 8192; i++)
		zero &= mem[i] == 0;
	printf("segment: same id by key %s, %zu bytes, content %s, page 1 %s\n", shmget(skey, 0, 0) == seg ? "yes" : "NO",
	       (size_t)sds.shm_segsz, sum(mem, SEGSIZE) == seg_sum ? "intact" : "CHANGED", zero ? "zero" : "NOT ZERO");
	shmdt(mem);
	msgctl(work, IPC_RMID, 0);
	msgctl(box, IPC_RMID, 0);
	shmctl(seg, IPC_RMID, 0);
	semctl(sems, 0, IPC_RMID);
	return 0;
}
