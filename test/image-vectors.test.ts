/*
 * The golden image vectors (test/vectors/image/, see its README) against every party that
 * reads images: the TypeScript reader must see exactly NAME.json in each good vector, the
 * restore loader's own parsing code (native/build/img-check) must see what the TypeScript
 * reader sees, both must reject every bad/NAME.img with the fragment in bad/NAME.txt, and
 * the C tool that wrote the vectors with the agent's writer must write the same bytes again.
 * A fuzzer seeded from the good vectors checks that neither reader fails in any other way
 * than a clean rejection, and that both always take the same decision.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ByteWriter } from '../src/binary/cursor';
import { StasisError } from '../src/errors';
import { crc32c } from '../src/image/crc32c';
import { imageToJson } from '../src/image/describe';
import { FdKind, ParsedImage, RecordType, REGION_KINDS, THREAD_CKPT, THREAD_LEADER } from '../src/image/format';
import { readImage } from '../src/image/reader';
import { encodeFdExtra } from '../src/image/records';
import { nativeBuildDir, packageRoot } from '../src/native/paths';
import { tmpDir } from './helpers/tmp';
import { rng } from './helpers/rng';

const DIR = path.join(packageRoot(), 'test', 'vectors', 'image');
const BAD_DIR = path.join(DIR, 'bad');
const IMG_CHECK = path.join(nativeBuildDir(), 'img-check');
const IMAGE_VECTORS = path.join(nativeBuildDir(), 'image-vectors');

function names(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.img')).map((n) => n.slice(0, -4)).sort();
}

const good = names(DIR);
const bad = names(BAD_DIR);
const skipCheck = fs.existsSync(IMG_CHECK) ? false : `${IMG_CHECK} is not built (run \`make -C native\`)`;
const skipVectors = fs.existsSync(IMAGE_VECTORS) ? false : `${IMAGE_VECTORS} is not built (run \`make -C native\`)`;

/** What img-check prints for an image, computed from the TypeScript reader's result. */
function checkerView(img: ParsedImage): unknown {
  const p = img.process;
  const s = (v: bigint): string => v.toString();
  return {
    version: img.version,
    pageSize: img.info.pageSize,
    counts: {
      regions: img.regions.length, threads: img.threads.length, fds: img.fds.length, fileData: img.fileData.length, chunks: img.chunks.length,
      unknownRecords: img.unknownRecords.length,
    },
    process: {
      pid: p.pid, ppid: p.ppid, pgid: p.pgid, sid: p.sid, uid: p.uid, gid: p.gid, umask: p.umask, procId: s(p.procId),
      brk: s(p.brk), restartEntry: s(p.restartEntry), restartInfo: s(p.restartInfo), restartInfoSize: p.restartInfoSize,
      nsig: p.sigactions.length, nrlimit: p.rlimits.length, cwd: p.cwd, exe: p.exe, comm: p.comm, auxvLen: p.auxv.length,
    },
    regions: img.regions.map((r) => ({
      kind: r.kind, start: s(r.start), end: s(r.end), fileOffset: s(r.fileOffset), prot: r.prot, flags: r.flags,
      dev: s(r.dev), inode: s(r.inode), fileSize: s(r.fileSize), fileMtimeNs: s(r.fileMtimeNs), path: r.path,
    })),
    threads: img.threads.map((t) => ({
      tid: t.tid, flags: t.flags, fsBase: s(t.fsBase), clearChildTid: s(t.clearChildTid), resumeSp: s(t.resumeSp),
    })),
    fds: img.fds.map((f) => {
      const extra = new ByteWriter();
      encodeFdExtra(extra, f.extra);
      return {
        fd: f.fd, fdFlags: f.fdFlags, kind: f.kind, openFlags: f.openFlags, dupOf: f.dupOf, offset: s(f.offset),
        dev: s(f.dev), inode: s(f.inode), mode: f.mode, path: f.path, extraLen: extra.length,
        shareFlags: f.share?.flags ?? 0, shareId: s(f.share?.shareId ?? 0n),
      };
    }),
    locks: img.fds.flatMap((f) => f.locks ?? []).map((l) => ({ fd: l.fd, kind: l.kind, type: l.type, start: s(l.start), end: s(l.end) })),
    fileData: img.fileData.map((d) => ({ dataOffset: d.dataOffset, fileId: s(d.fileId), offset: s(d.offset), len: d.len })),
    procState: img.procState && {
      monotonicNs: s(img.procState.monotonicNs), personality: img.procState.personality, flags: img.procState.flags,
      dumpable: img.procState.dumpable, realValueNs: s(img.procState.itimers[0]!.valueNs), nsiginfo: img.procState.siginfo.length,
    },
    threadStates: img.threadStates.map((t) => ({
      tid: t.tid, flags: t.flags, nice: t.nice, pdeathsig: t.pdeathsig, timerSlackNs: s(t.timerSlackNs), comm: t.comm,
      affinityLen: t.affinity.length, nsiginfo: t.siginfo.length,
    })),
    posixTimers: img.posixTimers.map((t) => ({
      timerId: t.timerId, clockid: t.clockid, notify: t.notify, signo: t.signo, notifyTid: t.notifyTid,
      sigevValue: s(t.sigevValue), valueNs: s(t.valueNs), intervalNs: s(t.intervalNs),
    })),
    semUndo: img.semUndo.map((u) => ({ semid: u.semid, adj: u.adj.map((e) => ({ num: e.num, adj: e.adj })) })),
    chunks: img.chunks.map((c) => ({ dataOffset: c.dataOffset, addr: s(c.addr), rawLen: s(c.rawLen), encoding: c.encoding, storedLen: c.storedLen })),
    end: { records: s(img.end.records), chunks: s(img.end.chunks), contentBytes: s(img.end.contentBytes), endOffset: s(img.end.endOffset) },
    ...(img.incremental ? { incremental: incrementalView(img.incremental) } : {}),
  };
}

