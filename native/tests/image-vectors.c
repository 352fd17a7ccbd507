/*
 * image-vectors DIR: writes the golden image vectors (test/vectors/image/README.md) with the
 * agent's own writer and record encoders (agent/image.c, the extra-bytes codecs of res/):
 *   DIR/NAME.img + NAME.json  good images and the JSON form every reader must see in them;
 *   DIR/bad/NAME.img + .txt   damaged images, each named after its defect, and a fragment
 *                             of the message both readers must reject it with.
 * Deterministic: a second run writes the same bytes (test/image-vectors.test.ts checks).
 * The .json is written from what was encoded, not from reading the image back.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../common/crc32c.h"
#include "../agent/chunk-writer.h"
#include "image-vectors.h"
#include "utf8-json.h"


#include "image-vectors.h"

static __attribute__((noreturn)) void die(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- writing ---- */

void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

void fill_text(uint8_t *p, size_t n, uint32_t seed)
{
	size_t at = 0;
	for (uint32_t line = 0; at < n; line++) {
		char text[64];
		int len = snprintf(text, sizeof(text), "line %u of a chunk filled from seed %u\n", line, seed);
		for (int i = 0; i < len && at < n; i++)
			p[at++] = (uint8_t)text[i];
	}
}

void fill_field(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n / 8; i++) {
		double x = (double)i / 512.0, v = 1.0 + seed + x * (1.0 - x / 1024.0);
		double d = (double)(float)v;
		memcpy(p + 8 * i, &d, 8);
	}
}

static void note(struct image *img, const struct img_out *o, uint16_t type, uint32_t len)
{
	if (img->nrec == (int)(sizeof(img->rec) / sizeof(img->rec[0])))
		die("too many records");
	img->rec[img->nrec++] = (struct rec_at){ type, o->off, len, 0, 0 };
}

static void record(struct image *img, struct img_out *o, uint16_t type, struct wbuf *w)
{
	if (w->overflow)
		die("record too large");
	note(img, o, type, (uint32_t)w->len);
	img_record(o, type, w->p, (uint32_t)w->len);
}

static uint32_t fd_extra(const struct fd_spec *s, uint8_t *buf, size_t cap)
{
	struct wbuf w;
	wb_init(&w, buf, cap);
	if (s->raw) {
		wb_bytes(&w, s->raw, s->raw_len);
	} else if (s->f.dup_of < 0) {
		switch (s->f.kind) {
		case FK_REG: reg_put_extra(&w, &s->x.reg); break;
		case FK_PIPE: pipe_put_extra(&w, &s->x.pipe); break;
		case FK_EVENTFD: eventfd_put_extra(&w, &s->x.eventfd); break;
		case FK_EPOLL:
			epoll_put_count(&w, s->x.epoll.n);
			for (uint32_t i = 0; i < s->x.epoll.n; i++)
				epoll_put_entry(&w, &s->x.epoll.e[i]);
			break;
		case FK_SIGNALFD: signalfd_put_extra(&w, &s->x.signalfd); break;
		case FK_TIMERFD: timerfd_put_extra(&w, &s->x.timerfd); break;
		case FK_DELETED: deleted_put_extra(&w, &s->x.deleted); break;
		case FK_FIFO: fifo_put_extra(&w, &s->x.fifo); break;
		case FK_PTY: pty_put_extra(&w, &s->x.pty); break;
		default: break;
		}
	}
	return (uint32_t)w.len;
}

static void later(struct image *img, struct img_out *o, const struct content *c, int after)
{
	for (int i = 0; i < c->nlater; i++) {
		if (c->later[i].after_chunk != after)
			continue;
		uint32_t len = (uint32_t)strlen(c->later[i].payload);
		note(img, o, c->later[i].type, len);
		img_record(o, c->later[i].type, c->later[i].payload, len);
	}
}

static void filedata(struct image *img, struct img_out *o, const struct content *c)
{
	static uint8_t data[IMG_FILEDATA_MAX];
	for (int i = 0; i < c->nfiledata; i++) {
		const struct filedata_spec *d = &c->filedata[i];
		fill(data, d->len, d->seed);
		note(img, o, REC_FILEDATA, 0);
		img_filedata(o, d->file_id, d->offset, data, d->len);
		img->rec[img->nrec - 1].len = (uint32_t)(o->off - img->rec[img->nrec - 1].off - IMG_REC_HEADER);
	}
}

