/*
 * An event loop built on epoll, eventfd and timerfd, as servers write them: a periodic
 * timerfd drives rounds; each tick posts the round number to an eventfd, and the loop
 * must then see the eventfd readable with exactly that value, with the epoll data it was
 * registered with. A second, one-shot timerfd with a long value must stay armed.
 * Whatever order epoll reports readiness in, every line is the same in an uninterrupted
 * run; a restart that lost a registration, the eventfd count or a timer hangs or prints
 * a different line.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define TAG_TICK 0x7469636bull
#define TAG_EVENT 0x6576656e74ull

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 60;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int longt = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
	int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep < 0 || tick < 0 || longt < 0 || ev < 0)
		return 2;
	struct itimerspec its = { { 0, 25000000 }, { 0, 25000000 } };
	struct itimerspec lng = { { 0, 0 }, { 3600, 0 } };
	timerfd_settime(tick, 0, &its, 0);
	timerfd_settime(longt, 0, &lng, 0);
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = TAG_TICK };
	epoll_ctl(ep, EPOLL_CTL_ADD, tick, &e);
	e.data.u64 = TAG_EVENT;
	epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e);

	uint64_t expect = 0, sum = 0;
	int round = 0;
	volatile double x = 1.0;
	while (round < rounds) {
		struct epoll_event got[4];
		int n = epoll_wait(ep, got, 4, -1);
		if (n < 0)
			continue;
		for (int i = 0; i < n; i++) {
			uint64_t v;
			if (got[i].data.u64 == TAG_EVENT) {
				if (read(ev, &v, 8) != 8)
					continue;
				struct itimerspec now;
				timerfd_gettime(longt, &now);
				sum += v;
				printf("round %d eventfd %" PRIu64 " %s sum %" PRIu64 " long timer %s\n", round, v,
				       v == expect ? "as posted" : "WRONG", sum,
				       now.it_value.tv_sec > 0 && now.it_value.tv_sec <= 3600 ? "armed" : "LOST");
				fflush(stdout);
				expect = 0;
				round++;
			} else if (got[i].data.u64 == TAG_TICK) {
				if (read(tick, &v, 8) != 8 || expect)
					continue; /* the last round's value is still unread */
				for (int k = 0; k < 2000000; k++)
					x = x * 1.0000001 + 1e-9;
				expect = (uint64_t)round + 1;
				if (write(ev, &expect, 8) != 8)
					return 3;
			} else {
				printf("unknown epoll data %#" PRIx64 "\n", (uint64_t)got[i].data.u64);
				return 4;
			}
		}
	}
	return 0;
}
