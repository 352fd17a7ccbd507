/*
 * Writes image format v1 (docs/image-format.md). Small records are staged and written in
 * large blocks; a large chunk's data goes from where it is (the process's memory, or a
 * compressed copy: chunk-writer.c) to the file in one writev, placed at a 4096-aligned
 * offset so a loader may map it in place. The payload encoders at the end are the one C
 * definition of each record's fields and their order.
 */
#include <sys/uio.h>
#include "image.h"
#include "../common/crc32c.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

static const uint8_t zeros[IMG_CHUNK_ALIGN];

/* Writeback is started (sync_file_range, SYNC_FILE_RANGE_WRITE: it does not wait) for
 * every this many bytes written, so the disk writes the image while the writer goes on
 * compressing, and the fsync at the end has only the last few to wait for. Left to the
 * kernel, writeback would start only once a tenth or so of the machine's memory is dirty:
 * for most images, at that fsync. */
#define KICK_BYTES (32ull << 20)

static void kick_writeback(struct img_out *o)
{
	if (o->off - o->kicked < KICK_BYTES)
		return;
	uint64_t end = o->off & ~(uint64_t)4095;
	sys_call4(SYS_sync_file_range_, o->fd, (long)o->kicked, (long)(end - o->kicked), 2 /* WRITE */);
	o->kicked = end;
}

