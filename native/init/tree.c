/*
 * Restart: recreating the computation's processes with their old PIDs, parents, sessions,
 * process groups and zombies, then handing each live one to stasis-restore with its image.
 *
 * The plan (written by `stasis restart`, docs/architecture.md "Restart plan") comes on
 * fd 3 as text:
 *
 *   stasis-plan 1
 *   main PID
 *   proc PID PPID PGID SID IMAGE-PATH          (the path is the rest of the line)
 *   zombie PID PPID PGID SID WAIT-STATUS
 *   shm KEY SIZE                               (a shared memory object and its size)
 *   clocks MONOTONIC-NS BOOTTIME-NS           (where those clocks go on from)
 *   sem ID KEY MODE UID GID VALUE...           (a SysV semaphore set, made before anyone)
 *   shmseg ID KEY MODE UID GID SIZE            (a SysV shared memory segment, likewise)
 *   msgq ID KEY MODE UID GID QBYTES MESSAGES BYTES   (a SysV message queue, likewise)
 *   sysvdata PATH                              (their messages and unattached segments' content)
 *   ctty PTY SID FOREGROUND PID...             (a pty that is session SID's controlling terminal)
 *   session SID                                (a helper: see below)
 *   group PGID SID                             (likewise, for a process group)
 *
 * A child can only be made by its parent, so each process (still running this program)
 * forks its own children with clone3 set_tid. A session whose leader has exited (a
 * double-fork daemon's: its middle process is gone, the daemon was reparented to init)
 * is made by a helper with the leader's old PID: it calls setsid, forks the orphans of
 * that session, and exits once the groups are made; they are init's children again. A
 * process group whose leader has exited is made likewise by a helper with the group's
 * id, forked by its session's leader (or init), which reaps it once the members joined. Sessions come first (setsid right after
 * creation, before any child inherits the session), then two rounds of setpgid: group
 * leaders make their groups, then members join. Init runs the rounds as barriers over
 * one SOCK_SEQPACKET pair per process. Zombies then exit with their old status, and their
 * parents wait until they have (without reaping them) so no SIGCHLD is left pending.
 *
 * A controlling terminal is per process (the kernel copies it at fork; setsid drops it;
 * only a session's leader may take one), so it must be in place before the session's
 * members are forked: init opens each such pty before the processes exist, the leader
 * takes it (TIOCSCTTY) right after setsid, every member forked after inherits it, one the
 * plan says had none lets it go (TIOCNOTTY) once its own children exist, and the leader
 * makes the foreground group what it was once every group exists. The pty's owner later
 * takes init's master through the broker (res/pty.c) and restores the rest.
 *
 * The same pairs then carry the fd broker (and, once every loader said DONE, the GO that
 * lets them all run at once): a loader that restores an open file
 * description (or creates a pipe) other processes share PUTs it to init; the others GET it
 * (docs/image-format.md, FD_SHARE). Init holds the fds until every loader has said DONE,
 * then closes its copies, so no pipe keeps a stray writer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "init.h"
#include "../common/broker.h"

#define STALL_MS 300000 /* no message from any process for this long: give up */

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		init_die("out of memory");
	return p;
}

static struct plan_proc *find(const struct plan *p, pid_t pid)
{
	for (int i = 0; i < p->n; i++)
		if (p->procs[i].pid == pid)
			return &p->procs[i];
	return 0;
}

/* Who forks q: its parent; for an orphan of a session whose leader exited, the session's
 * helper; for a group helper, its session's leader (init for init's session). */
static pid_t creator(const struct plan *p, const struct plan_proc *q)
{
	if (q->helper && q->sid != q->pid)
		return q->sid;
	const struct plan_proc *h = q->ppid == 1 && q->sid != q->pid ? find(p, q->sid) : 0;
	return h && h->helper ? h->pid : q->ppid;
}

