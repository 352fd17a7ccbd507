/*
 * Generations that depend on earlier ones (src/ckpt-dir/deps.ts): what a generation's
 * images need (their PARENT records), retention keeping every generation a kept one needs,
 * the check before a restart, and when the coordinator asks for a full image.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ByteWriter } from '../src/binary/cursor';
import { checkDependencies, generationDeps, writeModeFor } from '../src/ckpt-dir/deps';
import { pruneGenerations, swapLatest } from '../src/ckpt-dir/generations';
import { Manifest, parseManifest, serializeManifest } from '../src/ckpt-dir/manifest';
import { resolveGeneration } from '../src/ckpt-dir/resolve';
import { StasisError } from '../src/errors';
import { crc32c } from '../src/image/crc32c';
import { FILE_HEADER_SIZE, IMAGE_MAGIC, IMAGE_VERSION, ImageParent, ParsedImage, RecordType } from '../src/image/format';
import { encodeParent, readImageParents } from '../src/image/incr';
import { encodeInfo } from '../src/image/records';
import { WRITE_FULL, WRITE_TRACK } from '../src/protocol/messages';
import { sampleImage } from './helpers/image-fixture';
import { tmpDir } from './helpers/tmp';

function record(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.write('SREC', 0, 'latin1');
  h.writeUInt16LE(type, 4);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(crc32c(payload), 12);
  const pad = Buffer.alloc((8 - (payload.length & 7)) & 7);
  return Buffer.concat([h, payload, pad]);
}

/** The start of an image: header, INFO, PARENTs, then a PROCESS record (enough for readImageParents). */
function imageStart(parents: ImageParent[], flags = 1n): Buffer {
  const hdr = Buffer.alloc(FILE_HEADER_SIZE);
  IMAGE_MAGIC.copy(hdr, 0);
  hdr.writeUInt32LE(IMAGE_VERSION, 8);
  hdr.writeUInt32LE(FILE_HEADER_SIZE, 12);
  hdr.writeBigUInt64LE(flags, 16);
  hdr.writeUInt32LE(crc32c(hdr.subarray(0, 24)), 24);
  const info = new ByteWriter();
  encodeInfo(info, sampleImage().info);
  const recs = parents.map((p) => {
    const w = new ByteWriter();
    encodeParent(w, p);
    return record(RecordType.PARENT, w.toBuffer());
  });
  return Buffer.concat([hdr, record(RecordType.INFO, info.toBuffer()), ...recs, record(RecordType.PROCESS, Buffer.alloc(8))]);
}

const parent = (p: string, refBytes = 4096n, fileSize = 100n): ImageParent => ({ fileSize, infoCrc: 7, refBytes, path: p });

function manifest(generation: number, dependsOn: number[], procs: { image: string; bytes: number; refBytes?: number }[]): Manifest {
  return {
    format: 'stasis-generation', version: 2, generation, ckptId: generation, created: '2026-11-21T22:00:00.000Z',
    namespace: true, zombies: [], semaphores: [], sharedSegments: [], messageQueues: [], terminals: [], dependsOn,
    processes: procs.map((p, i) => ({ procId: i + 1, pid: 100 + i, ppid: 1, pgid: 100, sid: 1, name: 'app', ...p })),
  };
}

function makeGeneration(dir: string, m: Manifest, images: Record<string, Buffer> = {}): string {
  const g = path.join(dir, `gen-${String(m.generation).padStart(6, '0')}`);
  fs.mkdirSync(g, { recursive: true });
  for (const p of m.processes) fs.writeFileSync(path.join(g, p.image), images[p.image] ?? Buffer.alloc(p.bytes));
  fs.writeFileSync(path.join(g, 'MANIFEST.json'), serializeManifest(m));
  return g;
}

const gens = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.startsWith('gen-')).sort();

test('an image names what it needs in its PARENT records; a full one or a non-image needs nothing', async (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'a.img');
  fs.writeFileSync(f, imageStart([parent('gen-000001/a.img', 5n), parent('gen-000003/a.img', 6n)]));
  assert.deepEqual((await readImageParents(f)).map((p) => [p.path, p.refBytes]), [['gen-000001/a.img', 5n], ['gen-000003/a.img', 6n]]);
  fs.writeFileSync(f, imageStart([parent('gen-000001/a.img')], 0n));
  assert.deepEqual(await readImageParents(f), [], 'no INCREMENTAL flag: not incremental');
  fs.writeFileSync(f, 'image of a fake agent\n');
  assert.deepEqual(await readImageParents(f), []);
});

test('a generation depends on the generations its images name, and takes that many bytes from them', async (t) => {
  const dir = tmpDir(t);
  const g = path.join(dir, 'gen-000004');
  fs.mkdirSync(g);
  fs.writeFileSync(path.join(g, 'a-2.img'), imageStart([parent('gen-000003/a-2.img', 100n), parent('gen-000001/a-2.img', 20n)]));
  fs.writeFileSync(path.join(g, 'b-3.img'), imageStart([parent('gen-000001/b-3.img', 7n)]));
  fs.writeFileSync(path.join(g, 'c-4.img'), imageStart([]));
  const d = await generationDeps(g, 4, ['a-2.img', 'b-3.img', 'c-4.img']);
  assert.deepEqual(d.dependsOn, [1, 3]);
  assert.deepEqual([...d.refBytes], [['a-2.img', 120], ['b-3.img', 7], ['c-4.img', 0]]);
  fs.writeFileSync(path.join(g, 'c-4.img'), imageStart([parent('gen-000004/x.img')]));
  await assert.rejects(generationDeps(g, 4, ['c-4.img']), /refers to gen-000004\/x\.img, which is not an earlier generation/);
});

