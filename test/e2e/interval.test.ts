/*
 * Periodic checkpoints: `stasis launch --interval 1 --keep 2` checkpoints by itself every
 * second and keeps the two newest generations. After the third has been committed the
 * program is killed; a restart of `latest` must finish exactly like an uninterrupted run.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { expectFinishesLikeReference, killLaunched, launchUntil, LIMIT, startRestart } from './flows';
import { Box, freePort, reference, removeShared, variants } from './harness';

after(removeShared);

/**
 * Resolves once `holds()` is true, re-checking whenever something in `dirs` changes (a
 * folder is watched from the moment it exists); rejects with `what` at the deadline.
 */
function until(dirs: string[], holds: () => boolean, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const watchers = new Map<string, fs.FSWatcher>();
    const done = (err?: Error): void => {
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      if (err) reject(err);
      else resolve();
    };
    const check = (): void => {
      for (const d of dirs) {
        if (!watchers.has(d) && fs.existsSync(d)) watchers.set(d, fs.watch(d, check));
      }
      if (holds()) done();
    };
    const timer = setTimeout(() => done(new Error(`${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
    check();
  });
}

for (const v of variants()) {
  test(`--interval checkpoints periodically, --keep prunes, and latest restarts — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['300'];
    const ref = reference('cpu', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'cpu', args, 1, LIMIT.start, ['--interval', '1', '--keep', '2']);
    const dir = launched.ckptDir;
    const gen = (n: number): string => path.join(dir, `gen-00000${n}`);
    /* The third commit writes its manifest, then `latest`, then prunes gen-000001: wait for the last step. */
    await until([dir, gen(3)], () => fs.existsSync(path.join(gen(3), 'MANIFEST.json')), 'a third committed generation', 20000);
    await until([dir], () => !fs.existsSync(gen(1)), 'removal of gen-000001 under --keep 2', 10000);
    await killLaunched(box, port, launched);

    const complete = fs.readdirSync(dir)
      .filter((n) => n.startsWith('gen-') && fs.existsSync(path.join(dir, n, 'MANIFEST.json')))
      .sort();
    assert.ok(complete.length <= 2, `--keep 2 keeps two complete generations: ${complete.join(' ')}`);
    assert.equal(fs.readlinkSync(path.join(dir, 'latest')), complete[complete.length - 1],
      'latest names the newest complete generation');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `cpu restarted from a periodic checkpoint as ${box.who.label}`);
  });
}