/* The controlling terminal of session `sid`, or null. */
static struct plan_ctty *ctty_of(const struct plan *p, pid_t sid)
{
	for (int i = 0; i < p->ncttys; i++)
		if (p->cttys[i].sid == sid)
			return &p->cttys[i];
	return 0;
}

static int wants_ctty(const struct plan_ctty *t, pid_t pid)
{
	for (int i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return 1;
	return 0;
}

static void check_plan(struct plan *p)
{
	if (!p->n)
		init_die("the restart plan has no processes");
	if (!find(p, p->main) || find(p, p->main)->zombie || find(p, p->main)->helper)
		init_die("the restart plan's main process %d is not a live process of the plan", p->main);
	for (int i = 0; i < p->n; i++) {
		struct plan_proc *q = &p->procs[i];
		if (q->pid <= 1 || q->ppid < 1 || q->pgid < 1 || q->sid < 1)
			init_die("restart plan: process %d has an impossible identity", q->pid);
		for (int j = 0; j < i; j++)
			if (p->procs[j].pid == q->pid)
				init_die("restart plan: process %d appears twice", q->pid);
		struct plan_proc *parent = q->ppid == 1 ? 0 : find(p, q->ppid);
		if (q->ppid != 1 && (!parent || parent->zombie))
			init_die("restart plan: the parent %d of process %d is not a live process of the plan", q->ppid, q->pid);
		const struct plan_proc *maker = find(p, creator(p, q));
		pid_t inherited = maker ? maker->sid : 1;
		if (q->helper && (q->pgid != q->pid || (q->sid == q->pid && q->ppid != 1)))
			init_die("restart plan: helper %d leads neither a session under init nor a group", q->pid);
		if (q->helper && q->sid != q->pid && q->sid != 1 && (!maker || maker->zombie || maker->sid != maker->pid))
			init_die("restart plan: group helper %d's session %d has no leader to make it", q->pid, q->sid);
		if (q->sid != q->pid && q->sid != inherited)
			init_die("process %d is in session %d, which neither it nor its parent leads: restoring "
				 "such a session is not supported yet", q->pid, q->sid);
		struct plan_proc *leader = q->pgid == 1 ? 0 : find(p, q->pgid);
		if (q->pgid != 1 && !leader)
			init_die("process %d is in process group %d, whose leader has exited: restoring such a "
				 "group is not supported yet", q->pid, q->pgid);
		if ((leader ? leader->sid : 1) != q->sid)
			init_die("restart plan: process %d and the leader of its group %d are in different sessions",
				 q->pid, q->pgid);
	}
	for (int i = 0; i < p->ncttys; i++) {
		const struct plan_ctty *t = &p->cttys[i];
		const struct plan_proc *leader = find(p, t->sid);
		if (!leader || leader->zombie || leader->helper || leader->sid != leader->pid || !wants_ctty(t, t->sid))
			init_die("restart plan: pty %u controls session %d, whose leader does not have it", t->pty, t->sid);
		for (int j = 0; j < t->npids; j++) {
			const struct plan_proc *q = find(p, t->pids[j]);
			if (!q || q->zombie || q->helper || q->sid != t->sid)
				init_die("restart plan: process %d has pty %u as controlling terminal but is not in its session",
					 t->pids[j], t->pty);
		}
		for (int j = 0; j < i; j++)
			if (p->cttys[j].pty == t->pty || p->cttys[j].sid == t->sid)
				init_die("restart plan: pty %u or session %d is listed twice", t->pty, t->sid);
	}
}

void plan_read(int fd, struct plan *p)
{
	size_t len = 0, cap = 0;
	char *text = 0;
	for (;;) {
		if (len + 4096 + 1 > cap)
			text = xrealloc(text, cap = cap * 2 + 8192);
		ssize_t r = read(fd, text + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			init_die("cannot read the restart plan on fd 3: %s", strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	text[len] = 0;
	int line_no = 0, header = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		line_no++;
		if (!header) {
			if (strcmp(line, "stasis-plan 1"))
				init_die("the restart plan does not start with \"stasis-plan 1\"");
			header = 1;
			continue;
		}
		int pid, ppid, pgid, sid, status, off = 0;
		unsigned long long key, size;
		if (sscanf(line, "main %d%n", &pid, &off) == 1 && !line[off]) {
			p->main = pid;
			continue;
		}
		long long mono, boot;
		if (sscanf(line, "clocks %lld %lld%n", &mono, &boot, &off) == 2 && !line[off] && mono > 0 && boot > 0) {
			p->mono_ns = mono;
			p->boot_ns = boot;
			continue;
		}
		int id;
		unsigned skey, mode, uid, gid;
		if (sscanf(line, "sem %d %u %u %u %u%n", &id, &skey, &mode, &uid, &gid, &off) == 5) {
			struct plan_sem s = { id, skey, mode, uid, gid, 0, 0 };
			for (char *v = line + off; *v;) {
				char *end;
				unsigned long x = strtoul(v, &end, 10);
				if (end == v || (*end && *end != ' ') || x > 32767 || s.nsems >= 32000)
					init_die("restart plan line %d: a bad semaphore value", line_no);
				s.values = xrealloc(s.values, (s.nsems + 1) * sizeof(*s.values));
				s.values[s.nsems++] = (unsigned short)x;
				v = *end ? end + 1 : end;
			}
			if (!s.nsems || id < 0 || mode > 0777)
				init_die("restart plan line %d is malformed", line_no);
			p->sems = xrealloc(p->sems, (size_t)(p->nsems + 1) * sizeof(*p->sems));
			p->sems[p->nsems++] = s;
			continue;
		}
		unsigned long long segsize;
		if (sscanf(line, "shmseg %d %u %u %u %u %llu%n", &id, &skey, &mode, &uid, &gid, &segsize, &off) == 6 && !line[off]) {
			if (id < 0 || mode > 0777 || !segsize)
				init_die("restart plan line %d is malformed", line_no);
			p->segs = xrealloc(p->segs, (size_t)(p->nsegs + 1) * sizeof(*p->segs));
			p->segs[p->nsegs++] = (struct plan_shmseg){ id, skey, mode, uid, gid, segsize };
			continue;
		}
		unsigned long long qbytes, nmsg, nbytes;
		if (sscanf(line, "msgq %d %u %u %u %u %llu %llu %llu%n", &id, &skey, &mode, &uid, &gid, &qbytes, &nmsg, &nbytes, &off) == 8 &&
		    !line[off]) {
			if (id < 0 || mode > 0777)
				init_die("restart plan line %d is malformed", line_no);
			p->msgqs = xrealloc(p->msgqs, (size_t)(p->nmsgqs + 1) * sizeof(*p->msgqs));
			p->msgqs[p->nmsgqs++] = (struct plan_msgq){ id, skey, mode, uid, gid, qbytes, nmsg, nbytes };
			continue;
		}
		if (!strncmp(line, "sysvdata ", 9) && line[9] == '/' && !p->sysv_data) {
			p->sysv_data = line + 9;
			continue;
		}
		unsigned pty;
		int fg;
		if (sscanf(line, "ctty %u %d %d%n", &pty, &sid, &fg, &off) == 3) {
			struct plan_ctty t = { pty, sid, fg, 0, 0, -1 };
			for (char *v = line + off; *v == ' ';) {
				char *end;
				long x = strtol(v + 1, &end, 10);
				if (end == v + 1 || (*end && *end != ' ') || x < 2 || x > 0x3fffffff)
					init_die("restart plan line %d: a bad pid", line_no);
				t.pids = xrealloc(t.pids, (size_t)(t.npids + 1) * sizeof(*t.pids));
				t.pids[t.npids++] = (pid_t)x;
				v = end;
			}
			if (!t.npids || sid < 2 || fg < -1)
				init_die("restart plan line %d is malformed", line_no);
			p->cttys = xrealloc(p->cttys, (size_t)(p->ncttys + 1) * sizeof(*p->cttys));
			p->cttys[p->ncttys++] = t;
			continue;
		}
		if (sscanf(line, "shm %llu %llu%n", &key, &size, &off) == 2 && !line[off]) {
			p->shm = xrealloc(p->shm, (size_t)(p->nshm + 1) * sizeof(*p->shm));
			p->shm[p->nshm++] = (struct plan_shm){ key, size };
			continue;
		}
		p->procs = xrealloc(p->procs, (size_t)(p->n + 1) * sizeof(*p->procs));
		struct plan_proc *q = &p->procs[p->n];
		memset(q, 0, sizeof(*q));
		if (sscanf(line, "session %d%n", &pid, &off) == 1 && !line[off]) {
			q->helper = 1;
			ppid = 1;
			pgid = sid = pid;
		} else if (sscanf(line, "group %d %d%n", &pid, &sid, &off) == 2 && !line[off] && sid != pid) {
			q->helper = 1;
			ppid = sid;
			pgid = pid;
		} else if (sscanf(line, "proc %d %d %d %d %n", &pid, &ppid, &pgid, &sid, &off) == 4 && off && line[off]) {
			q->image = line + off;
		} else if (sscanf(line, "zombie %d %d %d %d %d%n", &pid, &ppid, &pgid, &sid, &status, &off) == 5 && !line[off]) {
			q->zombie = 1;
			q->status = status;
		} else {
			init_die("restart plan line %d is malformed", line_no);
		}
		q->pid = pid;
		q->ppid = ppid;
		q->pgid = pgid;
		q->sid = sid;
		p->n++;
	}
	if (!header)
		init_die("the restart plan is empty");
	check_plan(p);
}

/* ---- the processes' side, before they exec the loader ---- */

static void send_op(int fd, uint32_t op, uint32_t kind)
{
	struct broker_msg m = { op, kind, 0 };
	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		_exit(1); /* init is gone: the namespace is going down */
}

static void phase(int fd, uint32_t n)
{
	send_op(fd, BROKER_PHASE, n);
	struct broker_msg m;
	if (recv(fd, &m, sizeof(m), 0) != sizeof(m) || m.op != BROKER_GO || m.kind != n)
		_exit(1);
}

static void spawn(struct plan *p, struct plan_proc *q, const struct init_opts *o);

static __attribute__((noreturn)) void become_zombie(int status)
{
	if (WIFSIGNALED(status)) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		int sig = WTERMSIG(status);
		signal(sig, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, 0);
		kill(getpid(), sig);
	}
	_exit(WEXITSTATUS(status));
}

/* The loader needs CAP_CHECKPOINT_RESTORE (TIDs, the exe link) after exec; a non-root
 * user in our user namespace keeps it across exec only as an ambient capability. */
static void keep_restore_cap(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	d[CAP_CHECKPOINT_RESTORE / 32].inheritable |= 1u << (CAP_CHECKPOINT_RESTORE % 32);
	if (syscall(SYS_capset, &h, d) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHECKPOINT_RESTORE, 0, 0) < 0)
		init_say("cannot keep CAP_CHECKPOINT_RESTORE for the loader: %s", strerror(errno));
}

/* The slave of a pty init made (its master fd is inherited from init, close-on-exec). */
static int ctty_slave(const struct plan_ctty *t, pid_t pid)
{
	int s = ioctl(t->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		init_die("process %d: cannot open pty %u, its controlling terminal: %s", pid, t->pty, strerror(errno));
	return s;
}

static __attribute__((noreturn)) void become(struct plan *p, struct plan_proc *q, const struct init_opts *o)
{
	for (int i = 0; i < p->n; i++)
		close(p->procs[i].sock[0]);
	if (q->sid == q->pid && setsid() < 0)
		init_die("process %d: cannot lead its session again: %s", q->pid, strerror(errno));
	/* A controlling terminal: its session's leader takes it before it makes anyone, so the
	 * session inherits it; those that did not have it let it go once their children exist. */
	const struct plan_ctty *t = ctty_of(p, q->sid);
	if (t && q->sid == q->pid) {
		int s = ctty_slave(t, q->pid);
		if (ioctl(s, TIOCSCTTY, 0) < 0)
			init_die("process %d: cannot take pty %u as its controlling terminal again: %s", q->pid, t->pty, strerror(errno));
		close(s);
	}
	for (int i = 0; i < p->n; i++)
		if (creator(p, &p->procs[i]) == q->pid)
			spawn(p, &p->procs[i], o);
	if (t && q->sid != q->pid && !wants_ctty(t, q->pid)) {
		int s = ctty_slave(t, q->pid);
		if (ioctl(s, TIOCNOTTY) < 0 && errno != ENOTTY)
			init_die("process %d: cannot let go of pty %u: %s", q->pid, t->pty, strerror(errno));
		close(s);
	}
	for (int i = 0; i < p->n; i++)
		if (&p->procs[i] != q)
			close(p->procs[i].sock[1]);
	int fd = q->sock[1];
	phase(fd, 1);
	if (q->pgid == q->pid && q->sid != q->pid && setpgid(0, 0) < 0)
		init_die("process %d: cannot lead its process group again: %s", q->pid, strerror(errno));
	phase(fd, 2);
	if (q->pgid != q->pid && setpgid(0, q->pgid) < 0)
		init_die("process %d: cannot join process group %d: %s", q->pid, q->pgid, strerror(errno));
	phase(fd, 3);
	/* Every group exists now: the terminal's foreground group again (the leader's own group
	 * is the foreground since it took the terminal, so it may choose). */
	if (t && q->sid == q->pid && t->fg > 0 && t->fg != q->pgid) {
		int s = ctty_slave(t, q->pid);
		if (ioctl(s, TIOCSPGRP, &t->fg) < 0)
			init_say("process %d: cannot make process group %d the foreground of pty %u again: %s", q->pid, t->fg,
				 t->pty, strerror(errno));
		close(s);
	}
	if (q->zombie)
		become_zombie(q->status);
	if (q->helper)
		_exit(0); /* its orphans go back to init; its group lives on in its members */
	/* Group helpers we made have exited after that round: reap them, they were never ours. */
	for (int i = 0; i < p->n; i++)
		if (p->procs[i].helper && p->procs[i].sid != p->procs[i].pid && creator(p, &p->procs[i]) == q->pid)
			waitpid(p->procs[i].pid, 0, 0);
	/* Our zombie children have exited by now or soon: wait (not reap), then drop the
	 * SIGCHLD they sent, which the original process had long handled. */
	for (int i = 0; i < p->n; i++) {
		siginfo_t si;
		if (p->procs[i].ppid == q->pid && p->procs[i].zombie)
			waitid(P_PID, (id_t)p->procs[i].pid, &si, WEXITED | WNOWAIT);
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, 0);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&chld, 0, &zero) > 0)
		;
	if (init_in_userns)
		keep_restore_cap();
	for (int i = 0; i < p->ncttys; i++)
		close(p->cttys[i].master);
	char broker[16];
	snprintf(broker, sizeof(broker), "%d", fd);
	char *argv[16];
	int k = 0;
	argv[k++] = "stasis-restore";
	argv[k++] = "--coord";
	argv[k++] = (char *)o->coord;
	argv[k++] = "--ckpt-dir";
	argv[k++] = (char *)o->ckpt_dir;
	argv[k++] = "--broker";
	argv[k++] = broker;
	argv[k++] = "--in-pidns";
	if (init_in_userns)
		argv[k++] = "--drop-caps";
	if (o->no_map)
		argv[k++] = "--no-map";
	argv[k++] = q->image;
	argv[k] = 0;
	fcntl(fd, F_SETFD, 0);
	execv(o->loader, argv);
	init_die("cannot run the loader %s: %s", o->loader, strerror(errno));
}