static long write_all_v(int fd, struct iovec *iov, int n)
{
	long total = 0;
	while (n > 0) {
		long w = sys_call3(SYS_writev_, fd, (long)iov, n);
		if (w == -4)
			continue;
		if (w < 0)
			return w;
		if (w == 0)
			return -28;
		total += w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (long)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return total;
}

static void flush(struct img_out *o)
{
	if (o->err || !o->blen)
		return;
	struct iovec v = { o->buf, o->blen };
	long w = write_all_v(o->fd, &v, 1);
	if (w < 0)
		o->err = w;
	o->blen = 0;
	kick_writeback(o);
}

static void stage(struct img_out *o, const void *p, size_t n)
{
	if (o->blen + n > o->bcap)
		flush(o);
	if (n > o->bcap) {
		struct iovec v = { (void *)p, n };
		long w = write_all_v(o->fd, &v, 1);
		if (w < 0 && !o->err)
			o->err = w;
		o->off += n;
		kick_writeback(o);
		return;
	}
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		o->buf[o->blen + i] = s[i];
	o->blen += n;
	o->off += n;
}

static void rec_header(uint8_t h[IMG_REC_HEADER], uint16_t type, uint32_t len, uint32_t crc)
{
	struct wbuf w;
	wb_init(&w, h, IMG_REC_HEADER);
	wb_u32(&w, IMG_REC_MAGIC);
	wb_u16(&w, type);
	wb_u16(&w, 0);
	wb_u32(&w, len);
	wb_u32(&w, crc);
}

void img_open(struct img_out *o, int fd, uint8_t *buf, size_t cap)
{
	o->fd = fd;
	o->off = 0;
	o->buf = buf;
	o->blen = 0;
	o->bcap = cap;
	o->nrec = o->nchunk = o->content = 0;
	o->err = 0;
	o->kicked = 0;
	uint8_t h[IMG_HEADER_SIZE];
	struct wbuf w;
	wb_init(&w, h, sizeof(h));
	wb_bytes(&w, IMG_MAGIC, 8);
	wb_u32(&w, IMG_VERSION);
	wb_u32(&w, IMG_HEADER_SIZE);
	wb_u64(&w, 0);
	wb_u32(&w, crc32c(0, h, 24));
	wb_u32(&w, 0);
	stage(o, h, sizeof(h));
}

void img_record(struct img_out *o, uint16_t type, const void *payload, uint32_t len)
{
	uint8_t h[IMG_REC_HEADER];
	rec_header(h, type, len, crc32c(0, payload, len));
	stage(o, h, sizeof(h));
	stage(o, payload, len);
	stage(o, zeros, (8 - (len & 7)) & 7);
	o->nrec++;
}

void img_rewrite_record(struct img_out *o, uint64_t at, uint16_t type, const void *payload, uint32_t len)
{
	uint8_t rec[IMG_REC_HEADER + 8192];
	if (len > sizeof(rec) - IMG_REC_HEADER) {
		if (!o->err)
			o->err = -22;
		return;
	}
	rec_header(rec, type, len, crc32c(0, payload, len));
	const uint8_t *s = payload;
	for (uint32_t i = 0; i < len; i++)
		rec[IMG_REC_HEADER + i] = s[i];
	flush(o);
	for (size_t off = 0, n = IMG_REC_HEADER + len; off < n;) {
		long w = sys_call4(SYS_pwrite64_, o->fd, (long)(rec + off), (long)(n - off), (long)(at + off));
		if (w == -4)
			continue;
		if (w <= 0) {
			if (!o->err)
				o->err = w ? w : -5;
			return;
		}
		off += (size_t)w;
	}
}

/* Data up to this size is copied into the staging buffer, so that many small records
 * (compressed chunks, sparse memory) leave in few large writes; larger data is written
 * from where it is, in one writev with what was staged before it. */
#define STAGE_DATA_MAX (64u << 10)

/* A record of a 32-byte head, zeros up to a 4096-aligned file offset, and len bytes of
 * data whose CRC-32C (from 0) is data_crc: CHUNK and FILEDATA. */
static void aligned_record(struct img_out *o, uint16_t type, const uint8_t head32[32], const void *mem,
			   uint64_t len, uint32_t data_crc)
{
	uint8_t head[IMG_REC_HEADER + 32];
	uint64_t data_at = o->off + sizeof(head);
	uint32_t pad = (uint32_t)((IMG_CHUNK_ALIGN - (data_at & (IMG_CHUNK_ALIGN - 1))) & (IMG_CHUNK_ALIGN - 1));
	for (int i = 0; i < 32; i++)
		head[IMG_REC_HEADER + i] = head32[i];
	/* Both heads hold the pad's length at offset 24. */
	struct wbuf w;
	wb_init(&w, head + IMG_REC_HEADER + 24, 4);
	wb_u32(&w, pad);
	uint32_t crc = crc32c(0, head + IMG_REC_HEADER, 32);
	crc = crc32c(crc, zeros, pad);
	crc = crc32c_combine(crc, data_crc, len);
	uint32_t plen = 32 + pad + (uint32_t)len;
	uint32_t tail = (8 - (plen & 7)) & 7;
	rec_header(head, type, plen, crc);
	stage(o, head, sizeof(head));
	stage(o, zeros, pad);
	o->nrec++;
	if (len <= STAGE_DATA_MAX) {
		stage(o, mem, len);
		stage(o, zeros, tail);
		return;
	}
	struct iovec v[3] = { { o->buf, o->blen }, { (void *)mem, len }, { (void *)zeros, tail } };
	long wr = o->err ? 0 : write_all_v(o->fd, v, 3);
	if (wr < 0 && !o->err)
		o->err = wr;
	o->blen = 0;
	o->off += len + tail;
	kick_writeback(o);
}

void img_chunk_stored(struct img_out *o, uint64_t addr, uint64_t raw_len, uint32_t encoding, const void *data,
		      uint32_t stored, uint32_t data_crc)
{
	uint8_t head[IMG_CHUNK_HEAD];
	struct wbuf w;
	wb_init(&w, head, sizeof(head));
	wb_u64(&w, addr);
	wb_u64(&w, raw_len);
	wb_u32(&w, encoding);
	wb_u32(&w, stored);
	wb_u32(&w, 0); /* pad */
	wb_u32(&w, 0);
	aligned_record(o, REC_CHUNK, head, data, stored, data_crc);
	o->nchunk++;
	o->content += raw_len;
}

void img_chunk(struct img_out *o, uint64_t addr, const void *mem, uint64_t len)
{
	img_chunk_stored(o, addr, len, IMG_ENC_RAW, mem, (uint32_t)len, crc32c(0, mem, len));
}

void img_filedata(struct img_out *o, uint64_t file_id, uint64_t offset, const void *data, uint32_t len)
{
	uint8_t head[IMG_FILEDATA_HEAD];
	struct wbuf w;
	wb_init(&w, head, sizeof(head));
	wb_u64(&w, file_id);
	wb_u64(&w, offset);
	wb_u32(&w, len);
	wb_u32(&w, 0);
	wb_u32(&w, 0); /* pad */
	wb_u32(&w, 0);
	aligned_record(o, REC_FILEDATA, head, data, len, crc32c(0, data, len));
}

long img_finish(struct img_out *o)
{
	uint8_t p[32];
	struct wbuf w;
	wb_init(&w, p, sizeof(p));
	wb_u64(&w, o->nrec);
	wb_u64(&w, o->nchunk);
	wb_u64(&w, o->content);
	wb_u64(&w, o->off);
	img_record(o, REC_END, p, sizeof(p));
	flush(o);
	return o->err;
}

/* ---- for records written outside this file (image-incr.c) ---- */

void img_set_flags(struct img_out *o, uint64_t flags)
{
	/* The header is still staged: nothing is written before the first flush. */
	if (o->off - o->blen != 0 || o->blen < IMG_HEADER_SIZE) {
		if (!o->err)
			o->err = -22;
		return;
	}
	struct wbuf w;
	wb_init(&w, o->buf + 16, 8);
	wb_u64(&w, flags);
	wb_init(&w, o->buf + 24, 4);
	wb_u32(&w, crc32c(0, o->buf, 24));
}

void img_put_bytes(struct img_out *o, const void *p, size_t n)
{
	stage(o, p, n);
}

void img_put_iov(struct img_out *o, struct iovec *v, int n)
{
	flush(o);
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += v[i].iov_len;
	long w = o->err ? 0 : write_all_v(o->fd, v, n);
	if (w < 0 && !o->err)
		o->err = w;
	o->off += len;
	kick_writeback(o);
}

/* ---- record payloads, field by field as docs/image-format.md lists them ---- */

void img_put_info(struct wbuf *w, const struct img_info *v)
{
	wb_u32(w, v->page_size);
	wb_u32(w, v->flags);
	wb_u64(w, v->created_unix_ns);
	wb_u64(w, v->ckpt_id);
	wb_str(w, v->machine);
	wb_str(w, v->kernel_release);
	wb_str(w, v->kernel_version);
	wb_str(w, v->glibc_version);
	wb_str(w, v->hostname);
	wb_str(w, v->stasis_version);
}

void img_put_process(struct wbuf *w, const struct img_process *v)
{
	wb_u32(w, v->pid);
	wb_u32(w, v->ppid);
	wb_u32(w, v->pgid);
	wb_u32(w, v->sid);
	wb_u32(w, v->uid);
	wb_u32(w, v->gid);
	wb_u32(w, v->umask);
	wb_u32(w, 0);
	wb_u64(w, v->proc_id);
	const uint64_t mm[11] = { v->start_code, v->end_code, v->start_data, v->end_data,
				  v->start_brk, v->brk, v->start_stack, v->arg_start, v->arg_end,
				  v->env_start, v->env_end };
	for (int i = 0; i < 11; i++)
		wb_u64(w, mm[i]);
	wb_u64(w, v->restart_entry);
	wb_u64(w, v->restart_info);
	wb_u32(w, v->restart_info_size);
	wb_u32(w, 0);
	wb_u64(w, (uint64_t)v->rseq_offset);
	wb_u32(w, v->rseq_size);
	wb_u32(w, v->rseq_sig);
	wb_u32(w, v->nsig);
	for (uint32_t s = 0; s < v->nsig; s++) {
		wb_u64(w, v->sigactions[s].handler);
		wb_u64(w, v->sigactions[s].flags);
		wb_u64(w, v->sigactions[s].restorer);
		wb_u64(w, v->sigactions[s].mask);
	}
	wb_u32(w, v->nrlimit);
	for (uint32_t r = 0; r < v->nrlimit; r++) {
		wb_u64(w, v->rlimits[r].cur);
		wb_u64(w, v->rlimits[r].max);
	}
	wb_str(w, v->cwd);
	wb_str(w, v->exe);
	wb_str(w, v->comm);
	wb_u32(w, v->auxv_len);
	wb_bytes(w, v->auxv, v->auxv_len);
}

void img_put_region(struct wbuf *w, const struct img_region *v)
{
	wb_u64(w, v->start);
	wb_u64(w, v->end);
	wb_u64(w, v->file_offset);
	wb_u32(w, v->prot);
	wb_u32(w, v->flags);
	wb_u32(w, v->kind);
	wb_u32(w, 0);
	wb_u64(w, v->dev);
	wb_u64(w, v->inode);
	wb_u64(w, v->file_size);
	wb_u64(w, (uint64_t)v->file_mtime_ns);
	wb_str(w, v->path);
}

void img_put_thread(struct wbuf *w, const struct img_thread *v)
{
	wb_u32(w, v->tid);
	wb_u32(w, v->flags);
	wb_u64(w, v->fs_base);
	wb_u64(w, v->gs_base);
	wb_u64(w, v->clear_child_tid);
	wb_u64(w, v->robust_list);
	wb_u64(w, v->robust_list_len);
	wb_u64(w, v->sigmask);
	wb_u64(w, v->altstack_sp);
	wb_u64(w, v->altstack_size);
	wb_u32(w, v->altstack_flags);
	wb_u32(w, 0);
	wb_u64(w, v->resume_sp);
	wb_u32(w, v->ngregs);
	for (uint32_t i = 0; i < v->ngregs; i++)
		wb_u64(w, v->gregs ? v->gregs[i] : 0);
	wb_u32(w, v->xsave_len);
	wb_bytes(w, v->xsave, v->xsave_len);
}

void img_put_fd_share(struct wbuf *w, const struct img_fd_share *v)
{
	wb_u32(w, (uint32_t)v->fd);
	wb_u32(w, v->flags);
	wb_u64(w, v->share_id);
}

void img_put_fd_lock(struct wbuf *w, const struct img_fd_lock *v)
{
	wb_u32(w, (uint32_t)v->fd);
	wb_u32(w, v->kind);
	wb_u32(w, v->type);
	wb_u32(w, 0);
	wb_u64(w, v->start);
	wb_u64(w, v->end);
}

void img_put_fd(struct wbuf *w, const struct img_fd *v)
{
	wb_u32(w, (uint32_t)v->fd);
	wb_u32(w, v->fd_flags);
	wb_u32(w, v->kind);
	wb_u32(w, v->open_flags);
	wb_u32(w, (uint32_t)v->dup_of);
	wb_u32(w, 0);
	wb_u64(w, v->offset);
	wb_u64(w, v->dev);
	wb_u64(w, v->inode);
	wb_u32(w, v->mode);
	wb_u32(w, v->extra_len);
	wb_str(w, v->path);
	wb_bytes(w, v->extra, v->extra_len);
}

void img_put_proc_state(struct wbuf *w, const struct img_proc_state *v)
{
	wb_u64(w, (uint64_t)v->realtime_ns);
	wb_u64(w, (uint64_t)v->monotonic_ns);
	wb_u64(w, (uint64_t)v->boottime_ns);
	wb_u32(w, v->personality);
	wb_u32(w, v->flags);
	wb_u32(w, v->dumpable);
	wb_u32(w, 0);
	for (int i = 0; i < 3; i++) {
		wb_u64(w, v->itimers[i].value_ns);
		wb_u64(w, v->itimers[i].interval_ns);
	}
	wb_u32(w, v->nsiginfo);
	wb_u32(w, 0);
	wb_bytes(w, v->siginfo, (size_t)v->nsiginfo * IMG_SIGINFO_SIZE);
}

void img_put_thread_state(struct wbuf *w, const struct img_thread_state *v)
{
	wb_u32(w, v->tid);
	wb_u32(w, v->flags);
	wb_u32(w, (uint32_t)v->nice);
	wb_u32(w, v->pdeathsig);
	wb_u64(w, v->timer_slack_ns);
	wb_str(w, v->comm);
	wb_u32(w, v->affinity_len);
	wb_bytes(w, v->affinity, v->affinity_len);
	wb_u32(w, v->nsiginfo);
	wb_bytes(w, v->siginfo, (size_t)v->nsiginfo * IMG_SIGINFO_SIZE);
}

void img_put_sem_undo(struct wbuf *w, const struct img_sem_undo *v)
{
	wb_u32(w, (uint32_t)v->semid);
	wb_u32(w, v->n);
	for (uint32_t i = 0; i < v->n; i++) {
		wb_u32(w, v->adj[i].num);
		wb_u32(w, (uint32_t)v->adj[i].adj);
	}
}

void img_put_posix_timer(struct wbuf *w, const struct img_posix_timer *v)
{
	wb_u32(w, (uint32_t)v->timer_id);
	wb_u32(w, (uint32_t)v->clockid);
	wb_u32(w, v->notify);
	wb_u32(w, v->signo);
	wb_u32(w, v->notify_tid);
	wb_u32(w, 0);
	wb_u64(w, v->sigev_value);
	wb_u64(w, v->value_ns);
	wb_u64(w, v->interval_ns);
}