test('retention keeps every generation a kept one depends on, and only those', async (t) => {
  const dir = tmpDir(t);
  const img = [{ image: 'a.img', bytes: 10 }];
  makeGeneration(dir, manifest(1, [], img));
  makeGeneration(dir, manifest(2, [1], img));
  makeGeneration(dir, manifest(3, [1, 2], img));
  makeGeneration(dir, manifest(4, [], img));
  makeGeneration(dir, manifest(5, [4], img));
  makeGeneration(dir, manifest(6, [1, 3], img));
  await swapLatest(dir, 'gen-000006');
  // gen 3 is kept for gen 6, and gen 2 for gen 3: every generation kept can be restarted.
  assert.deepEqual(await pruneGenerations(dir, 1, 'gen-000006'), ['gen-000004', 'gen-000005']);
  assert.deepEqual(gens(dir), ['gen-000001', 'gen-000002', 'gen-000003', 'gen-000006']);
  makeGeneration(dir, manifest(7, [], img));
  await swapLatest(dir, 'gen-000007');
  assert.deepEqual(await pruneGenerations(dir, 2, 'gen-000007'), []);
  assert.deepEqual(await pruneGenerations(dir, 1, 'gen-000007'), ['gen-000001', 'gen-000002', 'gen-000003', 'gen-000006']);
});

test('a manifest lists only distinct earlier generations as dependencies; none when absent', () => {
  const m = manifest(3, [1, 2], [{ image: 'a.img', bytes: 1 }]);
  assert.deepEqual(parseManifest(serializeManifest(m), 'm').dependsOn, [1, 2]);
  const { dependsOn: _, ...old } = m;
  assert.deepEqual(parseManifest(JSON.stringify(old), 'm').dependsOn, []);
  for (const bad of [[3], [0], [1, 1], ['1'], 'x']) {
    assert.throws(() => parseManifest(JSON.stringify({ ...m, dependsOn: bad }), 'm'), /"dependsOn" must list distinct earlier generation numbers/);
  }
});

test('a restart checks that every image a generation refers to is there, in a complete generation', async (t) => {
  const dir = tmpDir(t);
  makeGeneration(dir, manifest(1, [], [{ image: 'a-2.img', bytes: 100 }]));
  const g2 = makeGeneration(dir, manifest(2, [1], [{ image: 'a-2.img', bytes: 50 }]));
  const gen = await resolveGeneration(g2);
  const img = (parents: ImageParent[]): ParsedImage => ({ path: path.join(g2, 'a-2.img'), incremental: { parents, refs: [], pages: [] } }) as unknown as ParsedImage;
  await checkDependencies(gen, [img([parent('gen-000001/a-2.img')])]);
  const refused = async (parents: ImageParent[], why: RegExp): Promise<void> => {
    await assert.rejects(checkDependencies(gen, [img(parents)]), (err: unknown) => {
      assert.ok(err instanceof StasisError && err.code === 'INCOMPLETE_GENERATION', String(err));
      assert.match(err.message, why);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  };
  await refused([parent('gen-000001/a-2.img', 1n, 99n)], /needs gen-000001\/a-2\.img from generation gen-000001, which holds another image of that name now/);
  await refused([parent('gen-000001/b-3.img')], /which does not hold that image any more/);
  await refused([parent('gen-000000/a-2.img')], /gen-000000, which is missing or incomplete/);
  fs.rmSync(path.join(dir, 'gen-000001', 'MANIFEST.json'));
  await refused([parent('gen-000001/a-2.img')], /gen-000001, which is missing or incomplete/);
});

test('the coordinator asks for a full image first, on request, every N, and when the old ones are mostly dead', async (t) => {
  const dir = tmpDir(t);
  const on = { enabled: true, fullEvery: 3 };
  const T = WRITE_TRACK, F = WRITE_TRACK | WRITE_FULL;
  assert.equal((await writeModeFor(dir, { enabled: false, fullEvery: 3 }, false)).flags, 0);
  assert.equal((await writeModeFor(dir, on, false)).flags, F, 'no generation yet');
  makeGeneration(dir, manifest(1, [], [{ image: 'a.img', bytes: 1000 }]));
  await swapLatest(dir, 'gen-000001');
  assert.equal((await writeModeFor(dir, on, false)).flags, T);
  assert.equal((await writeModeFor(dir, on, true)).flags, F, 'asked for');
  makeGeneration(dir, manifest(2, [1], [{ image: 'a.img', bytes: 50, refBytes: 900 }]));
  await swapLatest(dir, 'gen-000002');
  assert.equal((await writeModeFor(dir, on, false)).flags, T);
  makeGeneration(dir, manifest(3, [1, 2], [{ image: 'a.img', bytes: 50, refBytes: 900 }]));
  await swapLatest(dir, 'gen-000003');
  assert.deepEqual(await writeModeFor(dir, on, false), { flags: F, why: 'every 3 generations' });
  makeGeneration(dir, manifest(4, [1], [{ image: 'a.img', bytes: 400, refBytes: 600 }]));
  await swapLatest(dir, 'gen-000004');
  assert.equal((await writeModeFor(dir, on, false)).flags, T, 'the first generation is still mostly in use');
  makeGeneration(dir, manifest(5, [1], [{ image: 'a.img', bytes: 900, refBytes: 400 }]));
  await swapLatest(dir, 'gen-000005');
  assert.equal((await writeModeFor(dir, on, false)).flags, F, 'most of what the first generation holds was rewritten since');
});