/** img-check's summary of PARENT, REFS and PAGES: the parents, the first 64 of the rest. */
function incrementalView(x: NonNullable<ParsedImage['incremental']>): unknown {
  const s = (v: bigint): string => v.toString();
  return {
    parents: x.parents.map((p) => ({ infoCrc: p.infoCrc, path: p.path, fileSize: s(p.fileSize), refBytes: s(p.refBytes) })),
    nrefs: x.refs.length,
    refBytes: s(x.refs.reduce((t, e) => t + e.len, 0n)),
    refs: x.refs.slice(0, 64).map((e) => ({ parent: e.parent, addr: s(e.addr), len: s(e.len), recordAt: s(e.recordAt) })),
    npages: x.pages.length,
    pages: x.pages.slice(0, 64).map((g) => ({ dataOffset: g.dataOffset, pages: g.addrs.length, first: s(g.addrs[0]!), last: s(g.addrs[g.addrs.length - 1]!) })),
  };
}

type CheckResult = { ok: true; view: unknown } | { ok: false; error: string };

/** Runs img-check; anything but a JSON line with status 0 or an error line with status 1 throws. */
function imgCheck(file: string): CheckResult {
  const r = spawnSync(IMG_CHECK, [file], { encoding: 'utf8', timeout: 10_000 });
  const where = `img-check ${file}: status ${r.status}, signal ${r.signal}, stdout ${JSON.stringify(r.stdout.slice(0, 300))}`;
  if (r.error) throw new Error(`${where}: ${r.error.message}`);
  if (r.status === 0) {
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, where);
    return { ok: true, view: JSON.parse(lines[0]!) };
  }
  if (r.status === 1 && r.stdout.startsWith('error: ')) return { ok: false, error: r.stdout.split('\n')[0]! };
  throw new Error(where);
}

type TsResult = { ok: true; image: ParsedImage } | { ok: false; error: string };

/** Runs the TypeScript reader; anything but a BAD_IMAGE StasisError is rethrown. */
async function tsRead(file: string): Promise<TsResult> {
  try {
    return { ok: true, image: await readImage(file, { verify: true }) };
  } catch (err) {
    if (err instanceof StasisError && err.code === 'BAD_IMAGE' && !err.message.includes('\n')) return { ok: false, error: err.message };
    throw err;
  }
}

test('there are good and bad image vectors', () => {
  assert.deepEqual(good, ['incremental', 'minimal', 'rich']);
  for (const want of ['truncated-in-chunk', 'flipped-byte-in-chunk', 'bad-magic', 'bad-version', 'bad-record-crc', 'missing-end', 'end-count-mismatch',
    'zstd-flipped-byte', 'zstd-corrupt-block', 'zstd-content-size-mismatch']) {
    assert.ok(bad.includes(want), `no bad/${want}.img`);
  }
  for (const name of bad) assert.ok(fs.existsSync(path.join(BAD_DIR, `${name}.txt`)), `no bad/${name}.txt`);
});

