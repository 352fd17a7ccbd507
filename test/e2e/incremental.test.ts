/*
 * Incremental checkpoints end to end (docs/architecture.md, "Incremental checkpoints"),
 * with test/programs/incr.c: 64 MiB of data of which each step rewrites a few scattered
 * pages, and some steps zap pages (MADV_DONTNEED), replace a mapping (munmap + mmap at the
 * same address) or move one (mremap). Its last line is a checksum of all its memory, so a
 * page restored stale, or not as zero where it was zapped, changes the output.
 *
 * One coordinator, owned by the test, with --keep 1:
 *   - three generations: the first full, the next two much smaller, each naming the
 *     generations it depends on, all three kept (the newest depends on the others);
 *   - the newest and the middle one each restart to the uninterrupted run's output;
 *   - a restarted program is checkpointed again: that generation refers to the image it was
 *     restored from (and its parents), and restarts to the same output too;
 *   - with a generation it depends on deleted, the restart refuses with one line naming it,
 *     before anything runs, and leaves the output file alone;
 *   - `stasis checkpoint --full` stores everything again, and retention then lets the
 *     older generations go.
 * As root and as an unprivileged user. Plus `--no-incremental`: only full images.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parseManifest } from '../../src/ckpt-dir/manifest';
import { readImage } from '../../src/image/reader';
import {
  checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, killRestart, launchUntil, LIMIT, onlyImage, scribbleAfter,
  startRestart, waitRestoredWrites,
} from './flows';
import { Box, countLines, freePort, Proc, programArgv, reference, removeShared, variants, waitForLines, writeMark } from './harness';

after(removeShared);

const ARGS = ['64', '200', '20'];

function manifestOf(gen: string): ReturnType<typeof parseManifest> {
  const file = path.join(gen, 'MANIFEST.json');
  return parseManifest(fs.readFileSync(file, 'utf8'), file);
}

function generations(ckptDir: string): string[] {
  return fs.readdirSync(ckptDir).filter((n) => /^gen-\d{6}$/.test(n)).sort();
}

/** Lets the program run `steps` more steps (each prints one line). */
async function steps(out: string, n: number, abortOn: Proc[]): Promise<void> {
  await waitForLines(out, countLines(out) + n, { timeoutMs: LIMIT.run, abortOn });
}