void build(const struct content *c, struct image *img)
{
	static uint8_t stage[1 << 20], buf[1 << 20], extra[1 << 16], data[IMG_CHUNK_MAX];
	int fd = memfd_create("image", 0);
	if (fd < 0)
		die("memfd_create");
	struct img_out o;
	struct wbuf w;
	img_open(&o, fd, stage, sizeof(stage));
	if (c->incremental)
		img_set_flags(&o, IMG_FLAG_INCREMENTAL);
	img->nrec = 0;
	if (!c->no_info) {
		wb_init(&w, buf, sizeof(buf));
		img_put_info(&w, &c->info);
		for (uint32_t i = 0; i < c->info_trailing; i++)
			wb_bytes(&w, "", 1);
		record(img, &o, REC_INFO, &w);
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == (c->parents_late ? 0 : 1)) {
			wb_init(&w, buf, sizeof(buf));
			img_put_process(&w, &c->proc);
			record(img, &o, REC_PROCESS, &w);
			continue;
		}
		for (int i = 0; i < c->nparents; i++) {
			wb_init(&w, buf, sizeof(buf));
			img_put_parent(&w, &c->parents[i]);
			record(img, &o, REC_PARENT, &w);
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == (c->threads_first ? 1 : 0)) {
			for (int i = 0; i < c->nregions; i++) {
				wb_init(&w, buf, sizeof(buf));
				img_put_region(&w, &c->regions[i]);
				record(img, &o, REC_REGION, &w);
			}
		} else {
			for (int i = 0; i < c->nthreads; i++) {
				wb_init(&w, buf, sizeof(buf));
				img_put_thread(&w, &c->threads[i]);
				record(img, &o, REC_THREAD, &w);
			}
		}
	}
	for (int i = 0; i < c->nfds; i++) {
		struct img_fd f = c->fds[i].f;
		f.extra = extra;
		f.extra_len = fd_extra(&c->fds[i], extra, sizeof(extra));
		wb_init(&w, buf, sizeof(buf));
		img_put_fd(&w, &f);
		record(img, &o, REC_FD, &w);
	}
	for (int i = 0; i < c->nshares; i++) {
		wb_init(&w, buf, sizeof(buf));
		img_put_fd_share(&w, &c->shares[i]);
		record(img, &o, REC_FD_SHARE, &w);
	}
	for (int i = 0; i < c->nlocks; i++) {
		wb_init(&w, buf, sizeof(buf));
		img_put_fd_lock(&w, &c->locks[i]);
		record(img, &o, REC_FD_LOCK, &w);
	}
	if (!c->filedata_last)
		filedata(img, &o, c);
	for (int k = 0; c->ps && k < 1 + c->ps_twice; k++) {
		wb_init(&w, buf, sizeof(buf));
		img_put_proc_state(&w, c->ps);
		record(img, &o, REC_PROC_STATE, &w);
	}
	for (int i = 0; i < c->ntstates; i++) {
		wb_init(&w, buf, sizeof(buf));
		img_put_thread_state(&w, &c->tstates[i]);
		record(img, &o, REC_THREAD_STATE, &w);
	}
	for (int i = 0; i < c->ntimers; i++) {
		wb_init(&w, buf, sizeof(buf));
		img_put_posix_timer(&w, &c->timers[i]);
		record(img, &o, REC_POSIX_TIMER, &w);
	}
	for (int i = 0; i < c->nsem_undos; i++) {
		wb_init(&w, buf, sizeof(buf));
		img_put_sem_undo(&w, &c->sem_undos[i]);
		record(img, &o, REC_SEM_UNDO, &w);
	}
	if (c->nrefs) {
		wb_init(&w, buf, sizeof(buf));
		img_put_refs(&w, c->refs, (uint32_t)c->nrefs);
		record(img, &o, REC_REFS, &w);
	}
	later(img, &o, c, -1);
	/* The agent's chunk writer, compressing without workers: each chunk is written before
	 * cw_chunk returns, so its offset is known here. */
	struct cw cw;
	cw_start(&cw, &o, 1, 0);
	for (int i = 0; i < c->nchunks; i++) {
		size_t len = (size_t)c->chunks[i].pages * PAGE;
		if (c->chunks[i].text == 2)
			fill_field(data, len, c->chunks[i].seed);
		else if (c->chunks[i].text)
			fill_text(data, len, c->chunks[i].seed);
		else
			fill(data, len, c->chunks[i].seed);
		note(img, &o, REC_CHUNK, 0);
		if (c->chunks[i].stored)
			img_chunk_stored(&o, c->chunks[i].addr, len, IMG_ENC_ZSTD, c->chunks[i].stored, c->chunks[i].stored_len,
					 crc32c(0, c->chunks[i].stored, c->chunks[i].stored_len));
		else
			cw_chunk(&cw, c->chunks[i].addr, data, len, 1);
		struct rec_at *r = &img->rec[img->nrec - 1];
		uint64_t data_at = r->off + IMG_REC_HEADER + IMG_CHUNK_HEAD;
		r->enc = c->chunks[i].stored ? IMG_ENC_ZSTD : cw.last_enc;
		r->stored = c->chunks[i].stored ? c->chunks[i].stored_len : cw.last_stored;
		r->len = IMG_CHUNK_HEAD + (uint32_t)((PAGE - data_at % PAGE) % PAGE) + r->stored;
		later(img, &o, c, i);
	}
	cw_finish(&cw);
	for (int i = 0; i < c->npages; i++) {
		const struct pages_spec *ps = &c->pages[i];
		const void *ptr[64];
		if (ps->n > 64)
			die("a PAGES vector of more than 64 pages");
		fill(data, (size_t)ps->n * PAGE, ps->seed);
		for (uint32_t k = 0; k < ps->n; k++)
			ptr[k] = data + (size_t)k * PAGE;
		note(img, &o, REC_PAGES, 0);
		img_pages(&o, ps->addr, ptr, ps->n);
		img->rec[img->nrec - 1].len = (uint32_t)(o.off - img->rec[img->nrec - 1].off - IMG_REC_HEADER);
	}
	if (c->filedata_last)
		filedata(img, &o, c);
	note(img, &o, REC_END, 32);
	if (img_finish(&o))
		die("writing an image");
	img->n = o.off;
	img->b = malloc(img->n);
	if (!img->b || pread(fd, img->b, img->n, 0) != (ssize_t)img->n)
		die("reading an image back");
	close(fd);
}

