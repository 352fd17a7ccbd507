/*
 * Forked checkpoints (docs/architecture.md, "A forked checkpoint"): each process is paused
 * only while its state is captured, then runs on while a copy-on-write writer process
 * finishes its image; `stasis checkpoint` returns once every image is durable.
 *
 *   - a program that changes every page on every step runs on during the write (its writer
 *     held back until it has done so three times: fault injection point writer-hold), yet
 *     restarts to an uninterrupted run's output: the image is the memory at the pause;
 *   - a program that watches for children it did not make (SIGCHLD, waitpid(-1), waitid)
 *     never sees a writer, over three checkpoints, and restarts to the same output;
 *   - a program that exits (or execs) while its image is still being written: the
 *     checkpoint commits, and restarts it from before; after the exec, no writer is left
 *     for the new program to find (even with __WALL);
 *   - `--no-fork`, memory pressure (a fault injection point) and MADV_DONTFORK memory
 *     write the image with the program paused and say so, per process;
 *   - a writer killed mid-image fails that checkpoint in one line; the previous generation
 *     stays, and the next checkpoint works.
 *
 * As root and as an unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { sendRequest } from '../../src/client/client';
import { JsonObject } from '../../src/protocol/messages';
import {
  checkpoint, expectFinishesLikeReference, hostPid, hostPidOf, imageFacts, killLaunched, launchUntil, LIMIT, startRestart, waitRestoredWrites,
} from './flows';
import { Box, countLines, freePort, latestGeneration, oneLine, reference, removeShared, variants, waitForLines, withDeadline, writeMark } from './harness';

after(removeShared);

interface Answer {
  generation: string;
  durationMs: number;
  pauseMs: number;
  pauseWindowUs: [number, number];
  processes: number;
  forked: number;
  notForked: { pid: number; name: string; reason: string }[];
}

/** `stasis checkpoint --json`, which must succeed. */
async function checkpointJson(box: Box, port: number): Promise<Answer> {
  const before = Number(process.hrtime.bigint() / 1000n);
  const r = await box.stasis(['checkpoint', '--json', '--coord-port', String(port)], LIMIT.checkpoint);
  const done = Number(process.hrtime.bigint() / 1000n);
  assert.equal(r.status, 0, `stasis checkpoint failed: ${r.stderr}`);
  const a = JSON.parse(r.stdout) as Answer & { ok: boolean };
  assert.equal(a.ok, true);
  assert.ok(fs.existsSync(path.join(a.generation, 'MANIFEST.json')), `${a.generation} is committed`);
  assert.ok(a.pauseMs > 0 && a.pauseMs <= a.durationMs, `a pause (${a.pauseMs} ms) within the checkpoint (${a.durationMs} ms)`);
  // The pause window is on this host's monotonic clock: inside the CLI's run, and holding the pause.
  const [from, to] = a.pauseWindowUs;
  assert.ok(before < from && from <= to && to < done, `the pause window [${from}, ${to}] µs lies within the CLI's run [${before}, ${done}]`);
  assert.ok(to - from >= Math.floor(a.pauseMs * 1000), `the pause window (${to - from} µs) holds the pause (${a.pauseMs} ms)`);
  return a;
}

const SUMMARY = /^stasis: paused \d+(\.\d)? ms; complete in \d+ ms: (\d+) processes, \d+ bytes$/;

