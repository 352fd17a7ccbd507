/*
 * Per-thread and per-process state that a restart must bring back exactly, checked on
 * every step, so that a checkpoint landing anywhere in the loop is caught if it loses any:
 *   - AVX registers holding values across a long register-only loop (the checkpoint signal
 *     lands inside it: they survive only if the FPU/AVX state is restored), and x87/SSE
 *     floating-point state in ordinary C arithmetic;
 *   - a signal handler that must run on its alternate stack, with SA_ONSTACK;
 *   - a blocked signal in the thread's mask (pending signals: kstate.c);
 *   - an rlimit, the umask, and the working directory.
 * Prints one line per step; every line is the same in an uninterrupted run.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char altstack[64 * 1024];
static volatile int handled, on_altstack;

static void on_usr1(int sig)
{
	char here;
	(void)sig;
	handled++;
	on_altstack = &here >= altstack && &here < altstack + sizeof(altstack);
}

/* Fills ymm8..ymm15 from `pattern`, spins `n` times touching only a counter, and checks
 * the registers still hold the pattern. Returns 1 if they do. */
__attribute__((target("avx2"))) static int avx_hold(const uint64_t pattern[32], long n)
{
	int ok;
	__asm__ volatile(
		"vmovdqu 0(%[p]), %%ymm8\n\t"
		"vmovdqu 32(%[p]), %%ymm9\n\t"
		"vmovdqu 64(%[p]), %%ymm10\n\t"
		"vmovdqu 96(%[p]), %%ymm11\n\t"
		"vmovdqu 128(%[p]), %%ymm12\n\t"
		"vmovdqu 160(%[p]), %%ymm13\n\t"
		"vmovdqu 192(%[p]), %%ymm14\n\t"
		"vmovdqu 224(%[p]), %%ymm15\n\t"
		"1: dec %[n]\n\t"
		"jnz 1b\n\t"
		"vpcmpeqq 0(%[p]), %%ymm8, %%ymm0\n\t"
		"vpcmpeqq 32(%[p]), %%ymm9, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpcmpeqq 64(%[p]), %%ymm10, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpcmpeqq 96(%[p]), %%ymm11, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpcmpeqq 128(%[p]), %%ymm12, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpcmpeqq 160(%[p]), %%ymm13, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpcmpeqq 192(%[p]), %%ymm14, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpcmpeqq 224(%[p]), %%ymm15, %%ymm1\n\t"
		"vpand %%ymm1, %%ymm0, %%ymm0\n\t"
		"vpmovmskb %%ymm0, %[ok]\n\t"
		"vzeroupper\n\t"
		: [ok] "=r"(ok), [n] "+r"(n)
		: [p] "r"(pattern)
		: "ymm0", "ymm1", "ymm8", "ymm9", "ymm10", "ymm11", "ymm12", "ymm13", "ymm14",
		  "ymm15", "memory", "cc");
	return ok == -1;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 40;
	if (!__builtin_cpu_supports("avx2")) {
		fprintf(stderr, "state: this test needs AVX2\n");
		return 2;
	}
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	if (sigaltstack(&ss, 0) || sigaction(SIGUSR1, &sa, 0))
		return 2;
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, 0);
	struct rlimit rl = { 123, 0 };
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 123;
	setrlimit(RLIMIT_NOFILE, &rl);
	umask(027);
	mkdir("state-cwd", 0755);
	if (chdir("state-cwd"))
		return 2;

	uint64_t pattern[32];
	uint64_t x = 0x243f6a8885a308d3ull;
	double fp = 1.0;
	for (int i = 0; i < steps; i++) {
		for (int k = 0; k < 32; k++)
			pattern[k] = x = x * 6364136223846793005ull + 1442695040888963407ull;
		int avx = avx_hold(pattern, 150000000);
		for (int k = 1; k <= 1000; k++)
			fp = fp * 1.000001 + 1.0 / (k + i);
		raise(SIGUSR1);
		sigset_t now;
		sigprocmask(SIG_BLOCK, 0, &now);
		getrlimit(RLIMIT_NOFILE, &rl);
		mode_t m = umask(0);
		umask(m);
		char cwd[4096];
		const char *base = getcwd(cwd, sizeof(cwd)) ? strrchr(cwd, '/') + 1 : "?";
		printf("step %d avx %s fp %.9f handler %d on-altstack %s usr2 blocked %s nofile %ld umask %03o cwd %s\n",
		       i, avx ? "ok" : "LOST", fp, handled, on_altstack ? "yes" : "no",
		       sigismember(&now, SIGUSR2) ? "yes" : "no",
		       (long)rl.rlim_cur, (unsigned)m, base);
		fflush(stdout);
	}
	return 0;
}