/* ---- the JSON form (src/image/describe.ts imageToJson), written from the content ---- */

struct jw {
	FILE *f;
	int depth;
	int first[16];
	char kind[16]; /* '{' or '[' */
};

static void j_item(struct jw *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	/* One line per top-level key and per element of a top-level array. */
	if (j->depth == 1 || (j->depth == 2 && j->kind[2] == '['))
		fprintf(j->f, "\n%*s", j->depth, "");
	if (key)
		fprintf(j->f, "\"%s\":", key);
}

static void j_open(struct jw *j, const char *key, char kind)
{
	if (j->depth)
		j_item(j, key);
	fputc(kind, j->f);
	j->depth++;
	j->first[j->depth] = 1;
	j->kind[j->depth] = kind;
}

static void j_close(struct jw *j)
{
	char kind = j->kind[j->depth--];
	if (j->depth == 0 || (j->depth == 1 && kind == '['))
		fprintf(j->f, "\n%*s", j->depth, "");
	fputc(kind == '{' ? '}' : ']', j->f);
}

static void j_num(struct jw *j, const char *key, int64_t v) { j_item(j, key); fprintf(j->f, "%lld", (long long)v); }
static void j_u64(struct jw *j, const char *key, uint64_t v) { j_item(j, key); fprintf(j->f, "\"%llu\"", (unsigned long long)v); }
static void j_i64(struct jw *j, const char *key, int64_t v) { j_item(j, key); fprintf(j->f, "\"%lld\"", (long long)v); }
static void j_lit(struct jw *j, const char *key, const char *v) { j_item(j, key); fputs(v, j->f); }

static void emit_cp(uint32_t cp, void *f)
{
	char b[6];
	fwrite(b, 1, (size_t)json_cp(cp, b), f);
}

static void j_str(struct jw *j, const char *key, const char *s)
{
	j_item(j, key);
	fputc('"', j->f);
	utf8_decode(s, emit_cp, j->f);
	fputc('"', j->f);
}

static void j_hex(struct jw *j, const char *key, const void *p, size_t n)
{
	j_item(j, key);
	fputc('"', j->f);
	for (size_t i = 0; i < n; i++)
		fprintf(j->f, "%02x", ((const uint8_t *)p)[i]);
	fputc('"', j->f);
}

static const char *const region_kinds[] = { "ANON", "FILE", "HEAP", "STACK", "VDSO", "VVAR",
					    "VVAR_VCLOCK", "VSYSCALL", "SHMEM_ANON" };
static const char *const fd_kinds[] = { "kind 0", "REG", "DIR", "CHR", "TTY", "PIPE", "EVENTFD",
					"EPOLL", "SIGNALFD", "TIMERFD", "INHERIT", "DELETED", "FIFO", "PTY" };

