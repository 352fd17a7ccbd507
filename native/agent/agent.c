/*
 * The agent's life: a constructor that joins the coordinator before main() runs, and the
 * checkpoint thread that serves the coordinator's barriers (docs/protocol.md).
 *
 * Every process of a computation has the agent: the one `stasis launch` started, each
 * process fork() makes (the child joins the coordinator before fork() returns in it, so a
 * checkpoint cannot miss it unnoticed: the namespace's init lists every process, and the
 * coordinator waits for any it has not heard from), and each program exec'd (exec.c
 * keeps the agent in the environment; the new program joins from this constructor).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/futex.h>
#include "agent.h"
#include "incr.h"
#include "../common/fmt.h"
#include "../common/proto.h"
#include "../common/sys.h"

#define DEFAULT_SIGNAL 62

static uint8_t frame_buf[PROTO_HEADER + 65536];

static long send_msg(const struct proto_msg *m)
{
	uint8_t buf[PROTO_HEADER + 8192];
	long n = proto_encode(m, buf, sizeof(buf));
	if (n < 0)
		return -22;
	for (long off = 0; off < n;) {
		long w = sys_call6(SYS_sendto_, g_agent.coord_fd, (long)(buf + off), n - off,
				   0x4000 /* MSG_NOSIGNAL */, 0, 0);
		if (w == -4)
			continue;
		if (w <= 0)
			return w ? w : -32;
		off += w;
	}
	return 0;
}

static long read_full(int fd, uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		long r = sys_read(fd, p + off, n - off);
		if (r == -4)
			continue;
		if (r <= 0)
			return r ? r : -104;
		off += (size_t)r;
	}
	return 0;
}

/* Reads one frame. Returns 0, or -errno / -71 (EPROTO) with the reason logged. */
static long recv_msg(struct proto_msg *m)
{
	const char *why = 0;
	uint16_t type;
	long e = read_full(g_agent.coord_fd, frame_buf, PROTO_HEADER);
	if (e)
		return e;
	long len = proto_check_header(frame_buf, &type, &why);
	if (len < 0 || len > 65536) {
		agent_log("bad frame from the coordinator: ", why ? why : "too large", 0);
		return -71;
	}
	e = read_full(g_agent.coord_fd, frame_buf + PROTO_HEADER, (size_t)len);
	if (e)
		return e;
	if (proto_decode(type, frame_buf + PROTO_HEADER, (uint32_t)len, m, &why)) {
		agent_log("bad frame from the coordinator: ", why, 0);
		return -71;
	}
	return 0;
}

int agent_connect(void)
{
	int fd = (int)sys_call3(SYS_socket_, 2 /* AF_INET */, 1 | 02000000 /* STREAM|CLOEXEC */, 0);
	if (fd < 0)
		return fd;
	struct { uint16_t family, port; uint32_t addr; uint8_t zero[8]; } sa = {
		2, (uint16_t)((g_agent.coord_port >> 8) | (g_agent.coord_port << 8)), g_agent.coord_ip, { 0 }
	};
	long e;
	do
		e = sys_call3(SYS_connect_, fd, (long)&sa, sizeof(sa));
	while (e == -4);
	if (e < 0) {
		sys_close(fd);
		return (int)e;
	}
	int one = 1;
	sys_call5(SYS_setsockopt_, fd, 6 /* IPPROTO_TCP */, 1 /* TCP_NODELAY */, (long)&one, 4);
	/* Keep the agent's fd out of the application's way: high, close-on-exec. */
	uint64_t lim[2] = { 1024, 1024 };
	sys_call4(SYS_prlimit64_, 0, 7 /* RLIMIT_NOFILE */, 0, (long)lim);
	long want = lim[0] >= RI_COORD_FD + 24 ? RI_COORD_FD : (long)lim[0] - 8;
	if (want > fd) {
		long hi = sys_fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, want);
		if (hi >= 0) {
			sys_close(fd);
			fd = (int)hi;
		}
	}
	g_agent.coord_fd = fd;
	return 0;
}

