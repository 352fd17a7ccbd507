/*
 * Process trees: a computation of many processes is checkpointed as one and comes back as
 * one, with the same PIDs, parents, sessions and process groups, its zombies still
 * zombies, and the pipes between its processes connecting the same processes again with
 * the bytes that were in them. As root and as an unprivileged user; the output must end
 * byte-identical to an uninterrupted run's.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parseManifest } from '../../src/ckpt-dir/manifest';
import { FdKind, ImageFd, REGION_CONTENT, SHARE_PIPE_OWNER, SHARE_PTY, SHARE_PTY_OWNER } from '../../src/image/format';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, hostPidOf, launchUntil, LIMIT, startRestart, waitRestoredWrites } from './flows';
import { Box, freePort, ProgramName, programArgv, reference, removeShared, variants, writeMark } from './harness';

after(removeShared);

function manifestOf(gen: string): ReturnType<typeof parseManifest> {
  const file = path.join(gen, 'MANIFEST.json');
  return parseManifest(fs.readFileSync(file, 'utf8'), file);
}

type Generation = ReturnType<typeof parseManifest>;

/* Programs of several processes, each with what its checkpoint must show it caught. */
/** Every fd of every image of a generation. */
async function allFds(gen: string, m: Generation): Promise<ImageFd[]> {
  const out: ImageFd[] = [];
  for (const p of m.processes) out.push(...(await readImage(path.join(gen, p.image))).fds);
  return out;
}

const CASES: { name: ProgramName; what: string; args: string[]; lines: number; caught: (m: Generation, out: string, gen: string) => void | Promise<void> }[] = [
  {
    name: 'shmcount', what: 'a parent and 3 children on a counter in MAP_SHARED memory under a process-shared mutex, a SysV semaphore and a SysV shm segment', args: ['8000'], lines: 3,
    caught: (m) => {
      assert.equal(m.processes.length, 4, 'the parent and its three children');
      assert.deepEqual(m.semaphores.map((s) => s.values.length), [2], 'the SysV semaphore set, with its two values');
      assert.deepEqual(m.sharedSegments.map((g) => g.size), [4096], 'the SysV shared memory segment');
    },
  },
  {
    name: 'mp', what: 'Python multiprocessing: a Pool of 2 workers and a Queue fed by a Process', args: ['150'], lines: 5,
    caught: (m) => assert.ok(m.processes.length >= 4, `main, two pool workers and the feeder (and the queue's thread): ${m.processes.map((p) => p.name).join(' ')}`),
  },
  {
    name: 'ptydrive', what: 'a program driven through a pty by its parent, with its termios and window size', args: ['80'], lines: 5,
    caught: async (m, _out, gen) => {
      const flags = (await allFds(gen, m)).filter((f) => f.kind === FdKind.PTY && f.dupOf < 0).map((f) => f.share?.flags ?? 0);
      assert.ok(flags.some((f) => (f & SHARE_PTY_OWNER) !== 0), 'the parent owns the pty');
      assert.ok(flags.some((f) => (f & SHARE_PTY) !== 0 && (f & SHARE_PTY_OWNER) === 0), 'the child holds its slave');
    },
  },
  {
    name: 'spawner', what: 'a program that execs itself with an empty environment, then runs children through popen, system, posix_spawn and vfork', args: ['40'], lines: 4,
    caught: (m) => assert.ok(m.processes.some((p) => p.name === 'spawner'), `the program exec'd with an empty environment still has the agent: ${m.processes.map((p) => p.name).join(' ')}`),
  },
  {
    name: 'locks', what: 'a parent holding a flock and a POSIX record lock that its child checks on every step', args: ['60', `t${process.pid}`], lines: 3,
    caught: async (m, _out, gen) => {
      const kinds = (await allFds(gen, m)).flatMap((f) => f.locks ?? []).map((l) => l.kind);
      assert.ok(kinds.includes(1) && kinds.includes(2), `a flock and a POSIX lock in the images: ${kinds.join(' ')}`);
    },
  },
  {
    name: 'make', what: '`make -j2` on a small C project', args: [], lines: 1,
    caught: (m, out) => {
      assert.ok(m.processes.some((p) => p.name === 'make'), `make is checkpointed: ${m.processes.map((p) => p.name).join(' ')}`);
      assert.ok(!out.includes('built'), 'the checkpoint lands mid-build');
    },
  },
];