static void spawn(struct plan *p, struct plan_proc *q, const struct init_opts *o)
{
	pid_t r = init_clone_pid(q->pid);
	if (r < 0)
		init_die("cannot recreate process %d with its PID: %s", q->pid, strerror(-r));
	if (r == 0)
		become(p, q, o);
}

/* ---- init's side ---- */

struct held {
	uint32_t kind;
	uint64_t key;
	int fd;
};

struct broker {
	struct held *v;
	int n;
	uint64_t *claims; /* shared memory objects a process is making */
	int nclaims;
};

static int claimed(const struct broker *b, uint64_t key)
{
	for (int i = 0; i < b->nclaims; i++)
		if (b->claims[i] == key)
			return 1;
	return 0;
}

static uint64_t shm_size(const struct plan *p, uint64_t key)
{
	for (int i = 0; i < p->nshm; i++)
		if (p->shm[i].key == key)
			return p->shm[i].size;
	return 0;
}

static int held_fd(const struct broker *b, uint32_t kind, uint64_t key)
{
	for (int i = 0; i < b->n; i++)
		if (b->v[i].kind == kind && b->v[i].key == key)
			return b->v[i].fd;
	return -1;
}

static void reply_fd(int sock, int fd)
{
	struct broker_msg m = { fd >= 0 ? BROKER_FD : BROKER_FAIL, 0, 0 };
	struct iovec iov = { &m, sizeof(m) };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		h.msg_control = u.buf;
		h.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	sendmsg(sock, &h, MSG_NOSIGNAL);
}

