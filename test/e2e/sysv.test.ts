/*
 * SysV IPC that only the kernel holds comes back after a restart: message queues with their
 * ids, keys, modes, limits and every unread message in order, a shared memory segment no
 * process has attached with its content, and the SEM_UNDO adjustments a process holds (it
 * still undoes them when it exits). As root and as an unprivileged user; the output must
 * end byte-identical to an uninterrupted run's.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parseManifest } from '../../src/ckpt-dir/manifest';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, hostPidOf, launchUntil, LIMIT, startRestart } from './flows';
import { Box, freePort, reference, removeShared, variants } from './harness';

after(removeShared);

function manifestOf(gen: string): ReturnType<typeof parseManifest> {
  const file = path.join(gen, 'MANIFEST.json');
  return parseManifest(fs.readFileSync(file, 'utf8'), file);
}

/** What the generation must hold of the program's SysV IPC. */
async function assertCaught(gen: string): Promise<void> {
  const m = manifestOf(gen);
  const queues = m.messageQueues.map((q) => ({ mode: q.mode, qbytes: q.qbytes, keyed: q.key !== 0 }));
  assert.deepEqual(queues.sort((a, b) => a.qbytes - b.qbytes), [{ mode: 0o640, qbytes: 12000, keyed: true }, { mode: 0o600, qbytes: 16384, keyed: false }],
    'the mailbox (a key, mode 0640, its limit lowered) and the work queue');
  const box = m.messageQueues.find((q) => q.qbytes === 12000)!;
  assert.deepEqual([box.messages, box.bytes], [5, 3048], 'the mailbox\'s five unread messages');
  assert.ok(m.messageQueues.some((q) => q.qbytes === 16384 && q.messages > 0), 'jobs wait in the work queue');
  assert.ok(m.sysvData !== undefined && fs.statSync(path.join(gen, m.sysvData)).size > 12388, 'the SysV data holds the messages and the segment');
  assert.deepEqual(m.sharedSegments.map((g) => g.size), [3 * 4096 + 100], 'the segment no process has attached');
  const undo = [];
  for (const p of m.processes) undo.push(...(await readImage(path.join(gen, p.image))).semUndo);
  assert.deepEqual(undo.map((u) => u.adj), [[{ num: 0, adj: 1 }, { num: 1, adj: -2 }]], 'the holder\'s SEM_UNDO adjustments');
}

for (const v of variants()) {
  test(`message queues, an unattached segment and SEM_UNDO adjustments come back — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['60', `${v.name}${process.pid}`];
    const ref = reference('sysvipc', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'sysvipc', args, 4);
    const gen = await checkpoint(box, port);
    await assertCaught(gen);

    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');

    // Damaged SysV data: refused in one line before anything runs.
    const output = fs.readFileSync(launched.out);
    const data = path.join(gen, manifestOf(gen).sysvData!);
    const damages: [string, (b: Buffer) => Buffer, string][] = [
      ['a flipped byte', (b) => { b[b.length - 100]! ^= 0x20; return b; }, 'the checksum of the record at byte \\d+ is wrong'],
      ['cut short', (b) => b.subarray(0, b.length - 200), 'it ends at byte \\d+, before its END record'],
    ];
    for (const [what, damage, why] of damages) {
      const copy = box.path(`damaged-${what.replace(/ /g, '-')}`);
      fs.cpSync(gen, copy, { recursive: true });
      const bad = path.join(copy, path.basename(data));
      fs.writeFileSync(bad, damage(fs.readFileSync(data)));
      box.giveAway(copy);
      const p = startRestart(box, port, copy);
      assert.equal((await p.wait(LIMIT.run)).status, 1, `restart of SysV data ${what}: ${p.describe()}`);
      assert.match(p.stderr, new RegExp(`^stasis: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid SysV IPC data \\(${why}\\) — restart from an earlier generation\n$`),
        `restart of SysV data ${what}`);
    }
    assert.ok(fs.readFileSync(launched.out).equals(output), 'nothing ran from the damaged copies');

    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `sysvipc restarted as ${box.who.label}`);
  });

  test(`without MSG_COPY, messages are taken and put back: a checkpoint that fails after that leaves every queue as it was — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['120', `fi${v.name}${process.pid}`];
    const ref = reference('sysvipc', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'sysvipc', args, 4, LIMIT.start, [], { STASIS_FI: 'no-msg-copy,sysv-write-fails-once' });

    const failed = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(failed.status, 1, `the first checkpoint must fail: ${failed.stdout}${failed.stderr}`);
    assert.match(failed.stderr, /^stasis: the init of namespace \S+ could not save its SysV IPC data: fault injected after reading the message queues \(STASIS_FI=sysv-write-fails-once\) \(EIO \(errno 5\)\) — the previous generation is intact\n$/);
    assert.ok(!fs.existsSync(path.join(launched.ckptDir, 'latest')), 'no generation was committed');

    const gen = await checkpoint(box, port);
    await assertCaught(gen);
    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `sysvipc restarted as ${box.who.label}`);
  });
}
