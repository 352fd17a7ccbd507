/*
 * The checkpoint barrier over real TCP, with test agents (FakeAgent) speaking the protocol:
 * generation folders, MANIFEST.json, `latest`, pruning, and the failure paths (an agent that
 * fails or dies mid-checkpoint leaves the previous generation and `latest` untouched).
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseManifest } from '../src/ckpt-dir/manifest';
import { sendRequest } from '../src/client/client';
import { BarrierPeer, CheckpointBarrier, InitPeer } from '../src/coordinator/barrier';
import { RunningServer } from '../src/coordinator/net-server';
import { COMMIT_COMMITTED, JsonObject, Message, WRITE_FULL, WRITE_TRACK } from '../src/protocol/messages';
import { FakeAgent } from './helpers/fake-agent';
import { agent, server } from './helpers/coordinator';
import { tmpDir } from './helpers/tmp';

function request(s: RunningServer, body: JsonObject, onProgress?: (p: JsonObject) => void): Promise<JsonObject> {
  return sendRequest({ host: '127.0.0.1', port: s.port }, body, { onProgress });
}

function gens(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('gen-')).sort();
}

test('a checkpoint of two agents commits gen-000001 with manifest, images and latest', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const a = await agent(t, s, { pid: 101, name: 'alpha', ckptDir: dir });
  const b = await agent(t, s, { pid: 102, name: 'be ta/x', ckptDir: dir });
  assert.deepEqual([a.procId, b.procId], [1, 2]);

  const phases: unknown[] = [];
  const res = await request(s, { cmd: 'checkpoint' }, (p) => phases.push(p.phase));
  assert.equal(res.ok, true, JSON.stringify(res));
  const gen = path.join(dir, 'gen-000001');
  assert.equal(res.generation, gen);
  assert.deepEqual(phases, ['suspending', 'suspended', 'writing', 'resumed', 'committed']);

  assert.equal(fs.readlinkSync(path.join(dir, 'latest')), 'gen-000001');
  const m = parseManifest(fs.readFileSync(path.join(gen, 'MANIFEST.json'), 'utf8'), 'manifest');
  assert.equal(m.generation, 1);
  assert.deepEqual(m.processes.map((p) => [p.procId, p.pid, p.name, p.image]), [
    [1, 101, 'alpha', 'alpha-101.img'],
    [2, 102, 'be ta/x', 'be_ta_x-102.img'],
  ]);
  for (const p of m.processes) {
    const st = fs.statSync(path.join(gen, p.image));
    assert.equal(st.size, p.bytes);
    assert.equal(st.mode & 0o777, 0o600);
  }
  assert.equal(res.bytes, m.processes[0]!.bytes + m.processes[1]!.bytes);
  assert.equal(fs.statSync(gen).mode & 0o777, 0o700);
  assert.equal(fs.existsSync(path.join(gen, 'MANIFEST.json.tmp')), false);
  assert.equal(fs.existsSync(path.join(dir, 'latest.tmp')), false);

  for (const ag of [a, b]) {
    await ag.next('COMMIT'); // sent before the answer, on another connection
    assert.deepEqual(ag.received.map((m) => m.type), ['WELCOME', 'SUSPEND', 'WRITE', 'RESUME', 'COMMIT']);
    const write = ag.received.find((m) => m.type === 'WRITE');
    assert.equal(write?.type === 'WRITE' && write.flags, WRITE_TRACK | WRITE_FULL, 'the first generation is a full one, tracked');
    const commit = ag.received.find((m) => m.type === 'COMMIT');
    assert.equal(commit?.type === 'COMMIT' && commit.flags, COMMIT_COMMITTED);
  }
  const st = await request(s, { cmd: 'status' });
  const last = st.lastCheckpoint as JsonObject;
  assert.equal(last.generation, gen);
  assert.equal(typeof last.durationMs, 'number');
  assert.deepEqual((st.processes as JsonObject[]).map((p) => p.state), ['running', 'running']);
  assert.equal((st.coordinator as JsonObject).port, s.port);
});

test('generations are numbered after the highest one; incomplete and old ones are pruned, never latest', async (t) => {
  const dir = tmpDir(t);
  fs.mkdirSync(path.join(dir, 'gen-000007')); // a crashed checkpoint: no manifest
  const s = await server(t, { keep: 2 });
  await agent(t, s, { pid: 7, name: 'app', ckptDir: dir });

  const first = await request(s, { cmd: 'checkpoint' });
  assert.equal(first.generation, path.join(dir, 'gen-000008'));
  assert.deepEqual(gens(dir), ['gen-000008']);
  await request(s, { cmd: 'checkpoint' });
  assert.deepEqual(gens(dir), ['gen-000008', 'gen-000009']);
  const third = await request(s, { cmd: 'checkpoint' });
  assert.equal(third.generation, path.join(dir, 'gen-000010'));
  assert.deepEqual(gens(dir), ['gen-000009', 'gen-000010']);
  assert.equal(fs.readlinkSync(path.join(dir, 'latest')), 'gen-000010');
});

test('an agent dying mid-checkpoint leaves the previous generation and latest intact', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  let die = false;
  const survivor = await agent(t, s, { pid: 201, name: 'survivor', ckptDir: dir });
  const victim = await agent(t, s, {
    pid: 202, name: 'victim', ckptDir: dir,
    behaviour: { onWrite: () => (die ? 'disconnect' : 'ok') },
  });
  const ok = await request(s, { cmd: 'checkpoint' });
  assert.equal(ok.ok, true);
  const before = fs.readFileSync(path.join(dir, 'gen-000001', 'MANIFEST.json'));

  die = true;
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.ok, false);
  assert.equal(res.code, 'AGENT_LOST');
  assert.match(String(res.message), /victim \(pid 202/);
  await victim.closed;

  assert.deepEqual(gens(dir), ['gen-000001'], 'the partial gen-000002 is removed');
  assert.equal(fs.readlinkSync(path.join(dir, 'latest')), 'gen-000001');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'gen-000001', 'MANIFEST.json')), before);
  // The survivor was told to resume and did.
  assert.equal(survivor.count('RESUME'), 2);
  const st = await request(s, { cmd: 'status' });
  assert.deepEqual((st.processes as JsonObject[]).map((p) => [p.pid, p.state]), [[201, 'running']]);
  assert.equal((st.lastError as JsonObject).code, 'AGENT_LOST');

  const again = await request(s, { cmd: 'checkpoint' });
  assert.equal(again.ok, true, JSON.stringify(again));
  assert.equal(again.generation, path.join(dir, 'gen-000002'));
});

test('a failed SUSPEND is reported with its errno; the others are resumed; nothing is written', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const good = await agent(t, s, { pid: 301, name: 'good', ckptDir: dir });
  const bad = await agent(t, s, { pid: 302, name: 'bad', ckptDir: dir, behaviour: { onSuspend: () => ({ status: -12 }) } });
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.ok, false);
  assert.equal(res.code, 'AGENT_FAILED');
  assert.match(String(res.message), /bad \(pid 302.*ENOMEM/);
  assert.deepEqual(gens(dir), []);
  assert.equal(fs.existsSync(path.join(dir, 'latest')), false);
  for (const a of [good, bad]) {
    assert.deepEqual(a.received.map((m) => m.type), ['WELCOME', 'SUSPEND', 'RESUME']);
  }
});

test('a failed WRITE reports the agent message and removes the partial generation', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  await agent(t, s, { pid: 401, name: 'w', ckptDir: dir, behaviour: { onWrite: () => ({ status: -28, message: 'disk full' }) } });
  await agent(t, s, { pid: 402, name: 'ok', ckptDir: dir });
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.code, 'AGENT_FAILED');
  assert.match(String(res.message), /disk full \(ENOSPC/);
  assert.deepEqual(gens(dir), []);
});

test('a checkpoint with no processes is an error', async (t) => {
  const s = await server(t);
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.ok, false);
  assert.equal(res.code, 'NO_PROCESSES');
  assert.match(String(res.message), /stasis launch/);
});

test('a restarted agent keeps its procId and gets RESUME 0 right after WELCOME', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const r = await agent(t, s, { pid: 501, name: 'back', ckptDir: dir, restarted: true, procId: 5 });
  assert.equal(r.procId, 5);
  const resume = await r.next('RESUME');
  assert.deepEqual(resume, { type: 'RESUME', ckptId: 0n });
  const fresh = await agent(t, s, { pid: 502, name: 'new', ckptDir: dir });
  assert.equal(fresh.procId, 6);
  const clash = await agent(t, s, { pid: 503, name: 'clash', ckptDir: dir, restarted: true, procId: 5 });
  assert.equal(clash.procId, 7);
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.ok, true, JSON.stringify(res));
  const st = await request(s, { cmd: 'status' });
  assert.deepEqual((st.processes as JsonObject[]).map((p) => [p.procId, p.restarted, p.state]), [
    [5, true, 'running'], [6, false, 'running'], [7, true, 'running'],
  ]);
});

test('concurrent checkpoint requests run one after the other', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  await agent(t, s, { pid: 601, ckptDir: dir });
  const [a, b] = await Promise.all([request(s, { cmd: 'checkpoint' }), request(s, { cmd: 'checkpoint' })]);
  assert.deepEqual([a.ok, b.ok], [true, true]);
  assert.deepEqual([a.generation, b.generation].sort(), [path.join(dir, 'gen-000001'), path.join(dir, 'gen-000002')]);
});

test('agents with different checkpoint directories get a generation in each', async (t) => {
  const d1 = tmpDir(t);
  const d2 = tmpDir(t);
  const s = await server(t);
  await agent(t, s, { pid: 701, ckptDir: d1 });
  await agent(t, s, { pid: 702, ckptDir: d2 });
  const res = await request(s, { cmd: 'checkpoint' });
  assert.deepEqual((res.generations as string[]).sort(), [path.join(d1, 'gen-000001'), path.join(d2, 'gen-000001')].sort());
  for (const d of [d1, d2]) assert.equal(fs.readlinkSync(path.join(d, 'latest')), 'gen-000001');
});

test('an agent that never answers times out; the rest resume', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t, { phaseTimeoutMs: 200 });
  const mute = await agent(t, s, { pid: 801, name: 'mute', ckptDir: dir, behaviour: { onSuspend: () => 'ignore' } });
  const other = await agent(t, s, { pid: 802, ckptDir: dir });
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.code, 'TIMEOUT');
  assert.match(String(res.message), /mute \(pid 801.*SUSPEND/);
  assert.equal(other.count('RESUME'), 1);
  assert.equal(mute.count('RESUME'), 1);
  assert.deepEqual(gens(dir), []);
});

test('periodic checkpoints run on their own', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t, { intervalSec: 0.05 });
  const a = await agent(t, s, { pid: 901, ckptDir: dir });
  await a.next('RESUME');
  await a.next('RESUME');
  assert.ok(fs.existsSync(path.join(dir, 'latest')));
});

test('kill sends KILL to every agent', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const a = await agent(t, s, { pid: 1001, ckptDir: dir });
  const b = await agent(t, s, { pid: 1002, ckptDir: dir });
  const res = await request(s, { cmd: 'kill' });
  assert.equal(res.killed, 2);
  await Promise.all([a.closed, b.closed]);
  assert.equal(a.count('KILL'), 1);
});

test('an exitWhenIdle coordinator closes when its last agent leaves', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t, { exitWhenIdle: true });
  const a = await agent(t, s, { pid: 1101, ckptDir: dir });
  const b = await agent(t, s, { pid: 1102, ckptDir: dir });
  await a.close();
  const st = await request(s, { cmd: 'status' });
  assert.equal((st.processes as unknown[]).length, 1);
  b.kill();
  await s.closed;
});

test('an answer the coordinator did not ask for drops that agent only', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  const rogue = await agent(t, s, { pid: 1201, ckptDir: dir });
  const fine = await agent(t, s, { pid: 1202, ckptDir: dir });
  rogue.send({ type: 'SUSPENDED', ckptId: 9n, status: 0, nthreads: 1 });
  await rogue.closed;
  assert.ok(s.logs.some((l) => /dropped connection .*unexpected: SUSPENDED/.test(l)), s.logs.join('\n'));
  const res = await request(s, { cmd: 'checkpoint' });
  assert.equal(res.ok, true);
  assert.equal(fine.count('RESUME'), 1);
});

test('shutdown answers, then closes the coordinator', async (t) => {
  const s = await server(t);
  const res = await request(s, { cmd: 'shutdown' });
  assert.equal(res.ok, true);
  await s.closed;
});

test('an unknown command is answered with BAD_REQUEST, and the connection stays usable', async (t) => {
  const s = await server(t);
  const res = await request(s, { cmd: 'explode' });
  assert.deepEqual([res.ok, res.code], [false, 'BAD_REQUEST']);
});

test('an exitWhenIdle coordinator that no process ever joins gives up after firstAgentTimeoutMs', async (t) => {
  const s = await server(t, { exitWhenIdle: true, firstAgentTimeoutMs: 50 });
  await s.closed;
  assert.ok(s.logs.some((l) => l.includes('no process connected')), s.logs.join('\n'));
});

/** The flags of each WRITE and COMMIT an agent was sent, in order. */
function flagsOf(ag: FakeAgent, type: 'WRITE' | 'COMMIT'): number[] {
  return ag.received.filter((m): m is Extract<Message, { type: typeof type }> => m.type === type).map((m) => m.flags);
}