static void j_fd_extra(struct jw *j, const struct fd_spec *s)
{
	uint32_t k = s->f.kind;
	if (s->f.dup_of >= 0 || k == FK_DIR || k == FK_CHR || k == FK_TTY || k == FK_INHERIT) {
		j_lit(j, "extra", "null");
		return;
	}
	j_open(j, "extra", '{');
	j_str(j, "kind", fd_kinds[k]);
	switch (k) {
	case FK_REG:
		j_u64(j, "size", s->x.reg.size);
		break;
	case FK_PIPE:
		j_u64(j, "pipeId", s->x.pipe.pipe_id);
		j_num(j, "end", s->x.pipe.end);
		j_num(j, "pipeSize", s->x.pipe.pipe_size);
		j_hex(j, "data", s->x.pipe.data, s->x.pipe.data_len);
		break;
	case FK_EVENTFD:
		j_u64(j, "count", s->x.eventfd.count);
		j_num(j, "flags", s->x.eventfd.flags);
		break;
	case FK_EPOLL:
		j_open(j, "entries", '[');
		for (uint32_t i = 0; i < s->x.epoll.n; i++) {
			j_open(j, 0, '{');
			j_num(j, "fd", s->x.epoll.e[i].fd);
			j_num(j, "events", s->x.epoll.e[i].events);
			j_u64(j, "data", s->x.epoll.e[i].data);
			j_close(j);
		}
		j_close(j);
		break;
	case FK_SIGNALFD:
		j_u64(j, "mask", s->x.signalfd.mask);
		break;
	case FK_TIMERFD:
		j_num(j, "clockid", s->x.timerfd.clockid);
		j_num(j, "flags", s->x.timerfd.flags);
		j_u64(j, "valueNs", s->x.timerfd.value_ns);
		j_u64(j, "intervalNs", s->x.timerfd.interval_ns);
		break;
	case FK_DELETED:
		j_u64(j, "fileId", s->x.deleted.file_id);
		j_u64(j, "size", s->x.deleted.size);
		j_num(j, "flags", s->x.deleted.flags);
		j_num(j, "seals", s->x.deleted.seals);
		break;
	case FK_FIFO:
		j_u64(j, "fifoId", s->x.fifo.fifo_id);
		j_num(j, "pipeSize", s->x.fifo.pipe_size);
		j_hex(j, "data", s->x.fifo.data, s->x.fifo.data_len);
		break;
	case FK_PTY: {
		const struct pty_extra *x = &s->x.pty;
		j_u64(j, "ptyId", x->pty_id);
		j_num(j, "end", x->end);
		j_num(j, "flags", x->flags);
		j_num(j, "iflag", x->iflag);
		j_num(j, "oflag", x->oflag);
		j_num(j, "cflag", x->cflag);
		j_num(j, "lflag", x->lflag);
		j_num(j, "line", x->line);
		j_hex(j, "cc", x->cc, 19);
		j_num(j, "rows", x->rows);
		j_num(j, "cols", x->cols);
		j_num(j, "xpixel", x->xpixel);
		j_num(j, "ypixel", x->ypixel);
		j_hex(j, "masterData", x->master_data, x->master_len);
		j_hex(j, "slaveData", x->slave_data, x->slave_len);
		break;
	}
	}
	j_close(j);
}

static void j_siginfo(struct jw *j, uint32_t n, const uint8_t *list)
{
	j_open(j, "siginfo", '[');
	for (uint32_t i = 0; i < n; i++)
		j_hex(j, 0, list + (size_t)i * IMG_SIGINFO_SIZE, IMG_SIGINFO_SIZE);
	j_close(j);
}

