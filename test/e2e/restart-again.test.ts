/*
 * A generation can be restarted more than once, and a restarted program can be
 * checkpointed again: restart twice from one generation (each run leaves the output file
 * identical to an uninterrupted run's, and the generation's files untouched), then restart
 * it a third time, checkpoint that, SIGKILL the `stasis restart` process, and restart the
 * newer generation to the same output. As root and as an unprivileged user.
 *
 * Before each restart everything the file holds past the image's stdout offset is
 * overwritten with '#', so a restart that does not write all the rest itself is caught.
 * One coordinator, owned by the test, serves every step (no auto-start races between a
 * coordinator that exits when idle and the next restart).
 */

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, killRestart, launchUntil, scribbleAfter, startRestart,
  waitRestoredWrites,
} from './flows';
import { Box, freePort, hashGenerations, latestGeneration, reference, removeShared, variants, writeMark } from './harness';

after(removeShared);

const ARGS = ['100'];

for (const v of variants()) {
  test(`restart one generation twice, checkpoint a restarted program, kill it, restart the newer generation — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('cpu', ARGS);
    const port = await freePort();
    await box.coordinator(port);

    const launched = await launchUntil(box, port, 'cpu', ARGS, 3);
    const gen1 = await checkpoint(box, port);
    await killLaunched(box, port, launched);
    const first = await imageFacts(gen1);
    const before = hashGenerations(launched.ckptDir);
    const r = await ref;

    for (const n of [1, 2]) {
      scribbleAfter(launched.out, first.stdoutOffset);
      const restart = startRestart(box, port, gen1);
      await expectFinishesLikeReference(restart, launched.out, r, `restart #${n} of ${path.basename(gen1)}`);
    }
    assert.deepEqual(hashGenerations(launched.ckptDir), before, 'restarting must not change the generation it restarts');

    // A third restart, checkpointed once it runs, then killed through `stasis restart`.
    scribbleAfter(launched.out, first.stdoutOffset);
    const mark = writeMark(launched.out);
    const third = startRestart(box, port, gen1);
    await waitRestoredWrites(launched.out, mark, third);
    const st = await box.status(port);
    assert.deepEqual(st.processes.map((p) => [p.pid, p.restarted]), [[first.pid, true]],
      'the restarted process is back under its old pid, flagged as restarted');
    const gen2 = await checkpoint(box, port);
    assert.equal(path.basename(gen2), 'gen-000002');
    assert.equal(latestGeneration(launched.ckptDir), 'gen-000002');
    const second = await imageFacts(gen2);
    assert.equal(second.pid, first.pid, 'the second image is of the same pid');
    assert.ok(second.stdoutOffset > first.stdoutOffset,
      `the restarted program wrote before its checkpoint: offset ${second.stdoutOffset} after ${first.stdoutOffset}`);
    await killRestart(third);
    assert.equal(third.exit!.signal, 'SIGKILL');

    scribbleAfter(launched.out, second.stdoutOffset);
    const last = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(last, launched.out, r, 'restart of the newer generation (latest)');
  });
}