for (const v of variants()) {
  for (const c of CASES) {
    test(`${c.what} (${c.name}) restarts to the same output — ${v.name}`, { skip: v.skip }, async (t) => {
      const box = Box.create(t, v.identity());
      const ref = reference(c.name, c.args);
      const port = await freePort();
      const launched = await launchUntil(box, port, c.name, c.args, c.lines);
      const gen = await checkpoint(box, port);
      await c.caught(manifestOf(gen), fs.readFileSync(launched.out, 'utf8'), gen);

      process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
      assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
      const restart = startRestart(box, port, launched.ckptDir);
      await expectFinishesLikeReference(restart, launched.out, await ref, `${c.name} restarted as ${box.who.label}`);
    });
  }

  test(`POSIX shared memory kept in /dev/shm comes back as it was at the checkpoint, even when the file is gone — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const tag = `${v.name}${process.pid}`;
    const args = ['5000', tag];
    const ref = reference('posixshm', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'posixshm', args, 2);
    const gen = await checkpoint(box, port);
    const m = manifestOf(gen);
    const img = await readImage(path.join(gen, m.processes.find((p) => p.ppid === 1)!.image));
    assert.ok(img.regions.some((r) => (r.flags & REGION_CONTENT) !== 0 && r.path.includes(`stasis-posixshm-${tag}`)), 'the /dev/shm mapping is kept by content');

    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    // As on another machine: the object is gone (and it had changed since the checkpoint).
    const file = `/dev/shm/stasis-posixshm-${tag}-2`;
    assert.ok(fs.existsSync(file), `${file} is there after the crash`);
    fs.unlinkSync(file);
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `posixshm restarted as ${box.who.label}`);
  });

  test(`a statically linked program in the computation fails the checkpoint at once, in one line — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const port = await freePort();
    const [staticCpu] = await programArgv('staticcpu', []);
    const launched = await launchUntil(box, port, 'withstatic', [staticCpu!, '100'], 2);
    const r = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(r.status, 1, `the checkpoint must fail: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^stasis: process \d+ of the computation is statically linked: it runs without the agent and cannot be checkpointed — the previous generation is intact\n$/);
    assert.ok(!fs.existsSync(path.join(launched.ckptDir, 'latest')), 'no generation was committed');
    assert.deepEqual(fs.readdirSync(launched.ckptDir).filter((n) => n.startsWith('gen-')), [], 'the partial generation was removed');
    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    await launched.proc.wait(LIMIT.die);
  });

  test(`a shell pipeline with bytes in its pipes restarts to the same sha256 — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['12000'];
    const ref = reference('pipeline', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'pipeline', args, 3);
    const gen = await checkpoint(box, port);

    const m = manifestOf(gen);
    assert.ok(m.namespace, 'launched in its own namespace');
    const names = m.processes.map((p) => p.name).sort();
    for (const want of ['awk', 'sha256sum', 'sort']) assert.ok(names.includes(want), `${want} is checkpointed: ${names.join(' ')}`);
    assert.ok(m.processes.filter((p) => p.name === 'bash').length >= 3, `the script and its two loop subshells: ${names.join(' ')}`);
    let inFlight = 0;
    for (const p of m.processes) {
      const img = await readImage(path.join(gen, p.image));
      for (const f of img.fds) {
        if (f.extra?.kind === 'PIPE' && f.share && (f.share.flags & SHARE_PIPE_OWNER) !== 0) inFlight += f.extra.data.length;
      }
    }
    assert.ok(inFlight > 0, 'the pipes held unread bytes at checkpoint time, saved by their owners');

    process.kill(hostPidOf(launched.proc, 2), 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, await ref, `the pipeline restarted as ${box.who.label}`);
  });

  test(`a tree with sessions, process groups, a zombie, a double-fork daemon and a thread keeps every id — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['60'];
    const ref = reference('tree', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'tree', args, 3);
    const gen = await checkpoint(box, port);

    const m = manifestOf(gen);
    assert.equal(m.processes.length, 7, `main, A, G, B, B2, D, J2: ${JSON.stringify(m.processes)}`);
    const main = m.processes.find((p) => p.ppid === 1);
    assert.ok(main, 'main is the init\'s child');
    assert.ok(m.processes.some((p) => p.sid === p.pid && p.ppid === main.pid), 'A leads its own session');
    assert.ok(m.processes.some((p) => p.pgid === p.pid && p.sid === main.sid && p.ppid === main.pid), 'B leads its own group');
    assert.deepEqual(m.zombies.map((z) => [z.ppid, z.status]), [[main.pid, 42 << 8]], 'Z is a zombie of main with exit status 42');
    const pids = new Set(m.processes.map((p) => p.pid));
    assert.ok(m.processes.some((p) => p.ppid === 1 && p !== main && p.sid === p.pgid && !pids.has(p.sid)),
      'D is init\'s orphan in a session whose leader has exited');
    assert.ok(m.processes.some((p) => p.ppid === 1 && p.sid === main.sid && !pids.has(p.pgid)),
      'J2 is in a process group whose leader has exited');

    const st = await box.status(port);
    const host = hostPidOf(launched.proc, main.pid);
    assert.equal(st.processes.find((p) => p.pid === main.pid)?.hostPid, host, '`stasis status` gives main\'s pid on this machine');
    process.kill(host, 'SIGKILL');
    assert.equal((await launched.proc.wait(LIMIT.die)).status, 137, 'launch ends with its program');
    const mark = writeMark(launched.out);
    const restart = startRestart(box, port, launched.ckptDir);
    await waitRestoredWrites(launched.out, mark, restart);
    // CLOCK_MONOTONIC goes on from the checkpoint: the time namespace sets it back by the
    // time the computation was down (docs/architecture.md, "A restart").
    const offsets = fs.readFileSync(`/proc/${hostPidOf(restart, main.pid)}/timens_offsets`, 'utf8');
    const mono = /^monotonic\s+(-?\d+)\s+(\d+)$/m.exec(offsets);
    assert.ok(mono && BigInt(mono[1]!) * 1000000000n + BigInt(mono[2]!) < 0n, `a negative monotonic offset: ${offsets}`);
    await expectFinishesLikeReference(restart, launched.out, await ref, `the tree restarted as ${box.who.label}`);
  });
}
