/*
 * Seven kinds of program — CPU-bound C, eight C threads on a mutex and a condition variable,
 * Python, Node, C state a restart must keep exactly (AVX registers mid-loop, signal
 * handler on its alternate stack, mask, rlimit, umask, cwd), the kernel state around a
 * process (pending signals, interval and POSIX timers, thread attributes), and an
 * epoll/eventfd/timerfd event loop — each launched with stdout in a file, checkpointed mid-run, killed with
 * SIGKILL and restarted: the file must end byte-identical to an uninterrupted run's, with
 * the same exit status. As root and as an unprivileged user. The coordinator is the one
 * `stasis launch` starts on its own, and the one `stasis restart` starts after it.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, launchUntil, onlyImage, startRestart } from './flows';
import { Box, freePort, ProgramName, reference, removeShared, variants } from './harness';

after(removeShared);

/* What the image of kstate.c must hold, beside what its output checks. */
async function expectKernelState(gen: string): Promise<void> {
  const img = await readImage(onlyImage(gen));
  const ps = img.procState;
  assert.ok(ps, 'a PROC_STATE record');
  assert.ok(ps.monotonicNs > 0n && ps.boottimeNs >= ps.monotonicNs && ps.realtimeNs > ps.boottimeNs, 'the clocks at checkpoint time');
  assert.equal(ps.personality, 0x40000, 'ADDR_NO_RANDOMIZE');
  assert.equal(ps.dumpable, 0);
  const queued = (list: Buffer[], sig: number): bigint[] => list.filter((s) => s.readInt32LE(0) === sig).map((s) => s.readBigUInt64LE(24) & 0xffffffffn);
  assert.deepEqual(queued(ps.siginfo, 36), [1n, 2n, 3n], 'SIGRTMIN+2 queued three times to the process, in order');
  const worker = img.threadStates.find((t) => t.comm === 'kst-worker');
  assert.ok(worker, 'the worker thread\'s state, by its name');
  assert.deepEqual(queued(worker.siginfo, 37), [10n, 20n, 30n], 'SIGRTMIN+3 queued three times to the worker, in order');
  assert.equal(worker.nice, 7);
  assert.deepEqual(img.posixTimers.map((t) => t.timerId).sort(), [0, 1, 2, 3, 4]);
}

/* Arguments for a full run of about two seconds here. */
const CASES: { name: ProgramName; what: string; args: string[] }[] = [
  { name: 'cpu', what: 'a CPU-bound single-threaded C program', args: ['100'] },
  { name: 'threads', what: 'eight C threads on a mutex and a condition variable', args: ['1000'] },
  { name: 'python', what: 'a python3 script', args: ['50'] },
  { name: 'node', what: 'a node script', args: ['80'] },
  { name: 'state', what: 'a C program holding AVX registers, an alternate signal stack, a mask, an rlimit, umask and cwd', args: ['30'] },
  { name: 'kstate', what: 'a program using POSIX timers and signal handlers, with queued signals, itimers and thread attributes', args: ['60'] },
  { name: 'evloop', what: 'an event loop built on epoll, eventfd and timerfd', args: ['80'] },
];

for (const v of variants()) {
  for (const c of CASES) {
    test(`${c.what} (${c.name}) is checkpointed, killed and restarted to the same output — ${v.name}`, { skip: v.skip }, async (t) => {
      const box = Box.create(t, v.identity());
      const ref = reference(c.name, c.args);
      const port = await freePort();

      const launched = await launchUntil(box, port, c.name, c.args, 3);
      const gen = await checkpoint(box, port);
      await killLaunched(box, port, launched);

      const r = await ref;
      const img = await imageFacts(gen);
      assert.equal(img.uid, box.who.uid, 'the checkpointed process runs as the variant\'s user');
      assert.ok(img.stdoutOffset > 0 && img.stdoutOffset < r.output.length,
        `the checkpoint should be mid-run: stdout offset ${img.stdoutOffset} of ${r.output.length} bytes`);
      if (c.name === 'threads') assert.equal(img.threads, 10, 'main, eight workers and the checkpoint thread');
      if (c.name === 'kstate') await expectKernelState(gen);

      const restart = startRestart(box, port, launched.ckptDir);
      await expectFinishesLikeReference(restart, launched.out, r, `${c.name} restarted as ${box.who.label}`);
    });
  }
}
