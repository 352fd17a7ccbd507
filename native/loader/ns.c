/*
 * Exact identity: the restored process gets its old PID, and every thread its old TID,
 * so nothing that cached one is wrong (glibc's cached TID, the owner of a recursive mutex
 * held at checkpoint time, a PID in a file). No translation layer is needed.
 *
 * A PID can be chosen (clone3's set_tid) only inside a PID namespace whose owner we hold
 * CAP_SYS_ADMIN over. So `stasis-restore` forks into:
 *
 *   stasis-restore (outer)  waits, forwards signals, exits with the program's status
 *    └─ init, PID 1 of a fresh PID + mount namespace (inside a fresh user namespace
 *       when not root; uid and gid map to themselves). It mounts a /proc of that
 *       namespace, so /proc/self/task lists the TIDs gettid() returns, and reaps.
 *        └─ the restored process, created with set_tid = its old PID
 *
 * Each level dies with its parent (PR_SET_PDEATHSIG), so killing `stasis restart`
 * takes the whole restored computation down, as it would a normal foreground program.
 * Where user namespaces are disabled, the restore goes on without them and says so.
 */
#include "ns.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/wire.h"
#include "../common/sys.h"

#define CLONE_NEWNS_ 0x00020000
#define CLONE_NEWUSER_ 0x10000000
#define CLONE_NEWPID_ 0x20000000
#define SIGCHLD_ 17
#define SYS_clone3_ 435
#define SYS_unshare_ 272
#define SYS_wait4_ 61
#define SYS_mount_ 165
#define SYS_rt_sigtimedwait_ 128
#define MS_REC_ 0x4000
#define MS_PRIVATE_ 0x40000
#define MS_NOSUID_ 2
#define MS_NODEV_ 4
#define MS_NOEXEC_ 8

int rst_in_pidns;

struct clone_args_ {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
		set_tid, set_tid_size, cgroup;
};

static int write_file(const char *path, const char *text)
{
	int fd = (int)sys_openat(-100, path, 1 /* O_WRONLY */ | 02000000, 0);
	if (fd < 0)
		return fd;
	long n = sys_write(fd, text, cstrlen(text));
	sys_close(fd);
	return n < 0 ? (int)n : 0;
}

/* uid and gid must be read before unshare: afterwards they read as the overflow id. */
static int map_ids(long uid, long gid)
{
	char line[64];
	struct sbuf s;
	write_file("/proc/self/setgroups", "deny");
	sb_init(&s, line, sizeof(line));
	sb_udec(&s, (uint64_t)uid);
	sb_str(&s, " ");
	sb_udec(&s, (uint64_t)uid);
	sb_str(&s, " 1");
	int e = write_file("/proc/self/uid_map", sb_cstr(&s));
	if (e)
		return e;
	sb_init(&s, line, sizeof(line));
	sb_udec(&s, (uint64_t)gid);
	sb_str(&s, " ");
	sb_udec(&s, (uint64_t)gid);
	sb_str(&s, " 1");
	return write_file("/proc/self/gid_map", sb_cstr(&s));
}

static void die_with_parent(void)
{
	/* getppid() is 0 when the parent is outside our PID namespace; the race check
	 * (did it die before we asked?) only works when it is inside. */
	long parent = sys_call0(SYS_getppid_);
	sys_prctl(1 /* PR_SET_PDEATHSIG */, 9, 0, 0, 0);
	if (parent > 1 && sys_call0(SYS_getppid_) != parent)
		sys_exit_group(137);
}

/* Waits for `child`, forwarding termination signals to it; returns its status as an
 * exit code (128 + signal when it was killed). Reaps every other child meanwhile. */
static __attribute__((noreturn)) void supervise(long child)
{
	uint64_t set = (1ull << (SIGCHLD_ - 1)) | (1ull << (1 - 1)) | (1ull << (2 - 1)) |
		       (1ull << (3 - 1)) | (1ull << (15 - 1)) | (1ull << (10 - 1)) | (1ull << (12 - 1));
	for (;;) {
		int status = 0;
		long w;
		while ((w = sys_call4(SYS_wait4_, -1, (long)&status, 1 /* WNOHANG */, 0)) > 0) {
			if (w != child)
				continue;
			if ((status & 0x7f) == 0)
				sys_exit_group((status >> 8) & 0xff);
			sys_exit_group(128 + (status & 0x7f));
		}
		if (w == -10 /* ECHILD */)
			sys_exit_group(1);
		uint8_t info[128];
		long sig = sys_call4(SYS_rt_sigtimedwait_, (long)&set, (long)info, 0, 8);
		if (sig > 0 && sig != SIGCHLD_)
			sys_call2(SYS_kill_, child, sig);
	}
}

long rst_clone3(uint64_t flags, uint32_t tid)
{
	struct clone_args_ a;
	mem_zero(&a, sizeof(a));
	a.flags = flags;
	a.exit_signal = SIGCHLD_;
	uint32_t want = tid;
	if (tid) {
		a.set_tid = (uint64_t)&want;
		a.set_tid_size = 1;
	}
	return sys_call2(SYS_clone3_, (long)&a, sizeof(a));
}

void rst_enter_namespace(uint32_t pid)
{
	if (pid <= 1)
		return;
	die_with_parent();
	int root = sys_call0(SYS_getuid_) == 0;
	uint64_t flags = CLONE_NEWPID_ | CLONE_NEWNS_;
	if (!root) {
		long uid = sys_call0(SYS_getuid_), gid = sys_call0(SYS_getgid_);
		long e = sys_call1(SYS_unshare_, CLONE_NEWUSER_);
		if (e == 0)
			e = map_ids(uid, gid);
		if (e < 0) {
			rst_say("user namespaces are unavailable (", strerror_short(e),
				"), so the process gets a new PID and new TIDs (a lock held at "
				"checkpoint time may then never be released)");
			return;
		}
	}
	long init = rst_clone3(flags, 0);
	if (init < 0) {
		rst_say("cannot create a PID namespace; restoring with a new PID", 0, 0);
		return;
	}
	if (init > 0)
		supervise(init);

	/* init: PID 1 of the new namespace. */
	die_with_parent();
	sys_call5(SYS_mount_, 0, (long)"/", 0, MS_REC_ | MS_PRIVATE_, 0);
	long e = sys_call5(SYS_mount_, (long)"proc", (long)"/proc", (long)"proc",
			   MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_, 0);
	if (e < 0)
		rst_say("cannot mount /proc for the PID namespace", 0, 0);
	long app = rst_clone3(0, pid);
	if (app < 0)
		rst_die("cannot recreate the process with its old PID", 0, app);
	if (app > 0)
		supervise(app);
	die_with_parent();
	rst_in_pidns = 1;
}