for (const v of variants()) {
  test(`incremental generations store what changed, keep what they depend on, and restart exactly — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('incr', ARGS);
    const port = await freePort();
    await box.coordinator(port, ['--keep', '1']);

    const launched = await launchUntil(box, port, 'incr', ARGS, 3);
    const gen1 = await checkpoint(box, port);
    // 12+ steps between checkpoints: each kind of change (zap, remap, mremap) happens.
    await steps(launched.out, 12, [launched.proc]);
    const gen2 = await checkpoint(box, port);
    await steps(launched.out, 12, [launched.proc]);
    const gen3 = await checkpoint(box, port);
    const facts3 = await imageFacts(gen3);
    await killLaunched(box, port, launched);

    const size = (gen: string): number => fs.statSync(onlyImage(gen)).size;
    assert.ok(size(gen1) > 64 << 20, `the first image holds the whole heap: ${size(gen1)} bytes`);
    for (const g of [gen2, gen3]) {
      assert.ok(size(g) * 4 < size(gen1), `${path.basename(g)} stores only what changed: ${size(g)} bytes, the full one ${size(gen1)}`);
    }
    assert.deepEqual(manifestOf(gen1).dependsOn, []);
    assert.deepEqual(manifestOf(gen2).dependsOn, [1]);
    const deps3 = manifestOf(gen3).dependsOn!;
    assert.ok(deps3.includes(1) && deps3.every((g) => g === 1 || g === 2), `gen 3 depends on ${JSON.stringify(deps3)}`);
    assert.deepEqual(generations(launched.ckptDir), ['gen-000001', 'gen-000002', 'gen-000003'], '--keep 1 keeps what the newest depends on');
    const img3 = await readImage(onlyImage(gen3), { verify: true });
    assert.ok(img3.incremental && img3.incremental.refs.length > 0 && img3.incremental.parents.some((p) => p.path === `gen-000001/${path.basename(onlyImage(gen1))}`),
      'the newest image refers to the first one');
    assert.ok(manifestOf(gen3).processes[0]!.refBytes! > 48 << 20, 'most of the memory is referred to, not stored again');

    const r = await ref;
    for (const g of [gen3, gen2]) {
      scribbleAfter(launched.out, (await imageFacts(g)).stdoutOffset);
      await expectFinishesLikeReference(startRestart(box, port, g), launched.out, r, `restart of ${path.basename(g)}`);
    }

    // A restarted program's first checkpoint refers to the image it came from.
    scribbleAfter(launched.out, facts3.stdoutOffset);
    const mark = writeMark(launched.out);
    const again = startRestart(box, port, gen3);
    await waitRestoredWrites(launched.out, mark, again);
    await steps(launched.out, 12, [again]);
    const gen4 = await checkpoint(box, port);
    assert.equal(path.basename(gen4), 'gen-000004');
    const deps4 = manifestOf(gen4).dependsOn!;
    assert.ok(deps4.length > 0 && deps4.every((g) => g >= 1 && g <= 3), `gen 4 depends on ${JSON.stringify(deps4)}`);
    assert.ok(size(gen4) * 4 < size(gen1), `the checkpoint after a restart is incremental too: ${size(gen4)} bytes`);
    const facts4 = await imageFacts(gen4);
    await killRestart(again);
    scribbleAfter(launched.out, facts4.stdoutOffset);
    await expectFinishesLikeReference(startRestart(box, port, launched.ckptDir), launched.out, r, 'restart of the generation taken after a restart');

    // A dependency gone: refused before anything runs, with the generation named.
    const dep = `gen-00000${deps4[0]}`;
    fs.rmSync(path.join(launched.ckptDir, dep), { recursive: true, force: true });
    const before = fs.readFileSync(launched.out);
    const refused = await box.stasis(['restart', '--coord-port', String(port), launched.ckptDir]);
    assert.notEqual(refused.status, 0, `a restart without ${dep} must fail: ${refused.stderr}`);
    assert.equal(refused.stderr.trim().split('\n').length, 1, `one line: ${JSON.stringify(refused.stderr)}`);
    assert.match(refused.stderr, new RegExp(`${dep}.*missing`), 'it names the missing generation');
    assert.deepEqual(fs.readFileSync(launched.out), before, 'nothing ran');
  });
}

for (const v of variants()) {
  test(`--full and --no-incremental write full images; retention then drops what nothing needs — ${v.name}`, { skip: v.skip, timeout: 120000 }, async (t) => {
    const box = Box.create(t, v.identity());
    const port = await freePort();
    await box.coordinator(port, ['--keep', '1']);
    const launched = await launchUntil(box, port, 'incr', ['16', '3000', '20'], 3);
    await checkpoint(box, port);
    await steps(launched.out, 2, [launched.proc]);
    const gen2 = await checkpoint(box, port);
    assert.deepEqual(manifestOf(gen2).dependsOn, [1]);
    const full = await box.stasis(['checkpoint', '--full', '--coord-port', String(port)]);
    assert.equal(full.status, 0, full.stderr);
    const gen3 = full.stdout.trim();
    assert.deepEqual(manifestOf(gen3).dependsOn, []);
    assert.equal((await readImage(onlyImage(gen3))).incremental?.parents.length ?? 0, 0, '--full refers to nothing');
    assert.deepEqual(generations(launched.ckptDir), ['gen-000003'], 'with a full generation, --keep 1 keeps only it');
    await killLaunched(box, port, launched);

    // A computation launched with --no-incremental (its own coordinator) never refers back.
    const out = box.emptyFile('plain.txt');
    const ckptDir = box.path('plain-ckpt');
    const port2 = await freePort();
    const proc = box.startStasis(['launch', '--coord-port', String(port2), '--ckpt-dir', ckptDir, '--no-incremental', '--',
      ...await programArgv('incr', ['16', '3000', '20'])], { stdoutFile: out });
    await waitForLines(out, 3, { timeoutMs: LIMIT.start, abortOn: [proc] });
    await checkpoint(box, port2);
    await steps(out, 2, [proc]);
    const plain2 = await checkpoint(box, port2);
    assert.deepEqual(manifestOf(plain2).dependsOn, []);
    assert.equal((await readImage(onlyImage(plain2))).incremental, undefined, 'not an incremental image');
    await killLaunched(box, port2, { proc, out, ckptDir });
  });
}
