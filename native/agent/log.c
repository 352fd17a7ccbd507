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
