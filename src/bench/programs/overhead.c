/*
 * Bench program for what running under Stasis costs a program that is not being
 * checkpointed. The bench runs it natively and under `stasis launch`, alternately, and
 * compares the figures it prints; it times itself, so starting it does not count.
 *
 *   overhead cpu SLICES            a CPU-bound loop (integer hashing, no syscalls)
 *   overhead sys SLICES DIR        open/close of a file, then write() of 64 bytes to one
 *   overhead exec COUNT            fork + exec of this program ("noop") + wait, COUNT times
 *   overhead noop                  exits at once
 *   overhead softdirty             prints "softdirty yes" or "softdirty no": whether this
 *                                  kernel tracks soft-dirty pages (CONFIG_MEM_SOFT_DIRTY),
 *                                  which incremental checkpoints (CRIU's too) may rely on
 *
 * Each of cpu and sys runs SLICES equal slices of work and prints, per kind, one line with
 * the wall-clock nanoseconds of every slice and one ("KIND-oncpu") with the process's CPU
 * time for it (CLOCK_PROCESS_CPUTIME_ID: time spent waiting for a core that other work on
 * a shared machine holds does not count; anything Stasis does in the process does). The
 * bench takes the fastest slice of a run, the one least disturbed by whatever else the
 * machine was doing. exec prints the wall-clock nanoseconds of every fork-exec-wait round
 * trip.
 *
 * Output lines: "cpu NS NS ...", "cpu-oncpu NS ...", "openclose NS ...",
 * "openclose-oncpu NS ...", "write NS ...", "write-oncpu NS ...", "exec NS ...", each NS
 * the time of one slice (cpu: 20M hash steps; openclose: 20000 open+close pairs; write:
 * 20000 writes) or of one exec round trip.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CPU_STEPS 20000000
#define SYS_OPS 20000

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* A slice's start: wall clock and process CPU time. */
struct mark {
	uint64_t wall, oncpu;
};

static struct mark mark_now(void)
{
	return (struct mark){ now_ns(), clock_ns(CLOCK_PROCESS_CPUTIME_ID) };
}

/* Records the time since `m` into slot s of the two arrays. */
static void mark_end(struct mark m, uint64_t *wall, uint64_t *oncpu, int s)
{
	wall[s] = now_ns() - m.wall;
	oncpu[s] = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - m.oncpu;
}

static volatile uint64_t sink;

static void print_slices(const char *kind, const uint64_t *ns, int n)
{
	printf("%s", kind);
	for (int i = 0; i < n; i++)
		printf(" %llu", (unsigned long long)ns[i]);
	printf("\n");
}

static int cpu(int slices)
{
	uint64_t ns[slices], oncpu[slices], x = 0x9e3779b97f4a7c15ull;
	for (int s = 0; s < slices; s++) {
		struct mark m = mark_now();
		for (int i = 0; i < CPU_STEPS; i++) {
			x ^= x >> 31;
			x *= 0xbf58476d1ce4e5b9ull;
			x ^= x >> 29;
		}
		mark_end(m, ns, oncpu, s);
		sink = x;
	}
	print_slices("cpu", ns, slices);
	print_slices("cpu-oncpu", oncpu, slices);
	return 0;
}

static int sys(int slices, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/overhead-%d.dat", dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror("overhead: open");
		return 1;
	}
	close(fd);
	uint64_t oc[slices], wr[slices], oc_cpu[slices], wr_cpu[slices];
	char buf[64];
	memset(buf, 'x', sizeof buf);
	for (int s = 0; s < slices; s++) {
		struct mark m = mark_now();
		for (int i = 0; i < SYS_OPS; i++) {
			fd = open(path, O_RDONLY);
			if (fd < 0 || close(fd) < 0) {
				perror("overhead: open/close");
				return 1;
			}
		}
		mark_end(m, oc, oc_cpu, s);
		fd = open(path, O_WRONLY | O_TRUNC);
		m = mark_now();
		for (int i = 0; i < SYS_OPS; i++) {
			if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
				perror("overhead: write");
				return 1;
			}
		}
		mark_end(m, wr, wr_cpu, s);
		close(fd);
	}
	unlink(path);
	print_slices("openclose", oc, slices);
	print_slices("openclose-oncpu", oc_cpu, slices);
	print_slices("write", wr, slices);
	print_slices("write-oncpu", wr_cpu, slices);
	return 0;
}

static int spawn(int count, const char *self)
{
	uint64_t ns[count];
	for (int k = 0; k < count; k++) {
		uint64_t t0 = now_ns();
		pid_t pid = fork();
		if (pid < 0) {
			perror("overhead: fork");
			return 1;
		}
		if (pid == 0) {
			execl(self, self, "noop", (char *)0);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "overhead: the exec'd program failed\n");
			return 1;
		}
		ns[k] = now_ns() - t0;
	}
	print_slices("exec", ns, count);
	return 0;
}

/* Clears the soft-dirty bits (clear_refs 4), writes a page, reads its pagemap bit 55. */
static int softdirty(void)
{
	volatile char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int cr = open("/proc/self/clear_refs", O_WRONLY), pm = open("/proc/self/pagemap", O_RDONLY);
	uint64_t entry = 0;
	if (p == MAP_FAILED || cr < 0 || pm < 0)
		return printf("softdirty unknown\n"), 0;
	p[0] = 1;
	if (write(cr, "4", 1) != 1)
		return printf("softdirty unknown\n"), 0;
	p[0] = 2;
	if (pread(pm, &entry, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
		return printf("softdirty unknown\n"), 0;
	printf("softdirty %s\n", entry >> 55 & 1 ? "yes" : "no");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "noop"))
		return 0;
	if (argc == 2 && !strcmp(argv[1], "softdirty"))
		return softdirty();
	if (argc == 3 && !strcmp(argv[1], "cpu") && atoi(argv[2]) > 0)
		return cpu(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "sys") && atoi(argv[2]) > 0)
		return sys(atoi(argv[2]), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "exec") && atoi(argv[2]) > 0)
		return spawn(atoi(argv[2]), "/proc/self/exe");
	fprintf(stderr, "usage: overhead cpu SLICES | sys SLICES DIR | exec COUNT | noop | softdirty\n");
	return 2;
}
