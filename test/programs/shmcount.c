/*
 * Memory shared between processes must be shared again after a restart: a parent and
 * three children increment one counter in a MAP_SHARED anonymous mapping (inherited over
 * fork) under a process-shared mutex, each also counting its own increments in a slot of
 * the same mapping. They also use a SysV semaphore set: at most two children at a time
 * may be inside the increment (semaphore 0, two tokens), and each child adds one to
 * semaphore 1 when it is done, which the parent waits for (semop -3); and each child counts
 * its increments once more in a SysV shared memory segment the parent attached before the
 * forks, whose id must still work (shmctl) after a restart. The parent prints a
 * line as the counter passes each milestone and, at the end, the total and each child's
 * share. If the restarted processes each got a private copy of the memory, or the
 * semaphore set is gone or has other values, the output differs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 3

struct shared {
	pthread_mutex_t lock;
	long counter;
	long mine[CHILDREN];
};

static int semid;

static void sem_add(int which, int delta)
{
	struct sembuf op = { (unsigned short)which, (short)delta, 0 };
	while (semop(semid, &op, 1) < 0) {
		if (errno != EINTR) {
			printf("FAIL semop on set %d: %s\n", semid, strerror(errno));
			exit(1);
		}
	}
}

static void nap_us(long us)
{
	struct timespec t = { 0, us * 1000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	long per = argc > 1 ? atol(argv[1]) : 2000;
	setvbuf(stdout, 0, _IOLBF, 0);
	struct shared *s = mmap(0, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return 1;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->lock, &a);
	int shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	long *seg = shmid < 0 ? (long *)-1 : shmat(shmid, 0, 0);
	if (seg == (long *)-1)
		return 1;
	semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	unsigned short init[2] = { 2, 0 };
	if (semid < 0 || semctl(semid, 0, SETALL, init) < 0)
		return 1;
	pid_t kids[CHILDREN];
	for (int c = 0; c < CHILDREN; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			for (long i = 0; i < per; i++) {
				sem_add(0, -1);
				pthread_mutex_lock(&s->lock);
				long v = s->counter;
				nap_us(50); /* inside the lock: a checkpoint often lands here */
				s->counter = v + 1;
				s->mine[c]++;
				seg[c]++;
				pthread_mutex_unlock(&s->lock);
				sem_add(0, 1);
				nap_us(200);
			}
			sem_add(1, 1);
			_exit(0);
		}
	}
	long total = per * CHILDREN, step = total / 20;
	for (long k = 1; k <= 20; k++) {
		for (;;) {
			pthread_mutex_lock(&s->lock);
			long v = s->counter;
			pthread_mutex_unlock(&s->lock);
			if (v >= k * step)
				break;
			nap_us(2000);
		}
		struct shmid_ds ds;
		int seg_ok = shmctl(shmid, IPC_STAT, &ds) == 0 && ds.shm_segsz == 4096;
		printf("counter passed %ld%s\n", k * step, seg_ok ? "" : " (FAIL: the SysV segment's id is gone)");
	}
	sem_add(1, -CHILDREN);
	printf("semaphore: %d children finished, %d tokens back\n", CHILDREN, semctl(semid, 0, GETVAL));
	semctl(semid, 0, IPC_RMID);
	for (int c = 0; c < CHILDREN; c++) {
		int st;
		waitpid(kids[c], &st, 0);
		printf("child %d: exit %d, %ld increments (%ld in the SysV segment)\n", c, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		       s->mine[c], seg[c]);
	}
	printf("counter %ld of %ld\n", s->counter, total);
	shmdt(seg);
	shmctl(shmid, IPC_RMID, 0);
	return 0;
}
