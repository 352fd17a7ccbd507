/*
 * What the image vectors hold: a rich image with every record type, region kind and fd
 * kind, a minimal one, and the damaged images, each named after its one defect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "image-vectors.h"

/* ---- the good vectors ---- */

static const struct img_info rich_info = {
	.page_size = PAGE,
	.created_unix_ns = 1795298400123456789ull,
	.ckpt_id = 7,
	.machine = "x86_64",
	.kernel_release = "6.1.0-18-amd64",
	.kernel_version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
	.glibc_version = "2.36",
	.hostname = "vector-host",
	.stasis_version = "0.1.0",
};

static struct img_sigaction sigact[65];
static struct img_rlimit rlim[IMG_NRLIMIT];
static uint8_t auxv[176], xsave_a[1088], xsave_b[576];
static uint64_t gregs_a[IMG_NGREGS], gregs_b[IMG_NGREGS];
static uint8_t pipe_data[100];
static const uint8_t fifo_data[] = "in flight\n";
static const uint8_t pty_out[] = "out 7\r\n", pty_in[] = "line 7\n";

/* A pty pair as a test program leaves it: canonical, no echo, an odd window, packet mode. */
#define PTY_X(e, data_out, nout, data_in, nin)                                                  \
	{ .pty_id = 5, .end = e, .flags = PTY_PACKET, .iflag = 0400, .oflag = 05, .cflag = 0277,  \
	  .lflag = 0100062, .line = 0,                                                             \
	  .cc = { 7, 034, 0177, 025, 4, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0, 0, 0 },  \
	  .rows = 33, .cols = 101, .xpixel = 0, .ypixel = 0, .master_len = nout, .slave_len = nin, \
	  .master_data = data_out, .slave_data = data_in }

/* A REG fd's path is not UTF-8 (Linux paths are bytes): readers show U+FFFD for it. */
static const char latin1_path[] = "/srv/vec/caf\xe9-\xc3\xa9t\xc3\xa9.log";

