/*
 * The payload of each metadata record, parsed strictly into the loader's structures
 * (docs/image-format.md, record by record): the readers meta.c calls as it walks the
 * records. Each returns null, or the reason the payload is malformed (the caller names the
 * record); a field that runs past the payload leaves `r->bad` set instead.
 */
#include "meta.h"
#include "meta-records.h"
#include "rt.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

/*
 * A `str` named `what` into dst (when dst is not null); one of cap bytes or more, or one
 * holding a NUL (the agent writes C strings), is malformed: the reason is returned.
 */
const char *mr_get_str(struct rbuf *r, char *dst, size_t cap, const char *what)
{
	static char why[96];
	uint16_t n = rb_u16(r);
	const uint8_t *p = rb_take(r, n);
	if (dst)
		dst[0] = 0;
	if (!p)
		return 0;
	struct sbuf s;
	sb_init(&s, why, sizeof(why));
	sb_str(&s, what);
	if (n >= cap) {
		sb_str(&s, " is longer than ");
		sb_udec(&s, cap - 1);
		sb_str(&s, " bytes");
		return sb_cstr(&s);
	}
	for (uint16_t i = 0; i < n; i++) {
		if (!p[i]) {
			sb_str(&s, " contains a NUL byte");
			return sb_cstr(&s);
		}
	}
	if (dst) {
		memcpy(dst, p, n);
		dst[n] = 0;
	}
	return 0;
}

const char *mr_parse_info(struct rbuf *r, uint32_t *page_size)
{
	static const char *const names[6] = { "machine", "kernel_release", "kernel_version",
					      "glibc_version", "hostname", "stasis_version" };
	*page_size = rb_u32(r);
	rb_u32(r);
	rb_u64(r);
	rb_u64(r);
	for (int i = 0; i < 6; i++) {
		const char *why = mr_get_str(r, 0, 0x10000, names[i]);
		if (why)
			return why;
	}
	return 0;
}

const char *mr_parse_process(struct rbuf *r, struct m_process *p)
{
	const char *why;
	p->pid = rb_u32(r);
	p->ppid = rb_u32(r);
	p->pgid = rb_u32(r);
	p->sid = rb_u32(r);
	p->uid = rb_u32(r);
	p->gid = rb_u32(r);
	p->umask = rb_u32(r);
	rb_u32(r);
	p->proc_id = rb_u64(r);
	for (int i = 0; i < 11; i++)
		p->mm[i] = rb_u64(r);
	p->restart_entry = rb_u64(r);
	p->restart_info = rb_u64(r);
	p->restart_info_size = rb_u32(r);
	rb_u32(r);
	rb_u64(r); /* rseq: re-registered by the agent itself */
	rb_u32(r);
	rb_u32(r);
	p->nsig = rb_u32(r);
	if (p->nsig > META_MAX_NSIG)
		return "nsig is more than 64";
	for (uint32_t s = 0; s < p->nsig; s++)
		for (int k = 0; k < 4; k++)
			p->sigact[s][k] = rb_u64(r);
	p->nrlimit = rb_u32(r);
	if (p->nrlimit > META_MAX_NRLIMIT)
		return "nrlimit is more than 16";
	for (uint32_t i = 0; i < p->nrlimit; i++) {
		p->rlim[i][0] = rb_u64(r);
		p->rlim[i][1] = rb_u64(r);
	}
	if ((why = mr_get_str(r, p->cwd, sizeof(p->cwd), "cwd")) ||
	    (why = mr_get_str(r, p->exe, sizeof(p->exe), "exe")) ||
	    (why = mr_get_str(r, p->comm, sizeof(p->comm), "comm")))
		return why;
	p->auxv_len = rb_u32(r);
	const uint8_t *aux = rb_take(r, p->auxv_len);
	if (aux && p->auxv_len > sizeof(p->auxv))
		return "auxv is longer than 1024 bytes";
	if (aux)
		memcpy(p->auxv, aux, p->auxv_len);
	return 0;
}

