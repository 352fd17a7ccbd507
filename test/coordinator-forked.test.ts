/*
 * Forked checkpoints at the coordinator, with test agents (FakeAgent `forked`): every
 * process resumes once all are captured, the generation is committed only once every
 * writer is done, a writer that fails (or a process whose image was not finished when it
 * ended) fails the checkpoint and leaves the previous generation, and the answer carries
 * the longest pause and the processes that were not forked.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseManifest } from '../src/ckpt-dir/manifest';
import { sendRequest } from '../src/client/client';
import { RunningServer } from '../src/coordinator/net-server';
import { JsonObject } from '../src/protocol/messages';
import { agent, server } from './helpers/coordinator';
import { tmpDir } from './helpers/tmp';

function checkpoint(s: RunningServer, onProgress?: (p: JsonObject) => void): Promise<JsonObject> {
  return sendRequest({ host: '127.0.0.1', port: s.port }, { cmd: 'checkpoint' }, { onProgress });
}

function gens(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('gen-')).sort();
}

/** A promise and the function that settles it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

test('forked agents resume before their images are written; the commit waits for every writer', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const slow = gate();
  const a = await agent(t, s, { pid: 11, name: 'a', ckptDir: dir, forked: true, pauseNs: 2_345_678n });
  const b = await agent(t, s, {
    pid: 12, name: 'b', ckptDir: dir, forked: true, pauseNs: 9_870_000n,
    behaviour: { onWriter: async () => { await slow.wait; return 'ok' as const; } },
  });
  const phases: unknown[] = [];
  let whileWriting: unknown[] = [];
  const res = checkpoint(s, (p) => {
    phases.push(p.phase);
    if (p.phase !== 'resumed') return;
    // Every process runs again, one writer is still at work: nothing is committed yet.
    whileWriting = [p.pauseMs, fs.existsSync(path.join(dir, 'latest')), fs.existsSync(path.join(dir, 'gen-000001', 'MANIFEST.json'))];
    slow.open();
  });
  const r = await res;
  assert.deepEqual(whileWriting, [9.8, false, false], 'resumed (pause 9.8 ms), not committed while a writer writes');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.deepEqual(phases, ['suspending', 'suspended', 'writing', 'resumed', 'committed']);
  assert.equal(r.pauseMs, 9.8, 'the longest pause, to 0.1 ms');
  assert.equal(r.forked, 2);
  assert.deepEqual(r.notForked, []);
  assert.equal(fs.readlinkSync(path.join(dir, 'latest')), 'gen-000001');
  const m = parseManifest(fs.readFileSync(path.join(dir, 'gen-000001', 'MANIFEST.json'), 'utf8'), 'manifest');
  assert.deepEqual(m.processes.map((p) => p.pid), [11, 12]);
  for (const ag of [a, b]) assert.deepEqual(ag.received.map((x) => x.type), ['WELCOME', 'SUSPEND', 'WRITE', 'RESUME']);
  const st = await sendRequest({ host: '127.0.0.1', port: s.port }, { cmd: 'status' });
  assert.equal((st.lastCheckpoint as JsonObject).pauseMs, 9.8);
});

test('processes not forked are named with their reason, in the answer and the log', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  await agent(t, s, { pid: 21, name: 'forked', ckptDir: dir, forked: true });
  await agent(t, s, { pid: 22, name: 'paused', ckptDir: dir, notForkedReason: 'memory pressure: 10 MiB available, 99 MiB of private memory could be copied while the image is written' });
  const r = await checkpoint(s);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.forked, 1);
  assert.equal(r.processes, 2);
  assert.deepEqual(r.notForked, [{ pid: 22, procId: 2, name: 'paused', reason: 'memory pressure: 10 MiB available, 99 MiB of private memory could be copied while the image is written' }]);
  assert.ok(s.logs.some((l) => /process paused \(pid 22, procId 2\): checkpointed without forking: memory pressure/.test(l)), s.logs.join('\n'));
});

test('a writer that fails after the processes resumed fails the checkpoint; the previous generation stays', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  let fail = false;
  await agent(t, s, { pid: 31, name: 'ok', ckptDir: dir, forked: true });
  const bad = await agent(t, s, {
    pid: 32, name: 'bad', ckptDir: dir, forked: true,
    behaviour: { onWriter: () => (fail ? { status: -28, message: 'cannot write bad-32.img.tmp: ENOSPC' } : 'ok') },
  });
  assert.equal((await checkpoint(s)).ok, true);
  fail = true;
  const r = await checkpoint(s);
  assert.equal(r.ok, false);
  assert.equal(r.code, 'AGENT_FAILED');
  assert.match(String(r.message), /bad \(pid 32, procId 2\) could not write its image: cannot write bad-32\.img\.tmp: ENOSPC \(ENOSPC/);
  assert.deepEqual(gens(dir), ['gen-000001']);
  assert.equal(fs.readlinkSync(path.join(dir, 'latest')), 'gen-000001');
  assert.equal(bad.count('RESUME'), 2, 'it was resumed before its writer failed');
});

test('the failed generation is removed only once a slow writer is done with it', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const slow = gate();
  let resumed = 0;
  await agent(t, s, { pid: 41, name: 'fails', ckptDir: dir, behaviour: { onWrite: () => ({ status: -24, message: 'too many open fds' }) } });
  const writer = await agent(t, s, {
    pid: 42, name: 'slow', ckptDir: dir, forked: true,
    behaviour: {
      onWriter: async () => {
        resumed++;
        await slow.wait;
        folderThere = fs.existsSync(path.join(dir, 'gen-000001'));
        return 'ok' as const;
      },
    },
  });
  let folderThere = false;
  const res = checkpoint(s);
  await writer.next('RESUME');
  assert.equal(resumed, 1);
  slow.open();
  const r = await res;
  assert.ok(folderThere, 'the folder was still there when the writer finished');
  assert.equal(r.code, 'AGENT_FAILED');
  assert.deepEqual(gens(dir), []);
});

test('a process that ends after it was captured counts when its image is complete', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  await agent(t, s, { pid: 51, name: 'stays', ckptDir: dir, forked: true });
  const gone = await agent(t, s, { pid: 52, name: 'exits', ckptDir: dir, forked: true, behaviour: { onWriter: () => 'die-after-image' } });
  const r = await checkpoint(s);
  assert.equal(r.ok, true, JSON.stringify(r));
  await gone.closed;
  const m = parseManifest(fs.readFileSync(path.join(dir, 'gen-000001', 'MANIFEST.json'), 'utf8'), 'manifest');
  assert.deepEqual(m.processes.map((p) => [p.pid, p.image]), [[51, 'stays-51.img'], [52, 'exits-52.img']]);
  assert.equal(m.processes[1]!.bytes, fs.statSync(path.join(dir, 'gen-000001', 'exits-52.img')).size);
  assert.ok(s.logs.some((l) => /exits \(pid 52, procId 2\): its image is complete/.test(l)), s.logs.join('\n'));
});

test('a process that ends after it was captured, its image unfinished, fails the checkpoint', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  await agent(t, s, { pid: 61, name: 'stays', ckptDir: dir, forked: true });
  await agent(t, s, { pid: 62, name: 'crashes', ckptDir: dir, forked: true, behaviour: { onWriter: () => 'disconnect' } });
  const r = await checkpoint(s);
  assert.equal(r.ok, false);
  assert.equal(r.code, 'AGENT_LOST');
  assert.match(String(r.message), /crashes \(pid 62, procId 2\) ended before its image was complete \(its writer did not finish\) — the previous generation is intact/);
  assert.deepEqual(gens(dir), []);
  assert.equal(fs.existsSync(path.join(dir, 'latest')), false);
});

test('CAPTURED out of turn drops that agent', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const rogue = await agent(t, s, { pid: 71, ckptDir: dir });
  rogue.send({ type: 'CAPTURED', ckptId: 1n, status: 0, flags: 1, writerPid: 9, message: '' });
  await rogue.closed;
  assert.ok(s.logs.some((l) => /dropped connection .*unexpected: CAPTURED/.test(l)), s.logs.join('\n'));
});