/* The inode of our PID namespace: which computation (which init) this process is part of. */
static uint64_t pidns_ino(void)
{
	char link[64];
	long n = sys_call4(SYS_readlinkat_, -100, (long)"/proc/self/ns/pid", (long)link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	const char *p = str_find(link, "[");
	if (!p)
		return 0;
	p++;
	return parse_dec(&p);
}

/* HELLO, without waiting for the answer (hello_answer reads it). */
static long hello_send(uint32_t flags)
{
	static struct proto_msg m;
	char host[65] = "";
	struct { char f[6][65]; } u;
	if (sys_call1(SYS_uname_, (long)&u) == 0)
		str_copy(host, u.f[1], sizeof(host));
	mem_zero(&m, sizeof(m));
	m.type = MSG_HELLO;
	m.pid = (uint32_t)sys_getpid();
	m.ppid = (uint32_t)sys_call0(SYS_getppid_);
	m.flags = flags;
	m.proc_id = g_agent.proc_id;
	m.pidns = pidns_ino();
	str_copy(m.name, g_agent.name, sizeof(m.name));
	str_copy(m.ckpt_dir, g_agent.ckpt_dir, sizeof(m.ckpt_dir));
	str_copy(m.hostname, host, sizeof(m.hostname));
	return send_msg(&m);
}

/* The coordinator's WELCOME, the first message it sends on a connection. */
static long hello_answer(void)
{
	static struct proto_msg m;
	long e = recv_msg(&m);
	if (!e && m.type != MSG_WELCOME)
		e = -71;
	if (!e)
		g_agent.proc_id = m.proc_id;
	return e;
}

int agent_hello(uint32_t flags)
{
	long e = hello_send(flags);
	if (!e)
		e = hello_answer();
	return (int)e;
}

static void load_name(void)
{
	int fd = (int)sys_openat(-100, "/proc/self/comm", 02000000, 0);
	long n = fd >= 0 ? sys_read(fd, g_agent.name, sizeof(g_agent.name) - 1) : 0;
	if (fd >= 0)
		sys_close(fd);
	g_agent.name[n > 0 ? n : 0] = 0;
	for (char *p = g_agent.name; *p; p++)
		if (*p == '\n')
			*p = 0;
}

static uint64_t mono_ns(void)
{
	struct { long s, ns; } ts;
	sys_call2(SYS_clock_gettime_, 1 /* CLOCK_MONOTONIC */, (long)&ts);
	return (uint64_t)ts.s * 1000000000ull + (uint64_t)ts.ns;
}

/* Waits until the image writer has sent its result or ended. Meanwhile the coordinator
 * may only send KILL (it waits for this checkpoint's WRITTEN before anything else). */
static void await_writer(void)
{
	static struct proto_msg m;
	for (;;) {
		struct { int fd; short events, revents; } p[2] = {
			{ g_agent.writer_fd, 1 /* POLLIN */, 0 }, { g_agent.coord_fd, 1, 0 },
		};
		long n = sys_call3(7 /* poll */, (long)p, g_agent.coord_fd >= 0 ? 2 : 1, -1);
		if (n == -4)
			continue;
		if (n < 0 || p[0].revents)
			return;
		if (!p[1].revents)
			continue;
		long e = recv_msg(&m);
		if (e) {
			if (e != -104)
				agent_log_err("lost the coordinator", e);
			sys_close(g_agent.coord_fd);
			g_agent.coord_fd = -1;
		} else if (m.type == MSG_KILL) {
			agent_writer_kill();
			sys_call2(SYS_kill_, sys_getpid(), 9);
		} else if (m.type == MSG_COMMIT) {
			/* Only a failed checkpoint's: read back (or not) once the writer is done. */
			incr_commit(m.ckpt_id, (m.flags & COMMIT_FLAG_COMMITTED) != 0);
		} else {
			agent_log("unexpected message from the coordinator while the image is written: ",
				  proto_type_name(m.type), 0);
		}
	}
}

/* The writer's result as WRITTEN for checkpoint ckpt_id. */
static void report_writer(uint64_t ckpt_id, struct proto_msg *out, char *why, int whylen)
{
	await_writer();
	mem_zero(out, sizeof(*out));
	out->type = MSG_WRITTEN;
	out->ckpt_id = ckpt_id;
	why[0] = 0;
	out->status = agent_writer_finish(&out->image_bytes, why, whylen);
	str_copy(out->message, why, sizeof(out->message));
	if (out->status)
		agent_log("checkpoint failed: ", why, 0);
	if (g_agent.coord_fd >= 0 && send_msg(out))
		agent_log("cannot answer the coordinator", 0, 0);
	agent_writer_reap();
}

static void serve(void)
{
	static struct proto_msg m, out;
	static struct agent_capture_out co;
	static char why[1024];
	for (;;) {
		long e = g_agent.coord_fd >= 0 ? recv_msg(&m) : -104;
		if (e) {
			if (g_agent.suspending)
				agent_resume_all();
			if (e != -104)
				agent_log_err("lost the coordinator", e);
			if (g_agent.coord_fd >= 0)
				sys_close(g_agent.coord_fd);
			g_agent.coord_fd = -1;
			if (g_agent.writer_pid)
				report_writer(0, &out, why, sizeof(why)); /* only to reap it */
			return;
		}
		mem_zero(&out, sizeof(out));
		out.ckpt_id = m.ckpt_id;
		why[0] = 0;
		switch (m.type) {
		case MSG_SUSPEND:
			g_agent.pause_start_ns = mono_ns();
			g_agent.nmarks = 0;
			agent_mark("start");
			out.type = MSG_SUSPENDED;
			out.status = agent_suspend_all(why, sizeof(why));
			out.nthreads = (uint32_t)g_agent.nthreads;
			agent_mark("suspend");
			if (out.status)
				agent_log("cannot suspend: ", why, 0);
			break;
		case MSG_WRITE:
			agent_mark("to WRITE");
			g_agent.nshares = 0;
			for (uint32_t i = 0; i < m.nshares && i < AGENT_MAX_SHARES; i++) {
				struct proto_share sh;
				proto_share_at(&m, i, &sh);
				g_agent.shares[g_agent.nshares++] = (struct img_fd_share){ sh.fd, sh.flags & SF_KNOWN, sh.share_id };
			}
			g_agent.nshm_skip = 0;
			for (uint32_t i = 0; i < m.nshm && i < AGENT_MAX_SHARES; i++)
				g_agent.shm_skip[g_agent.nshm_skip++] = proto_shm_skip_at(&m, i);
			out.type = MSG_CAPTURED;
			g_agent.released = 0;
			incr_set_write_flags(m.flags);
			mem_zero(&co, sizeof(co));
			out.status = agent_take_shared_signals(why, sizeof(why));
			agent_mark("shared signals");
			if (!out.status)
				out.status = agent_write_image(m.image_path, m.ckpt_id, &co, why, sizeof(why));
			out.flags = !out.status && co.forked ? CAPTURED_FORKED : 0;
			out.writer_pid = out.flags ? (uint32_t)co.writer_pid : 0;
			str_copy(out.message, out.status ? why : co.reason, sizeof(out.message));
			if (out.status)
				agent_log("checkpoint failed: ", why, 0);
			if (send_msg(&out))
				agent_log("cannot answer the coordinator", 0, 0);
			agent_mark("CAPTURED sent");
			if (out.status || out.flags)
				continue;
			/* Written with the threads stopped: the image is durable already. */
			mem_zero(&out, sizeof(out));
			out.type = MSG_WRITTEN;
			out.ckpt_id = m.ckpt_id;
			out.image_bytes = co.bytes;
			break;
		case MSG_RESUME:
			agent_mark("to RESUME");
			agent_resume_all();
			agent_mark("resume");
			out.type = MSG_RESUMED;
			out.pause_ns = g_agent.pause_start_ns ? mono_ns() - g_agent.pause_start_ns : 0;
			g_agent.pause_start_ns = 0;
			if (send_msg(&out))
				agent_log("cannot answer the coordinator", 0, 0);
			agent_trace_flush();
			if (g_agent.writer_pid)
				report_writer(m.ckpt_id, &out, why, sizeof(why));
			continue;
		case MSG_KILL:
			sys_call2(SYS_kill_, sys_getpid(), 9);
			continue;
		case MSG_COMMIT:
			incr_commit(m.ckpt_id, (m.flags & COMMIT_FLAG_COMMITTED) != 0);
			if (!g_agent.suspending) {
				incr_idle(); /* COMMIT after RESUME */
				/* The checkpoint is over, its writer gone: make the next pause short.
				 * (Before COMMIT, the collapse would stop at once to read it.) */
				agent_thp_collapse();
			}
			continue;
		default:
			agent_log("unexpected message from the coordinator: ", proto_type_name(m.type), 0);
			continue;
		}
		if (send_msg(&out))
			agent_log("cannot answer the coordinator", 0, 0);
		if (!g_agent.suspending)
			incr_idle(); /* with the program running again */
	}
}

void agent_ckpt_loop(void)
{
	if (g_agent.coord_fd >= 0)
		serve();
	/* Without a coordinator there is nothing to do: park for good. */
	static int never;
	for (;;)
		sys_futex(&never, FUTEX_WAIT_PRIVATE, 0, 0);
}

void agent_ckpt_restarted(void)
{
	struct restart_info *ri = &g_agent.rinfo;
	for (;;) {
		int n = __atomic_load_n(&ri->entered, __ATOMIC_ACQUIRE);
		if ((unsigned)n >= ri->nthreads)
			break;
		sys_futex((int *)&ri->entered, FUTEX_WAIT_PRIVATE, n, 0);
	}
	if (ri->loader_len)
		sys_munmap((void *)ri->loader_start, ri->loader_len);
	g_agent.coord_ip = ri->coord_ip;
	g_agent.coord_port = ri->coord_port;
	if (ri->ckpt_dir[0])
		str_copy(g_agent.ckpt_dir, ri->ckpt_dir, sizeof(g_agent.ckpt_dir));
	g_agent.coord_fd = -1;
	g_agent.suspending = 0;
	g_agent.writer_pid = 0;
	g_agent.writer_fd = -1;
	g_agent.pause_start_ns = 0;
	load_name();
	incr_restarted(ri);
	long e = agent_connect();
	if (!e)
		e = agent_hello(HELLO_RESTARTED);
	static struct proto_msg m;
	if (!e)
		e = recv_msg(&m);
	if (!e && m.type == MSG_RESUME) {
		agent_release_restored();
		mem_zero(&m, sizeof(m));
		m.type = MSG_RESUMED;
		send_msg(&m);
	} else {
		g_agent.unjoined = 1;
		agent_log_err("restarted without a coordinator", e ? e : -71);
		if (g_agent.coord_fd >= 0)
			sys_close(g_agent.coord_fd);
		g_agent.coord_fd = -1;
		agent_release_restored();
	}
	agent_ckpt_loop();
}

static void *ckpt_main(void *arg);

/* Starts the checkpoint thread with every signal blocked (it must never run handlers). */
static int start_ckpt_thread(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);
	int err = pthread_create(&th, &at, ckpt_main, 0);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, 0);
	if (!err)
		pthread_detach(th);
	return err;
}

