/* A static logger: one write(2) per line, no stdio, safe anywhere in the agent. */
#include "agent.h"
#include "../common/fmt.h"
#include "../common/sys.h"

void agent_log(const char *a, const char *b, const char *c)
{
	char mem[1024];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, "stasis[");
	sb_udec(&s, (uint64_t)sys_getpid());
	sb_str(&s, "]: ");
	sb_str(&s, a);
	if (b)
		sb_str(&s, b);
	if (c)
		sb_str(&s, c);
	sb_str(&s, "\n");
	sys_write(2, s.p, s.len);
}

void agent_log_err(const char *what, long e)
{
	agent_log(what, ": ", strerror_short(e));
}

static uint64_t trace_now(void)
{
	struct { long s, ns; } ts;
	sys_call2(SYS_clock_gettime_, 1 /* CLOCK_MONOTONIC */, (long)&ts);
	return (uint64_t)ts.s * 1000000000ull + (uint64_t)ts.ns;
}

void agent_mark(const char *what)
{
	int n = g_agent.nmarks;
	if (!g_agent.trace || n >= (int)(sizeof(g_agent.marks) / sizeof(g_agent.marks[0])))
		return;
	g_agent.marks[n].what = what;
	g_agent.marks[n].ns = trace_now();
	g_agent.nmarks = n + 1;
}

/* One line: "pause: what +us, what +us, ..." from the first mark. */
void agent_trace_flush(void)
{
	if (!g_agent.trace || !g_agent.nmarks)
		return;
	char mem[1024];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	for (int i = 1; i < g_agent.nmarks; i++) {
		sb_str(&s, i > 1 ? ", " : "");
		sb_str(&s, g_agent.marks[i].what);
		sb_str(&s, " ");
		sb_udec(&s, (g_agent.marks[i].ns - g_agent.marks[i - 1].ns) / 1000);
		sb_str(&s, "us");
	}
	g_agent.nmarks = 0;
	agent_log("pause: ", sb_cstr(&s), 0);
}
