/*
 * The fds of the process being captured: probed (kind, flags, offset, which are dups of
 * which, what other processes share of them) before the image file is opened, so it is
 * not among them; then written as FD and FD_SHARE records, and the contents of files
 * deleted while open as FILEDATA records. Follows the contract in agent.h.
 */
#define _GNU_SOURCE
#include "agent.h"
#include "capture.h"
#include "incr.h"
#include "image.h"
#include "../common/fmt.h"
#include "../common/sys.h"
#include "../res/res.h"

int cap_probe_fds(struct capture *c)
{
	char dbuf[4096], path[64];
	struct sbuf s;
	c->probes = cap_arena_take(&c->a, sizeof(struct fd_probe) * MAX_PROBES);
	int dfd = (int)sys_openat(-100, "/proc/self/fd", K_O_DIRECTORY | K_O_CLOEXEC, 0);
	if (dfd < 0 || !c->probes)
		return cap_fail(c, "cannot list fds", 0, dfd < 0 ? dfd : -12);
	for (;;) {
		long n = sys_call3(SYS_getdents64_, dfd, (long)dbuf, sizeof(dbuf));
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; uint16_t reclen; uint8_t type; char name[]; } *d =
				(void *)(dbuf + off);
			off += d->reclen;
			const char *p = d->name;
			if (*p < '0' || *p > '9')
				continue;
			int fd = (int)parse_dec(&p);
			if (fd == dfd || fd == g_agent.coord_fd || fd == dirty_fd())
				continue;
			if (c->nprobes >= MAX_PROBES) {
				sys_close(dfd);
				return cap_fail(c, "too many open fds", 0, -24);
			}
			struct fd_probe *q = &c->probes[c->nprobes++];
			q->fd = fd;
			q->dup_of = -1;
			sb_init(&s, path, sizeof(path));
			sb_str(&s, "/proc/self/fd/");
			sb_udec(&s, (uint64_t)fd);
			long l = sys_call3(SYS_readlink_, (long)sb_cstr(&s), (long)q->link, sizeof(q->link) - 1);
			q->link[l > 0 ? l : 0] = 0;
			sys_call2(SYS_fstat_, fd, (long)&q->st);
			long fl = sys_fcntl(fd, 1 /* F_GETFD */, 0);
			q->fd_flags = fl > 0 ? (uint32_t)fl : 0;
			sb_init(&s, path, sizeof(path));
			sb_str(&s, "/proc/self/fdinfo/");
			sb_udec(&s, (uint64_t)fd);
			q->fdinfo = cap_slurp(c, sb_cstr(&s), 0);
			const char *f = fdinfo_field(q->fdinfo, "pos:");
			q->pos = f ? parse_dec(&f) : 0;
			f = fdinfo_field(q->fdinfo, "flags:");
			q->open_flags = f ? (uint32_t)parse_oct(&f) & ~(uint32_t)K_O_CLOEXEC : 0;
		}
	}
	sys_close(dfd);
	/* Sort by fd so dup_of always names an fd restored earlier. */
	for (int i = 1; i < c->nprobes; i++)
		for (int j = i; j > 0 && c->probes[j - 1].fd > c->probes[j].fd; j--) {
			struct fd_probe t;
			mem_copy(&t, &c->probes[j], sizeof(t));
			mem_copy(&c->probes[j], &c->probes[j - 1], sizeof(t));
			mem_copy(&c->probes[j - 1], &t, sizeof(t));
		}
	for (int i = 0; i < c->nprobes; i++) {
		c->probes[i].share_flags = 0;
		for (int k = 0; k < g_agent.nshares; k++)
			if (g_agent.shares[k].fd == c->probes[i].fd)
				c->probes[i].share_flags = g_agent.shares[k].flags;
	}
	long pid = sys_getpid();
	for (int i = 0; i < c->nprobes; i++) {
		c->probes[i].all = c->probes;
		c->probes[i].nall = c->nprobes;
	}
	for (int i = 0; i < c->nprobes; i++)
		for (int j = 0; j < i && c->probes[i].dup_of < 0; j++)
			if (c->probes[j].dup_of < 0 &&
			    sys_call5(312 /* kcmp */, pid, pid, 0 /* KCMP_FILE */, c->probes[j].fd, c->probes[i].fd) == 0)
				c->probes[i].dup_of = c->probes[j].fd;
	return 0;
}

