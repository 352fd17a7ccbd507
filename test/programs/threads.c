/*
 * Eight threads take turns through one mutex and one condition variable; each turn mixes
 * the shared state and does some private work. The main thread prints the state after
 * every round of turns. The output depends only on the turn order, which the condition
 * variable fixes, so it is the same however threads are scheduled or interrupted.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NT 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, done;
static long rounds_total;
static uint64_t state = 0x9e3779b97f4a7c15ull;
static long round_no;

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t local = (uint64_t)me * 0x100000001b3ull;
	for (;;) {
		for (int k = 0; k < 200000; k++)
			local = local * 6364136223846793005ull + 1;
		pthread_mutex_lock(&mu);
		while (turn != me && !done)
			pthread_cond_wait(&cv, &mu);
		if (done) {
			pthread_mutex_unlock(&mu);
			return 0;
		}
		state = (state ^ (local >> 7)) * 0x100000001b3ull + (uint64_t)me;
		turn = (turn + 1) % NT;
		if (turn == 0) {
			round_no++;
			printf("round %ld %016llx\n", round_no, (unsigned long long)state);
			fflush(stdout);
			if (round_no == rounds_total)
				done = 1;
		}
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
}

int main(int argc, char **argv)
{
	rounds_total = argc > 1 ? atol(argv[1]) : 150;
	pthread_t th[NT];
	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], 0, worker, (void *)(intptr_t)i);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], 0);
	printf("joined all %d threads\n", NT);
	return 0;
}
