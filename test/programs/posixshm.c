/*
 * POSIX shared memory that stays linked in /dev/shm: a parent and two children each map
 * the same shm_open'ed object (separate mappings of one file) and increment a counter in
 * it under a process-shared mutex. The file outlives a crash on this machine but not on
 * another, and the processes go on changing it after the checkpoint: a restart must put
 * back its content as it was at the checkpoint, or the counter ends off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	pthread_mutex_t lock;
	long counter;
};

static void nap_us(long us)
{
	struct timespec t = { 0, us * 1000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static struct shared *map_it(const char *name, int create)
{
	int fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0 || (create && ftruncate(fd, 8192) < 0))
		return 0;
	struct shared *s = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return s == MAP_FAILED ? 0 : s;
}

int main(int argc, char **argv)
{
	long per = argc > 1 ? atol(argv[1]) : 5000;
	const char *tag = argc > 2 ? argv[2] : "run";
	setvbuf(stdout, 0, _IOLBF, 0);
	char name[128];
	snprintf(name, sizeof(name), "/stasis-posixshm-%s-%d", tag, getpid());
	struct shared *s = map_it(name, 1);
	if (!s)
		return 1;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->lock, &a);
	pid_t kids[2];
	for (int c = 0; c < 2; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			struct shared *mine = map_it(name, 0); /* a mapping of its own */
			if (!mine)
				_exit(2);
			for (long i = 0; i < per; i++) {
				pthread_mutex_lock(&mine->lock);
				mine->counter++;
				pthread_mutex_unlock(&mine->lock);
				nap_us(250);
			}
			_exit(0);
		}
	}
	long total = 2 * per, step = total / 10;
	for (long k = 1; k <= 10; k++) {
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
	for (int c = 0; c < 2; c++) {
		int st;
		waitpid(kids[c], &st, 0);
		printf("child %d: exit %d\n", c, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	printf("counter %ld of %ld\n", s->counter, total);
	shm_unlink(name);
	return 0;
}