test('the rich vector has every record type, region kind and fd kind', async () => {
  const img = await readImage(path.join(DIR, 'rich.img'), { verify: true });
  assert.ok(img.procState && img.procState.siginfo.length > 0 && img.procState.itimers.some((t) => t.valueNs > 0n), 'shared signals and an itimer');
  assert.ok(img.threadStates.some((t) => t.siginfo.length > 1) && img.threadStates.some((t) => t.comm.includes('\ufffd')), 'thread states');
  assert.deepEqual([...new Set(img.posixTimers.map((t) => t.notify))].sort(), [0, 1, 4], 'POSIX timers of each kernel notify kind');
  assert.ok(img.semUndo.length >= 2 && img.semUndo.some((u) => u.adj.some((e) => e.adj === -32768) && u.adj.some((e) => e.adj === 32767)), 'SEM_UNDO adjustments, the ends of the range among them');
  assert.deepEqual([...new Set(img.regions.map((r) => r.kind))].sort((a, b) => a - b), REGION_KINDS.map((_, i) => i));
  assert.deepEqual([...new Set(img.fds.filter((f) => f.dupOf < 0).map((f) => f.kind))].sort((a, b) => a - b), Object.values(FdKind).sort((a, b) => a - b));
  assert.ok(img.fds.some((f) => f.dupOf >= 0), 'a duplicated fd');
  assert.ok(img.fds.some((f) => f.extra?.kind === 'PIPE' && f.extra.data.length > 0), 'pipe data');
  assert.ok(img.threads.some((t) => t.flags & THREAD_LEADER && t.xsave.length > 0 && t.gregs.length === 23), 'a leader with registers');
  assert.ok(img.threads.some((t) => t.flags & THREAD_CKPT), 'the checkpoint thread');
  assert.ok(img.chunks.length >= 3 && img.chunks.some((c) => c.rawLen > 4096n), 'several chunks, one of several pages');
  assert.ok(img.chunks.some((c) => c.encoding === 1 && c.rawLen === 4096n) && img.chunks.some((c) => c.encoding === 1 && c.rawLen >= 1n << 20n),
    'zstd chunks of one page and of 1 MiB (a frame with a window descriptor)');
  assert.ok(img.unknownRecords.length >= 2, 'records of later versions, before and among the chunks');
  assert.ok(img.fds.some((f) => f.path.includes('\ufffd')), 'a path that is not UTF-8');
  const deleted = img.fds.filter((f) => f.extra?.kind === 'DELETED');
  assert.ok(deleted.length >= 2 && new Set(deleted.map((f) => f.extra?.kind === 'DELETED' && f.extra.fileId)).size < deleted.length, 'two fds on one deleted file');
  assert.ok(img.fileData.length >= 2 && img.fileData.some((d) => d.offset > 0n && d.len % 4096 !== 0), 'file data with a hole before a partial page');
  assert.ok(img.fds.some((f) => f.extra?.kind === 'FIFO' && f.extra.data.length > 0), 'FIFO data');
  assert.ok(img.fds.some((f) => f.extra?.kind === 'PTY' && f.extra.masterData.length > 0 && f.extra.slaveData.length > 0), 'pty data at both ends');
});

test('the incremental vector has parents, references into each, chunks and a PAGES record', async () => {
  const img = await readImage(path.join(DIR, 'incremental.img'), { verify: true });
  const x = img.incremental!;
  assert.equal(x.parents.length, 2);
  assert.deepEqual([...new Set(x.refs.map((e) => e.parent))].sort(), [0, 1], 'references into both parents');
  assert.ok(img.chunks.length >= 1 && x.pages.length === 1 && x.pages[0]!.addrs.length > 1);
  for (const [i, p] of x.parents.entries()) {
    assert.equal(p.refBytes, x.refs.filter((e) => e.parent === i).reduce((t, e) => t + e.len, 0n), 'ref_bytes adds up');
  }
});

