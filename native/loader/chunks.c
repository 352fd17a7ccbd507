/*
 * Walking the CHUNK and END records (docs/image-format.md), in the order and with the words
 * of src/image/reader.ts. The caller decides where a chunk's data goes.
 */
#include "chunks.h"
#include "chunk-decode.h"
#include "refs.h"
#include "rt.h"
#include "../common/crc32c.h"
#include "../common/fmt.h"
#include "../common/img.h"
#include "../common/sys.h"
#include "../common/wire.h"

const struct m_region *rst_region_of(const struct meta *m, uint64_t addr, uint64_t len)
{
	/* The regions go up and do not overlap (meta.c checks): a binary search. */
	int lo = 0, hi = m->nregions;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (m->regions[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == m->nregions)
		return 0;
	const struct m_region *g = &m->regions[lo];
	return addr >= g->start && addr + len <= g->end && addr + len > addr ? g : 0;
}

int rst_region_mappable(const struct m_region *g)
{
	return (g->kind == RK_ANON || g->kind == RK_HEAP) && !(g->flags & (RF_SHARED | RF_GROWSDOWN));
}

int rst_chunk_target(const struct meta *m, uint64_t addr, uint64_t len)
{
	const struct m_region *g = rst_region_of(m, addr, len);
	if (!g)
		return 0;
	int none = g->kind == RK_VDSO || g->kind == RK_VVAR || g->kind == RK_VVAR_VCLOCK ||
		   g->kind == RK_VSYSCALL ||
		   (g->kind == RK_FILE && (g->flags & RF_SHARED) && !(g->flags & RF_CONTENT));
	return none ? -1 : 1;
}

/* Dies with "NAME<a><number><b>". */
static __attribute__((noreturn)) void die_num(const struct img_cursor *c, const char *a, uint64_t v,
					      const char *b)
{
	char mem[64];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, a);
	sb_udec(&s, v);
	rst_rec_die(c, REC_CHUNK, sb_cstr(&s), b);
}

static void check_chunk(struct meta *m, const struct rec_head *h, struct chunk *k)
{
	const struct img_cursor *c = &m->cur;
	if (h->len < IMG_CHUNK_HEAD)
		die_num(c, " is ", h->len, " bytes, shorter than a chunk head");
	uint8_t head[IMG_CHUNK_HEAD];
	uint64_t payload_at = c->off + IMG_REC_HEADER;
	rst_pread_all(c, head, sizeof(head), payload_at);
	struct rbuf r;
	rb_init(&r, head, sizeof(head));
	uint64_t addr = rb_u64(&r), raw = rb_u64(&r);
	uint32_t enc = rb_u32(&r), stored = rb_u32(&r), pad = rb_u32(&r);
	uint64_t data_at = payload_at + IMG_CHUNK_HEAD + pad;
	if (pad >= IMG_CHUNK_ALIGN || data_at % IMG_CHUNK_ALIGN)
		die_num(c, ": data at offset ", data_at, " is not 4096-aligned");
	if ((uint64_t)IMG_CHUNK_HEAD + pad + stored != h->len) {
		char mem[96];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, ": head says ");
		sb_udec(&s, (uint64_t)IMG_CHUNK_HEAD + pad + stored);
		sb_str(&s, " bytes, record has ");
		sb_udec(&s, h->len);
		rst_rec_die(c, REC_CHUNK, sb_cstr(&s), "");
	}
	if (enc > IMG_ENC_SHUF8_ZSTD)
		die_num(c, " uses chunk encoding ", enc, ", not supported by this stasis");
	if (enc == IMG_ENC_RAW ? stored != raw : stored >= raw) {
		char mem[96];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, enc == IMG_ENC_RAW ? ": raw chunk stores " : enc == IMG_ENC_ZSTD ? ": zstd chunk stores " : ": shuffled zstd chunk stores ");
		sb_udec(&s, stored);
		sb_str(&s, " bytes for ");
		sb_udec(&s, raw);
		rst_rec_die(c, REC_CHUNK, sb_cstr(&s), enc == IMG_ENC_RAW ? "" : ", not fewer");
	}
	uint64_t page = m->page_size;
	char mem[96];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	sb_str(&s, ": chunk 0x");
	sb_hex(&s, addr);
	if (raw == 0 || raw > IMG_CHUNK_MAX || raw % page || addr % page) {
		sb_str(&s, "+");
		sb_udec(&s, raw);
		rst_rec_die(c, REC_CHUNK, sb_cstr(&s), " is not a whole number of pages up to 8 MiB");
	}
	int target = rst_chunk_target(m, addr, raw);
	if (target <= 0) {
		sb_str(&s, "-0x");
		sb_hex(&s, addr + raw);
		rst_rec_die(c, REC_CHUNK, sb_cstr(&s),
			    target ? " lies in a region whose content is not stored"
				   : " lies outside the recorded memory regions");
	}
	uint8_t zeros[IMG_CHUNK_ALIGN];
	rst_pread_all(c, zeros, pad, payload_at + IMG_CHUNK_HEAD);
	for (uint32_t i = 0; i < pad; i++)
		if (zeros[i])
			rst_rec_die(c, REC_CHUNK, "", ": nonzero bytes in the alignment pad");
	k->addr = addr;
	k->raw = raw;
	k->enc = enc;
	k->stored = stored;
	k->data_at = data_at;
	k->crc = h->crc;
	k->crc_head = crc32c(crc32c(0, head, sizeof(head)), zeros, pad);
	k->index = c->index;
	k->off = c->off;
}