static void j_kernel_state(struct jw *j, const struct content *c)
{
	const struct img_proc_state *ps = c->ps;
	if (!ps) {
		j_lit(j, "procState", "null");
	} else {
		j_open(j, "procState", '{');
		j_i64(j, "realtimeNs", ps->realtime_ns);
		j_i64(j, "monotonicNs", ps->monotonic_ns);
		j_i64(j, "boottimeNs", ps->boottime_ns);
		j_num(j, "personality", ps->personality);
		j_num(j, "flags", ps->flags);
		j_num(j, "dumpable", ps->dumpable);
		j_open(j, "itimers", '[');
		for (int i = 0; i < IMG_NITIMER; i++) {
			j_open(j, 0, '{');
			j_u64(j, "valueNs", ps->itimers[i].value_ns);
			j_u64(j, "intervalNs", ps->itimers[i].interval_ns);
			j_close(j);
		}
		j_close(j);
		j_siginfo(j, ps->nsiginfo, ps->siginfo);
		j_close(j);
	}
	j_open(j, "threadStates", '[');
	for (int i = 0; i < c->ntstates; i++) {
		const struct img_thread_state *t = &c->tstates[i];
		j_open(j, 0, '{');
		j_num(j, "tid", t->tid);
		j_num(j, "flags", t->flags);
		j_num(j, "nice", t->nice);
		j_num(j, "pdeathsig", t->pdeathsig);
		j_u64(j, "timerSlackNs", t->timer_slack_ns);
		j_str(j, "comm", t->comm);
		j_hex(j, "affinity", t->affinity, t->affinity_len);
		j_siginfo(j, t->nsiginfo, t->siginfo);
		j_close(j);
	}
	j_close(j);
	j_open(j, "posixTimers", '[');
	for (int i = 0; i < c->ntimers; i++) {
		const struct img_posix_timer *t = &c->timers[i];
		j_open(j, 0, '{');
		j_num(j, "timerId", t->timer_id);
		j_num(j, "clockid", t->clockid);
		j_num(j, "notify", t->notify);
		j_num(j, "signo", t->signo);
		j_num(j, "notifyTid", t->notify_tid);
		j_u64(j, "sigevValue", t->sigev_value);
		j_u64(j, "valueNs", t->value_ns);
		j_u64(j, "intervalNs", t->interval_ns);
		j_close(j);
	}
	j_close(j);
	j_open(j, "semUndo", '[');
	for (int i = 0; i < c->nsem_undos; i++) {
		const struct img_sem_undo *u = &c->sem_undos[i];
		j_open(j, 0, '{');
		j_num(j, "semid", u->semid);
		j_open(j, "adj", '[');
		for (uint32_t k = 0; k < u->n; k++) {
			j_open(j, 0, '{');
			j_num(j, "num", u->adj[k].num);
			j_num(j, "adj", u->adj[k].adj);
			j_close(j);
		}
		j_close(j);
		j_close(j);
	}
	j_close(j);
}

/* PARENT, REFS and PAGES (src/image/incr.ts), in images with the INCREMENTAL flag. */
static void j_incremental(struct jw *j, const struct content *c, const struct image *img)
{
	j_open(j, "incremental", '{');
	j_open(j, "parents", '[');
	for (int i = 0; i < c->nparents; i++) {
		const struct img_parent *p = &c->parents[i];
		j_open(j, 0, '{');
		j_u64(j, "fileSize", p->file_size);
		j_num(j, "infoCrc", p->info_crc);
		j_u64(j, "refBytes", p->ref_bytes);
		j_str(j, "path", p->path);
		j_close(j);
	}
	j_close(j);
	j_open(j, "refs", '[');
	for (int i = 0; i < c->nrefs; i++) {
		const struct img_ref *e = &c->refs[i];
		j_open(j, 0, '{');
		j_u64(j, "addr", e->addr);
		j_u64(j, "len", e->len);
		j_num(j, "parent", e->parent);
		j_u64(j, "recordAt", e->record_at);
		j_close(j);
	}
	j_close(j);
	j_open(j, "pages", '[');
	for (int i = 0, k = 0; i < img->nrec; i++) {
		if (img->rec[i].type != REC_PAGES)
			continue;
		const struct pages_spec *ps = &c->pages[k++];
		uint64_t list_end = img->rec[i].off + IMG_REC_HEADER + IMG_PAGES_HEAD + (uint64_t)ps->n * 8;
		j_open(j, 0, '{');
		j_num(j, "offset", (int64_t)img->rec[i].off);
		j_num(j, "encoding", 0);
		j_num(j, "storedLen", (int64_t)ps->n * PAGE);
		j_num(j, "dataOffset", (int64_t)((list_end + PAGE - 1) & ~(uint64_t)(PAGE - 1)));
		j_open(j, "addrs", '[');
		for (uint32_t a = 0; a < ps->n; a++) {
			j_item(j, 0);
			fprintf(j->f, "\"%llu\"", (unsigned long long)ps->addr[a]);
		}
		j_close(j);
		j_close(j);
	}
	j_close(j);
	j_close(j);
}