/* Receives one message, and the fd that comes with a PUT. Returns 0, or -1 at EOF. */
static int recv_op(int sock, struct broker_msg *m, int *fd)
{
	struct iovec iov = { m, sizeof(*m) };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t r = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);
	*fd = -1;
	if (r <= 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&h);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return r == sizeof(*m) ? 0 : -1;
}

/*
 * The ptys that are controlling terminals, made here before any process so that their
 * sessions' leaders can take them at once (before forking the members, which inherit
 * them). The owner of each (a process that held its master) gets this master from the
 * broker and restores its termios and unread bytes as for any pty.
 */
static void make_cttys(struct plan *p, struct broker *b)
{
	for (int i = 0; i < p->ncttys; i++) {
		struct plan_ctty *t = &p->cttys[i];
		t->master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		int unlock = 0;
		if (t->master < 0 || ioctl(t->master, TIOCSPTLCK, &unlock) < 0)
			init_die("cannot make pty %u again, a controlling terminal: %s", t->pty, strerror(errno));
		int fd = fcntl(t->master, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			init_die("fcntl: %s", strerror(errno));
		b->v = xrealloc(b->v, (size_t)(b->n + 1) * sizeof(*b->v));
		b->v[b->n++] = (struct held){ BROKER_PTY, t->pty, fd };
	}
}

void tree_restore(struct plan *p, const struct init_opts *o)
{
	sysv_recreate(p);
	struct broker b = { 0, 0, 0, 0 };
	make_cttys(p, &b);
	for (int i = 0; i < p->n; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			init_die("socketpair: %s", strerror(errno));
		p->procs[i].sock[0] = sv[0];
		p->procs[i].sock[1] = sv[1];
	}
	for (int i = 0; i < p->n; i++)
		if (creator(p, &p->procs[i]) == 1)
			spawn(p, &p->procs[i], o);
	for (int i = 0; i < p->n; i++)
		close(p->procs[i].sock[1]);

	struct pollfd *pf = xrealloc(0, (size_t)p->n * sizeof(*pf));
	uint32_t at_phase[4] = { 0 };
	int *pending = xrealloc(0, (size_t)p->n * sizeof(int)); /* a GET waiting: its kind, key below */
	struct broker_msg *want = xrealloc(0, (size_t)p->n * sizeof(*want));
	for (int i = 0; i < p->ncttys; i++)
		close(p->cttys[i].master); /* the broker holds its copy */
	int live = 0, done = 0;
	for (int i = 0; i < p->n; i++) {
		pending[i] = 0;
		live += !p->procs[i].zombie && !p->procs[i].helper;
	}
	while (done < live) {
		for (int i = 0; i < p->n; i++)
			pf[i] = (struct pollfd){ p->procs[i].done ? -1 : p->procs[i].sock[0], POLLIN, 0 };
		int r = poll(pf, (nfds_t)p->n, STALL_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			init_die("the restart stalled: a process waits for something no other process provides");
		for (int i = 0; i < p->n; i++) {
			struct plan_proc *q = &p->procs[i];
			if (!pf[i].revents)
				continue;
			struct broker_msg m;
			int fd;
			if (recv_op(q->sock[0], &m, &fd)) {
				if (q->zombie || q->helper) {
					q->done = 1; /* it exited, as planned */
					continue;
				}
				init_die("process %d died while it was being restored", q->pid);
			}
			if (m.op == BROKER_FAIL)
				_exit(1); /* its loader said why, once: the namespace goes down with us */
			switch (m.op) {
			case BROKER_PHASE:
				if (m.kind < 1 || m.kind > 3)
					init_die("process %d: bad restore phase", q->pid);
				if (++at_phase[m.kind] == (uint32_t)p->n)
					for (int j = 0; j < p->n; j++) {
						struct broker_msg go = { BROKER_GO, m.kind, 0 };
						send(p->procs[j].sock[0], &go, sizeof(go), MSG_NOSIGNAL);
					}
				break;
			case BROKER_PUT:
				if (fd < 0 || held_fd(&b, m.kind, m.key) >= 0)
					init_die("process %d: bad or repeated shared fd", q->pid);
				b.v = xrealloc(b.v, (size_t)(b.n + 1) * sizeof(*b.v));
				b.v[b.n++] = (struct held){ m.kind, m.key, fd };
				for (int j = 0; j < p->n; j++)
					if (pending[j] && want[j].kind == m.kind && want[j].key == m.key) {
						reply_fd(p->procs[j].sock[0], fd);
						pending[j] = 0;
					}
				break;
			case BROKER_GET: {
				int have = held_fd(&b, m.kind, m.key);
				if (have >= 0) {
					reply_fd(q->sock[0], have);
				} else if (m.kind == BROKER_SHM && !claimed(&b, m.key)) {
					/* Nobody makes it yet: this process does. */
					b.claims = xrealloc(b.claims, (size_t)(b.nclaims + 1) * sizeof(*b.claims));
					b.claims[b.nclaims++] = m.key;
					struct broker_msg c = { BROKER_CLAIM, 0, shm_size(p, m.key) };
					send(q->sock[0], &c, sizeof(c), MSG_NOSIGNAL);
				} else {
					pending[i] = 1;
					want[i] = m;
				}
				break;
			}
			case BROKER_DONE:
				q->done = 1;
				done++;
				break;
			default:
				init_die("process %d: unknown restore message %u", q->pid, m.op);
			}
			if (fd >= 0 && m.op != BROKER_PUT)
				close(fd);
		}
	}
	/* Every process has its memory and fds: let them all run, none before another is whole
	 * (a process must not read shared memory another has not filled yet). */
	for (int i = 0; i < p->n; i++) {
		struct plan_proc *q = &p->procs[i];
		if (q->zombie || q->helper)
			continue;
		struct broker_msg go = { BROKER_GO, 4, 0 };
		send(q->sock[0], &go, sizeof(go), MSG_NOSIGNAL);
		close(q->sock[0]);
	}
	for (int i = 0; i < b.n; i++)
		close(b.v[i].fd);
	for (int i = 0; i < p->n; i++)
		if ((p->procs[i].zombie || p->procs[i].helper) && !p->procs[i].done)
			close(p->procs[i].sock[0]);
	free(b.v);
	free(b.claims);
	free(pf);
	free(pending);
	free(want);
}