const char *mr_parse_region(struct rbuf *r, struct m_region *g)
{
	g->start = rb_u64(r);
	g->end = rb_u64(r);
	g->off = rb_u64(r);
	g->prot = rb_u32(r);
	g->flags = rb_u32(r);
	g->kind = rb_u32(r);
	rb_u32(r);
	g->dev = rb_u64(r);
	g->ino = rb_u64(r);
	g->fsize = rb_u64(r);
	g->mtime = (int64_t)rb_u64(r);
	return mr_get_str(r, g->path, sizeof(g->path), "path");
}

const char *mr_parse_thread(struct rbuf *r, struct m_thread *t)
{
	t->tid = rb_u32(r);
	t->flags = rb_u32(r);
	t->fs_base = rb_u64(r);
	rb_u64(r);
	t->ctid = rb_u64(r);
	for (int i = 0; i < 5; i++)
		rb_u64(r); /* robust list, mask, alternate stack: the agent restores them */
	rb_u32(r);
	rb_u32(r);
	t->resume_sp = rb_u64(r);
	uint32_t n = rb_u32(r);
	if (n > META_MAX_GREGS)
		return "ngregs is more than 256";
	rb_take(r, (size_t)n * 8);
	rb_take(r, rb_u32(r));
	return 0;
}

const char *mr_parse_fd(struct rbuf *r, struct fd_rec *f)
{
	f->share_seen = 0;
	f->share_flags = 0;
	f->share_id = 0;
	f->fd = (int)rb_u32(r);
	f->fd_flags = rb_u32(r);
	f->kind = rb_u32(r);
	f->open_flags = rb_u32(r);
	f->dup_of = (int)rb_u32(r);
	rb_u32(r);
	f->offset = rb_u64(r);
	f->dev = rb_u64(r);
	f->ino = rb_u64(r);
	f->mode = rb_u32(r);
	f->extra_len = rb_u32(r);
	const char *why = mr_get_str(r, f->path, sizeof(f->path), "path");
	if (why)
		return why;
	f->extra = rb_take(r, f->extra_len);
	if (r->bad)
		return 0;
	if (f->fd < 0 || f->fd > META_MAX_FD)
		return "fd is out of range";
	if (f->dup_of < -1)
		return "dup_of is neither -1 nor an fd";
	if (f->dup_of >= f->fd)
		return "dup_of is not a lower fd";
	if (f->dup_of >= 0)
		return f->extra_len ? "a duplicated fd has extra bytes" : 0;
	const struct res_ops *ops = res_find_kind(f->kind);
	if (ops && (ops->check ? ops->check(f->extra, f->extra_len) : (f->extra_len ? -22 : 0)))
		return "the extra bytes do not fit the fd kind";
	return 0; /* a kind of a later version: restore refuses it, reading does not */
}

/* FD_SHARE: annotates an FD record before it; the first of each fd counts. */
const char *mr_parse_fd_share(struct rbuf *r, struct meta *m)
{
	int fd = (int)rb_u32(r);
	uint32_t flags = rb_u32(r);
	uint64_t id = rb_u64(r);
	if (r->bad)
		return 0;
	if (flags & ~SF_KNOWN)
		return "unknown share flags";
	if ((flags & SF_OWNER) && !id)
		return "an owner of no shared description";
	for (int i = 0; i < m->nfds; i++) {
		struct fd_rec *f = &m->fds[i];
		if (f->fd != fd)
			continue;
		if (f->share_seen)
			return "a second FD_SHARE for one fd";
		if ((flags & (SF_PIPE | SF_PIPE_OWNER)) && f->dup_of < 0 && f->kind != FK_PIPE)
			return "pipe share flags on an fd that is not a pipe";
		if ((flags & (SF_PTY | SF_PTY_OWNER | SF_PTY_CTTY)) && f->dup_of < 0 && f->kind != FK_PTY)
			return "pty share flags on an fd that is not a pty";
		if ((flags & (SF_PTY_OWNER | SF_PTY_CTTY)) && !(flags & SF_PTY))
			return "pty owner or terminal flags without the pty flag";
		f->share_seen = 1;
		f->share_flags = flags;
		f->share_id = id;
		return 0;
	}
	return "no FD record for its fd";
}

