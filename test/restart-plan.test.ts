/* The restart plan's lines for SysV message queues, their data and controlling terminals. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Manifest } from '../src/ckpt-dir/manifest';
import { ResolvedGeneration } from '../src/ckpt-dir/resolve';
import { StasisError } from '../src/errors';
import { planRestart } from '../src/restart/plan';

/* P (2) under init; S (4) leads a session, A (7) and C (8) are its children. */
function generation(extra: Partial<Manifest>): ResolvedGeneration {
  const procs = [[2, 1, 2, 1], [4, 2, 4, 4], [7, 4, 7, 4], [8, 4, 4, 4]].map(([pid, ppid, pgid, sid], i) => ({
    procId: i + 1, pid: pid!, ppid: ppid!, pgid: pgid!, sid: sid!, name: 'p', image: `p-${pid}.img`, bytes: 1,
  }));
  const manifest: Manifest = {
    format: 'stasis-generation', version: 2, generation: 1, ckptId: 1, created: '2026-11-21T22:00:00.000Z', namespace: true,
    processes: procs, zombies: [], semaphores: [], sharedSegments: [], messageQueues: [], terminals: [], ...extra,
  };
  return { ckptDir: '/ck', path: '/ck/gen-000001', name: 'gen-000001', manifest, images: procs.map((p) => ({ process: p, path: `/ck/gen-000001/${p.image}` })) };
}

test('message queues, their data and a controlling terminal become plan lines', () => {
  const plan = planRestart(generation({
    messageQueues: [{ id: 32768, key: 77, mode: 0o640, uid: 1000, gid: 1000, qbytes: 12000, messages: 5, bytes: 3048 }],
    sysvData: 'sysv-ipc.bin',
    terminals: [{ pty: 3, sid: 4, foreground: 7, pids: [4, 7] }],
  }));
  const lines = plan.text.split('\n');
  assert.ok(lines.includes('msgq 32768 77 416 1000 1000 12000 5 3048'), plan.text);
  assert.ok(lines.includes('sysvdata /ck/gen-000001/sysv-ipc.bin'), plan.text);
  assert.ok(lines.includes('ctty 3 4 7 4 7'), plan.text);
});

test('a controlling terminal its session\'s leader does not have is refused before anything starts', () => {
  assert.throws(() => planRestart(generation({ terminals: [{ pty: 3, sid: 4, foreground: 7, pids: [7] }] })),
    (e: unknown) => e instanceof StasisError && e.code === 'BAD_MANIFEST' && /pty 3 is the controlling terminal of session 4, whose leader does not have it/.test(e.message));
  assert.throws(() => planRestart(generation({ terminals: [{ pty: 3, sid: 4, foreground: 7, pids: [4, 2] }] })),
    (e: unknown) => e instanceof StasisError && /process 2, which is not a live process of session 4/.test(e.message));
});
