/*
 * Bench workload "8 threads, small": eight threads pass a turn around a ring through one
 * mutex and one condition variable, doing a little private work per turn and sleeping
 * 1 ms per round, so the process stays small and light on CPU. The main thread prints
 * "ready", then runs the heartbeat loop (heartbeat.h).
 *
 * The heartbeat checks what the ring guarantees: every thread has taken its turn the same
 * number of times, give or take one, and the turns add up to the total. A restore that lost
 * a thread or its place in the ring prints "beat K BAD ..." (and a lost thread stops the
 * rounds, which the "rounds" count shows).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "heartbeat.h"

#define NT 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;
static long turns[NT], total;
static uint64_t state = 1;

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t local = (uint64_t)me + 1;
	struct timespec pause = { 0, 1000 * 1000 };
	for (;;) {
		for (int k = 0; k < 2000; k++)
			local = local * 6364136223846793005ull + 1442695040888963407ull;
		pthread_mutex_lock(&mu);
		while (turn != me)
			pthread_cond_wait(&cv, &mu);
		state = (state ^ local) * 0x100000001b3ull;
		turns[me]++;
		total++;
		turn = (turn + 1) % NT;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		if (me == NT - 1)
			nanosleep(&pause, 0);
	}
	return 0;
}

int main(void)
{
	pthread_t th[NT];
	for (int i = 0; i < NT; i++)
		if (pthread_create(&th[i], 0, worker, (void *)(intptr_t)i) != 0) {
			fprintf(stderr, "threads8: pthread_create failed\n");
			return 1;
		}
	printf("ready %d threads\n", NT);
	fflush(stdout);

	struct hb hb;
	hb_init(&hb);
	for (;;) {
		if (!hb_tick(&hb))
			continue;
		pthread_mutex_lock(&mu);
		long sum = 0, lo = turns[0], hi = turns[0];
		for (int i = 0; i < NT; i++) {
			sum += turns[i];
			lo = turns[i] < lo ? turns[i] : lo;
			hi = turns[i] > hi ? turns[i] : hi;
		}
		long t = total;
		pthread_mutex_unlock(&mu);
		char status[96];
		if (sum == t && hi - lo <= 1)
			snprintf(status, sizeof status, "ok rounds %ld", t / NT);
		else
			snprintf(status, sizeof status, "BAD turns %ld..%ld sum %ld total %ld", lo, hi, sum, t);
		hb_print(&hb, status);
	}
}
