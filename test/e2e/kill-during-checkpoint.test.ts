/*
 * SIGKILL at random moments during a checkpoint, twenty times over: the previous generation
 * must always restart. A program with ~200 MB of changing memory (so that a checkpoint takes
 * long enough to be hit mid-way) is checkpointed once; then each round starts `stasis
 * checkpoint`, waits a random 0..(one checkpoint's duration) and SIGKILLs the program — by
 * its host pid while it is the launched one, through its `stasis restart` process once it
 * is a restored one. The checkpoint command must still end; `latest` must then name a
 * complete generation whose images pass `stasis inspect --verify` (the new one if the
 * checkpoint said it committed, else the one before); and a restart from it must run,
 * becoming the program of the next round. The last restart runs to the end, and its output
 * must be the uninterrupted run's.
 *
 * The delays come from a seeded PRNG; the seed is logged, and STASIS_TEST_SEED replays it.
 * Root only.
 */

import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { checkpoint, expectFinishesLikeReference, hostPid, launchUntil, LIMIT, startRestart, waitRestoredWrites } from './flows';
import { Box, freePort, latestGeneration, Proc, reference, removeShared, seededRandom, variants, writeMark } from './harness';

after(removeShared);

const ROUNDS = 20;
/* 192 MiB of random data; enough steps that twenty short stretches of running never finish it. */
const ARGS = ['192', '6000'];

const rootVariant = variants().find((v) => v.name === 'root')!;

const skip = rootVariant.skip && `runs as root only (${rootVariant.skip})`;

test(`SIGKILL at random moments during a checkpoint, ${ROUNDS} times: the previous generation always restarts`, { skip, timeout: 480000 }, async (t) => {
  const seed = process.env.STASIS_TEST_SEED ? Number(process.env.STASIS_TEST_SEED) : crypto.randomInt(2 ** 31);
  t.diagnostic(`seed ${seed} (replay with STASIS_TEST_SEED=${seed})`);
  const random = seededRandom(seed);
  const box = Box.create(t, rootVariant.identity());
  const ref = reference('bigheap', ARGS, 300000);
  const port = await freePort();
  await box.coordinator(port);

  const launched = await launchUntil(box, port, 'bigheap', ARGS, 4);
  const ckpt = launched.ckptDir;
  const t0 = Date.now();
  await checkpoint(box, port);
  const typical = Date.now() - t0;
  t.diagnostic(`one checkpoint takes ${typical} ms; kills come 0..${typical} ms after \`stasis checkpoint\` starts`);

  const pid = await hostPid(box, port, launched.proc);
  let victim: { proc: Proc; kill: () => void } = { proc: launched.proc, kill: () => process.kill(pid, 'SIGKILL') };
  let previous = latestGeneration(ckpt);
  const story: string[] = [];
  const committedRounds: number[] = [];

  for (let round = 1; round <= ROUNDS; round++) {
    const where = `round ${round} (seed ${seed})`;
    const wait = Math.floor(random() * typical);
    const ck = box.startStasis(['checkpoint', '--coord-port', String(port)]);
    await delay(wait); // the moment of the fault, not a synchronisation
    assert.ok(victim.proc.running, `${where}: the program ended before it was killed — give it more steps: ${victim.proc.describe()}`);
    victim.kill();
    const ce = await ck.wait(LIMIT.checkpoint);
    await victim.proc.wait(LIMIT.die);

    const latest = latestGeneration(ckpt);
    if (ce.status === 0) {
      assert.equal(latest, path.basename(ck.stdout.trim()), `${where}: the checkpoint reported ${ck.stdout.trim()} but latest is ${latest}`);
      committedRounds.push(round);
    } else {
      assert.equal(latest, previous, `${where}: a failed checkpoint (${ck.stderr.trim()}) moved latest from ${previous} to ${latest}`);
      assert.ok(/^stasis: [^\n]+\n$/.test(ck.stderr), `${where}: the failed checkpoint should say why in one line: ${JSON.stringify(ck.stderr)}`);
    }
    for (const name of fs.readdirSync(ckpt).filter((n) => /^gen-\d+$/.test(n))) {
      assert.ok(fs.existsSync(path.join(ckpt, name, 'MANIFEST.json')), `${where}: ${name} was left without a manifest`);
    }
    const inspect = await box.stasis(['inspect', '--verify', '--json', ckpt], LIMIT.checkpoint);
    assert.equal(inspect.status, 0, `${where}: ${latest} does not verify: ${inspect.stderr}`);
    assert.equal(path.basename((JSON.parse(inspect.stdout) as { generation: { path: string } }).generation.path), latest);
    story.push(`round ${round}: SIGKILL ${wait} ms into the checkpoint → ${ce.status === 0 ? `it committed ${latest}` : `it failed (${ck.stderr.trim()}); latest stays ${latest}`}`);
    previous = latest;

    const mark = writeMark(launched.out);
    const restart = startRestart(box, port, ckpt);
    await waitRestoredWrites(launched.out, mark, restart);
    victim = { proc: restart, kill: () => restart.kill() };
  }
  for (const line of story) t.diagnostic(line);
  t.diagnostic(`${committedRounds.length} of ${ROUNDS} interrupted checkpoints still committed`);

  await expectFinishesLikeReference(victim.proc, launched.out, await ref, `the program after ${ROUNDS} interrupted checkpoints (seed ${seed})`);
});
