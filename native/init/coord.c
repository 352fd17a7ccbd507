/*
 * The init's link to the coordinator (docs/protocol.md, "The namespace's init"). The init
 * is not checkpointed; it answers LIST (and WRITE: sysv-data.c) while every agent of its
 * namespace is suspended:
 *
 *   - every process of the namespace but itself, from its own /proc: pid, ppid, process
 *     group, session, and for a zombie its wait status, so the coordinator can tell
 *     whether a process it has not heard from is missing (and wait for it) and the
 *     restart can rebuild the tree;
 *   - which fds share an open file description across processes (kcmp KCMP_FILE, after
 *     grouping by the inode the fd points to), and which pipes have ends in more than one
 *     process (both ends inside: a pipe to the outside is not ours to recreate), with the
 *     process that owns each: it saves the description (or the pipe's bytes) and recreates
 *     it on restart; the others receive it from init then;
 *   - which processes have a pty of the computation as their controlling terminal, and
 *     that terminal's foreground process group (/proc/PID/stat);
 *   - the namespace's SysV IPC objects (sysv.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>
#include "init.h"
#include "../common/broker.h"
#include "../common/fmt.h"
#include "../common/proto.h"

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_msg(int fd, const struct proto_msg *m, size_t extra)
{
	size_t cap = PROTO_HEADER + 16384 + extra;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -1;
	long n = proto_encode(m, buf, cap);
	int e = n < 0 ? -1 : send_all(fd, buf, (size_t)n);
	free(buf);
	return e;
}

static struct proto_msg msg;
static uint8_t frame[PROTO_HEADER + 65536];

static int recv_msg(int fd, struct proto_msg *m)
{
	uint16_t type;
	const char *why = "";
	if (recv_all(fd, frame, PROTO_HEADER))
		return -1;
	long len = proto_check_header(frame, &type, &why);
	if (len < 0 || len > 65536 || recv_all(fd, frame + PROTO_HEADER, (size_t)len) ||
	    proto_decode(type, frame + PROTO_HEADER, (uint32_t)len, m, &why)) {
		init_say("bad frame from the coordinator: %s", why);
		return -1;
	}
	return 0;
}

int coord_connect(const char *addr, const char *ckpt_dir)
{
	uint32_t ip;
	uint16_t port;
	if (parse_ipv4_port(addr, &ip, &port))
		init_die("--coord must be IPV4:PORT, not %s", addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = ip; /* already in network byte order */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&msg, 0, sizeof(msg));
	msg.type = MSG_HELLO;
	msg.pid = (uint32_t)getpid();
	msg.flags = HELLO_INIT;
	msg.pidns = init_pidns();
	snprintf(msg.name, sizeof(msg.name), "stasis-init");
	snprintf(msg.ckpt_dir, sizeof(msg.ckpt_dir), "%s", ckpt_dir);
	gethostname(msg.hostname, sizeof(msg.hostname) - 1);
	if (send_msg(fd, &msg, 0) || recv_msg(fd, &msg) || msg.type != MSG_WELCOME) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* ---- LIST ---- */

struct fdent {
	uint32_t pid;
	int fd;
	dev_t dev;
	ino_t ino;
	int pipe;
	int acc;        /* O_ACCMODE of its open file description */
	int pty;        /* the pty it is an end of (-1: none); master: 1 if the master end */
	int master;
	int cls;        /* index of the first entry of its open-file-description class */
	uint32_t flags;
	uint64_t share_id;
};

static int by_inode(const void *x, const void *y)
{
	const struct fdent *a = x, *b = y;
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return a->fd - b->fd;
}

/* Whether the program file has an interpreter (PT_INTERP): a dynamically linked one.
 * 1 yes, 0 no, -1 unreadable. */
static int has_interp(uint32_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	Elf64_Ehdr eh;
	int found = -1;
	if (fread(&eh, sizeof(eh), 1, f) == 1 && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 4096 &&
	    fseek(f, (long)eh.e_phoff, SEEK_SET) == 0) {
		found = 0;
		Elf64_Phdr ph;
		for (int i = 0; i < eh.e_phnum && !found && fread(&ph, sizeof(ph), 1, f) == 1; i++)
			found = ph.p_type == PT_INTERP;
	}
	fclose(f);
	return found;
}