/*
 * The contents of a file a kind asked for (a deleted file): FILEDATA records of up to
 * 8 MiB, page-aligned in the image like chunk data. Holes (SEEK_DATA/SEEK_HOLE) and
 * all-zero pages are left out: the restore makes the file its full size first, so they
 * read back as zeros. Read through an fd of our own, so the process's offset stays put;
 * through the process's fd with pread (no hole search) if the file cannot be reopened.
 */
static int write_file_data(struct capture *c, struct img_out *o, const struct save_file *f)
{
	int fd = reopen_fd(f->fd, K_O_CLOEXEC);
	int own = fd >= 0;
	if (!own)
		fd = f->fd;
	uint64_t at = 0;
	while (at < f->size && !o->err) {
		uint64_t hole = f->size;
		if (own) {
			long d = sys_lseek(fd, (long)at, 3 /* SEEK_DATA */);
			if (d == -6 /* ENXIO: only a hole is left */)
				break;
			if (d >= 0) {
				if (((uint64_t)d & ~(PAGE - 1)) > at)
					at = (uint64_t)d & ~(PAGE - 1);
				long h = sys_lseek(fd, d, 4 /* SEEK_HOLE */);
				if (h > d && (uint64_t)h < f->size)
					hole = ((uint64_t)h + PAGE - 1) & ~(PAGE - 1);
			}
		}
		if (hole > f->size)
			hole = f->size;
		while (at < hole && !o->err) {
			uint64_t want = hole - at < IMG_FILEDATA_MAX ? hole - at : IMG_FILEDATA_MAX;
			long got = 0;
			while ((uint64_t)got < want) {
				long n = sys_pread(fd, c->bounce + got, want - (uint64_t)got, (long)(at + (uint64_t)got));
				if (n == -4)
					continue;
				if (n <= 0)
					break;
				got += n;
			}
			if ((uint64_t)got != want) {
				if (own)
					sys_close(fd);
				return cap_fail(c, "cannot read a deleted file's contents", 0, got < 0 ? got : -5);
			}
			for (uint64_t i = 0; i < want;) {
				uint64_t step = want - i < PAGE ? want - i : PAGE;
				if (step == PAGE && cap_page_is_zero(c->bounce + i)) {
					i += PAGE;
					continue;
				}
				uint64_t j = i;
				while (j < want && (want - j < PAGE || !cap_page_is_zero(c->bounce + j)))
					j += want - j < PAGE ? want - j : PAGE;
				img_filedata(o, f->id, at + i, c->bounce + i, (uint32_t)(j - i));
				i = j;
			}
			at += want;
		}
		at = hole;
	}
	if (own)
		sys_close(fd);
	return 0;
}

/* "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INO START END" into lk; -1 for a waiter or a kind
 * we do not take back (a lease, a mandatory lock). */
static int parse_lock_line(const char *t, const char *eol, struct img_fd_lock *lk)
{
	char line[256];
	size_t n = (size_t)(eol - t) < sizeof(line) - 1 ? (size_t)(eol - t) : sizeof(line) - 1;
	mem_copy(line, t, n);
	line[n] = 0;
	if (str_find(line, "->") || !str_find(line, "ADVISORY"))
		return -1;
	lk->kind = str_find(line, "FLOCK") ? LK_FLOCK : str_find(line, "OFDLCK") ? LK_OFD : str_find(line, "POSIX") ? LK_POSIX : 0;
	lk->type = str_find(line, " WRITE ") ? LK_WRITE : str_find(line, " READ ") ? LK_READ : 0;
	if (!lk->kind || !lk->type)
		return -1;
	/* The last two words: start, and end or EOF. */
	char *end = line + n;
	while (end > line && end[-1] == ' ')
		*--end = 0;
	char *e = end;
	while (e > line && e[-1] != ' ')
		e--;
	char *s = e - 1;
	while (s > line && s[-1] == ' ')
		s--;
	while (s > line && s[-1] != ' ')
		s--;
	const char *sp = s, *ep = e;
	lk->start = parse_dec(&sp);
	lk->end = str_eq(e, "EOF") ? LK_EOF : parse_dec(&ep);
	return 0;
}

