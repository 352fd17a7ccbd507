/*
 * Memory shared between processes must be shared again after a restart: a parent and
 * three children increment one counter in a MAP_SHARED anonymous mapping (inherited over
 * fork) under a process-shared mutex, each also counting its own increments in a slot of
 * the same mapping. The parent prints a line as the counter passes each milestone and,
 * at the end, the total and each child's share. If the restarted processes each got a
 * private copy, the milestones stop coming or the sums disagree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 3

struct shared {
	pthread_mutex_t lock;
	long counter;
	long mine[CHILDREN];
};

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
	pid_t kids[CHILDREN];
	for (int c = 0; c < CHILDREN; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			for (long i = 0; i < per; i++) {
				pthread_mutex_lock(&s->lock);
				long v = s->counter;
				nap_us(50); /* inside the lock: a checkpoint often lands here */
				s->counter = v + 1;
				s->mine[c]++;
				pthread_mutex_unlock(&s->lock);
				nap_us(200);
			}
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
		printf("counter passed %ld\n", k * step);
	}
	for (int c = 0; c < CHILDREN; c++) {
		int st;
		waitpid(kids[c], &st, 0);
		printf("child %d: exit %d, %ld increments\n", c, WIFEXITED(st) ? WEXITSTATUS(st) : -1, s->mine[c]);
	}
	printf("counter %ld of %ld\n", s->counter, total);
	return 0;
}