/* A process that maps neither the agent nor a dynamic loader, and whose program has no
 * interpreter, is statically linked: it will never join. (One in the middle of an exec
 * may map only its new program for a moment: its program file says it is dynamic.) */
static int is_static(uint32_t pid)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int dynamic = 0;
	while (!dynamic && fgets(line, sizeof(line), f))
		dynamic = strstr(line, "libstasis.so") || strstr(line, "/ld-linux") || strstr(line, "/ld-musl");
	fclose(f);
	return !dynamic && has_interp(pid) == 0;
}

/* An agent's image writer (native/agent/writer.c): a short-lived copy of a process that
 * writes its image; not a process of the computation. Told by its name. */
#define WRITER_COMM "(stasis-writer)"

/* Reads /proc/PID/stat's fields after the command name; `ctty` gets the pts number of its
 * controlling terminal (-1: none, or not a pty) and `tpgid` that terminal's foreground group.
 * Returns 0, -1 if it is gone, 1 for an image writer. */
static int read_stat(uint32_t pid, struct proto_proc *p, int *ctty, int *tpgid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *s = strrchr(buf, ')');
	if (!s)
		return -1;
	const char *name = strchr(buf, '(');
	if (name && (size_t)(s + 1 - name) == strlen(WRITER_COMM) && !strncmp(name, WRITER_COMM, strlen(WRITER_COMM)))
		return 1;
	char state;
	unsigned ppid, pgid, sid, tty;
	if (sscanf(s + 2, "%c %u %u %u %u %d", &state, &ppid, &pgid, &sid, &tty, tpgid) != 6)
		return -1;
	/* tty_nr is the device number (the kernel's new_encode_dev); ptys are majors 136..143. */
	unsigned maj = (tty >> 8) & 0xfff, min = (tty & 0xff) | ((tty >> 12) & 0xfff00);
	*ctty = maj >= 136 && maj <= 143 ? (int)((maj - 136) * 256 + min) : -1;
	p->pid = pid;
	p->ppid = ppid;
	p->pgid = pgid;
	p->sid = sid;
	p->status = -1;
	p->flags = 0;
	if (state == 'Z') {
		/* Field 52, exit_code: the wait status a parent would get. */
		char *t = s + 2;
		int field = 3;
		while (field < 52 && (t = strchr(t, ' ')))
			t++, field++;
		p->status = t ? atoi(t) : 0;
		p->flags = LISTED_ZOMBIE;
		*ctty = -1;
	}
	return 0;
}

static void list_fds(uint32_t pid, struct fdent **v, size_t *n, size_t *cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char fdpath[400], link[64];
		struct stat st;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		if (stat(fdpath, &st) < 0)
			continue;
		ssize_t l = readlink(fdpath, link, sizeof(link) - 1);
		link[l > 0 ? l : 0] = 0;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*v = realloc(*v, *cap * sizeof(**v));
			if (!*v)
				init_die("out of memory");
		}
		int acc = 0, pty = -1, master = 0;
		char info[400], text[512];
		snprintf(info, sizeof(info), "/proc/%u/fdinfo/%s", pid, e->d_name);
		FILE *f = fopen(info, "re");
		if (f) {
			size_t got = fread(text, 1, sizeof(text) - 1, f);
			text[got] = 0;
			fclose(f);
			const char *fl = strstr(text, "flags:");
			acc = fl ? (int)(strtoul(fl + 6, 0, 8) & 3) : 0;
			const char *ti = strstr(text, "tty-index:");
			if (!strcmp(link, "/dev/ptmx") && ti) {
				pty = (int)strtol(ti + 10, 0, 10);
				master = 1;
			}
		}
		unsigned maj = major(st.st_rdev);
		if (S_ISCHR(st.st_mode) && maj >= 136 && maj <= 143 && !strncmp(link, "/dev/pts/", 9))
			pty = (int)((maj - 136) * 256 + minor(st.st_rdev));
		(*v)[(*n)++] = (struct fdent){ pid, atoi(e->d_name), st.st_dev, st.st_ino,
					       S_ISFIFO(st.st_mode) && !strncmp(link, "pipe:", 5), acc, pty, master, -1, 0, 0 };
	}
	closedir(d);
}

static int same_file(const struct fdent *a, const struct fdent *b)
{
	return syscall(SYS_kcmp, a->pid, b->pid, KCMP_FILE, a->fd, b->fd) == 0;
}

