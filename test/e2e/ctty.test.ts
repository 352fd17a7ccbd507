/*
 * A pty of the computation as a session's controlling terminal: after a restart the
 * session has it again (so /dev/tty opens, and job control stops or refuses what it
 * refused before), its foreground process group is the same, and a process of that session
 * that had no controlling terminal still has none. As root and as an unprivileged user; the
 * output must end byte-identical to an uninterrupted run's.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parseManifest } from '../../src/ckpt-dir/manifest';
import { FdKind, SHARE_PTY_CTTY, SHARE_PTY_OWNER } from '../../src/image/format';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, hostPidOf, launchUntil, LIMIT, startRestart } from './flows';
import { Box, freePort, reference, removeShared, variants } from './harness';

after(removeShared);

for (const v of variants()) {
  test(`a session keeps its pty as controlling terminal, with the same foreground group and job control — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['60'];
    const ref = reference('ctty', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'ctty', args, 12);
    const gen = await checkpoint(box, port);

    const file = path.join(gen, 'MANIFEST.json');
    const m = parseManifest(fs.readFileSync(file, 'utf8'), file);
    const s = m.processes.find((p) => p.sid === p.pid && p.ppid !== 1);
    assert.ok(s, `S leads a session: ${JSON.stringify(m.processes)}`);
    assert.equal(m.terminals.length, 1, `one controlling terminal: ${JSON.stringify(m.terminals)}`);
    const term = m.terminals[0]!;
    assert.equal(term.sid, s.pid, 'it controls S\'s session');
    const members = m.processes.filter((p) => p.sid === s.pid).map((p) => p.pid).sort((a, b) => a - b);
    assert.equal(members.length, 4, 'S, A, B and C');
    assert.equal(term.pids.length, 3, `S, A and B have it, C has not: ${JSON.stringify(term)}`);
    assert.ok(term.pids.every((pid) => members.includes(pid)));
    const a = m.processes.find((p) => p.pid === term.foreground);
    assert.ok(a && a.pgid === a.pid && a.ppid === s.pid, 'A\'s group is the foreground');
    const main = m.processes.find((p) => p.ppid === 1)!;
    const owner = (await readImage(path.join(gen, main.image))).fds.find((f) => f.kind === FdKind.PTY && f.dupOf < 0);
    assert.ok(owner?.share && (owner.share.flags & SHARE_PTY_OWNER) !== 0 && (owner.share.flags & SHARE_PTY_CTTY) !== 0,
      'P owns the pty, which stasis-init makes on restart');

    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `ctty restarted as ${box.who.label}`);
  });
}
