/*
 * The vectors of incremental images (docs/image-format.md: PARENT, REFS, PAGES): a good
 * one with two parents, references into both, chunks and a PAGES record, and the damaged
 * ones, each named after its one defect. Written by image-vectors.c like the others.
 */
#include <stdlib.h>
#include <string.h>
#include "image-vectors.h"

static const struct img_region incr_regions[] = {
	{ 0x405000, 0x40c000, 0, 3, 0, RK_HEAP, 0, 0, 0, 0, "[heap]" },
	{ 0x7f0000000000, 0x7f0000010000, 0, 3, 0, RK_ANON, 0, 0, 0, 0, "" },
	{ 0x7ffff7fc5000, 0x7ffff7fc7000, 0, 5, 0, RK_VDSO, 0, 0, 0, 0, "[vdso]" },
};

static const struct img_thread incr_thread = { .tid = 4242, .flags = TF_LEADER, .fs_base = 0x7f000000f6c0 };

static const struct img_parent incr_parents[] = {
	{ 1052672, 0x1234abcdu, 0x4000, "gen-000001/app-4242.img" },
	{ 69632, 0x0badf00du, 0x1000, "gen-000002/app-4242.img" },
};

static const struct img_ref incr_refs[] = {
	{ 0x405000, 0x2000, 0, 0x1000 },
	{ 0x408000, 0x1000, 1, 0x2040 },
	{ 0x7f0000000000, 0x2000, 0, 0x5000 },
};

static const struct chunk_spec incr_chunks[] = {
	{ 0x407000, 1, 11 },
	{ 0x7f0000008000, 2, 12 },
};

static const uint64_t incr_page_addrs[] = { 0x409000, 0x40b000, 0x7f0000003000, 0x7f0000004000, 0x7f000000f000 };
static const struct pages_spec incr_pages = { incr_page_addrs, 5, 13 };

struct content incremental_content(void)
{
	return (struct content){
		.info = { .page_size = PAGE, .created_unix_ns = 1795298400999999999ull, .ckpt_id = 9, .machine = "x86_64",
			  .kernel_release = "6.18.0", .kernel_version = "#1 SMP", .glibc_version = "2.36",
			  .hostname = "vector-host", .stasis_version = "0.1.0" },
		.proc = { .pid = 4242, .ppid = 1, .pgid = 4242, .sid = 1, .cwd = "/", .exe = "/opt/vec/bin/app", .comm = "app" },
		.regions = incr_regions, .nregions = 3,
		.threads = &incr_thread, .nthreads = 1,
		.chunks = incr_chunks, .nchunks = 2,
		.incremental = 1,
		.parents = incr_parents, .nparents = 2,
		.refs = incr_refs, .nrefs = 3,
		.pages = &incr_pages, .npages = 1,
	};
}

/* A copy of the good content's references with one entry changed. */
static struct img_ref refs_copy[3];
static struct content with_ref(int k, struct img_ref e)
{
	struct content c = incremental_content();
	memcpy(refs_copy, incr_refs, sizeof(refs_copy));
	refs_copy[k] = e;
	c.refs = refs_copy;
	return c;
}

static uint64_t addrs_copy[5];
static struct pages_spec pages_copy;
static struct content with_page_addr(int k, uint64_t a)
{
	struct content c = incremental_content();
	memcpy(addrs_copy, incr_page_addrs, sizeof(addrs_copy));
	addrs_copy[k] = a;
	pages_copy = (struct pages_spec){ addrs_copy, 5, 13 };
	c.pages = &pages_copy;
	return c;
}

void incremental_bad_vectors(void)
{
	struct content c = incremental_content();
	c.incremental = 0;
	struct image img;
	build(&c, &img);
	bad_built("incremental-without-flag", &c, find(&img, REC_PARENT, 0), "%s needs the INCREMENTAL flag in the file header");
	free(img.b);
	c.nparents = 0;
	c.nrefs = 0;
	build(&c, &img);
	bad_built("pages-without-flag", &c, find(&img, REC_PAGES, 0), "%s needs the INCREMENTAL flag in the file header");
	free(img.b);

	static struct img_parent parents[2];
	memcpy(parents, incr_parents, sizeof(parents));
	parents[0].path = "../elsewhere/app-4242.img";
	c = incremental_content();
	c.parents = parents;
	bad_built("parent-path-not-a-generation", &c, 1, "%s: path is not of the form gen-NNNNNN/NAME");
	parents[0].path = incr_parents[0].path;
	parents[1].path = incr_parents[0].path;
	bad_built("parent-twice", &c, 2, "%s: path names the same image as an earlier PARENT record");
	c = incremental_content();
	c.parents_late = 1;
	bad_built("parent-after-process", &c, 2, "%s is out of order");

	c = incremental_content();
	build(&c, &img);
	int refs = find(&img, REC_REFS, 0);
	free(img.b);
	c = with_ref(1, (struct img_ref){ 0x408000, 0x1000, 2, 0x2040 });
	bad_built("refs-parent-missing", &c, refs, "%s: entry 1: parent 2 has no PARENT record");
	c = with_ref(1, (struct img_ref){ 0x406000, 0x1000, 1, 0x2040 });
	bad_built("refs-overlap", &c, refs, "%s: entry 1: 0x406000 overlaps or precedes the reference before it");
	c = with_ref(0, (struct img_ref){ 0x405000, 0x1800, 0, 0x1000 });
	bad_built("refs-partial-page", &c, refs, "%s: entry 0: 0x405000 is not a whole number of pages up to 8 MiB");
	c = with_ref(2, (struct img_ref){ 0x7ffff7fc5000, 0x1000, 0, 0x5000 });
	bad_built("refs-in-vdso", &c, refs, "%s: entry 2: 0x7ffff7fc5000 lies in a region whose content is not stored");
	c = with_ref(2, (struct img_ref){ 0x500000, 0x1000, 0, 0x5000 });
	bad_built("refs-outside-regions", &c, refs, "%s: entry 2: 0x500000 lies outside the recorded memory regions");
	c = with_ref(1, (struct img_ref){ 0x408000, 0x1000, 1, 0x2041 });
	bad_built("refs-record-offset", &c, refs, "%s: entry 1: record offset 0x2041 is not a record's");

	c = incremental_content();
	build(&c, &img);
	uint8_t *b = copy(&img);
	const struct rec_at *r = &img.rec[refs];
	put32(b + r->off + IMG_REC_HEADER, 4);
	fix_crc(b, r);
	bad("refs-count-mismatch", b, img.n, "%s: payload has 104 bytes for 4 entries", name_of(&img, refs));
	int pages = find(&img, REC_PAGES, 0);
	r = &img.rec[pages];
	b = copy(&img);
	b[r->off + r->len] ^= 0x10; /* a byte of the data */
	bad("pages-flipped-data", b, img.n, "CRC mismatch in %s (pages data)", name_of(&img, pages));
	b = copy(&img);
	put32(b + r->off + IMG_REC_HEADER, 0);
	fix_crc(b, r);
	bad("pages-none", b, img.n, "%s: holds 0 pages, not 1 to 2048", name_of(&img, pages));
	free(img.b);

	c = with_page_addr(1, 0x408000);
	bad_built("pages-unsorted", &c, pages, "%s: address 1 is not above the one before it");
	c = with_page_addr(1, 0x500000);
	bad_built("pages-outside-regions", &c, pages, "%s: address 1 lies outside the recorded memory regions");
	c = with_page_addr(0, 0x409800);
	bad_built("pages-misaligned", &c, pages, "%s: address 0 is not page aligned");
}
