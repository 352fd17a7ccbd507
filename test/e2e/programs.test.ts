/*
 * Five kinds of program — CPU-bound C, eight C threads on a mutex and a condition variable,
 * Python, Node, and C state a restart must keep exactly (AVX registers mid-loop, signal
 * handler on its alternate stack, mask, rlimit, umask, cwd) — each launched with stdout in a file, checkpointed mid-run, killed with
 * SIGKILL and restarted: the file must end byte-identical to an uninterrupted run's, with
 * the same exit status. As root and as an unprivileged user. The coordinator is the one
 * `stasis launch` starts on its own, and the one `stasis restart` starts after it.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, launchUntil, startRestart } from './flows';
import { Box, freePort, ProgramName, reference, removeShared, variants } from './harness';

after(removeShared);

/* Arguments for a full run of about two seconds here. */
const CASES: { name: ProgramName; what: string; args: string[] }[] = [
  { name: 'cpu', what: 'a CPU-bound single-threaded C program', args: ['100'] },
  { name: 'threads', what: 'eight C threads on a mutex and a condition variable', args: ['1000'] },
  { name: 'python', what: 'a python3 script', args: ['50'] },
  { name: 'node', what: 'a node script', args: ['80'] },
  { name: 'state', what: 'a C program holding AVX registers, an alternate signal stack, a mask, an rlimit, umask and cwd', args: ['30'] },
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

      const restart = startRestart(box, port, launched.ckptDir);
      await expectFinishesLikeReference(restart, launched.out, r, `${c.name} restarted as ${box.who.label}`);
    });
  }
}