static void check_end(struct meta *m, const struct rec_head *h)
{
	struct img_cursor *c = &m->cur;
	rst_rec_check_streaming(c, h);
	rst_payload_fits(c, REC_END, h->len < 32, h->len, 32);
	uint8_t e[32];
	rst_pread_all(c, e, sizeof(e), c->off + IMG_REC_HEADER);
	struct rbuf r;
	rb_init(&r, e, sizeof(e));
	m->end_records = rb_u64(&r);
	m->end_chunks = rb_u64(&r);
	m->end_content = rb_u64(&r);
	m->end_offset = rb_u64(&r);
	static const char *const fields[4] = { "records", "chunks", "content_bytes", "end_offset" };
	const uint64_t got[4] = { m->end_records, m->end_chunks, m->end_content, m->end_offset };
	const uint64_t want[4] = { c->index, m->nchunks, m->content, c->off };
	for (int i = 0; i < 4; i++) {
		if (got[i] == want[i])
			continue;
		char mem[160];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_str(&s, "truncated or spliced: END says ");
		sb_str(&s, fields[i]);
		sb_str(&s, " ");
		sb_udec(&s, got[i]);
		sb_str(&s, ", the file has ");
		sb_udec(&s, want[i]);
		rst_img_die(c, &s);
	}
	uint64_t next = rst_rec_next(c->off, h->len);
	if (next != c->size) {
		char mem[160];
		struct sbuf s;
		sb_init(&s, mem, sizeof(mem));
		sb_udec(&s, c->size - next);
		sb_str(&s, " bytes of trailing data after the END record at offset ");
		sb_udec(&s, c->off);
		rst_img_die(c, &s);
	}
	/* Checked last, as the TypeScript reader does. */
	if (!c->have_process || !m->nthreads) {
		rst_say(c->path, c->have_process ? ": no THREAD record" : ": no PROCESS record", 0);
		rst_exit_failed();
	}
}