/* Set while the checkpoint thread has the coordinator's WELCOME still to read; 2 when a
 * failure to join then ends the program. */
static int welcome_pending;

/* Connects, says HELLO and starts the checkpoint thread, which reads the coordinator's
 * answer: the program runs on meanwhile (a round trip through the coordinator on every
 * fork and exec would be most of what running under Stasis adds to starting a program).
 * Nothing is lost by not waiting: the HELLO is on its way before this returns, and a
 * checkpoint that starts before the coordinator has read it finds the process in its
 * init's list and waits for it (coordinator/barrier.ts). A program that cannot join when
 * it starts exits (it was launched wrong); a forked child that cannot runs on unjoined:
 * its init lists it, so a checkpoint then fails cleanly rather than miss it. */
static void join_coordinator(const char *addr, int fatal)
{
	long e = agent_connect();
	if (!e)
		e = hello_send(0);
	if (e) {
		agent_log("cannot join the coordinator at ", addr, e == -111 ? ": connection refused" : ": protocol error");
		if (fatal)
			sys_exit_group(1);
		if (g_agent.coord_fd >= 0)
			sys_close(g_agent.coord_fd);
		g_agent.coord_fd = -1;
		return;
	}
	welcome_pending = fatal ? 2 : 1;
	if (start_ckpt_thread()) {
		agent_log("cannot start the checkpoint thread", 0, 0);
		sys_exit_group(1);
	}
}