for (const v of variants()) {
  test(`a program changing every page runs on while its image is written, and restarts to the same output — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['256', '2500'];
    const ref = reference('mutator', args);
    const port = await freePort();
    // writer-hold: the writer reads no private memory before writer-go exists, so the
    // program has changed every page at least twice over by the time it does.
    const launched = await launchUntil(box, port, 'mutator', args, 3, LIMIT.start, [], { STASIS_FI: 'writer-hold' });
    let resumed!: (lines: number) => void;
    const atResume = new Promise<number>((resolve) => (resumed = resolve));
    const answer = sendRequest({ host: '127.0.0.1', port }, { cmd: 'checkpoint' }, {
      onProgress: (p: JsonObject) => {
        if (p.phase === 'resumed') resumed(countLines(launched.out));
      },
    });
    const l0 = await withDeadline(atResume, LIMIT.checkpoint, () => 'the checkpoint never resumed the program');
    await waitForLines(launched.out, l0 + 3, { timeoutMs: LIMIT.start, abortOn: [launched.proc] });
    fs.writeFileSync(path.join(launched.ckptDir, 'writer-go'), '');
    const a = (await answer) as unknown as Answer & { ok: boolean };
    assert.equal(a.ok, true, JSON.stringify(a));
    const linesAtReturn = countLines(launched.out);
    assert.equal(a.forked, 1, `the checkpoint was forked: ${JSON.stringify(a)}`);
    assert.deepEqual(a.notForked, []);
    assert.ok(a.pauseMs > 0 && a.pauseMs < a.durationMs, `a pause (${a.pauseMs} ms) shorter than the checkpoint (${a.durationMs} ms)`);
    const img = await imageFacts(a.generation);
    const atPause = fs.readFileSync(launched.out).subarray(0, img.stdoutOffset).toString().split('\n').length - 1;
    t.diagnostic(`paused ${a.pauseMs} ms of ${a.durationMs} ms; ${linesAtReturn - atPause} steps (each changes every page) ran before the writer was done`);
    assert.ok(atPause <= l0 && linesAtReturn >= l0 + 3, `the image is of the pause (${atPause} lines), not of later (${l0} lines at the resume, ${linesAtReturn} at the return)`);
    await killLaunched(box, port, launched);
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `mutator restarted as ${box.who.label}`);
  });

  test(`the image writer is invisible to the program: no SIGCHLD, nothing to wait for, over three checkpoints — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['3000'];
    const ref = reference('quietkids', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'quietkids', args, 3);
    for (let i = 0; i < 3; i++) {
      const a = await checkpointJson(box, port);
      assert.equal(a.forked, a.processes, `every process was forked: ${JSON.stringify(a)}`);
    }
    // Lines the program printed while the last writer ran are rewritten by the restart:
    // look at them now.
    await waitForLines(launched.out, countLines(launched.out) + 30, { timeoutMs: LIMIT.start, abortOn: [launched.proc] });
    const seen = fs.readFileSync(launched.out, 'utf8');
    assert.ok(!seen.includes('FAIL'), `the program saw a child it did not make: ${seen.split('\n').filter((l) => l.includes('FAIL')).slice(0, 3).join(' | ')}`);
    assert.ok(seen.includes('its own child exited'), 'its own children were seen');
    // By its pid in the namespace: one of its short-lived children may be connected too.
    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `quietkids restarted as ${box.who.label}`);
  });

  for (const how of ['exits', 'execs'] as const) {
    test(`a program that ${how} while its image is written still gets a complete generation, which restarts it — ${v.name}`, { skip: v.skip }, async (t) => {
      const box = Box.create(t, v.identity());
      const port = await freePort();
      const launched = await launchUntil(box, port, 'waiter', how === 'exits' ? ['256'] : ['256', 'exec'], 1);
      const pid = await hostPid(box, port, launched.proc);
      let told = false;
      const res = await sendRequest({ host: '127.0.0.1', port }, { cmd: 'checkpoint' }, {
        onProgress: (p: JsonObject) => {
          if (p.phase !== 'resumed' || told) return;
          told = true; // its writer is at work: the program ends (or execs) now
          process.kill(pid, 'SIGUSR1');
        },
      });
      assert.equal(res.ok, true, `the checkpoint commits: ${JSON.stringify(res)}`);
      assert.ok(told, `the program was told to end while its image was written`);
      const e = await launched.proc.wait(LIMIT.die);
      assert.equal(e.status, 3, `the program ended on its own: ${launched.proc.describe()}`);
      const done = fs.readFileSync(launched.out);
      assert.match(done.toString(), how === 'exits' ? /^ready\nwoke\nbye [0-9a-f]{16}\n$/ : /^ready\nwoke\nbye [0-9a-f]{16}\nafter exec: no children\n$/);
      assert.equal(latestGeneration(launched.ckptDir), path.basename(String(res.generation)));

      const mark = writeMark(launched.out);
      const restart = startRestart(box, port, launched.ckptDir);
      await waitRestoredWrites(launched.out, mark, restart);
      process.kill(hostPidOf(restart, 2), 'SIGUSR1');
      const r = await restart.wait(LIMIT.run);
      assert.equal(r.status, 3, `the restarted program ends as the first did: ${restart.describe()}`);
      assert.deepEqual(fs.readFileSync(launched.out), done, 'the restart ends with the output of the run that ended during the checkpoint');
    });
  }

  test(`--no-fork writes every image with the processes paused and says so for each — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['40'];
    const ref = reference('spawner', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'spawner', args, 4, LIMIT.start, ['--no-fork']);
    const r = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(r.status, 0, `stasis checkpoint failed: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    const m = SUMMARY.exec(lines[0]!);
    assert.ok(m, `a summary line first: ${JSON.stringify(r.stderr)}`);
    const n = Number(m[2]);
    assert.equal(lines.length, 1 + n, `one "not forked" line per process: ${r.stderr}`);
    for (const l of lines.slice(1)) {
      assert.match(l, /^stasis: not forked: process \S+ \(pid \d+\): forked checkpoints are turned off \(--no-fork, STASIS_NO_FORK=1\)$/);
    }
    // The program exec'd itself with an empty environment: the setting came along.
    assert.ok(lines.some((l) => l.includes('process spawner ')), r.stderr);
    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `spawner (--no-fork) restarted as ${box.who.label}`);
  });

  test(`under memory pressure a process is checkpointed without forking, and the output says why — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['64', '16000'];
    const ref = reference('mutator', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'mutator', args, 3, LIMIT.start, [], { STASIS_FI: 'low-memory' });
    const r = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(r.status, 0, `stasis checkpoint failed: ${r.stderr}`);
    assert.match(r.stderr, /\nstasis: not forked: process mutator \(pid 2\): memory pressure: 0 MiB available, \d+ MiB of private memory could be copied while the image is written\n$/);
    await killLaunched(box, port, launched);
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `mutator (no fork) restarted as ${box.who.label}`);
  });

  test(`memory a fork does not copy (MADV_DONTFORK) makes the process write its own image, and says so — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['64', '16000', 'dontfork'];
    const ref = reference('mutator', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'mutator', args, 3);
    const r = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(r.status, 0, `stasis checkpoint failed: ${r.stderr}`);
    assert.match(r.stderr, /\nstasis: not forked: process mutator \(pid 2\): memory a fork does not copy \(MADV_DONTFORK\) at 0x[0-9a-f]+\n$/);
    await killLaunched(box, port, launched);
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `mutator (MADV_DONTFORK) restarted as ${box.who.label}`);
  });

  test(`a writer killed mid-image fails its checkpoint in one line; the previous generation stays — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['64', '16000'];
    const ref = reference('mutator', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'mutator', args, 3, LIMIT.start, [], { STASIS_FI: 'writer-kill:2' });
    const first = await checkpoint(box, port);
    assert.equal(path.basename(first), 'gen-000001');

    const r = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(r.status, 1, `the checkpoint whose writer was killed fails: ${r.stdout}${r.stderr}`);
    assert.ok(oneLine(r.stderr), `one line: ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, /^stasis: process mutator \(pid 2, procId \d+\) could not write its image: the image writer \(pid \d+\) was killed by SIGKILL \(signal 9\) before the image was complete \(EIO \(errno 5\)\) — the previous generation is intact\n$/);
    assert.equal(latestGeneration(launched.ckptDir), 'gen-000001');
    assert.deepEqual(fs.readdirSync(launched.ckptDir).filter((f) => f.startsWith('gen-')), ['gen-000001'], 'the failed generation is removed');

    const third = await checkpoint(box, port);
    assert.equal(path.basename(third), 'gen-000002');
    await killLaunched(box, port, launched);
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `mutator restarted after a failed checkpoint as ${box.who.label}`);
  });
}
