/*
 * The loader's runtime: it has no libc. Entry, self-relocation (it is a static PIE that
 * moves itself, so it applies its own R_X86_64_RELATIVE relocations, as musl's _dlstart
 * does), output and the few memory functions the compiler may call.
 */
#ifndef STASIS_LOADER_RT_H
#define STASIS_LOADER_RT_H
#include <stdint.h>
#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

extern int rst_err_fd; /* where messages go: the restarter's stderr */
extern const char *rst_prefix; /* what each message starts with: "stasis restart: " */

void rst_say(const char *a, const char *b, const char *c);
/* While set, messages end by saying the image is damaged and what to do about it. */
extern int rst_image_advice;
/* Called by rst_die after the message (the loader tells stasis-init it reported). */
extern void (*rst_on_die)(void);
/* Exits 1 after rst_on_die, once the reason has been said. */
__attribute__((noreturn)) void rst_exit_failed(void);
__attribute__((noreturn)) void rst_die(const char *a, const char *b, long err);

/* Applies this binary's relative relocations as if it were loaded at `base`. */
void rst_relocate(uintptr_t base);
uintptr_t rst_image_base(void);
uintptr_t rst_image_end(void);
/* Makes each PT_LOAD of a copy at `base` as protected as its segment says. */
void rst_protect_copy(uintptr_t base);

/*
 * The process entry point of a freestanding binary: calls fn(sp), sp pointing at argc,
 * argv and the environment as the kernel laid them out. fn must not return.
 */
#define RST_START(fn)                                                                      \
	__asm__(".text\n"                                                                 \
		".global _start\n"                                                        \
		"_start:\n"                                                               \
		"	xor %rbp, %rbp\n"                                                 \
		"	mov %rsp, %rdi\n"                                                 \
		"	and $-16, %rsp\n"                                                 \
		"	call " #fn "\n"                                                   \
		"	hlt\n")

/* Jumps to fn(arg) on a new stack. */
__attribute__((noreturn)) void rst_switch(void *sp, void (*fn)(void *), void *arg);
/* clone3 for a thread whose new stack top holds fn and its argument (top-16, top-8):
 * the child pops them and jumps to fn(arg). Returns the tid or -errno. */
long rst_clone3_thread(void *clone_args, unsigned long size);
#endif