int cap_write_fds(struct capture *c, struct img_out *o)
{
	struct save_ctx sc = { .probes = c->probes, .nprobes = c->nprobes };
	sc.scratch = c->bounce;
	sc.scratch_len = 1u << 20;
	uint8_t *rec = cap_arena_take(&c->a, (2u << 20) + 8192);
	uint8_t *xbuf = cap_arena_take(&c->a, 2u << 20);
	if (!rec || !xbuf)
		return cap_fail(c, "out of scratch memory", 0, -12);
	for (int i = 0; i < c->nprobes; i++) {
		struct fd_probe *p = &c->probes[i];
		const struct res_ops *ops = res_find_claim(p);
		if (!ops && p->dup_of < 0) {
			char num[16];
			struct sbuf s;
			sb_init(&s, num, sizeof(num));
			sb_udec(&s, (uint64_t)p->fd);
			char msg[600];
			sb_init(&s, msg, sizeof(msg));
			sb_str(&s, "fd ");
			sb_str(&s, num);
			sb_str(&s, " (");
			sb_str(&s, p->link);
			sb_str(&s, ") is of a kind Stasis cannot checkpoint yet");
			return cap_fail(c, sb_cstr(&s), 0, 0);
		}
		struct wbuf w, extra;
		wb_init(&extra, xbuf, 2u << 20);
		if (p->dup_of < 0) {
			int e = ops->save(p, &extra, &sc);
			if (e < 0 || extra.overflow)
				return cap_fail(c, "cannot save fd ", p->link, e < 0 ? e : -12);
		}
		struct img_fd f = {
			.fd = p->fd,
			.fd_flags = p->fd_flags & 1,
			.kind = ops ? ops->kind : 0,
			.open_flags = p->open_flags,
			.dup_of = p->dup_of,
			.offset = p->pos,
			.dev = p->st.dev,
			.inode = p->st.ino,
			.mode = p->st.mode,
			.path = p->link,
			.extra = xbuf,
			.extra_len = (uint32_t)extra.len,
		};
		wb_init(&w, rec, (2u << 20) + 8192);
		img_put_fd(&w, &f);
		if (w.overflow)
			return cap_fail(c, "fd path too long: ", p->link, 0);
		img_record(o, REC_FD, rec, (uint32_t)w.len);
	}
	/* Then what the namespace's init found shared with other processes, for fds we saved. */
	for (int k = 0; k < g_agent.nshares; k++) {
		const struct img_fd_share *sh = &g_agent.shares[k];
		int saved = 0;
		for (int i = 0; i < c->nprobes; i++)
			saved |= c->probes[i].fd == sh->fd;
		if (!saved)
			continue;
		struct wbuf w;
		wb_init(&w, rec, 64);
		img_put_fd_share(&w, sh);
		img_record(o, REC_FD_SHARE, rec, (uint32_t)w.len);
	}
	/* The locks held through each fd, as its fdinfo lists them ("lock:" lines; "->" are
	 * waiters, not holders). */
	for (int i = 0; i < c->nprobes; i++) {
		const char *t = c->probes[i].fdinfo;
		while (t && (t = str_find(t, "lock:"))) {
			t += 5;
			const char *eol = t;
			while (*eol && *eol != '\n')
				eol++;
			struct img_fd_lock lk = { c->probes[i].fd, 0, 0, 0, 0 };
			if (!parse_lock_line(t, eol, &lk)) {
				struct wbuf w;
				wb_init(&w, rec, 64);
				img_put_fd_lock(&w, &lk);
				img_record(o, REC_FD_LOCK, rec, (uint32_t)w.len);
			}
			t = eol;
		}
	}
	for (int i = 0; i < sc.nfiles; i++) {
		int e = write_file_data(c, o, &sc.files[i]);
		if (e)
			return e;
	}
	return 0;
}