/* Marks what is shared across processes in one run of entries on the same inode. */
static void classify(struct fdent *g, size_t n)
{
	int pids = 0;
	for (size_t i = 0; i < n; i++)
		pids += i == 0 || g[i].pid != g[i - 1].pid;
	if (pids < 2)
		return;
	/* A pipe is the computation's own when it holds both ends; one with only write (or
	 * only read) ends inside leads outside (the output `stasis launch` was given): its
	 * descriptions are shared like any file's, and each restart gets a new outside. */
	int readers = 0, writers = 0;
	for (size_t i = 0; i < n; i++) {
		readers |= g[i].acc != 1;
		writers |= g[i].acc != 0;
	}
	int own_pipe = g[0].pipe && readers && writers;
	/* Entries are sorted by (pid, fd): the first of a class is its owner. */
	for (size_t i = 0; i < n; i++) {
		g[i].cls = (int)i;
		for (size_t j = 0; j < i; j++)
			if (g[j].cls == (int)j && same_file(&g[j], &g[i])) {
				g[i].cls = (int)j;
				break;
			}
	}
	for (size_t i = 0; i < n; i++) {
		const struct fdent *o = &g[g[i].cls];
		int spans = 0;
		for (size_t j = 0; j < n; j++)
			spans |= g[j].cls == g[i].cls && g[j].pid != o->pid;
		if (spans) {
			g[i].share_id = (uint64_t)o->pid << 32 | (uint32_t)o->fd;
			if ((size_t)g[i].cls == i)
				g[i].flags |= SHARE_OWNER;
		}
		if (own_pipe) {
			g[i].flags |= SHARE_PIPE;
			if (g[i].pid == g[0].pid)
				g[i].flags |= SHARE_PIPE_OWNER;
		}
	}
}

/*
 * Shared memory objects (every shared mapping with an inode, by broker_shm_key): the one
 * process that saves each one's content, the lowest pid mapping it. The agents of the
 * others leave it out of their images (WRITE.shmSkip); the restart fills it from the owner's.
 */
struct shm_seen {
	uint64_t key;
	uint32_t pid;
};

static void list_shm(uint32_t pid, struct shm_seen **v, size_t *n)
{
	char path[64], line[4352];
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char perms[8];
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu", perms, &maj, &min, &ino) != 4 || perms[3] != 's' || !ino)
			continue;
		/* The agent's device encoding (capture.c), then the broker's key. */
		uint64_t dev = (min & 0xff) | ((uint64_t)maj << 8) | ((uint64_t)(min & ~0xffu) << 12);
		uint64_t key = broker_shm_key(dev, ino);
		size_t i = 0;
		while (i < *n && (*v)[i].key != key)
			i++;
		if (i < *n) {
			if (pid < (*v)[i].pid)
				(*v)[i].pid = pid;
			continue;
		}
		*v = realloc(*v, (*n + 1) * sizeof(**v));
		if (!*v)
			init_die("out of memory");
		(*v)[(*n)++] = (struct shm_seen){ key, pid };
	}
	fclose(f);
}

static int is_ctty(const struct proto_ctty *c, size_t nc, int pty)
{
	for (size_t i = 0; i < nc; i++)
		if ((int)c[i].pty == pty)
			return 1;
	return 0;
}

/*
 * A pty whose master is in the computation and whose ends are in several processes (a
 * program driven through a pty), or that is a process's controlling terminal (`ctty`:
 * marked SHARE_PTY_CTTY, since stasis-init makes it on restart, before any process):
 * every end is marked, and the master holder with the lowest pid owns it (saves its unread
 * bytes, makes it again on restart, or takes it from init).
 */
static void mark_ptys(struct fdent *v, size_t n, const struct proto_ctty *c, size_t nc)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].pty < 0 || (v[i].flags & SHARE_PTY))
			continue;
		uint32_t owner = 0;
		int spans = 0, ctty = is_ctty(c, nc, v[i].pty);
		for (size_t j = 0; j < n; j++) {
			if (v[j].pty != v[i].pty)
				continue;
			if (v[j].master && (!owner || v[j].pid < owner))
				owner = v[j].pid;
			spans |= v[j].pid != v[i].pid;
		}
		if (!owner || !(spans || ctty))
			continue;
		for (size_t j = 0; j < n; j++)
			if (v[j].pty == v[i].pty)
				v[j].flags |= SHARE_PTY | (v[j].pid == owner ? SHARE_PTY_OWNER : 0) | (ctty ? SHARE_PTY_CTTY : 0);
	}
}