static void write_json(const char *file, const struct content *c, const struct image *img)
{
	FILE *f = fopen(file, "w");
	if (!f)
		die(file);
	struct jw j = { .f = f };
	j_open(&j, 0, '{');
	j_num(&j, "fileSize", (int64_t)img->n);
	j_num(&j, "version", 1);
	const struct img_info *in = &c->info;
	j_open(&j, "info", '{');
	j_num(&j, "pageSize", in->page_size);
	j_num(&j, "flags", in->flags);
	j_u64(&j, "createdUnixNs", in->created_unix_ns);
	j_u64(&j, "ckptId", in->ckpt_id);
	j_str(&j, "machine", in->machine);
	j_str(&j, "kernelRelease", in->kernel_release);
	j_str(&j, "kernelVersion", in->kernel_version);
	j_str(&j, "glibcVersion", in->glibc_version);
	j_str(&j, "hostname", in->hostname);
	j_str(&j, "stasisVersion", in->stasis_version);
	j_close(&j);
	const struct img_process *p = &c->proc;
	j_open(&j, "process", '{');
	j_num(&j, "pid", p->pid);
	j_num(&j, "ppid", p->ppid);
	j_num(&j, "pgid", p->pgid);
	j_num(&j, "sid", p->sid);
	j_num(&j, "uid", p->uid);
	j_num(&j, "gid", p->gid);
	j_num(&j, "umask", p->umask);
	j_u64(&j, "procId", p->proc_id);
	j_u64(&j, "startCode", p->start_code);
	j_u64(&j, "endCode", p->end_code);
	j_u64(&j, "startData", p->start_data);
	j_u64(&j, "endData", p->end_data);
	j_u64(&j, "startBrk", p->start_brk);
	j_u64(&j, "brk", p->brk);
	j_u64(&j, "startStack", p->start_stack);
	j_u64(&j, "argStart", p->arg_start);
	j_u64(&j, "argEnd", p->arg_end);
	j_u64(&j, "envStart", p->env_start);
	j_u64(&j, "envEnd", p->env_end);
	j_u64(&j, "restartEntry", p->restart_entry);
	j_u64(&j, "restartInfo", p->restart_info);
	j_num(&j, "restartInfoSize", p->restart_info_size);
	j_i64(&j, "rseqOffset", p->rseq_offset);
	j_num(&j, "rseqSize", p->rseq_size);
	j_num(&j, "rseqSig", p->rseq_sig);
	j_open(&j, "sigactions", '[');
	for (uint32_t i = 0; i < p->nsig; i++) {
		j_open(&j, 0, '{');
		j_u64(&j, "handler", p->sigactions[i].handler);
		j_u64(&j, "flags", p->sigactions[i].flags);
		j_u64(&j, "restorer", p->sigactions[i].restorer);
		j_u64(&j, "mask", p->sigactions[i].mask);
		j_close(&j);
	}
	j_close(&j);
	j_open(&j, "rlimits", '[');
	for (uint32_t i = 0; i < p->nrlimit; i++) {
		j_open(&j, 0, '{');
		j_u64(&j, "cur", p->rlimits[i].cur);
		j_u64(&j, "max", p->rlimits[i].max);
		j_close(&j);
	}
	j_close(&j);
	j_str(&j, "cwd", p->cwd);
	j_str(&j, "exe", p->exe);
	j_str(&j, "comm", p->comm);
	j_hex(&j, "auxv", p->auxv, p->auxv_len);
	j_close(&j);
	j_open(&j, "regions", '[');
	for (int i = 0; i < c->nregions; i++) {
		const struct img_region *g = &c->regions[i];
		j_open(&j, 0, '{');
		j_u64(&j, "start", g->start);
		j_u64(&j, "end", g->end);
		j_u64(&j, "fileOffset", g->file_offset);
		j_num(&j, "prot", g->prot);
		j_num(&j, "flags", g->flags);
		j_num(&j, "kind", g->kind);
		j_u64(&j, "dev", g->dev);
		j_u64(&j, "inode", g->inode);
		j_u64(&j, "fileSize", g->file_size);
		j_i64(&j, "fileMtimeNs", g->file_mtime_ns);
		j_str(&j, "path", g->path);
		j_str(&j, "kindName", region_kinds[g->kind]);
		j_close(&j);
	}
	j_close(&j);
	j_open(&j, "threads", '[');
	for (int i = 0; i < c->nthreads; i++) {
		const struct img_thread *t = &c->threads[i];
		j_open(&j, 0, '{');
		j_num(&j, "tid", t->tid);
		j_num(&j, "flags", t->flags);
		j_u64(&j, "fsBase", t->fs_base);
		j_u64(&j, "gsBase", t->gs_base);
		j_u64(&j, "clearChildTid", t->clear_child_tid);
		j_u64(&j, "robustList", t->robust_list);
		j_u64(&j, "robustListLen", t->robust_list_len);
		j_u64(&j, "sigmask", t->sigmask);
		j_u64(&j, "altstackSp", t->altstack_sp);
		j_u64(&j, "altstackSize", t->altstack_size);
		j_num(&j, "altstackFlags", t->altstack_flags);
		j_u64(&j, "resumeSp", t->resume_sp);
		j_open(&j, "gregs", '[');
		for (uint32_t r = 0; r < t->ngregs; r++)
			j_u64(&j, 0, t->gregs ? t->gregs[r] : 0);
		j_close(&j);
		j_hex(&j, "xsave", t->xsave, t->xsave_len);
		j_close(&j);
	}
	j_close(&j);
	j_open(&j, "fds", '[');
	for (int i = 0; i < c->nfds; i++) {
		const struct img_fd *d = &c->fds[i].f;
		j_open(&j, 0, '{');
		j_num(&j, "fd", d->fd);
		j_num(&j, "fdFlags", d->fd_flags);
		j_num(&j, "kind", d->kind);
		j_num(&j, "openFlags", d->open_flags);
		j_num(&j, "dupOf", d->dup_of);
		j_u64(&j, "offset", d->offset);
		j_u64(&j, "dev", d->dev);
		j_u64(&j, "inode", d->inode);
		j_num(&j, "mode", d->mode);
		j_str(&j, "path", d->path);
		j_fd_extra(&j, &c->fds[i]);
		for (int k = 0; k < c->nshares; k++) {
			const struct img_fd_share *sh = &c->shares[k];
			if (sh->fd != d->fd)
				continue;
			j_open(&j, "share", '{');
			j_num(&j, "fd", sh->fd);
			j_num(&j, "flags", sh->flags);
			j_u64(&j, "shareId", sh->share_id);
			j_close(&j);
		}
		int nl = 0;
		for (int k = 0; k < c->nlocks; k++)
			nl += c->locks[k].fd == d->fd;
		if (nl) {
			j_open(&j, "locks", '[');
			for (int k = 0; k < c->nlocks; k++) {
				const struct img_fd_lock *l = &c->locks[k];
				if (l->fd != d->fd)
					continue;
				j_open(&j, 0, '{');
				j_num(&j, "fd", l->fd);
				j_num(&j, "kind", l->kind);
				j_num(&j, "type", l->type);
				j_u64(&j, "start", l->start);
				j_u64(&j, "end", l->end);
				j_close(&j);
			}
			j_close(&j);
		}
		j_str(&j, "kindName", fd_kinds[d->kind]);
		j_close(&j);
	}
	j_close(&j);
	j_open(&j, "fileData", '[');
	for (int i = 0, k = 0; i < img->nrec; i++) {
		if (img->rec[i].type != REC_FILEDATA)
			continue;
		const struct filedata_spec *d = &c->filedata[k++];
		uint64_t head_end = img->rec[i].off + IMG_REC_HEADER + IMG_FILEDATA_HEAD;
		j_open(&j, 0, '{');
		j_u64(&j, "fileId", d->file_id);
		j_u64(&j, "offset", d->offset);
		j_num(&j, "len", d->len);
		j_num(&j, "dataOffset", (int64_t)((head_end + PAGE - 1) & ~(uint64_t)(PAGE - 1)));
		j_close(&j);
	}
	j_close(&j);
	j_kernel_state(&j, c);
	j_open(&j, "chunks", '[');
	uint64_t content = 0;
	for (int i = 0, k = 0; i < img->nrec; i++) {
		if (img->rec[i].type != REC_CHUNK)
			continue;
		const struct chunk_spec *s = &c->chunks[k++];
		uint64_t head_end = img->rec[i].off + IMG_REC_HEADER + IMG_CHUNK_HEAD;
		j_open(&j, 0, '{');
		j_u64(&j, "addr", s->addr);
		j_u64(&j, "rawLen", (uint64_t)s->pages * PAGE);
		j_num(&j, "encoding", img->rec[i].enc);
		j_num(&j, "storedLen", img->rec[i].stored);
		j_num(&j, "dataOffset", (int64_t)((head_end + PAGE - 1) & ~(uint64_t)(PAGE - 1)));
		j_close(&j);
		content += (uint64_t)s->pages * PAGE;
	}
	j_close(&j);
	for (int i = 0; i < c->npages; i++)
		content += (uint64_t)c->pages[i].n * PAGE;
	j_open(&j, "end", '{');
	j_u64(&j, "records", (uint64_t)img->nrec - 1);
	j_u64(&j, "chunks", (uint64_t)c->nchunks + (uint64_t)c->npages);
	j_u64(&j, "contentBytes", content);
	j_u64(&j, "endOffset", img->rec[img->nrec - 1].off);
	j_close(&j);
	j_open(&j, "unknownRecords", '[');
	for (int i = 0; i < img->nrec; i++) {
		uint16_t t = img->rec[i].type;
		if ((t >= REC_INFO && t <= REC_POSIX_TIMER) || t == REC_FILEDATA || t == REC_FD_SHARE || t == REC_FD_LOCK ||
		    t == REC_SEM_UNDO || t == REC_END || t == REC_PARENT || t == REC_REFS || t == REC_PAGES)
			continue;
		j_open(&j, 0, '{');
		j_num(&j, "type", t);
		j_num(&j, "offset", (int64_t)img->rec[i].off);
		j_num(&j, "length", img->rec[i].len);
		j_close(&j);
	}
	j_close(&j);
	j_lit(&j, "verified", "true");
	if (c->incremental)
		j_incremental(&j, c, img);
	j_close(&j);
	fputc('\n', f);
	if (fclose(f))
		die(file);
}