test('incremental policy: WRITE asks for references after a full generation, a full one on request, and COMMIT says what counted', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t, { fullEvery: 3 });
  let fail = false;
  const a = await agent(t, s, { pid: 301, name: 'app', ckptDir: dir, behaviour: { onWrite: () => (fail ? { status: -28, message: 'disk full' } : 'ok') } });
  for (let i = 0; i < 4; i++) assert.equal((await request(s, { cmd: 'checkpoint' })).ok, true);
  assert.equal((await request(s, { cmd: 'checkpoint', full: true })).ok, true);
  fail = true;
  assert.equal((await request(s, { cmd: 'checkpoint' })).ok, false);
  for (let i = 0; i < 6; i++) await a.next('COMMIT');
  const T = WRITE_TRACK, F = WRITE_TRACK | WRITE_FULL;
  // The fake agent's images refer to nothing, so each generation depends on none: only the
  // first (no earlier generation) and the one asked for are full.
  assert.deepEqual(flagsOf(a, 'WRITE'), [F, T, T, T, F, T]);
  assert.deepEqual(flagsOf(a, 'COMMIT'), [COMMIT_COMMITTED, COMMIT_COMMITTED, COMMIT_COMMITTED, COMMIT_COMMITTED, COMMIT_COMMITTED, 0]);
});