/* The checkpoint thread's first act after join_coordinator: the answer to its HELLO. */
static void await_welcome(void)
{
	int fatal = welcome_pending == 2;
	welcome_pending = 0;
	long e = hello_answer();
	if (!e)
		return;
	agent_log("cannot join the coordinator", 0, e == -71 ? ": protocol error" : ": it closed the connection");
	if (fatal)
		sys_exit_group(1);
	sys_close(g_agent.coord_fd);
	g_agent.coord_fd = -1;
	g_agent.unjoined = 1;
}

static void *ckpt_main(void *arg)
{
	(void)arg;
	volatile char here;
	g_agent.ckpt_resume_sp = ((uint64_t)&here - 512) & ~15ull;
	long head = 0;
	size_t len = 0;
	sys_call3(SYS_get_robust_list_, 0, (long)&head, (long)&len);
	g_agent.ckpt_robust_head = (uint64_t)head;
	g_agent.ckpt_robust_len = len;
	if (welcome_pending)
		await_welcome();
	agent_ckpt_loop();
}

/* A forked child is a new process of the computation: it drops its parent's connection
 * and checkpoint state and joins as itself. Only the thread that forked exists here. */
static void after_fork_in_child(void)
{
	if (g_agent.coord_fd >= 0)
		sys_close(g_agent.coord_fd);
	g_agent.coord_fd = -1;
	g_agent.suspending = 0;
	g_agent.nthreads = 0;
	g_agent.suspended = 0;
	g_agent.proc_id = 0;
	/* The parent's image writer is not ours. */
	if (g_agent.writer_fd >= 0)
		sys_close(g_agent.writer_fd);
	g_agent.writer_fd = -1;
	g_agent.writer_pid = 0;
	g_agent.pause_start_ns = 0;
	agent_timers_after_fork();
	incr_after_fork();
	load_name();
	if (g_agent.unjoined)
		return; /* the parent runs without a coordinator: so does its child */
	join_coordinator("the coordinator", 0);
	g_agent.unjoined = g_agent.coord_fd < 0;
}