for (const name of good) {
  test(`vector ${name}: the TypeScript reader sees ${name}.json`, async () => {
    const json = imageToJson(await readImage(path.join(DIR, `${name}.img`), { verify: true }));
    delete json.path; // where the file is, not what it holds
    assert.deepEqual(json, JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')));
  });

  test(`vector ${name}: img-check (the loader's code) sees what the TypeScript reader sees`, { skip: skipCheck }, async () => {
    const file = path.join(DIR, `${name}.img`);
    const c = imgCheck(file);
    assert.ok(c.ok, `img-check rejects it: ${!c.ok && c.error}`);
    assert.deepEqual(c.view, checkerView(await readImage(file, { verify: true })));
  });
}

test('every bad vector is rejected by both readers with the expected message', async () => {
  const problems: string[] = [];
  for (const name of bad) {
    const file = path.join(BAD_DIR, `${name}.img`);
    const want = fs.readFileSync(path.join(BAD_DIR, `${name}.txt`), 'utf8').trim();
    const ts = await tsRead(file);
    if (ts.ok || !ts.error.includes(want)) problems.push(`${name}: TypeScript reader ${ts.ok ? 'accepts it' : `says ${ts.error}`}`);
    if (skipCheck) continue;
    const c = imgCheck(file);
    if (c.ok || !c.error.includes(want)) problems.push(`${name}: img-check ${c.ok ? 'accepts it' : `says ${c.error}`}`);
  }
  assert.deepEqual(problems, []);
});

test('image-vectors writes the committed vectors again, byte for byte', { skip: skipVectors }, (t) => {
  const out = tmpDir(t);
  const r = spawnSync(IMAGE_VECTORS, [out], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const list = (dir: string, sub = ''): string[] =>
    fs.readdirSync(path.join(dir, sub), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? list(dir, path.join(sub, e.name)) : [path.join(sub, e.name)]).filter((n) => n !== 'README.md').sort();
  const committed = list(DIR);
  assert.deepEqual(list(out), committed, 'the same files (regenerate with `native/build/image-vectors test/vectors/image`)');
  for (const n of committed) {
    assert.ok(fs.readFileSync(path.join(out, n)).equals(fs.readFileSync(path.join(DIR, n))), `${n} differs from what the tool writes now`);
  }
});

// --- fuzzing ---------------------------------------------------------------------------


interface RecordAt { type: number; offset: number; length: number }

function recordsOf(bytes: Buffer): RecordAt[] {
  const out: RecordAt[] = [];
  for (let off = 32; off + 16 <= bytes.length;) {
    const length = bytes.readUInt32LE(off + 8);
    out.push({ type: bytes.readUInt16LE(off + 4), offset: off, length });
    off += 16 + Math.ceil(length / 8) * 8;
  }
  return out;
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 4095, 4096, 4097, 65, 257];

/** One mutation of a copy of seed; mutations inside a payload usually get a fixed CRC too. */
function mutate(seed: Buffer, next: () => number): Buffer {
  let bytes = Buffer.from(seed);
  const recs = recordsOf(seed);
  const rec = recs[next() % recs.length]!;
  const payload = (): number => rec.offset + 16 + (rec.length ? next() % Math.min(rec.length, rec.type === RecordType.CHUNK || rec.type === RecordType.FILEDATA ? 32 : rec.length) : 0);
  switch (next() % 6) {
    case 0: // bit flips anywhere
      for (let k = 1 + (next() % 3); k > 0; k--) bytes[next() % bytes.length]! ^= 1 << (next() % 8);
      return bytes;
    case 1: // truncation
      return bytes.subarray(0, next() % bytes.length);
    case 2: // a record's length field
      bytes.writeUInt32LE(next() % 2 ? INTERESTING[next() % INTERESTING.length]! : next() % (rec.length + 64), rec.offset + 8);
      return bytes;
    case 3: // a record's type field
      bytes.writeUInt16LE([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 99, 300][next() % 14]!, rec.offset + 4);
      return bytes;
    default: { // a payload field set to an interesting value, CRC fixed (head only for chunks)
      if (rec.length < 4) return bytes;
      const at = Math.min(payload(), rec.offset + 16 + rec.length - 4);
      const v = INTERESTING[next() % INTERESTING.length]!;
      if (next() % 2) bytes.writeUInt32LE(v >>> 0, at);
      else bytes[at] = v & 0xff;
      if (next() % 8 !== 0 && rec.offset + 16 + rec.length <= bytes.length) {
        bytes.writeUInt32LE(crc32c(bytes.subarray(rec.offset + 16, rec.offset + 16 + rec.length)), rec.offset + 12);
      }
      if (next() % 16 === 0) bytes = bytes.subarray(0, bytes.length - 8);
      return bytes;
    }
  }
}

test('fuzz: both readers accept or reject every damaged vector alike, and fail no other way', { skip: skipCheck }, async (t) => {
  const seeds = good.map((n) => fs.readFileSync(path.join(DIR, `${n}.img`)));
  const dir = tmpDir(t);
  const next = rng(0x1a6e5);
  const started = Date.now();
  const disagreements: string[] = [];
  let rejected = 0;
  for (let i = 0; i < 400 && Date.now() - started < 60_000; i++) {
    const bytes = mutate(seeds[next() % seeds.length]!, next);
    const file = path.join(dir, `fuzz-${i}.img`);
    fs.writeFileSync(file, bytes);
    let ts: TsResult;
    try {
      ts = await tsRead(file);
    } catch (err) {
      throw new Error(`case ${i}: the TypeScript reader threw ${String(err)}`);
    }
    const c = imgCheck(file);
    if (ts.ok !== c.ok) {
      disagreements.push(`case ${i}: TypeScript ${ts.ok ? 'accepts' : `rejects (${ts.error})`}, img-check ${c.ok ? 'accepts' : `rejects (${c.error})`}`);
    } else if (ts.ok && c.ok) {
      try {
        assert.deepEqual(c.view, checkerView(ts.image));
      } catch (err) {
        disagreements.push(`case ${i}: both accept but see different images: ${(err as Error).message.slice(0, 600)}`);
      }
    } else {
      rejected++;
    }
    fs.rmSync(file);
  }
  assert.deepEqual(disagreements, []);
  assert.ok(rejected > 100, `only ${rejected} cases were rejected: the mutations are too mild`);
});
