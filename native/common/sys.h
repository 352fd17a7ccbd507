/*
 * Raw Linux x86-64 system calls for code that must not touch libc: the restore loader
 * (which has no libc at all) and the agent paths that run while application threads are
 * stopped (where a libc lock may be held by a stopped thread).
 *
 * Every call returns the kernel's value: >= 0 on success, -errno on failure. There is no
 * global errno (musl's __syscallN convention, not DMTCP's mtcp_sys_errno).
 */
#ifndef STASIS_SYS_H
#define STASIS_SYS_H

#include <stdint.h>
#include <stddef.h>

static inline long sys_call0(long n)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
	return r;
}

static inline long sys_call1(long n, long a)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
	return r;
}

static inline long sys_call2(long n, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

static inline long sys_call3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sys_call4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sys_call5(long n, long a, long b, long c, long d, long e)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sys_call6(long n, long a, long b, long c, long d, long e, long f)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall" : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

/* Syscall numbers used by Stasis (x86-64). */
enum {
	SYS_read_ = 0, SYS_write_ = 1, SYS_open_ = 2, SYS_close_ = 3, SYS_fstat_ = 5,
	SYS_lseek_ = 8, SYS_mmap_ = 9, SYS_mprotect_ = 10, SYS_munmap_ = 11, SYS_brk_ = 12,
	SYS_rt_sigaction_ = 13, SYS_rt_sigprocmask_ = 14, SYS_rt_sigreturn_ = 15,
	SYS_pread64_ = 17, SYS_pwrite64_ = 18, SYS_writev_ = 20, SYS_mremap_ = 25, SYS_madvise_ = 28,
	SYS_dup_ = 32, SYS_dup2_ = 33, SYS_getpid_ = 39, SYS_socket_ = 41, SYS_connect_ = 42,
	SYS_sendto_ = 44, SYS_recvfrom_ = 45, SYS_setsockopt_ = 54, SYS_clone_ = 56,
	SYS_exit_ = 60, SYS_kill_ = 62, SYS_uname_ = 63, SYS_semctl_ = 66, SYS_fcntl_ = 72, SYS_fsync_ = 74,
	SYS_getcwd_ = 79, SYS_chdir_ = 80, SYS_rename_ = 82, SYS_mkdir_ = 83, SYS_unlink_ = 87,
	SYS_readlink_ = 89, SYS_umask_ = 95, SYS_getuid_ = 102, SYS_getgid_ = 104,
	SYS_getppid_ = 110, SYS_getpgrp_ = 111, SYS_getsid_ = 124, SYS_sigaltstack_ = 131,
	SYS_prctl_ = 157, SYS_arch_prctl_ = 158, SYS_gettid_ = 186, SYS_tkill_ = 200,
	SYS_futex_ = 202, SYS_getdents64_ = 217, SYS_set_tid_address_ = 218, SYS_semtimedop_ = 220,
	SYS_clock_gettime_ = 228, SYS_exit_group_ = 231, SYS_epoll_ctl_ = 233,
	SYS_tgkill_ = 234, SYS_openat_ = 257, SYS_newfstatat_ = 262, SYS_readlinkat_ = 267,
	SYS_set_robust_list_ = 273, SYS_get_robust_list_ = 274, SYS_timerfd_create_ = 283,
	SYS_timerfd_settime_ = 286, SYS_signalfd4_ = 289, SYS_eventfd2_ = 290,
	SYS_epoll_create1_ = 291, SYS_dup3_ = 292, SYS_pipe2_ = 293, SYS_prlimit64_ = 302,
	SYS_rseq_ = 334, SYS_close_range_ = 436,
};

/* SysV semaphores, as the kernel takes them (SEM_UNDO adjustments: agent and loader kstate.c). */
#define GETVAL_ 12
#define IPC_NOWAIT_ 04000
#define SEM_UNDO_ 0x1000
struct ksembuf {
	uint16_t num;
	int16_t op, flg;
};

static inline long sys_read(int fd, void *buf, size_t n) { return sys_call3(SYS_read_, fd, (long)buf, (long)n); }
static inline long sys_write(int fd, const void *buf, size_t n) { return sys_call3(SYS_write_, fd, (long)buf, (long)n); }
static inline long sys_pread(int fd, void *buf, size_t n, long off) { return sys_call4(SYS_pread64_, fd, (long)buf, (long)n, off); }
static inline long sys_openat(int dfd, const char *p, int flags, int mode) { return sys_call4(SYS_openat_, dfd, (long)p, flags, mode); }
static inline long sys_close(int fd) { return sys_call1(SYS_close_, fd); }
static inline long sys_lseek(int fd, long off, int whence) { return sys_call3(SYS_lseek_, fd, off, whence); }
static inline long sys_fsync(int fd) { return sys_call1(SYS_fsync_, fd); }
static inline long sys_fcntl(int fd, int cmd, long arg) { return sys_call3(SYS_fcntl_, fd, cmd, arg); }
static inline long sys_dup3(int o, int n, int flags) { return sys_call3(SYS_dup3_, o, n, flags); }
static inline long sys_mmap(void *a, size_t len, int prot, int flags, int fd, long off)
{
	return sys_call6(SYS_mmap_, (long)a, (long)len, prot, flags, fd, off);
}
static inline long sys_munmap(void *a, size_t len) { return sys_call2(SYS_munmap_, (long)a, (long)len); }
static inline long sys_mprotect(void *a, size_t len, int prot) { return sys_call3(SYS_mprotect_, (long)a, (long)len, prot); }
static inline long sys_mremap(void *o, size_t ol, size_t nl, int flags, void *n)
{
	return sys_call5(SYS_mremap_, (long)o, (long)ol, (long)nl, flags, (long)n);
}
static inline long sys_futex(int *uaddr, int op, int val, const void *ts)
{
	return sys_call6(SYS_futex_, (long)uaddr, op, val, (long)ts, 0, 0);
}
static inline long sys_gettid(void) { return sys_call0(SYS_gettid_); }
static inline long sys_getpid(void) { return sys_call0(SYS_getpid_); }
static inline long sys_prctl(int op, long a, long b, long c, long d) { return sys_call5(SYS_prctl_, op, a, b, c, d); }
static inline long sys_arch_prctl(int code, long addr) { return sys_call2(SYS_arch_prctl_, code, addr); }
static inline __attribute__((noreturn)) void sys_exit_group(int code)
{
	for (;;)
		sys_call1(SYS_exit_group_, code);
}

#endif
