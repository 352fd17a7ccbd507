/*
 * Periodic checkpoints: `stasis launch --interval 1 --keep 2 --full-every 2` checkpoints by
 * itself every second and keeps the two newest generations and those they depend on
 * (incremental ones refer to earlier ones). A full generation at least every second one
 * means that once the fourth is committed, the first is needed by nothing kept: it must go,
 * and what is left must be exactly the two newest and their dependencies, whichever of them
 * the coordinator made full (it also does so when little of an earlier one is still used,
 * which depends on timing). Then the program is killed; a restart of `latest` must finish
 * exactly like an uninterrupted run.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parseManifest } from '../../src/ckpt-dir/manifest';
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
    const args = ['500'];
    const ref = reference('cpu', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'cpu', args, 1, LIMIT.start, ['--interval', '1', '--keep', '2', '--full-every', '2']);
    const dir = launched.ckptDir;
    const gen = (n: number): string => path.join(dir, `gen-00000${n}`);
    /** The complete generations on disk, and those --keep 2 keeps: the two newest and what they depend on. */
    const retention = (): { have: string[]; keep: string[] } => {
      const have = fs.readdirSync(dir).filter((n) => /^gen-\d+$/.test(n) && fs.existsSync(path.join(dir, n, 'MANIFEST.json'))).sort();
      const keep = new Set(have.slice(-2));
      for (const n of have.slice(-2)) {
        const file = path.join(dir, n, 'MANIFEST.json');
        for (const g of parseManifest(fs.readFileSync(file, 'utf8'), file).dependsOn ?? []) keep.add(`gen-${String(g).padStart(6, '0')}`);
      }
      return { have, keep: [...keep].sort() };
    };
    const pruned = (): boolean => {
      const r = retention();
      return !fs.existsSync(gen(1)) && r.have.join(' ') === r.keep.join(' ');
    };
    await until([dir, gen(4)], () => fs.existsSync(path.join(gen(4), 'MANIFEST.json')), 'a fourth committed generation', 30000);
    /* A commit writes its manifest, then `latest`, then prunes: wait for the last step. */
    await until([dir], pruned, 'removal of gen-000001 and of everything the two newest do not need, under --keep 2', 10000);
    await killLaunched(box, port, launched);
    // A checkpoint may have been committed just before the kill: its pruning follows it.
    await until([dir], pruned, 'pruning after the last commit', 10000);
    const { have, keep } = retention();
    assert.deepEqual(have, keep, '--keep 2 keeps the two newest complete generations and what they depend on, nothing else');
    assert.equal(fs.readlinkSync(path.join(dir, 'latest')), have[have.length - 1], 'latest names the newest complete generation');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `cpu restarted from a periodic checkpoint as ${box.who.label}`);
  });
}