/* STASIS_FI=name[:N],...: the named fault injection points a test asks for (agent.h). The
 * list is shared with stasis-init: names that are not the agent's are its own. */
static void load_faults(const char *spec)
{
	for (const char *p = spec; p && *p;) {
		if (str_starts(p, "writer-kill") && (p[11] == ':' || p[11] == ',' || !p[11])) {
			g_agent.faults |= AGENT_FAULT_WRITER_KILL;
			p += 11;
			g_agent.fault_writer_kill_at = 1;
			if (*p == ':') {
				p++;
				g_agent.fault_writer_kill_at = (uint32_t)parse_dec(&p);
			}
		} else if (str_starts(p, "low-memory") && (p[10] == ',' || !p[10])) {
			g_agent.faults |= AGENT_FAULT_LOW_MEMORY;
		} else if (str_starts(p, "writer-hold") && (p[11] == ',' || !p[11])) {
			g_agent.faults |= AGENT_FAULT_WRITER_HOLD;
		}
		while (*p && *p != ',')
			p++;
		if (*p == ',')
			p++;
	}
}

__attribute__((constructor)) static void agent_init(void)
{
	const char *addr = getenv("STASIS_COORD_ADDR");
	const char *dir = getenv("STASIS_CKPT_DIR");
	g_agent.coord_fd = -1;
	if (!addr || !dir)
		return;
	if (parse_ipv4_port(addr, &g_agent.coord_ip, &g_agent.coord_port)) {
		agent_log("STASIS_COORD_ADDR must be IPV4:PORT, not ", addr, 0);
		sys_exit_group(1);
	}
	str_copy(g_agent.ckpt_dir, dir, sizeof(g_agent.ckpt_dir));
	const char *sig = getenv("STASIS_SIGNAL");
	g_agent.sig = sig ? atoi(sig) : DEFAULT_SIGNAL;
	g_agent.writer_fd = -1;
	const char *nofork = getenv("STASIS_NO_FORK");
	g_agent.no_fork = nofork && nofork[0] && !str_eq(nofork, "0");
	load_faults(getenv("STASIS_FI"));
	agent_thp_init(getenv("STASIS_NO_THP"));
	const char *trace = getenv("STASIS_TRACE");
	g_agent.trace = trace && trace[0] == '1';
	const char *compress = getenv("STASIS_COMPRESS");
	g_agent.no_compress = compress && compress[0] == '0' && !compress[1];
	agent_exec_init();
	load_name();
	if (agent_install_handler()) {
		agent_log("cannot install the suspend signal handler", 0, 0);
		sys_exit_group(1);
	}
	join_coordinator(addr, 1);
	pthread_atfork(0, 0, after_fork_in_child);
}
