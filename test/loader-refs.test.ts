/*
 * The restore loader's checks of the earlier images an incremental image refers to
 * (native/loader/refs.c), through `stasis-restore --check` (the checks stasis-init runs on
 * every image before it starts anything): each PARENT is opened beside the image's own
 * generation folder and must be the image it names (size, the CRC of its INFO record), and
 * each reference must lie in a CHUNK of it. Images written with the TypeScript encoder.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, TestContext } from 'node:test';
import { ImageParent, RecordType, RegionKind, THREAD_LEADER } from '../src/image/format';
import { readImage } from '../src/image/reader';
import { encodeImage, ImageContent } from '../src/image/writer';
import { nativePath } from '../src/native/paths';
import { sampleImage } from './helpers/image-fixture';
import { tmpDir } from './helpers/tmp';

const RESTORER = nativePath('restorer');
const skip = fs.existsSync(RESTORER) ? false : `${RESTORER} is not built (run \`make -C native\`)`;
const BASE = 0x7f0000000000n;

/** One anonymous region of 4 pages, one thread, no fds: what --check can judge anywhere. */
function content(chunks: ImageContent['chunks'], incremental?: ImageContent['incremental'], ckptId = 1n): ImageContent {
  const s = sampleImage();
  return {
    info: { ...s.info, ckptId }, process: s.process, fds: [],
    regions: [{ start: BASE, end: BASE + 0x4000n, fileOffset: 0n, prot: 3, flags: 0, kind: RegionKind.ANON, dev: 0n, inode: 0n, fileSize: 0n, fileMtimeNs: 0n, path: '' }],
    threads: [{ ...s.threads.find((t) => t.flags & THREAD_LEADER)!, gregs: [], xsave: Buffer.alloc(0) }],
    chunks, incremental,
  };
}

interface Setup { dir: string; child: string; parentPath: string; parent: Buffer; chunkAt: number }

/** gen-000001/p.img: a full image with one 3-page chunk; gen-000002/c.img: refers to two of its pages. */
function setup(t: TestContext, mutate: (p: ImageParent, refs: { recordAt: bigint; addr: bigint }) => void = () => {}): Setup {
  const dir = tmpDir(t);
  const parentImg = encodeImage(content([{ addr: BASE, data: Buffer.alloc(0x3000, 0x5a) }]));
  const chunkRec = parentImg.records.find((r) => r.type === RecordType.CHUNK)!;
  const info = parentImg.records.find((r) => r.type === RecordType.INFO)!;
  const infoCrc = parentImg.bytes.readUInt32LE(info.offset + 12);
  const p: ImageParent = { fileSize: BigInt(parentImg.bytes.length), infoCrc, refBytes: 0x2000n, path: 'gen-000001/p.img' };
  const ref = { recordAt: BigInt(chunkRec.offset), addr: BASE + 0x1000n };
  mutate(p, ref);
  const child = encodeImage(content([{ addr: BASE, data: Buffer.alloc(0x1000, 1) }],
    { parents: [p], refs: [{ addr: ref.addr, len: 0x2000n, parent: 0, recordAt: ref.recordAt }] }, 2n));
  for (const g of ['gen-000001', 'gen-000002']) fs.mkdirSync(path.join(dir, g));
  const parentPath = path.join(dir, 'gen-000001', 'p.img');
  fs.writeFileSync(parentPath, parentImg.bytes);
  const childPath = path.join(dir, 'gen-000002', 'c.img');
  fs.writeFileSync(childPath, child.bytes);
  return { dir, child: childPath, parentPath, parent: parentImg.bytes, chunkAt: chunkRec.offset };
}

function check(image: string): { status: number | null; out: string } {
  const r = spawnSync(RESTORER, ['--check', image], { encoding: 'utf8', timeout: 10000 });
  return { status: r.status, out: r.stderr + r.stdout };
}

function refused(s: Setup, pattern: RegExp): void {
  const r = check(s.child);
  assert.equal(r.status, 1, r.out);
  assert.equal(r.out.trim().split('\n').length, 1, `one line: ${JSON.stringify(r.out)}`);
  assert.match(r.out, pattern);
}

test('an incremental image whose parent is there and holds the pages passes the loader\'s checks', { skip }, async (t) => {
  const s = setup(t);
  const img = await readImage(s.child, { verify: true });
  assert.equal(img.incremental?.refs.length, 1);
  const r = check(s.child);
  assert.equal(r.status, 0, r.out);
});

test('a parent that is gone, changed or another image is refused, naming it', { skip }, (t) => {
  let s = setup(t);
  fs.rmSync(path.join(s.dir, 'gen-000001'), { recursive: true });
  refused(s, /refers to gen-000001\/p\.img, which cannot be opened: its generation is gone \(ENOENT\) — restart from a generation whose earlier generations are all there/);

  s = setup(t);
  fs.appendFileSync(s.parentPath, 'x');
  refused(s, /refers to gen-000001\/p\.img, which is not the image it was \(its size changed\)/);

  s = setup(t);
  const other = encodeImage(content([{ addr: BASE, data: Buffer.alloc(0x3000, 0x5a) }], undefined, 99n)).bytes;
  assert.equal(other.length, s.parent.length);
  fs.writeFileSync(s.parentPath, other);
  refused(s, /refers to gen-000001\/p\.img, which is not the image it was \(another checkpoint's\)/);
});

test('a reference to the wrong record, or to pages its chunk does not hold, is refused', { skip }, (t) => {
  let s = setup(t, (_p, ref) => (ref.recordAt += 8n));
  refused(s, /the reference to 0x7f0000001000-0x7f0000003000 in gen-000001\/p\.img: no CHUNK or PAGES record is at the offset it names/);
  s = setup(t, (_p, ref) => (ref.recordAt = 32n));
  refused(s, /no CHUNK or PAGES record is at the offset it names/);
  s = setup(t, (_p, ref) => (ref.addr = BASE + 0x2000n));
  refused(s, /the reference to 0x7f0000002000-0x7f0000004000 in gen-000001\/p\.img: the CHUNK it names does not hold those pages/);
});
