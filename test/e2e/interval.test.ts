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

/** Resolves when `file` exists, watching its folder; rejects at the deadline. */
function appears(file: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true });
    let watchers: fs.FSWatcher[] = [];
    const done = (err?: Error): void => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      if (err) reject(err);
      else resolve();
    };
    const check = (): void => {
      if (fs.existsSync(file)) return done();
      /* The generation folder itself appears first: watch it too once it exists. */
      const gen = path.dirname(file);
      if (gen !== dir && fs.existsSync(gen) && watchers.length < 2) watchers.push(fs.watch(gen, check));
    };
    const timer = setTimeout(() => done(new Error(`${file} did not appear within ${timeoutMs} ms`)), timeoutMs);
    watchers = [fs.watch(dir, check)];
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
    const third = path.join(launched.ckptDir, 'gen-000003', 'MANIFEST.json');
    await appears(path.join(launched.ckptDir, 'gen-000003'), 20000);
    await appears(third, 20000);
    await killLaunched(box, port, launched);

    const complete = fs.readdirSync(launched.ckptDir)
      .filter((n) => n.startsWith('gen-') && fs.existsSync(path.join(launched.ckptDir, n, 'MANIFEST.json')))
      .sort();
    assert.ok(!complete.includes('gen-000001'), `--keep 2 should have removed gen-000001: ${complete.join(' ')}`);
    assert.ok(complete.length <= 2, `--keep 2 keeps two complete generations: ${complete.join(' ')}`);
    assert.equal(fs.readlinkSync(path.join(launched.ckptDir, 'latest')), complete[complete.length - 1],
      'latest names the newest complete generation');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `cpu restarted from a periodic checkpoint as ${box.who.label}`);
  });
}