/* ---- files ---- */

static const char *outdir;

static void write_file(const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		die(path);
}

void good(const char *name, const struct content *c, struct image *img)
{
	char file[4096];
	build(c, img);
	snprintf(file, sizeof(file), "%s.img", name);
	write_file(file, img->b, img->n);
	snprintf(file, sizeof(file), "%s/%s.json", outdir, name);
	write_json(file, c, img);
}

void bad(const char *name, const uint8_t *b, size_t n, const char *fmt, ...)
{
	char file[256], text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text) - 1, fmt, ap);
	va_end(ap);
	strcat(text, "\n");
	snprintf(file, sizeof(file), "bad/%s.img", name);
	write_file(file, b, n);
	snprintf(file, sizeof(file), "bad/%s.txt", name);
	write_file(file, text, strlen(text));
}

void bad_built(const char *name, const struct content *c, int rec, const char *fmt)
{
	struct image img;
	build(c, &img);
	char text[512];
	snprintf(text, sizeof(text), fmt, rec >= 0 ? name_of(&img, rec) : "");
	bad(name, img.b, img.n, "%s", text);
	free(img.b);
}

/* ---- byte surgery on a copy of a good image ---- */

uint8_t *copy(const struct image *img)
{
	uint8_t *b = malloc(img->n + 64);
	if (!b)
		die("malloc");
	memcpy(b, img->b, img->n);
	return b;
}

