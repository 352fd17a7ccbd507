/*
 * A process with a 2 GiB heap of random data (test/programs/bigheap.c: every output line
 * depends on all the memory written before it) is checkpointed after it has started
 * working, killed, and restarted to the same output as an uninterrupted run. The 2 GiB
 * images are deleted as soon as the restart is checked. As root and as an unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, launchUntil, onlyImage, startRestart } from './flows';
import { Box, freePort, reference, removeShared, variants } from './harness';

after(removeShared);

const MIB = 2048;
/* Enough steps (about 10 s here) that the program is still running when the checkpoint
 * returns: with a forked checkpoint it runs on while its image is written. */
const ARGS = [String(MIB), '2000'];

for (const v of variants()) {
  test(`a 2 GiB heap of random data is checkpointed and restarted to the same output — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
    const box = Box.create(t, v.identity());
    // One 2 GiB process at a time: the reference first.
    const r = await reference('bigheap', ARGS, 180000);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'bigheap', ARGS, 4, 120000);
    try {
      const gen = await checkpoint(box, port, 180000);
      const size = fs.statSync(onlyImage(gen)).size;
      assert.ok(size > MIB * 1024 * 1024, `the image holds the whole heap: ${size} bytes`);
      const img = await imageFacts(gen);
      assert.ok(img.stdoutOffset < r.output.length, 'checkpointed mid-run');
      await killLaunched(box, port, launched);

      const restart = startRestart(box, port, launched.ckptDir);
      await expectFinishesLikeReference(restart, launched.out, r, `the 2 GiB process restarted as ${box.who.label}`);
    } finally {
      fs.rmSync(launched.ckptDir, { recursive: true, force: true });
    }
  });
}
