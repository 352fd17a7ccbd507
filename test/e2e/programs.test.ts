/*
 * Ten kinds of program — CPU-bound C, eight C threads on a mutex and a condition variable,
 * Python, Node, C state a restart must keep exactly (AVX registers mid-loop, signal
 * handler on its alternate stack, mask, rlimit, umask, cwd), C holding fds whose objects
 * the restart must rebuild (a file deleted while open, a named FIFO, a pty), the kernel
 * state around a process (pending signals, interval and POSIX timers, thread attributes),
 * and an epoll/eventfd/timerfd event loop — each launched with stdout in a file, checkpointed mid-run, killed with
 * SIGKILL and restarted: the file must end byte-identical to an uninterrupted run's, with
 * the same exit status. As root and as an unprivileged user. The coordinator is the one
 * `stasis launch` starts on its own, and the one `stasis restart` starts after it.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DELETED_MEMFD, ParsedImage, PTY_PACKET } from '../../src/image/format';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, launchUntil, onlyImage, startRestart } from './flows';
import { Box, freePort, ProgramName, reference, removeShared, variants } from './harness';

after(removeShared);

/* What the image of a program that holds rebuildable fds must show, so that the same
 * output after the restart means those fds were really saved and rebuilt. */
function imageHas(name: ProgramName, img: ParsedImage): void {
  const extras = img.fds.map((f) => f.extra);
  if (name === 'deleted') {
    const files = extras.filter((x) => x?.kind === 'DELETED');
    assert.equal(files.length, 3, 'the scratch file twice (the dup is a dup) and the memfd');
    assert.ok(files.some((x) => x?.kind === 'DELETED' && x.flags === DELETED_MEMFD && x.seals !== 0), 'a sealed memfd');
    const ofScratch = img.fileData.filter((d) => d.fileId === 1n);
    assert.ok(ofScratch.length >= 2, 'the 9 MiB head takes more than one FILEDATA record');
    assert.ok(ofScratch.every((d) => d.offset < 9n << 20n || d.offset >= 16n << 20n), 'the hole is not stored');
  }
  if (name === 'fifo') {
    const fifos = extras.filter((x) => x?.kind === 'FIFO');
    assert.equal(fifos.length, 3, 'three fds on the FIFO');
    assert.ok(fifos.some((x) => x?.kind === 'FIFO' && x.data.length >= 32), 'bytes in flight');
  }
  if (name === 'pty') {
    const ends = extras.filter((x) => x?.kind === 'PTY');
    assert.deepEqual(ends.map((x) => x?.kind === 'PTY' && x.end).sort(), [0, 1], 'master and slave');
    assert.ok(ends.every((x) => x?.kind === 'PTY' && x.rows === 33 && x.cols === 101 && x.flags === PTY_PACKET), 'window size and packet mode');
    assert.ok(ends.some((x) => x?.kind === 'PTY' && x.masterData.length + x.slaveData.length > 0), 'bytes in flight');
  }
}

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
  { name: 'deleted', what: 'a C program that writes a temp file, unlinks it and keeps reading it back (three fds, a hole, a memfd)', args: ['60'] },
  { name: 'fifo', what: 'a C program with bytes in flight in a named FIFO open read-only non-blocking, write-only and read-write', args: ['60'] },
  { name: 'pty', what: 'a C program holding both ends of a pty with its own termios, window size and packet mode, bytes in flight both ways', args: ['60'] },
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
      imageHas(c.name, await readImage(onlyImage(gen), { verify: true }));
      if (c.name === 'kstate') await expectKernelState(gen);

      const restart = startRestart(box, port, launched.ckptDir);
      await expectFinishesLikeReference(restart, launched.out, r, `${c.name} restarted as ${box.who.label}`);
    });
  }
}