static const struct img_region rich_regions[] = {
	{ 0x400000, 0x401000, 0x0, 1, 0, RK_FILE, 0x803, 1234, 20480, 1700000000123456789ll, "/opt/vec/bin/app" },
	{ 0x401000, 0x403000, 0x1000, 5, 0, RK_FILE, 0x803, 1234, 20480, 1700000000123456789ll, "/opt/vec/bin/app" },
	{ 0x403000, 0x405000, 0x3000, 3, 0, RK_FILE, 0x803, 1234, 20480, 1700000000123456789ll, "/opt/vec/bin/app" },
	{ 0x405000, 0x40a000, 0, 3, 0, RK_HEAP, 0, 0, 0, 0, "[heap]" },
	{ 0x7f0000000000, 0x7f0000010000, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
	{ 0x7f0000010000, 0x7f0000012000, 0, 3, RF_SHARED, RK_FILE, 0x1a, 77, 8192, -1000000000ll, "/dev/shm/vec-seg" },
	{ 0x7f0000020000, 0x7f0000024000, 0, 3, RF_SHARED, RK_SHMEM_ANON, 0x1, 4242, 0, 0, "/dev/zero (deleted)" },
	{ 0x7f0000100000, 0x7f0000200000, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
	{ 0x7f0000300000, 0x7f0000340000, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
	{ 0x7ffff7fc0000, 0x7ffff7fc4000, 0, 1, 0, RK_VVAR, 0, 0, 0, 0, "[vvar]" },
	{ 0x7ffff7fc4000, 0x7ffff7fc5000, 0, 1, 0, RK_VVAR_VCLOCK, 0, 0, 0, 0, "[vvar_vclock]" },
	{ 0x7ffff7fc5000, 0x7ffff7fc7000, 0, 5, 0, RK_VDSO, 0, 0, 0, 0, "[vdso]" },
	{ 0x7ffffffde000, 0x7ffffffff000, 0, 3, RF_GROWSDOWN, RK_STACK, 0, 0, 0, 0, "[stack]" },
	{ 0xffffffffff600000ull, 0xffffffffff601000ull, 0, 4, 0, RK_VSYSCALL, 0, 0, 0, 0, "[vsyscall]" },
};

static const struct img_thread rich_threads[] = {
	{ .tid = 4242, .flags = TF_LEADER, .fs_base = 0x7ffff7d8a740, .clear_child_tid = 0x7ffff7d8aa10,
	  .robust_list = 0x7ffff7d8aa20, .robust_list_len = 24, .altstack_flags = 2,
	  .resume_sp = 0x7fffffffe1c0, .ngregs = IMG_NGREGS, .gregs = gregs_a,
	  .xsave_len = sizeof(xsave_a), .xsave = xsave_a },
	{ .tid = 4243, .flags = 0, .fs_base = 0x7f000000f6c0, .clear_child_tid = 0x7f000000f990,
	  .robust_list = 0x7f000000f9a0, .robust_list_len = 24, .sigmask = 1ull << 13,
	  .altstack_sp = 0x7f0000008000, .altstack_size = 16384, .altstack_flags = 0,
	  .resume_sp = 0x7f000000e5c0, .ngregs = IMG_NGREGS, .gregs = gregs_b,
	  .xsave_len = sizeof(xsave_b), .xsave = xsave_b },
	{ .tid = 4244, .flags = TF_CKPT, .fs_base = 0x7f00000176c0, .clear_child_tid = 0x7f0000017990,
	  .sigmask = 0xfffffffe7ffbfeffull, .altstack_flags = 2, .resume_sp = 0x7f0000017e80,
	  .ngregs = IMG_NGREGS },
};

static struct fd_spec rich_fds[] = {
	{ FD(0, 0, FK_TTY, 02, -1, 0, 0x18, 6, 020620, "/dev/pts/3") },
	{ FD(1, 0, FK_INHERIT, 02, -1, 0, 0x8, 31337, 0140777, "socket:[31337]") },
	/* `2>&1`: the same open file description as fd 1. */
	{ FD(2, 0, FK_INHERIT, 02, 1, 0, 0x8, 31337, 0140777, "socket:[31337]") },
	{ FD(3, 1, FK_REG, 0102001, -1, 4096, 0x803, 777, 0100644, latin1_path), .x.reg = { 4096 } },
	{ FD(4, 1, FK_DIR, 0300000, -1, 0, 0x803, 2, 040755, "/opt/vec") },
	{ FD(5, 1, FK_CHR, 0100002, -1, 0, 0x6, 4, 020666, "/dev/null") },
	{ FD(6, 1, FK_PIPE, 0, -1, 0, 0xf, 5555, 010600, "pipe:[5555]"),
	  .x.pipe = { 5555, 0, 65536, sizeof(pipe_data), pipe_data } },
	{ FD(7, 1, FK_PIPE, 01, -1, 0, 0xf, 5555, 010600, "pipe:[5555]"), .x.pipe = { 5555, 1, 65536, 0, 0 } },
	{ FD(8, 1, FK_EVENTFD, 02, -1, 0, 0x10, 1, 0600, "anon_inode:[eventfd]"), .x.eventfd = { 3, 1 } },
	{ FD(9, 1, FK_EPOLL, 02, -1, 0, 0x10, 1, 0600, "anon_inode:[eventpoll]"),
	  .x.epoll = { 2, { { 6, 1, 6 }, { 8, 0x80000019u, 0xdeadbeefcafef00dull } } } },
	{ FD(10, 1, FK_SIGNALFD, 04002, -1, 0, 0x10, 1, 0600, "anon_inode:[signalfd]"),
	  .x.signalfd = { (1ull << 9) | (1ull << 16) } },
	{ FD(11, 1, FK_TIMERFD, 02, -1, 0, 0x10, 1, 0600, "anon_inode:[timerfd]"),
	  .x.timerfd = { 1, 0, 250000000, 1000000000 } },
	/* A dup of fd 3 without close-on-exec (fd flags are per fd, not per description). */
	{ FD(12, 0, FK_REG, 0102001, 3, 4096, 0x803, 777, 0100644, latin1_path) },
	/* A file deleted while open, twice (opened separately: one file, two offsets), and a
	 * memfd with a seal. Their contents are the FILEDATA records. */
	{ FD(13, 1, FK_DELETED, 02, -1, 100, 0x803, 888, 0100600, "/srv/vec/scratch.tmp (deleted)"),
	  .x.deleted = { 1, 12388, 0, 0 } },
	{ FD(14, 1, FK_DELETED, 0, -1, 0, 0x803, 888, 0100600, "/srv/vec/scratch.tmp (deleted)"),
	  .x.deleted = { 1, 12388, 0, 0 } },
	{ FD(15, 1, FK_DELETED, 02, -1, 0, 0x1, 9, 0100777, "/memfd:vec (deleted)"),
	  .x.deleted = { 2, 4096, DELETED_MEMFD, 2 } },
	/* A named FIFO with bytes in flight, open at both ends. */
	{ FD(16, 1, FK_FIFO, 04000, -1, 0, 0x803, 999, 010644, "/srv/vec/chan.fifo"),
	  .x.fifo = { 999, 65536, sizeof(fifo_data) - 1, fifo_data } },
	{ FD(17, 1, FK_FIFO, 01, -1, 0, 0x803, 999, 010644, "/srv/vec/chan.fifo"), .x.fifo = { 999, 65536, 0, 0 } },
	/* Both ends of a pty, unread bytes at each. */
	{ FD(18, 1, FK_PTY, 0100002, -1, 0, 0x6, 87, 020666, "/dev/ptmx"),
	  .x.pty = PTY_X(0, pty_out, sizeof(pty_out) - 1, pty_in, sizeof(pty_in) - 1) },
	{ FD(19, 1, FK_PTY, 0100002, -1, 0, 0x18, 8, 020620, "/dev/pts/5"), .x.pty = PTY_X(1, 0, 0, 0, 0) },
};

/* The deleted file: a page, a hole, and a tail that is not a whole page; the memfd's page. */
static const struct filedata_spec rich_filedata[] = {
	{ 1, 0, 4096, 21 },
	{ 1, 8192, 4196, 22 },
	{ 2, 0, 4096, 23 },
};

static const struct chunk_spec rich_chunks[] = {
	{ 0x403000, 1, 1 },         /* a modified page of a private file mapping */
	{ 0x405000, 2, 2 },         /* heap */
	{ 0x408000, 1, 3 },
	{ 0x409000, 1, 8, 1 },      /* text: stored as zstd */
	{ 0x7f0000000000, 4, 4 },   /* more than a page */
	{ 0x7f0000008000, 8, 9, 1 }, /* zstd, several pages */
	{ 0x7f0000020000, 1, 5 },   /* shared anonymous */
	{ 0x7f0000100000, 256, 10, 1 }, /* 1 MiB of text: a zstd frame with a window descriptor */
	{ 0x7f0000300000, 64, 11, 2 }, /* 256 KiB of a float64 field: byte-shuffled, then zstd */
	{ 0x7fffffffd000, 2, 6 },   /* stack */
};

static const struct later_rec rich_later[] = {
	{ 99, "a metadata record of a later version", -1 },
	{ 300, "a bulk record of a later version, among the chunks", 4 },
};

/* Kernel state: shared and per-thread pending signals, interval and POSIX timers. */
static uint8_t shared_si[3 * IMG_SIGINFO_SIZE], thread_si[2 * IMG_SIGINFO_SIZE];
static uint8_t cpus_a[8] = { 0x01 }, cpus_b[16] = { 0x0e, 0, 0, 0, 0, 0, 0, 0, 0x80 };

static const struct img_proc_state rich_ps = {
	.realtime_ns = 1795298400123456789ll, .monotonic_ns = 8536336000123ll, .boottime_ns = 8600000000456ll,
	.personality = 0x40000, .flags = PSF_CHILD_SUBREAPER, .dumpable = 0,
	.itimers = { { 999073000000ull, 500000000000ull }, { 0, 0 }, { 19999728000000ull, 33000000000ull } },
	.nsiginfo = 3, .siginfo = shared_si,
};

static const struct img_thread_state rich_tstates[] = {
	{ .tid = 4242, .flags = TSF_NO_NEW_PRIVS, .nice = 3, .pdeathsig = 23, .timer_slack_ns = 250000,
	  .comm = "app", .affinity_len = sizeof(cpus_a), .affinity = cpus_a, .nsiginfo = 0 },
	{ .tid = 4243, .flags = 0, .nice = -5, .pdeathsig = 0, .timer_slack_ns = 50000,
	  .comm = "app-w\xe9rker", .affinity_len = sizeof(cpus_b), .affinity = cpus_b,
	  .nsiginfo = 2, .siginfo = thread_si },
};

static const struct img_posix_timer rich_timers[] = {
	{ 3, 1, PT_SIGEV_SIGNAL, 40, 0, 6, 3000000, 15000000 },
	{ 2, 7, PT_SIGEV_NONE, 0, 0, 5, 3999073000000ull, 7000000000ull },
	{ 1, 0, PT_SIGEV_THREAD_ID, 39, 4243, 0x4d, 1999073000000ull, 0 },
	{ 0, -6, PT_SIGEV_SIGNAL, 38, 0, 0xdeadbeefcafef00dull, 0, 0 }, /* disarmed, a CPU clock */
};

/* SEM_UNDO adjustments on two semaphore sets: a lock held (+1), a count given (-2), the ends
 * of the range. */
static const struct img_sem_adj rich_adj_a[] = { { 0, 1 }, { 1, -2 } };
static const struct img_sem_adj rich_adj_b[] = { { 3, IMG_SEM_ADJ_MIN }, { 31999, IMG_SEM_ADJ_MAX } };
static const struct img_sem_undo rich_sem_undos[] = {
	{ 0, 2, rich_adj_a },
	{ 32769, 2, rich_adj_b },
};

/* A siginfo as the kernel lays it out: signo, errno, code, then pid, uid and value. */
static void siginfo_at(uint8_t *p, int32_t sig, int32_t code, uint32_t pid, uint64_t value)
{
	memset(p, 0, IMG_SIGINFO_SIZE);
	put32(p, (uint32_t)sig);
	put32(p + 8, (uint32_t)code);
	put32(p + 16, pid);
	put32(p + 20, 1000);
	put64(p + 24, value);
}

void setup(void)
{
	siginfo_at(shared_si, 12, 0 /* SI_USER */, 4242, 0);
	siginfo_at(shared_si + IMG_SIGINFO_SIZE, 36, -1 /* SI_QUEUE */, 4242, 1);
	siginfo_at(shared_si + 2 * IMG_SIGINFO_SIZE, 36, -1, 4242, 2);
	siginfo_at(thread_si, 37, -1, 4242, 10);
	siginfo_at(thread_si + IMG_SIGINFO_SIZE, 28, -6 /* SI_TKILL */, 4242, 0);
	for (int s = 0; s < 65; s++)
		sigact[s] = (struct img_sigaction){ 0, 0, 0, 0 };
	sigact[1] = (struct img_sigaction){ 0x401200, 0x04000000, 0x7ffff7e1a050, 1ull << 14 };
	sigact[12] = (struct img_sigaction){ 1 /* SIG_IGN */, 0x04000000, 0x7ffff7e1a050, 0 };
	sigact[16] = (struct img_sigaction){ 0x401300, 0x14000000, 0x7ffff7e1a050, ~0ull };
	for (int r = 0; r < IMG_NRLIMIT; r++)
		rlim[r] = (struct img_rlimit){ ~0ull, ~0ull };
	rlim[3] = (struct img_rlimit){ 8u << 20, ~0ull };
	rlim[7] = (struct img_rlimit){ 1024, 524288 };
	static const uint64_t av[22] = { 33, 0x7ffff7fc5000, 16, 0x178bfbff, 6, 4096, 17, 100, 3, 0x400040,
					 4, 56, 5, 13, 7, 0x7ffff7fc7000, 9, 0x401020, 25, 0x7fffffffe3a9, 0, 0 };
	for (int i = 0; i < 22; i++)
		put64(auxv + 8 * i, av[i]);
	fill(xsave_a, sizeof(xsave_a), 11);
	put32(xsave_a + 464, 0x46505853u); /* FP_XSTATE_MAGIC1 */
	put32(xsave_a + 468, sizeof(xsave_a));
	fill(xsave_b, sizeof(xsave_b), 12);
	for (int i = 0; i < IMG_NGREGS; i++) {
		gregs_a[i] = 0x1000 + (uint64_t)i;
		gregs_b[i] = 0x2000 + (uint64_t)i;
	}
	gregs_a[15] = 0x7fffffffe080, gregs_a[16] = 0x401136; /* RSP, RIP */
	gregs_b[15] = 0x7f000000e480, gregs_b[16] = 0x401500;
	for (size_t i = 0; i < sizeof(pipe_data); i++)
		pipe_data[i] = (uint8_t)(i * 7 + 3);
}

/* What a process of a pipeline shares with the others (docs/image-format.md, FD_SHARE). */
static const struct img_fd_share rich_shares[] = {
	{ 3, SF_OWNER, (uint64_t)4242 << 32 | 3 },
	{ 5, 0, (uint64_t)4200 << 32 | 5 },
	{ 6, SF_PIPE | SF_PIPE_OWNER, 0 },
	{ 7, SF_PIPE | SF_OWNER, (uint64_t)4242 << 32 | 7 },
	{ 18, SF_PTY | SF_PTY_OWNER | SF_PTY_CTTY, 0 },
	{ 19, SF_PTY | SF_PTY_CTTY, 0 },
};

/* A flock on the log file and a POSIX lock on part of it (docs/image-format.md, FD_LOCK). */
static const struct img_fd_lock rich_locks[] = {
	{ 3, LK_FLOCK, LK_WRITE, 0, LK_EOF },
	{ 3, LK_POSIX, LK_READ, 10, 19 },
};

struct content rich_content(void)
{
	struct img_process p = {
		.pid = 4242, .ppid = 4200, .pgid = 4242, .sid = 4100, .uid = 1000, .gid = 1000, .umask = 022,
		.proc_id = 3,
		.start_code = 0x401000, .end_code = 0x403000, .start_data = 0x403000, .end_data = 0x405000,
		.start_brk = 0x405000, .brk = 0x40a000, .start_stack = 0x7fffffffe3a0,
		.arg_start = 0x7fffffffe400, .arg_end = 0x7fffffffe420, .env_start = 0x7fffffffe420,
		.env_end = 0x7fffffffefe0,
		.restart_entry = 0x7ffff7fb1000, .restart_info = 0x405100, .restart_info_size = 4136,
		.rseq_offset = -0x20, .rseq_size = 32, .rseq_sig = 0x53053053,
		.nsig = IMG_NSIG, .sigactions = sigact, .nrlimit = IMG_NRLIMIT, .rlimits = rlim,
		.cwd = "/home/vec/work", .exe = "/opt/vec/bin/app", .comm = "app",
		.auxv_len = sizeof(auxv), .auxv = auxv,
	};
	return (struct content){
		.info = rich_info, .proc = p,
		.regions = rich_regions, .nregions = sizeof(rich_regions) / sizeof(rich_regions[0]),
		.threads = rich_threads, .nthreads = sizeof(rich_threads) / sizeof(rich_threads[0]),
		.fds = rich_fds, .nfds = sizeof(rich_fds) / sizeof(rich_fds[0]),
		.shares = rich_shares, .nshares = sizeof(rich_shares) / sizeof(rich_shares[0]),
		.locks = rich_locks, .nlocks = sizeof(rich_locks) / sizeof(rich_locks[0]),
		.filedata = rich_filedata, .nfiledata = sizeof(rich_filedata) / sizeof(rich_filedata[0]),
		.chunks = rich_chunks, .nchunks = sizeof(rich_chunks) / sizeof(rich_chunks[0]),
		.later = rich_later, .nlater = sizeof(rich_later) / sizeof(rich_later[0]),
		.ps = &rich_ps,
		.tstates = rich_tstates, .ntstates = sizeof(rich_tstates) / sizeof(rich_tstates[0]),
		.timers = rich_timers, .ntimers = sizeof(rich_timers) / sizeof(rich_timers[0]),
		.sem_undos = rich_sem_undos, .nsem_undos = sizeof(rich_sem_undos) / sizeof(rich_sem_undos[0]),
	};
}

/* The least a reader must accept: empty strings and lists, one thread without registers. */
static const struct img_thread minimal_thread = { .tid = 1, .flags = TF_LEADER };

struct content minimal_content(void)
{
	return (struct content){
		.info = { .page_size = PAGE, .machine = "", .kernel_release = "", .kernel_version = "",
			  .glibc_version = "", .hostname = "", .stasis_version = "" },
		.proc = { .pid = 1, .cwd = "", .exe = "", .comm = "" },
		.threads = &minimal_thread, .nthreads = 1,
	};
}

/* A file mapping, the heap after it and the vdso; one chunk, a later version's record. */
static const struct img_region small_regions[] = {
	{ 0x403000, 0x405000, 0x3000, 3, 0, RK_FILE, 0x803, 1234, 20480, 1700000000123456789ll, "/opt/vec/bin/app" },
	{ 0x405000, 0x40a000, 0, 3, 0, RK_HEAP, 0, 0, 0, 0, "[heap]" },
	{ 0x7ffff7fc5000, 0x7ffff7fc7000, 0, 5, 0, RK_VDSO, 0, 0, 0, 0, "[vdso]" },
};
static const struct chunk_spec small_chunk = { 0x405000, 1, 7 };
static const struct later_rec small_later = { 300, "a record of a later version", 0 };

static struct content small_content(void)
{
	struct content c = minimal_content();
	c.regions = small_regions;
	c.nregions = 3;
	c.chunks = &small_chunk;
	c.nchunks = 1;
	c.later = &small_later;
	c.nlater = 1;
	return c;
}

/* ---- the bad vectors ---- */

/* A zstd chunk's frame (docs/image-format.md, CHUNK encoding 1), damaged: each with its
 * record's CRC fixed (but the first), so that the decoder is what must catch it. */
static void zstd_vectors(void)
{
	static const struct chunk_spec text_chunk = { 0x405000, 2, 7, 1 };
	struct content c = small_content();
	c.chunks = &text_chunk;
	struct image z;
	build(&c, &z);
	int i = find(&z, REC_CHUNK, 0);
	if (z.rec[i].enc != IMG_ENC_ZSTD) {
		fprintf(stderr, "the text chunk was not stored as zstd\n");
		exit(1);
	}
	uint64_t head = z.rec[i].off + IMG_REC_HEADER;
	uint64_t data = head + IMG_CHUNK_HEAD + (get64(z.b + head + 24) & 0xffffffffu);
	uint8_t fhd = z.b[data + 4];
	uint32_t fcs_len = fhd >> 6 ? 1u << (fhd >> 6) : (fhd >> 5 & 1);
	uint64_t fcs_at = data + ((fhd >> 5 & 1) ? 5 : 6), block = fcs_at + fcs_len;
	if (fcs_len != 2) {
		fprintf(stderr, "unexpected zstd frame header %#x\n", fhd);
		exit(1);
	}
	uint8_t *b = copy(&z);
	b[block + 3 + z.rec[i].stored / 2 - 8] ^= 0x20;
	bad("zstd-flipped-byte", b, z.n, "CRC mismatch in %s (chunk data)", name_of(&z, i));
	b = copy(&z);
	b[data] ^= 0xff;
	fix_crc(b, &z.rec[i]);
	bad("zstd-not-a-frame", b, z.n, "%s: chunk data is not a zstd frame", name_of(&z, i));
	b = copy(&z);
	b[data + 4] |= 0x04;
	fix_crc(b, &z.rec[i]);
	bad("zstd-checksum-flag", b, z.n, "%s: chunk data is a zstd frame with a reserved bit, a checksum or a dictionary",
	    name_of(&z, i));
	b = copy(&z);
	b[fcs_at] = 0;
	b[fcs_at + 1] = (4096 - 256) >> 8;
	fix_crc(b, &z.rec[i]);
	bad("zstd-content-size-mismatch", b, z.n, "%s: chunk data is a zstd frame of 4096 bytes, the chunk covers 8192",
	    name_of(&z, i));
	/* Encoding 2 checks its frame as encoding 1 does: one that declares 4100 bytes (not
	 * even whole 8-byte words) for a chunk of 8192. */
	b = copy(&z);
	put32(b + head + 16, IMG_ENC_SHUF8_ZSTD);
	b[fcs_at] = (4100 - 256) & 0xff;
	b[fcs_at + 1] = (4100 - 256) >> 8;
	fix_crc(b, &z.rec[i]);
	bad("shuffle-content-size-mismatch", b, z.n,
	    "%s: chunk data is a zstd frame of 4100 bytes, the chunk covers 8192", name_of(&z, i));
	/* The first block's type set to the reserved one. */
	b = copy(&z);
	b[block] |= 0x06;
	fix_crc(b, &z.rec[i]);
	bad("zstd-corrupt-block", b, z.n, "%s: chunk data does not decompress to 8192 bytes", name_of(&z, i));
	/* The first (and only) block no longer says it is the last: the frame has no end. */
	b = copy(&z);
	if (!(b[block] & 1)) {
		fprintf(stderr, "the zstd frame has more than one block\n");
		exit(1);
	}
	b[block] &= 0xfe;
	fix_crc(b, &z.rec[i]);
	bad("zstd-frame-without-end", b, z.n, "%s: chunk data does not decompress to 8192 bytes", name_of(&z, i));

	/* Frames the writer is handed: the good one twice, with bytes after it, and with a
	 * window descriptor (no longer single-segment) for a 16 MiB window. */
	static uint8_t frame[3 * 4096];
	uint32_t flen = z.rec[i].stored, blen = (uint32_t)(data + flen - block);
	struct chunk_spec crafted = text_chunk;
	crafted.stored = frame;
	c.chunks = &crafted;
	memcpy(frame, z.b + data, flen);
	memcpy(frame + flen, z.b + data, flen);
	crafted.stored_len = 2 * flen;
	bad_built("zstd-two-frames", &c, i, "%s: chunk data does not decompress to 8192 bytes");
	memset(frame + flen, 0, 8);
	crafted.stored_len = flen + 8;
	bad_built("zstd-bytes-after-frame", &c, i, "%s: chunk data does not decompress to 8192 bytes");
	memcpy(frame, z.b + data, 4);
	frame[4] = 0x40;      /* Frame_Content_Size in 2 bytes, not single-segment */
	frame[5] = 14 << 3;   /* a window of 2^(10+14) bytes */
	memcpy(frame + 6, z.b + fcs_at, 2);
	memcpy(frame + 8, z.b + block, blen);
	crafted.stored_len = 8 + blen;
	bad_built("zstd-window-too-large", &c, i, "%s: chunk data does not decompress to 8192 bytes");
	free(z.b);
}

void bad_vectors(const struct image *minimal)
{
	uint8_t *b;
	int i;

	/* The file header. */
	bad("empty", minimal->b, 0, "truncated: 0 bytes, shorter than the 32-byte file header");
	bad("truncated-header", minimal->b, 20, "truncated: 20 bytes, shorter than the 32-byte file header");
	b = copy(minimal);
	b[7] = 'N';
	bad("bad-magic", b, minimal->n, "is not a Stasis image");
	b = copy(minimal);
	put32(b + 8, 2);
	fix_header_crc(b);
	bad("bad-version", b, minimal->n, "image format version 2 is not supported (this stasis reads version 1)");
	b = copy(minimal);
	b[12] ^= 0x40;
	bad("bad-header-crc", b, minimal->n, "CRC mismatch in the file header at offset 0");
	b = copy(minimal);
	put32(b + 12, 64);
	fix_header_crc(b);
	bad("bad-header-size", b, minimal->n, "file header size 64, expected 32");
	b = copy(minimal);
	b[16] = 2;
	fix_header_crc(b);
	bad("bad-header-flags", b, minimal->n, "image flags 0x2 are not supported");

	/* Records in general, on a small image with one chunk (damaged copies of the rich
	 * one would be 78 KiB each). */
	struct image small;
	struct content c = small_content();
	build(&c, &small);
	const struct image *s = &small;
	i = find(s, REC_REGION, 1);
	b = copy(s);
	b[s->rec[i].off + IMG_REC_HEADER + s->rec[i].len / 2] ^= 0x01;
	bad("bad-record-crc", b, s->n, "CRC mismatch in %s", name_of(s, i));
	i = find(s, REC_REGION, 0);
	b = copy(s);
	b[s->rec[i].off + IMG_REC_HEADER + 74 + 4] = 0; /* inside the path "/opt/vec/bin/app" */
	fix_crc(b, &s->rec[i]);
	bad("path-with-nul", b, s->n, "%s: path contains a NUL byte", name_of(s, i));
	i = find(s, REC_THREAD, 0);
	b = copy(s);
	b[s->rec[i].off] = 'X';
	bad("bad-record-magic", b, s->n, "record #%d at offset %llu has no SREC magic", i,
	    (unsigned long long)s->rec[i].off);
	for (i = 0; i < s->nrec && !(s->rec[i].len & 7); i++)
		;
	b = copy(s);
	b[s->rec[i].off + IMG_REC_HEADER + s->rec[i].len] = 0xaa;
	bad("nonzero-record-padding", b, s->n, "%s has nonzero padding", name_of(s, i));
	i = find(s, 300, 0);
	b = copy(s);
	b[s->rec[i].off + IMG_REC_HEADER + 3] ^= 0x20;
	bad("later-record-bad-crc", b, s->n, "CRC mismatch in %s", name_of(s, i));
	i = find(s, REC_PROCESS, 0);
	b = copy(s);
	put32(b + s->rec[i].off + 8, 0x7ffffff0);
	bad("record-length-past-the-end", b, s->n, "truncated: %s needs 2147483632 payload bytes", name_of(s, i));

	/* Truncation and END. */
	i = find(s, REC_CHUNK, 0);
	uint64_t data_end = s->rec[i].off + IMG_REC_HEADER + s->rec[i].len;
	bad("truncated-in-chunk", s->b, data_end - 2000, "truncated: %s needs", name_of(s, i));
	b = copy(s);
	b[data_end - 1000] ^= 0x10;
	bad("flipped-byte-in-chunk", b, s->n, "CRC mismatch in %s (chunk data)", name_of(s, i));
	i = s->nrec - 1;
	bad("missing-end", s->b, s->rec[i].off,
	    "truncated at offset %llu: the file ends before record #%d and has no END record",
	    (unsigned long long)s->rec[i].off, i);
	bad("truncated-in-end", s->b, s->rec[i].off + 20, "truncated: %s needs 32 payload bytes", name_of(s, i));
	static const char *const end_fields[4] = { "records", "chunks", "content_bytes", "end_offset" };
	static const char *const end_names[4] = { "end-records-mismatch", "end-count-mismatch",
						  "end-content-mismatch", "end-offset-mismatch" };
	for (int k = 0; k < 4; k++) {
		const uint8_t *at = s->b + s->rec[i].off + IMG_REC_HEADER + 8 * k;
		b = copy(s);
		put64(b + s->rec[i].off + IMG_REC_HEADER + 8 * k, get64(at) + 1);
		fix_crc(b, &s->rec[i]);
		bad(end_names[k], b, s->n, "END says %s %llu, the file has %llu", end_fields[k],
		    (unsigned long long)get64(at) + 1, (unsigned long long)get64(at));
	}
	b = copy(s);
	memset(b + s->n, 0, 8);
	bad("trailing-data-after-end", b, s->n + 8, "8 bytes of trailing data after the END record at offset %llu",
	    (unsigned long long)s->rec[i].off);

	/* Chunk heads: each changed with its record's CRC fixed, so the head is what is wrong. */
	i = find(s, REC_CHUNK, 0);
	uint64_t head = s->rec[i].off + IMG_REC_HEADER;
	b = copy(s);
	put32(b + head + 16, 3);
	fix_crc(b, &s->rec[i]);
	bad("chunk-encoding-unknown", b, s->n, "%s uses chunk encoding 3, not supported by this stasis", name_of(s, i));
	b = copy(s);
	put32(b + head + 16, IMG_ENC_SHUF8_ZSTD);
	fix_crc(b, &s->rec[i]);
	bad("chunk-shuffle-not-smaller", b, s->n, "%s: shuffled zstd chunk stores 4096 bytes for 4096, not fewer",
	    name_of(s, i));
	b = copy(s);
	put32(b + head + 16, IMG_ENC_ZSTD);
	fix_crc(b, &s->rec[i]);
	bad("chunk-zstd-not-smaller", b, s->n, "%s: zstd chunk stores 4096 bytes for 4096, not fewer", name_of(s, i));
	b = copy(s);
	put64(b + head, 0x405010);
	fix_crc(b, &s->rec[i]);
	bad("chunk-misaligned-addr", b, s->n, "%s: chunk 0x405010+4096 is not a whole number of pages",
	    name_of(s, i));
	b = copy(s);
	put64(b + head + 8, 2 * PAGE);
	fix_crc(b, &s->rec[i]);
	bad("chunk-raw-len-mismatch", b, s->n, "%s: raw chunk stores 4096 bytes for 8192", name_of(s, i));
	b = copy(s);
	put32(b + head + 20, 2 * PAGE);
	fix_crc(b, &s->rec[i]);
	bad("chunk-stored-len-mismatch", b, s->n, "%s: head says", name_of(s, i));
	b = copy(s);
	b[head + IMG_CHUNK_HEAD + 10] = 1;
	bad("chunk-pad-nonzero", b, s->n, "%s: nonzero bytes in the alignment pad", name_of(s, i));
	b = copy(s);
	put64(b + head, 0x7ffff7fc5000);
	fix_crc(b, &s->rec[i]);
	bad("chunk-in-vdso", b, s->n, "%s: chunk 0x7ffff7fc5000-0x7ffff7fc6000 lies in a region whose content is not stored",
	    name_of(s, i));
	b = copy(s);
	put64(b + head, 0x500000);
	fix_crc(b, &s->rec[i]);
	bad("chunk-outside-regions", b, s->n, "%s: chunk 0x500000-0x501000 lies outside the recorded memory regions",
	    name_of(s, i));
	/* Chunks never span regions (the writer emits them region by region). */
	static const struct chunk_spec across = { 0x404000, 2, 9 };
	c = small_content();
	c.chunks = &across;
	c.later = 0;
	c.nlater = 0;
	bad_built("chunk-spans-two-regions", &c, find(s, REC_CHUNK, 0),
		  "%s: chunk 0x404000-0x406000 lies outside the recorded memory regions");
	free(small.b);
	zstd_vectors();

	/* Payloads: built whole by the writer with one field wrong. */
	c = minimal_content();
	c.info_trailing = 8;
	bad_built("payload-trailing-bytes", &c, 0, "%s: payload has 8 bytes after its last field");
	c = minimal_content();
	c.info.page_size = 1000;
	bad_built("bad-page-size", &c, 0, "%s: page size 1000 is not a power of two of at least 4096");
	c = minimal_content();
	c.no_info = 1;
	bad_built("no-info", &c, 0, "%s comes before the INFO record");
	c = minimal_content();
	c.nthreads = 0;
	bad_built("no-thread", &c, -1, "no THREAD record");
	c = minimal_content();
	c.proc.nsig = 65;
	c.proc.sigactions = sigact;
	bad_built("too-many-signals", &c, 1, "%s: nsig is more than 64");
	c = minimal_content();
	c.proc.comm = "a-command-name-of-sixty-four-bytes-which-no-kernel-would-give-us";
	bad_built("comm-too-long", &c, 1, "%s: comm is longer than 63 bytes");
	struct img_thread t = minimal_thread;
	t.ngregs = 257;
	c = minimal_content();
	c.threads = &t;
	bad_built("too-many-registers", &c, 2, "%s: ngregs is more than 256");

	static const struct img_region two[] = {
		{ 0x10000, 0x12000, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
		{ 0x11000, 0x13000, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
		{ 0x14000, 0x14800, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
	};
	c = minimal_content();
	c.regions = two;
	c.nregions = 2;
	bad_built("regions-overlap", &c, 3, "%s: region 0x11000 overlaps or precedes the one before it");
	c.regions = two + 2;
	c.nregions = 1;
	bad_built("region-not-page-aligned", &c, 2, "%s: region 0x14000-0x14800 is empty or not page aligned");
	c = minimal_content();
	c.regions = two;
	c.nregions = 1;
	c.threads_first = 1;
	bad_built("record-out-of-order", &c, 3, "%s is out of order");

	struct fd_spec fds[2] = { { FD(3, 0, FK_REG, 0, -1, 0, 0, 0, 0100644, "/tmp/x"), .x.reg = { 1 } },
				  { FD(4, 0, FK_REG, 0, 5, 0, 0, 0, 0100644, "/tmp/x") } };
	c = minimal_content();
	c.fds = fds;
	c.nfds = 2;
	bad_built("dup-of-not-lower", &c, 4, "%s: dup_of is not a lower fd");
	fds[1].f.dup_of = 3;
	fds[1].raw = "\1\0\0\0\0\0\0\0";
	fds[1].raw_len = 8;
	bad_built("dup-with-extra-bytes", &c, 4, "%s: a duplicated fd has extra bytes");
	fds[1].f.dup_of = -2;
	fds[1].raw = 0;
	bad_built("dup-of-negative", &c, 4, "%s: dup_of is neither -1 nor an fd");
	fds[1].f.dup_of = -1;
	fds[1].raw = "\1\0\0\0";
	fds[1].raw_len = 4;
	bad_built("reg-extra-too-short", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].f.kind = FK_PIPE;
	fds[1].raw = "\xb3\x15\0\0\0\0\0\0" "\0\0\0\0" "\0\0\1\0" "\x64\0\0\0" "only ten b";
	fds[1].raw_len = 30;
	bad_built("pipe-data-past-extra", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].f.kind = FK_DIR;
	bad_built("dir-with-extra-bytes", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].f.kind = FK_REG;
	fds[1].raw = 0;
	fds[1].f.fd = 1 << 21;
	bad_built("fd-out-of-range", &c, 4, "%s: fd is out of range");

	/* The new fd kinds' extra bytes. */
	fds[1].f.fd = 4;
	fds[1].f.kind = FK_DELETED;
	fds[1].raw = "\1\0\0\0\0\0\0\0" "\0\x10\0\0\0\0\0\0" "\0\0\0\0";
	fds[1].raw_len = 20;
	bad_built("deleted-extra-too-short", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].raw = 0;
	fds[1].x.deleted = (struct deleted_extra){ 0, 4096, 0, 0 };
	bad_built("deleted-file-id-zero", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].x.deleted = (struct deleted_extra){ 1, 4096, 4, 0 };
	bad_built("deleted-unknown-flags", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].f.kind = FK_FIFO;
	fds[1].raw = "\xe7\3\0\0\0\0\0\0" "\0\0\1\0" "\x64\0\0\0" "short";
	fds[1].raw_len = 21;
	bad_built("fifo-data-past-extra", &c, 4, "%s: the extra bytes do not fit the fd kind");
	fds[1].f.kind = FK_PTY;
	fds[1].raw = 0;
	fds[1].x.pty = (struct pty_extra)PTY_X(2, 0, 0, 0, 0);
	bad_built("pty-end-not-master-or-slave", &c, 4, "%s: the extra bytes do not fit the fd kind");
	{
		/* master_len says 100, 7 bytes follow: cut the extra at its true end. */
		static uint8_t cut[256];
		struct wbuf w;
		wb_init(&w, cut, sizeof(cut));
		struct pty_extra x = PTY_X(1, pty_out, sizeof(pty_out) - 1, 0, 0);
		pty_put_extra(&w, &x);
		put32(cut + 60, 100);
		fds[1].raw = (const char *)cut;
		fds[1].raw_len = (uint32_t)w.len;
		bad_built("pty-data-past-extra", &c, 4, "%s: the extra bytes do not fit the fd kind");
	}

	/* FILEDATA: one deleted file of 8292 bytes (two pages and a bit) at fd 3. */
	struct fd_spec del[1] = { { FD(3, 0, FK_DELETED, 02, -1, 0, 0, 0, 0100600, "/tmp/x (deleted)"),
				    .x.deleted = { 1, 8292, 0, 0 } } };
	struct filedata_spec fdata[2] = { { 1, 0, 4096, 31 }, { 1, 4096, 4196, 32 } };
	c = minimal_content();
	c.fds = del;
	c.nfds = 1;
	c.filedata = fdata;
	c.nfiledata = 2;
	struct image fimg;
	build(&c, &fimg);
	const struct image *fi = &fimg;
	i = find(fi, REC_FILEDATA, 1);
	uint64_t fhead = fi->rec[i].off + IMG_REC_HEADER;
	b = copy(fi);
	b[((fhead + IMG_FILEDATA_HEAD + PAGE - 1) & ~(uint64_t)(PAGE - 1)) + 4100] ^= 0x08;
	bad("filedata-flipped-byte", b, fi->n, "CRC mismatch in %s (file data)", name_of(fi, i));
	b = copy(fi);
	put64(b + fhead, 2);
	fix_crc(b, &fi->rec[i]);
	bad("filedata-unknown-file", b, fi->n, "%s: file 2 is not declared by a DELETED fd before it", name_of(fi, i));
	b = copy(fi);
	put64(b + fhead + 8, 4100);
	fix_crc(b, &fi->rec[i]);
	bad("filedata-not-page-aligned", b, fi->n, "%s: file data at 4100+4196 is empty, over 8 MiB or not page aligned",
	    name_of(fi, i));
	b = copy(fi);
	put64(b + fhead + 8, 0);
	fix_crc(b, &fi->rec[i]);
	bad("filedata-overlap", b, fi->n, "%s: file data at 0 overlaps or precedes the one before it", name_of(fi, i));
	b = copy(fi);
	put64(b + fhead + 8, 8192);
	fix_crc(b, &fi->rec[i]);
	bad("filedata-past-size", b, fi->n, "%s: file data at 8192+4196 runs past the file's size", name_of(fi, i));
	b = copy(fi);
	b[fhead + IMG_FILEDATA_HEAD + 5] = 1;
	bad("filedata-pad-nonzero", b, fi->n, "%s: nonzero bytes in the alignment pad", name_of(fi, i));
	b = copy(fi);
	put32(b + fhead + 16, 4000);
	fix_crc(b, &fi->rec[i]);
	bad("filedata-len-mismatch", b, fi->n, "%s: head says", name_of(fi, i));
	free(fimg.b);
	c.filedata_last = 1;
	c.regions = small_regions;
	c.nregions = 3;
	c.chunks = &small_chunk;
	c.nchunks = 1;
	bad_built("filedata-after-chunk", &c, 8, "%s is out of order");
	/* Kernel state: records 0-2 are INFO, PROCESS and the one THREAD (tid 1). */
	static uint8_t si[IMG_SIGINFO_SIZE];
	siginfo_at(si, 65, -1, 1, 0);
	struct img_proc_state ps = { .dumpable = 1, .nsiginfo = 1, .siginfo = si };
	c = minimal_content();
	c.ps = &ps;
	bad_built("siginfo-bad-signo", &c, 3, "%s: a pending signal's number is not 1..64");
	siginfo_at(si, 64, -1, 1, 0);
	ps.dumpable = 3;
	bad_built("proc-state-bad-dumpable", &c, 3, "%s: dumpable is not 0, 1 or 2");
	ps.dumpable = 1;
	c.ps_twice = 1;
	bad_built("proc-state-twice", &c, 4, "%s is out of order");

	struct img_thread_state ts[2] = {
		{ .tid = 99, .comm = "", .affinity_len = 8, .affinity = cpus_a },
		{ .tid = 1, .comm = "", .affinity_len = 8, .affinity = cpus_a },
	};
	c = minimal_content();
	c.tstates = ts;
	c.ntstates = 1;
	bad_built("thread-state-unknown-tid", &c, 3, "%s: tid 99 has no THREAD record");
	ts[0].tid = 1;
	c.ntstates = 2;
	bad_built("thread-state-twice", &c, 4, "%s: tid 1 has a THREAD_STATE already");
	c.ntstates = 1;
	ts[0].comm = "sixteen-bytes-ab";
	bad_built("thread-state-comm-too-long", &c, 3, "%s: comm is longer than 15 bytes");
	ts[0].comm = "";
	ts[0].affinity_len = 4;
	bad_built("thread-state-affinity-len", &c, 3, "%s: affinity_len is not a multiple of 8 up to 1024");
	ts[0].affinity_len = 8;
	ts[0].nice = 20;
	bad_built("thread-state-nice", &c, 3, "%s: nice is not between -20 and 19");

	struct img_posix_timer tm[2] = {
		{ 0, 1, 3, 10, 0, 0, 0, 0 },
		{ 0, 1, PT_SIGEV_SIGNAL, 10, 0, 0, 0, 0 },
	};
	c = minimal_content();
	c.timers = tm;
	c.ntimers = 1;
	bad_built("posix-timer-bad-notify", &c, 3,
		  "%s: notify is not SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD or SIGEV_THREAD_ID");
	tm[0].notify = PT_SIGEV_SIGNAL;
	tm[0].signo = 0;
	bad_built("posix-timer-no-signal", &c, 3, "%s: signo is not 1..64");
	tm[0].signo = 10;
	tm[0].notify = PT_SIGEV_THREAD_ID;
	tm[0].notify_tid = 77;
	bad_built("posix-timer-unknown-tid", &c, 3, "%s: notify_tid 77 has no THREAD record");
	tm[0].notify = PT_SIGEV_SIGNAL;
	c.ntimers = 2;
	bad_built("posix-timer-duplicate-id", &c, 4, "%s: timer id 0 is taken by an earlier POSIX_TIMER");

	/* FD_SHARE: it annotates an FD record before it, once, with known flags. */
	struct fd_spec one[1] = { { FD(3, 0, FK_REG, 0, -1, 0, 0, 0, 0100644, "/tmp/x"), .x.reg = { 1 } } };
	struct img_fd_share sh[2] = { { 9, 0, 1 }, { 3, 0, 1 } };
	c = minimal_content();
	c.fds = one;
	c.nfds = 1;
	c.shares = sh;
	c.nshares = 1;
	bad_built("fd-share-no-fd", &c, 4, "%s: no FD record for its fd");
	sh[0].fd = 3;
	c.nshares = 2;
	bad_built("fd-share-twice", &c, 5, "%s: a second FD_SHARE for one fd");
	c.nshares = 1;
	sh[0].flags = 64;
	bad_built("fd-share-unknown-flags", &c, 4, "%s: unknown share flags");
	sh[0].flags = SF_OWNER;
	sh[0].share_id = 0;
	bad_built("fd-share-owner-without-id", &c, 4, "%s: an owner of no shared description");
	sh[0].flags = SF_PIPE;
	bad_built("fd-share-pipe-on-file", &c, 4, "%s: pipe share flags on an fd that is not a pipe");
	sh[0].flags = SF_PTY;
	bad_built("fd-share-pty-on-file", &c, 4, "%s: pty share flags on an fd that is not a pty");
	struct fd_spec slave[1] = { { FD(3, 1, FK_PTY, 0100002, -1, 0, 0x18, 8, 020620, "/dev/pts/5"), .x.pty = PTY_X(1, 0, 0, 0, 0) } };
	c.fds = slave;
	sh[0].flags = SF_PTY_CTTY;
	bad_built("fd-share-ctty-without-pty", &c, 4, "%s: pty owner or terminal flags without the pty flag");

	/* SEM_UNDO: one per set, 1..32000 adjustments, none 0, by ascending semaphore number. */
	struct img_sem_adj adj[2] = { { 0, 1 }, { 1, -1 } };
	struct img_sem_undo su[2] = { { 5, 2, adj }, { 5, 1, adj } };
	c = minimal_content();
	c.sem_undos = su;
	c.nsem_undos = 2;
	bad_built("sem-undo-twice", &c, 4, "%s: semid 5 has a SEM_UNDO already");
	c.nsem_undos = 1;
	su[0].n = 0;
	bad_built("sem-undo-empty", &c, 3, "%s: n is not 1..32000");
	su[0].n = 2;
	adj[1].adj = 0;
	bad_built("sem-undo-zero", &c, 3, "%s: an adjustment is 0 or not in -32768..32767");
	adj[1].adj = 40000;
	bad_built("sem-undo-out-of-range", &c, 3, "%s: an adjustment is 0 or not in -32768..32767");
	adj[1].adj = -1;
	adj[1].num = 0;
	bad_built("sem-undo-not-up", &c, 3, "%s: semaphore numbers do not go up");
	adj[1].num = 32000;
	bad_built("sem-undo-num-too-big", &c, 3, "%s: a semaphore number is not below 32000");
	adj[1].num = 1;
	su[0].semid = -1;
	bad_built("sem-undo-negative-id", &c, 3, "%s: semid is negative");

	/* FD_LOCK: after the FD of its fd, a known kind and type, a sane range. */
	struct img_fd_lock lk[1] = { { 9, LK_FLOCK, LK_WRITE, 0, LK_EOF } };
	c = minimal_content();
	c.fds = one;
	c.nfds = 1;
	c.locks = lk;
	c.nlocks = 1;
	bad_built("fd-lock-no-fd", &c, 4, "%s: no FD record for its fd");
	lk[0].fd = 3;
	lk[0].kind = 4;
	bad_built("fd-lock-unknown-kind", &c, 4, "%s: unknown lock kind");
	lk[0].kind = LK_POSIX;
	lk[0].start = 20;
	lk[0].end = 10;
	bad_built("fd-lock-empty-range", &c, 4, "%s: the locked range is empty or out of range");
}