/* A list of queued signals: u32 n (already read), n × 128-byte siginfo. */
const char *mr_get_siginfo(struct rbuf *r, uint32_t n, const uint8_t **out)
{
	if (n > META_MAX_SIGINFO)
		return "nsiginfo is more than 4096";
	const uint8_t *p = rb_take(r, (size_t)n * IMG_SIGINFO_SIZE);
	*out = p;
	if (!p)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		struct rbuf e;
		rb_init(&e, p + (size_t)i * IMG_SIGINFO_SIZE, 4);
		uint32_t sig = rb_u32(&e);
		if (sig < 1 || sig > 64)
			return "a pending signal's number is not 1..64";
	}
	return 0;
}

const char *mr_parse_proc_state(struct rbuf *r, struct m_proc_state *v)
{
	v->realtime_ns = (int64_t)rb_u64(r);
	v->monotonic_ns = (int64_t)rb_u64(r);
	v->boottime_ns = (int64_t)rb_u64(r);
	v->personality = rb_u32(r);
	v->flags = rb_u32(r);
	v->dumpable = rb_u32(r);
	rb_u32(r);
	for (int i = 0; i < 3; i++) {
		v->itimer[i][0] = rb_u64(r);
		v->itimer[i][1] = rb_u64(r);
	}
	v->nsiginfo = rb_u32(r);
	rb_u32(r);
	const char *why = mr_get_siginfo(r, v->nsiginfo, &v->siginfo);
	if (why || r->bad)
		return why;
	if (v->dumpable > 2)
		return "dumpable is not 0, 1 or 2";
	v->present = 1;
	return 0;
}

const char *mr_parse_thread_state(struct rbuf *r, struct m_thread_state *v)
{
	v->tid = rb_u32(r);
	v->flags = rb_u32(r);
	v->nice = (int32_t)rb_u32(r);
	v->pdeathsig = rb_u32(r);
	v->timer_slack_ns = rb_u64(r);
	const char *why = mr_get_str(r, v->comm, sizeof(v->comm), "comm");
	if (why)
		return why;
	v->affinity_len = rb_u32(r);
	if (v->affinity_len > META_MAX_AFFINITY || (v->affinity_len & 7))
		return "affinity_len is not a multiple of 8 up to 1024";
	rb_take(r, v->affinity_len);
	v->nsiginfo = rb_u32(r);
	const uint8_t *list;
	if ((why = mr_get_siginfo(r, v->nsiginfo, &list)) || r->bad)
		return why;
	if (v->nice < -20 || v->nice > 19)
		return "nice is not between -20 and 19";
	if (v->pdeathsig > 64)
		return "pdeathsig is not a signal";
	return 0;
}

const char *mr_parse_timer(struct rbuf *r, struct m_timer *v)
{
	v->id = (int32_t)rb_u32(r);
	v->clockid = (int32_t)rb_u32(r);
	v->notify = rb_u32(r);
	v->signo = rb_u32(r);
	v->notify_tid = rb_u32(r);
	rb_u32(r);
	v->sigev_value = rb_u64(r);
	v->value_ns = rb_u64(r);
	v->interval_ns = rb_u64(r);
	if (r->bad)
		return 0;
	if (v->id < 0)
		return "timer_id is negative";
	if (v->notify != PT_SIGEV_SIGNAL && v->notify != PT_SIGEV_NONE && v->notify != PT_SIGEV_THREAD &&
	    v->notify != PT_SIGEV_THREAD_ID)
		return "notify is not SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD or SIGEV_THREAD_ID";
	if (v->signo > 64 || (v->signo == 0 && v->notify != PT_SIGEV_NONE))
		return "signo is not 1..64";
	return 0;
}