void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Recomputes a record's CRC, so that only the meaning of what changed is wrong. */
void fix_crc(uint8_t *b, const struct rec_at *r)
{
	put32(b + r->off + 12, crc32c(0, b + r->off + IMG_REC_HEADER, r->len));
}

void fix_header_crc(uint8_t *b)
{
	put32(b + 24, crc32c(0, b, 24));
}

int find(const struct image *img, uint16_t type, int nth)
{
	for (int i = 0; i < img->nrec; i++)
		if (img->rec[i].type == type && nth-- == 0)
			return i;
	fprintf(stderr, "no record of type %u\n", type);
	exit(1);
}

/* "record #N (TYPE) at offset X", as both readers name a record. */
const char *name_of(const struct image *img, int i)
{
	static char s[8][96];
	static int k;
	static const char *const names[32] = { [1] = "INFO", [2] = "PROCESS", [3] = "REGION",
					       [4] = "THREAD", [5] = "FD", [6] = "CHUNK", [7] = "PROC_STATE",
					       [8] = "THREAD_STATE", [9] = "POSIX_TIMER", [10] = "FILEDATA",
					       [11] = "FD_SHARE", [12] = "FD_LOCK", [13] = "SEM_UNDO", [14] = "REFS",
					       [15] = "END", [16] = "PARENT", [17] = "PAGES" };
	char *out = s[k++ % 8], t[16];
	uint16_t type = img->rec[i].type;
	if (type < 32 && names[type])
		snprintf(t, sizeof(t), "%s", names[type]);
	else
		snprintf(t, sizeof(t), "type %u", type);
	snprintf(out, 96, "record #%d (%s) at offset %llu", i, t, (unsigned long long)img->rec[i].off);
	return out;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: image-vectors DIR\n");
		return 2;
	}
	outdir = argv[1];
	char path[4096];
	snprintf(path, sizeof(path), "%s/bad", outdir);
	mkdir(outdir, 0755);
	mkdir(path, 0755);
	setup();
	struct image rich, minimal;
	struct content c = rich_content();
	good("rich", &c, &rich);
	c = minimal_content();
	good("minimal", &c, &minimal);
	bad_vectors(&minimal);
	struct image incremental;
	c = incremental_content();
	good("incremental", &c, &incremental);
	incremental_bad_vectors();
	return 0;
}