test('with incremental checkpoints off, WRITE asks for neither tracking nor references', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t, { incremental: false });
  const a = await agent(t, s, { pid: 302, name: 'app', ckptDir: dir });
  for (let i = 0; i < 2; i++) assert.equal((await request(s, { cmd: 'checkpoint' })).ok, true);
  assert.deepEqual(flagsOf(a, 'WRITE'), [0, 0]);
});

test('forked: COMMIT comes once the writer has answered, and says 0 when the writer failed', async (t) => {
  const dir = tmpDir(t);
  const s = await server(t);
  let fail = false;
  const a = await agent(t, s, {
    pid: 303, name: 'app', ckptDir: dir, forked: true,
    behaviour: { onWriter: () => (fail ? { status: -5, message: 'the image writer was killed' } : 'ok') },
  });
  assert.equal((await request(s, { cmd: 'checkpoint' })).ok, true);
  fail = true;
  assert.equal((await request(s, { cmd: 'checkpoint' })).ok, false);
  for (let i = 0; i < 2; i++) await a.next('COMMIT');
  // The agent's own order: RESUMED, then WRITTEN from its writer, and only then COMMIT.
  assert.deepEqual(a.received.map((m) => m.type), ['WELCOME', 'SUSPEND', 'WRITE', 'RESUME', 'COMMIT', 'SUSPEND', 'WRITE', 'RESUME', 'COMMIT']);
  assert.deepEqual(flagsOf(a, 'COMMIT'), [COMMIT_COMMITTED, 0]);
  assert.deepEqual(flagsOf(a, 'WRITE'), [WRITE_TRACK | WRITE_FULL, WRITE_TRACK]);
});

test('every process gone while it was being suspended: the checkpoint fails, and commits no empty generation', async (t) => {
  const dir = tmpDir(t);
  const peer: BarrierPeer = { procId: 1, pid: 2, name: 'app', ckptDir: dir, nsKey: 'ns', state: 'running', send: () => undefined };
  let lists = 0;
  const init: InitPeer = {
    nsKey: 'ns',
    send: (m) => {
      if (m.type !== 'LIST') return;
      lists++;
      queueMicrotask(() => barrier.deliverListed(init, {
        type: 'LISTED', ckptId: m.ckptId, procs: [], shares: [], sems: [], semvals: [], shmOwners: [], shmSegs: [], msgQueues: [], cttys: [],
      }));
    },
  };
  const barrier = new CheckpointBarrier(1, [peer], { keep: 1, phaseTimeoutMs: 5000, initFor: () => init });
  const run = barrier.run();
  // Killed with its whole computation before it answered SUSPEND: its init lists nothing.
  barrier.peerLost(peer);
  await assert.rejects(run, /every process of checkpoint 1 ended before its image was written — the previous generation is intact/);
  assert.equal(lists, 0, 'nobody is left to list');
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('gen-') || n === 'latest'), [], 'no generation, no latest');
});
