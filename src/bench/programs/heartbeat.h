/*
 * The heartbeat loop every C workload of the bench runs once it is set up: it sleeps
 * 1 ms per iteration and, every 10 ms, prints one line
 *
 *     beat K ok gap_us G at_us T     (or "beat K BAD <what> ..." when its self-check failed)
 *
 * where G is the largest gap, in microseconds, between two consecutive iterations since
 * the previous line, and T the CLOCK_MONOTONIC time of the line, in microseconds (the
 * bench lines the lines up with the pause window the coordinator reports). That is the application's own view of a checkpoint's pause: while
 * its threads are stopped the loop does not run, and the first line after they run again
 * carries the gap. An undisturbed loop shows about 1.1 ms (the sleep plus timer slack),
 * so that is the resolution of the figure.
 *
 * Header-only: each program is a single .c file compiled on its own by the bench.
 */
#ifndef BENCH_HEARTBEAT_H
#define BENCH_HEARTBEAT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define HB_PERIOD_NS 1000000ull
#define HB_BEAT_NS 10000000ull

struct hb {
	uint64_t last_ns;
	uint64_t next_beat_ns;
	uint64_t max_gap_ns;
	uint64_t beat;
};

static uint64_t hb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Starts measuring from now: work done before (setting up, dirtying memory on request)
 * is not a pause the bench should see. */
static void hb_forget(struct hb *h)
{
	h->last_ns = hb_now();
	h->next_beat_ns = h->last_ns + HB_BEAT_NS;
	h->max_gap_ns = 0;
}

static void hb_init(struct hb *h)
{
	h->beat = 0;
	hb_forget(h);
}

/* One iteration: sleep, record the gap. Returns 1 when a heartbeat line is due. */
static int hb_tick(struct hb *h)
{
	struct timespec d = { 0, (long)HB_PERIOD_NS };
	nanosleep(&d, 0);
	uint64_t now = hb_now();
	if (now - h->last_ns > h->max_gap_ns)
		h->max_gap_ns = now - h->last_ns;
	h->last_ns = now;
	return now >= h->next_beat_ns;
}

/* Prints "beat K <status> gap_us G" and starts the next interval. */
static void hb_print(struct hb *h, const char *status)
{
	h->beat++;
	printf("beat %llu %s gap_us %llu at_us %llu\n", (unsigned long long)h->beat, status,
	       (unsigned long long)(h->max_gap_ns / 1000), (unsigned long long)(hb_now() / 1000));
	fflush(stdout);
	h->max_gap_ns = 0;
	h->next_beat_ns = hb_now() + HB_BEAT_NS;
}

#endif