/* SEM_UNDO: a set id, then its non-zero adjustments by ascending semaphore number. */
const char *mr_parse_sem_undo(struct rbuf *r, struct m_sem_undo *v)
{
	v->semid = (int32_t)rb_u32(r);
	v->n = rb_u32(r);
	if (r->bad)
		return 0;
	if (v->semid < 0)
		return "semid is negative";
	if (v->n == 0 || v->n > IMG_MAX_SEM_ADJ)
		return "n is not 1..32000";
	v->entries = rb_take(r, (size_t)v->n * 8);
	if (!v->entries)
		return 0;
	struct rbuf e;
	rb_init(&e, v->entries, (size_t)v->n * 8);
	for (uint32_t i = 0, prev = 0; i < v->n; i++) {
		uint32_t num = rb_u32(&e);
		int32_t adj = (int32_t)rb_u32(&e);
		if (num >= IMG_MAX_SEM_ADJ)
			return "a semaphore number is not below 32000";
		if (i && num <= prev)
			return "semaphore numbers do not go up";
		prev = num;
		if (adj == 0 || adj < IMG_SEM_ADJ_MIN || adj > IMG_SEM_ADJ_MAX)
			return "an adjustment is 0 or not in -32768..32767";
	}
	return 0;
}

static int mr_has_thread(const struct meta *m, uint32_t tid)
{
	for (int i = 0; i < m->nthreads; i++)
		if (m->threads[i].tid == tid)
			return 1;
	return 0;
}

/* What THREAD_STATE, POSIX_TIMER and SEM_UNDO say about other records. */
void mr_check_refs(const struct img_cursor *c, const struct meta *m, uint16_t type)
{
	char mem[96];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	if (type == REC_THREAD_STATE) {
		const struct m_thread_state *v = &m->tstates[m->ntstates - 1];
		if (!mr_has_thread(m, v->tid)) {
			sb_str(&s, ": tid ");
			sb_udec(&s, v->tid);
			rst_rec_die(c, type, sb_cstr(&s), " has no THREAD record");
		}
		for (int i = 0; i < m->ntstates - 1; i++)
			if (m->tstates[i].tid == v->tid) {
				sb_str(&s, ": tid ");
				sb_udec(&s, v->tid);
				rst_rec_die(c, type, sb_cstr(&s), " has a THREAD_STATE already");
			}
	} else if (type == REC_SEM_UNDO) {
		const struct m_sem_undo *v = &m->sem_undos[m->nsem_undos - 1];
		for (int i = 0; i < m->nsem_undos - 1; i++)
			if (m->sem_undos[i].semid == v->semid) {
				sb_str(&s, ": semid ");
				sb_udec(&s, (uint64_t)v->semid);
				rst_rec_die(c, type, sb_cstr(&s), " has a SEM_UNDO already");
			}
	} else if (type == REC_POSIX_TIMER) {
		const struct m_timer *v = &m->timers[m->ntimers - 1];
		if (v->notify == PT_SIGEV_THREAD_ID && !mr_has_thread(m, v->notify_tid)) {
			sb_str(&s, ": notify_tid ");
			sb_udec(&s, v->notify_tid);
			rst_rec_die(c, type, sb_cstr(&s), " has no THREAD record");
		}
		for (int i = 0; i < m->ntimers - 1; i++)
			if (m->timers[i].id == v->id) {
				sb_str(&s, ": timer id ");
				sb_udec(&s, (uint64_t)v->id);
				rst_rec_die(c, type, sb_cstr(&s), " is taken by an earlier POSIX_TIMER");
			}
	}
}

/* FD_LOCK: after the FD record of its fd; a known kind and type; start not past end. */
const char *mr_parse_fd_lock(struct rbuf *r, const struct meta *m, struct m_lock *k)
{
	k->fd = (int)rb_u32(r);
	k->kind = rb_u32(r);
	k->type = rb_u32(r);
	if (rb_u32(r) != 0)
		return "a reserved field is not 0";
	k->start = rb_u64(r);
	k->end = rb_u64(r);
	if (r->bad)
		return 0;
	if (k->kind < LK_FLOCK || k->kind > LK_OFD)
		return "unknown lock kind";
	if (k->type != LK_READ && k->type != LK_WRITE)
		return "unknown lock type";
	if (k->start > k->end || (k->end != LK_EOF && k->end > (1ull << 62)))
		return "the locked range is empty or out of range";
	for (int i = 0; i < m->nfds; i++)
		if (m->fds[i].fd == k->fd)
			return 0;
	return "no FD record for its fd";
}