int rst_next_chunk(struct meta *m, struct chunk *k)
{
	struct img_cursor *c = &m->cur;
	for (;;) {
		struct rec_head h;
		if (m->have_pending) {
			h = m->pending;
			m->have_pending = 0;
		} else {
			rst_rec_head(c, &h);
			rst_rec_order(c, &h);
		}
		if (h.type == REC_CHUNK) {
			check_chunk(m, &h, k);
			if (k->enc != IMG_ENC_RAW && !m->unzstd.in)
				rst_unzstd_init(&m->unzstd, m->arena);
			m->nchunks++;
			m->content += k->raw;
			rst_rec_skip(c, &h);
			return 1;
		}
		if (h.type == REC_PAGES) {
			m->content += rst_pages_record(m, &h);
			m->nchunks++;
			rst_rec_skip(c, &h);
			continue;
		}
		if (h.type == REC_END) {
			check_end(m, &h);
			return 0;
		}
		/* Known types before CHUNK failed the order check: a later version's record. */
		m->nunknown++;
		if (h.len <= META_MAX_RECORD)
			rst_rec_check_streaming(c, &h);
		rst_rec_skip(c, &h);
	}
}

void rst_chunk_die(const struct meta *m, const struct chunk *k, const char *why)
{
	struct img_cursor c = m->cur;
	c.index = k->index;
	c.off = k->off;
	char mem[512];
	struct sbuf s;
	sb_init(&s, mem, sizeof(mem));
	if (!why) {
		sb_str(&s, "CRC mismatch in ");
		rst_rec_name(&s, &c, REC_CHUNK);
		sb_str(&s, " (chunk data)");
	} else {
		rst_rec_name(&s, &c, REC_CHUNK);
		sb_str(&s, ": chunk data ");
		sb_str(&s, why);
	}
	rst_img_die(&c, &s);
}

int rst_chunk_decode(const struct rst_unzstd *z, const struct chunk *k, const uint8_t *data, void *dst,
		     struct sbuf *why)
{
	if (crc32c(k->crc_head, data, k->stored) != k->crc)
		return 1;
	if (k->enc != IMG_ENC_RAW && rst_unzstd(z, data, k->stored, dst, k->raw, k->enc == IMG_ENC_SHUF8_ZSTD, why))
		return 2;
	return 0;
}

void rst_read_chunk(const struct meta *m, const struct chunk *k, void *dst)
{
	struct img_cursor c = m->cur;
	c.index = k->index;
	c.off = k->off;
	/* A zstd chunk's data goes through the decoder's buffer, checked before it is decoded. */
	uint8_t *data = k->enc != IMG_ENC_RAW ? m->unzstd.in : dst;
	rst_pread_all(&c, data, k->stored, k->data_at);
	char whymem[128];
	struct sbuf why;
	sb_init(&why, whymem, sizeof(whymem));
	int r = rst_chunk_decode(&m->unzstd, k, data, dst, &why);
	if (r)
		rst_chunk_die(m, k, r == 1 ? 0 : sb_cstr(&why));
}

int rst_fill_file(const struct meta *m, uint64_t id, int dst, uint8_t *buf, size_t cap)
{
	for (int i = 0; i < m->nfdata; i++) {
		const struct m_filedata *d = &m->fdata[i];
		if (d->file_id != id)
			continue;
		struct img_cursor c = m->cur;
		c.index = d->index;
		c.off = d->off;
		uint32_t crc = d->crc_head;
		for (uint32_t done = 0; done < d->len;) {
			uint32_t n = d->len - done < cap ? d->len - done : (uint32_t)cap;
			rst_pread_all(&c, buf, n, d->data_at + done);
			crc = crc32c(crc, buf, n);
			for (uint32_t put = 0; dst >= 0 && put < n;) {
				long w = sys_call4(SYS_pwrite64_, dst, (long)(buf + put), n - put,
						   (long)(d->offset + done + put));
				if (w == -4)
					continue;
				if (w <= 0)
					return w ? (int)w : -28;
				put += (uint32_t)w;
			}
			done += n;
		}
		if (crc != d->crc) {
			char mem[512];
			struct sbuf s;
			sb_init(&s, mem, sizeof(mem));
			sb_str(&s, "CRC mismatch in ");
			rst_rec_name(&s, &c, REC_FILEDATA);
			sb_str(&s, " (file data)");
			rst_img_die(&c, &s);
		}
	}
	return 0;
}
