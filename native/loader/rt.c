#include <elf.h>
#include "rt.h"
#include "../common/fmt.h"
#include "../common/sys.h"

int rst_err_fd = 2;
const char *rst_prefix = "stasis restart: ";

extern const Elf64_Ehdr __ehdr_start __attribute__((visibility("hidden")));
extern const Elf64_Dyn _DYNAMIC[] __attribute__((visibility("hidden")));
extern char _end[] __attribute__((visibility("hidden")));

void *memcpy(void *d, const void *s, size_t n)
{
	char *dd = d;
	const char *ss = s;
	while (n--)
		*dd++ = *ss++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	char *dd = d;
	const char *ss = s;
	if (dd < ss)
		while (n--)
			*dd++ = *ss++;
	else
		while (n--)
			dd[n] = ss[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	char *dd = d;
	while (n--)
		*dd++ = (char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

int rst_image_advice;

void rst_say(const char *a, const char *b, const char *c)
{
	char mem[1200];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, rst_prefix);
	sb_str(&s, a);
	if (b)
		sb_str(&s, b);
	if (c)
		sb_str(&s, c);
	if (rst_image_advice)
		sb_str(&s, " — the image is damaged: restart from an earlier generation");
	sb_str(&s, "\n");
	sys_write(rst_err_fd, s.p, s.len);
}

void (*rst_on_die)(void);

void rst_die(const char *a, const char *b, long err)
{
	char mem[1100];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	if (b)
		sb_str(&s, b);
	if (err) {
		sb_str(&s, " (");
		sb_str(&s, strerror_short(err));
		sb_str(&s, ")");
	}
	rst_say(a, sb_cstr(&s), 0);
	rst_exit_failed();
}

void rst_exit_failed(void)
{
	if (rst_on_die)
		rst_on_die();
	sys_exit_group(1);
}

uintptr_t rst_image_base(void) { return (uintptr_t)&__ehdr_start; }
uintptr_t rst_image_end(void) { return (uintptr_t)_end; }

void rst_relocate(uintptr_t base)
{
	/* _DYNAMIC is addressed PC-relatively, so this works before and after a move as
	 * long as it is called from the copy being relocated. */
	const Elf64_Rela *rela = 0;
	size_t relasz = 0;
	for (const Elf64_Dyn *d = _DYNAMIC; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_RELA)
			rela = (const Elf64_Rela *)(base + d->d_un.d_ptr);
		else if (d->d_tag == DT_RELASZ)
			relasz = d->d_un.d_val;
	}
	for (size_t i = 0; rela && i < relasz / sizeof(*rela); i++)
		if (ELF64_R_TYPE(rela[i].r_info) == R_X86_64_RELATIVE)
			*(uint64_t *)(base + rela[i].r_offset) = base + (uint64_t)rela[i].r_addend;
}

void rst_protect_copy(uintptr_t base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W))
			continue;
		uintptr_t s = (base + ph[i].p_vaddr) & ~4095ul;
		uintptr_t e = (base + ph[i].p_vaddr + ph[i].p_memsz + 4095) & ~4095ul;
		int prot = (ph[i].p_flags & PF_R ? 1 : 0) | (ph[i].p_flags & PF_X ? 4 : 0);
		sys_mprotect((void *)s, e - s, prot);
	}
}

__asm__(".text\n"
	".global rst_switch\n"
	".hidden rst_switch\n"
	"rst_switch:\n"
	"	mov %rdi, %rsp\n"
	"	mov %rdx, %rdi\n"
	"	push $0\n"
	"	jmp *%rsi\n"
	".global rst_clone3_thread\n"
	".hidden rst_clone3_thread\n"
	"rst_clone3_thread:\n"
	"	mov $435, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	pop %rax\n"
	"	pop %rdi\n"
	"	push $0\n"
	"	jmp *%rax\n"
	"1:	ret\n");