/* Keeps the controlling terminals that are ptys whose master the computation holds. */
static size_t own_cttys(struct proto_ctty *c, size_t nc, const struct fdent *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < nc; i++) {
		int mine = 0;
		for (size_t j = 0; j < n && !mine; j++)
			mine = v[j].master && v[j].pty == (int)c[i].pty;
		if (mine)
			c[k++] = c[i];
	}
	return k;
}

static int answer_list(int fd, uint64_t ckpt_id)
{
	struct proto_proc *procs = 0;
	size_t np = 0, pcap = 0;
	struct fdent *fds = 0;
	size_t nf = 0, fcap = 0;
	struct shm_seen *shm = 0;
	size_t nshm = 0;
	struct proto_ctty *cttys = 0;
	size_t nctty = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);
		if (*end || !pid || pid == (unsigned long)getpid())
			continue;
		struct proto_proc p;
		int ctty, tpgid;
		if (read_stat((uint32_t)pid, &p, &ctty, &tpgid))
			continue; /* gone meanwhile (reaped), or an image writer */
		if (ctty >= 0) {
			cttys = realloc(cttys, (nctty + 1) * sizeof(*cttys));
			if (!cttys)
				init_die("out of memory");
			cttys[nctty++] = (struct proto_ctty){ (uint32_t)pid, (uint32_t)ctty, tpgid };
		}
		if (np == pcap) {
			pcap = pcap ? pcap * 2 : 64;
			procs = realloc(procs, pcap * sizeof(*procs));
			if (!procs)
				init_die("out of memory");
		}
		if (!(p.flags & LISTED_ZOMBIE) && is_static((uint32_t)pid))
			p.flags |= LISTED_STATIC;
		procs[np++] = p;
		if (!(p.flags & LISTED_ZOMBIE)) {
			list_fds((uint32_t)pid, &fds, &nf, &fcap);
			list_shm((uint32_t)pid, &shm, &nshm);
		}
	}
	closedir(d);
	qsort(fds, nf, sizeof(*fds), by_inode);
	for (size_t i = 0; i < nf;) {
		size_t j = i;
		while (j < nf && fds[j].dev == fds[i].dev && fds[j].ino == fds[i].ino)
			j++;
		classify(fds + i, j - i);
		i = j;
	}
	nctty = own_cttys(cttys, nctty, fds, nf);
	mark_ptys(fds, nf, cttys, nctty);
	size_t ns = 0;
	for (size_t i = 0; i < nf; i++)
		ns += fds[i].flags || fds[i].share_id;
	uint8_t *pb = malloc(np * PROTO_PROC_SIZE + 1), *sb = malloc(ns * PROTO_LSHARE_SIZE + 1);
	if (!pb || !sb)
		init_die("out of memory");
	for (size_t i = 0; i < np; i++)
		proto_put_proc(pb + i * PROTO_PROC_SIZE, &procs[i]);
	size_t k = 0;
	for (size_t i = 0; i < nf; i++) {
		if (!fds[i].flags && !fds[i].share_id)
			continue;
		struct proto_lshare s = { fds[i].pid, fds[i].fd, fds[i].flags, fds[i].share_id };
		proto_put_lshare(sb + k++ * PROTO_LSHARE_SIZE, &s);
	}
	struct proto_sem *sems = 0;
	uint32_t *vals = 0;
	size_t nsem = 0, nval = 0;
	sysv_list_sems(&sems, &nsem, &vals, &nval);
	uint8_t *semb = malloc(nsem * PROTO_SEM_SIZE + 1), *valb = malloc(nval * 4 + 1);
	if (!semb || !valb)
		init_die("out of memory");
	for (size_t i = 0; i < nsem; i++)
		proto_put_sem(semb + i * PROTO_SEM_SIZE, &sems[i]);
	for (size_t i = 0; i < nval; i++) {
		uint8_t *b = valb + i * 4;
		b[0] = (uint8_t)vals[i], b[1] = (uint8_t)(vals[i] >> 8), b[2] = (uint8_t)(vals[i] >> 16), b[3] = (uint8_t)(vals[i] >> 24);
	}
	struct proto_msg *m = calloc(1, sizeof(*m));
	if (!m)
		init_die("out of memory");
	uint8_t *shmb = malloc(nshm * PROTO_SHM_OWNER_SIZE + 1);
	if (!shmb)
		init_die("out of memory");
	for (size_t i = 0; i < nshm; i++)
		proto_put_shm_owner(shmb + i * PROTO_SHM_OWNER_SIZE, &(struct proto_shm_owner){ shm[i].pid, shm[i].key });
	m->shm = shmb;
	m->nshm = (uint32_t)nshm;
	struct proto_shmseg *segs = 0;
	size_t nseg = 0;
	sysv_list_shmsegs(&segs, &nseg);
	struct proto_msgq *qs = 0;
	size_t nq = 0;
	sysv_list_msgqs(&qs, &nq);
	uint8_t *segb = malloc(nseg * PROTO_SHMSEG_SIZE + 1), *qb = malloc(nq * PROTO_MSGQ_SIZE + 1),
		*cb = malloc(nctty * PROTO_CTTY_SIZE + 1);
	if (!segb || !qb || !cb)
		init_die("out of memory");
	for (size_t i = 0; i < nseg; i++)
		proto_put_shmseg(segb + i * PROTO_SHMSEG_SIZE, &segs[i]);
	for (size_t i = 0; i < nq; i++)
		proto_put_msgq(qb + i * PROTO_MSGQ_SIZE, &qs[i]);
	for (size_t i = 0; i < nctty; i++)
		proto_put_ctty(cb + i * PROTO_CTTY_SIZE, &cttys[i]);
	m->msgqs = qb;
	m->nmsgqs = (uint32_t)nq;
	m->cttys = cb;
	m->ncttys = (uint32_t)nctty;
	m->shmsegs = segb;
	m->nshmsegs = (uint32_t)nseg;
	m->sems = semb;
	m->nsems = (uint32_t)nsem;
	m->semvals = valb;
	m->nsemvals = (uint32_t)nval;
	m->type = MSG_LISTED;
	m->ckpt_id = ckpt_id;
	m->procs = pb;
	m->nprocs = (uint32_t)np;
	m->shares = sb;
	m->nshares = (uint32_t)ns;
	int e = send_msg(fd, m, np * PROTO_PROC_SIZE + ns * PROTO_LSHARE_SIZE + nsem * PROTO_SEM_SIZE + nval * 4 +
				  nshm * PROTO_SHM_OWNER_SIZE + nseg * PROTO_SHMSEG_SIZE + nq * PROTO_MSGQ_SIZE +
				  nctty * PROTO_CTTY_SIZE);
	free(m);
	free(qb);
	free(qs);
	free(cb);
	free(cttys);
	free(segb);
	free(segs);
	free(shmb);
	free(shm);
	free(semb);
	free(valb);
	free(sems);
	free(vals);
	free(pb);
	free(sb);
	free(procs);
	free(fds);
	return e;
}

