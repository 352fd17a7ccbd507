/* Resolving restart targets and the generation bookkeeping in a checkpoint directory. */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { createGeneration, pruneGenerations, swapLatest } from '../src/ckpt-dir/generations';
import { Manifest, parseManifest, serializeManifest } from '../src/ckpt-dir/manifest';
import { resolveGeneration } from '../src/ckpt-dir/resolve';
import { StasisError } from '../src/errors';
import { tmpDir } from './helpers/tmp';

function manifest(generation: number, images: string[]): Manifest {
  return {
    format: 'stasis-generation', version: 2, generation, ckptId: generation + 10, created: '2026-11-21T22:00:00.000Z',
    namespace: true, zombies: [], semaphores: [], sharedSegments: [], messageQueues: [], terminals: [],
    processes: images.map((image, i) => ({ procId: i + 1, pid: 100 + i, ppid: 1, pgid: 100, sid: 1, name: 'app', image, bytes: 5 })),
  };
}

function makeGeneration(dir: string, n: number, images = ['app-100.img'], withManifest = true): string {
  const g = path.join(dir, `gen-${String(n).padStart(6, '0')}`);
  fs.mkdirSync(g, { recursive: true });
  for (const i of images) fs.writeFileSync(path.join(g, i), 'image');
  if (withManifest) fs.writeFileSync(path.join(g, 'MANIFEST.json'), serializeManifest(manifest(n, images)));
  return g;
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StasisError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

test('a checkpoint directory resolves to the generation latest points to', async (t) => {
  const dir = tmpDir(t);
  makeGeneration(dir, 1);
  const g2 = makeGeneration(dir, 2);
  await swapLatest(dir, 'gen-000002');
  const r = await resolveGeneration(dir);
  assert.equal(r.path, g2);
  assert.equal(r.ckptDir, dir);
  assert.equal(r.manifest.generation, 2);
  assert.deepEqual(r.images.map((i) => i.path), [path.join(g2, 'app-100.img')]);
});

test('a generation folder resolves to itself', async (t) => {
  const dir = tmpDir(t);
  const g = makeGeneration(dir, 3);
  const r = await resolveGeneration(g);
  assert.equal(r.name, 'gen-000003');
  assert.equal(r.ckptDir, dir);
});

test('an incomplete generation is refused with advice', async (t) => {
  const dir = tmpDir(t);
  const g = makeGeneration(dir, 4, ['app-100.img'], false);
  await rejectsWith(resolveGeneration(g), 'INCOMPLETE_GENERATION', /^generation gen-000004 is incomplete \(no MANIFEST\.json\) — restart from an earlier one$/);
});

test('missing directory, no latest, dangling latest', async (t) => {
  const dir = tmpDir(t);
  await rejectsWith(resolveGeneration(path.join(dir, 'nope')), 'NO_CHECKPOINT', /no checkpoint directory at .*nope/);
  await rejectsWith(resolveGeneration(dir), 'NO_CHECKPOINT', /no checkpoint in .* yet/);
  fs.symlinkSync('gen-000009', path.join(dir, 'latest'));
  await rejectsWith(resolveGeneration(dir), 'NO_CHECKPOINT', /points to gen-000009, which does not exist/);
});

test('manifests are validated before their paths are trusted', async (t) => {
  const dir = tmpDir(t);
  const g = makeGeneration(dir, 5);
  const bad = (m: unknown): void => fs.writeFileSync(path.join(g, 'MANIFEST.json'), JSON.stringify(m));
  bad({ ...manifest(5, ['../../etc/passwd']) });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /image must be a file name/);
  bad({ ...manifest(5, ['app-100.img']), version: 1 });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /version 1 is not supported/);
  bad({ ...manifest(5, ['app-100.img']), zombies: [{ pid: 100, ppid: 1, pgid: 100, sid: 1, status: 0 }] });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /pid 100 is listed twice/);
  bad({ ...manifest(5, ['app-100.img']), zombies: [{ pid: 7, ppid: 1, pgid: 7, sid: 1, status: 70000 }] });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /zombies\[0\]\.status must be a wait status/);
  bad({ ...manifest(5, ['app-100.img']), semaphores: [{ id: 3, key: 0, mode: 0o600, uid: 0, gid: 0, values: [40000] }] });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /semaphores\[0\]\.values must be 1 to 32000 semaphore values/);
  const queue = { id: 0, key: 0, mode: 0o600, uid: 0, gid: 0, qbytes: 16384, messages: 2, bytes: 10 };
  bad({ ...manifest(5, ['app-100.img']), messageQueues: [queue] });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /message queues hold messages but "sysvData" names no file with them/);
  bad({ ...manifest(5, ['app-100.img']), messageQueues: [queue], sysvData: '../sysv-ipc.bin' });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /"sysvData" must be a file name inside the generation folder/);
  bad({ ...manifest(5, ['app-100.img']), messageQueues: [queue, queue], sysvData: 'sysv-ipc.bin' });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /a message queue id is listed twice/);
  const term = { pty: 3, sid: 100, foreground: 100, pids: [100] };
  bad({ ...manifest(5, ['app-100.img']), terminals: [term, { ...term, pty: 4 }] });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /a session has two controlling terminals/);
  bad({ ...manifest(5, ['app-100.img']), terminals: [{ ...term, foreground: -2 }] });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /terminals\[0\]\.foreground must be a process group id or -1/);
  bad({ ...manifest(5, ['app-100.img']), namespace: 'yes' });
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /"namespace" must be true or false/);
  bad(manifest(6, ['app-100.img']));
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /says generation 6 but the folder is gen-000005/);
  bad(manifest(5, ['missing.img']));
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /image missing\.img listed in .* is missing/);
  fs.writeFileSync(path.join(g, 'MANIFEST.json'), '{');
  await rejectsWith(resolveGeneration(g), 'BAD_MANIFEST', /not JSON/);
  assert.throws(() => parseManifest(JSON.stringify({ ...manifest(1, []), processes: [{ procId: 0, pid: 1, name: 'x', image: 'a', bytes: 1 }] }), 'm'), /procId/);
});

test('generation numbers continue after the highest folder', async (t) => {
  const dir = tmpDir(t);
  assert.equal((await createGeneration(dir)).name, 'gen-000001');
  makeGeneration(dir, 41);
  fs.mkdirSync(path.join(dir, 'gen-junk'));
  const g = await createGeneration(dir);
  assert.equal(g.name, 'gen-000042');
  assert.equal(fs.statSync(g.path).mode & 0o777, 0o700);
});

test('pruning keeps the newest complete generations and latest, removes incomplete ones', async (t) => {
  const dir = tmpDir(t);
  for (const n of [1, 2, 3, 4]) makeGeneration(dir, n);
  makeGeneration(dir, 5, [], false);
  await swapLatest(dir, 'gen-000001'); // a user pointed latest back by hand
  const removed = await pruneGenerations(dir, 2, 'gen-000004');
  assert.deepEqual(removed.sort(), ['gen-000002', 'gen-000005']);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('gen-')).sort(), ['gen-000001', 'gen-000003', 'gen-000004']);
});