int coord_writers(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; n < max && (e = readdir(d));) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);
		struct proto_proc p;
		int ctty, tpgid;
		if (*end || !pid || read_stat((uint32_t)pid, &p, &ctty, &tpgid) != 1)
			continue;
		pids[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

int coord_handle(int fd)
{
	if (recv_msg(fd, &msg))
		return -1;
	switch (msg.type) {
	case MSG_LIST:
		return answer_list(fd, msg.ckpt_id) ? -1 : 0;
	case MSG_WRITE: {
		/* The namespace's SysV IPC data, while every process is still suspended. */
		static char path[PROTO_STR_MAX], why[1024];
		uint64_t ckpt_id = msg.ckpt_id, bytes = 0;
		snprintf(path, sizeof(path), "%s", msg.image_path);
		int e = sysv_write_data(path, &bytes, why, sizeof(why));
		if (e)
			init_say("checkpoint %llu: %s", (unsigned long long)ckpt_id, why);
		memset(&msg, 0, sizeof(msg));
		msg.type = MSG_WRITTEN;
		msg.ckpt_id = ckpt_id;
		msg.status = e;
		msg.image_bytes = e ? 0 : bytes;
		snprintf(msg.message, sizeof(msg.message), "%s", e ? why : "");
		return send_msg(fd, &msg, 0) ? -1 : 0;
	}
	case MSG_KILL:
		return 0; /* the agents are told too; their deaths end the namespace */
	default:
		init_say("unexpected %s from the coordinator", proto_type_name(msg.type));
		return 0;
	}
}
