/*
 * Incremental checkpoints with the other speed features turned off one at a time, and
 * with a forked writer that fails (docs/architecture.md, "Incremental checkpoints"), on
 * test/programs/incr.c (its last line checksums all its memory: a stale or missing page
 * changes the output).
 *   - `--no-fork` (the image written in the pause) with a `--no-map` restart (memory
 *     copied), on compressible memory: the generations after the first refer back into its
 *     zstd chunks, and the one taken after the restart too;
 *   - `--no-compress` (raw chunks, which a restart maps from the image): the checkpoint
 *     after a mapped restart of the full generation refers the memory mapped from the image
 *     back to it instead of storing it again;
 *   - a forked writer killed mid-image: that generation fails, the next image is a full one
 *     (the pages written before the failed pause are stored, not lost), the one after it is
 *     incremental again, and a restart of it ends like the uninterrupted run;
 *   - a restart of an incremental generation (`--no-compress`) maps the raw chunks of the
 *     full image it refers to in place (native/loader/refs-map.c), pages zapped since read
 *     as zero, and its next checkpoint refers that memory back to the full image; `restart
 *     --verify` checks the full image's chunks, which mapping does not read.
 * As root and as an unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parseManifest } from '../../src/ckpt-dir/manifest';
import { ChunkEncoding } from '../../src/image/format';
import { readImage } from '../../src/image/reader';
import {
  checkpoint, expectFinishesLikeReference, hostPid, imageFacts, killLaunched, killRestart, launchUntil, LIMIT, mappingsOf, onlyImage,
  scribbleAfter, startRestart, waitRestoredWrites,
} from './flows';
import { Box, countLines, freePort, Proc, reference, removeShared, variants, waitForLines, writeMark } from './harness';

after(removeShared);

const ARGS = ['32', '400', '20'];
const MIB = 32 << 20;

function refBytes(gen: string): number {
  const file = path.join(gen, 'MANIFEST.json');
  return parseManifest(fs.readFileSync(file, 'utf8'), file).processes[0]!.refBytes ?? 0;
}

async function steps(out: string, n: number, abortOn: Proc[]): Promise<void> {
  await waitForLines(out, countLines(out) + n, { timeoutMs: LIMIT.run, abortOn });
}

async function parentsOf(gen: string): Promise<string[]> {
  return ((await readImage(onlyImage(gen), { verify: true })).incremental?.parents ?? []).map((p) => p.path);
}

for (const v of variants()) {
  for (const mode of [
    // Compressible memory: the references land inside zstd chunks of earlier images.
    { name: '--no-fork, restarted with --no-map', launch: ['--no-fork'], restart: ['--no-map'], args: [...ARGS, 'text'], encoding: ChunkEncoding.ZSTD },
    // Memory whose words differ in their low byte only: references into byte-shuffled chunks.
    { name: 'byte-shuffled chunks, restarted with --no-map', launch: [] as string[], restart: ['--no-map'], args: [...ARGS, 'field'], encoding: ChunkEncoding.SHUF8_ZSTD },
    { name: '--no-compress, restarted mapped', launch: ['--no-compress'], restart: [] as string[], args: ARGS, encoding: null },
  ]) {
    test(`incremental with ${mode.name}: every generation refers back and restarts exactly — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
      const box = Box.create(t, v.identity());
      const ref = reference('incr', mode.args);
      const port = await freePort();
      const launched = await launchUntil(box, port, 'incr', mode.args, 3, LIMIT.start, mode.launch);
      const gen1 = await checkpoint(box, port);
      const encodings = (await readImage(onlyImage(gen1))).chunks.map((c) => c.encoding);
      const expected = mode.encoding ?? ChunkEncoding.RAW;
      const some = encodings.filter((e) => e === expected).length;
      assert.ok(some > 0 && (mode.encoding !== null || encodings.every((e) => e === ChunkEncoding.RAW)),
        `the first image's chunks should be encoding ${expected}: ${JSON.stringify(encodings)}`);
      await steps(launched.out, 12, [launched.proc]);
      const gen2 = await checkpoint(box, port);
      await killLaunched(box, port, launched);
      assert.deepEqual(await parentsOf(gen1), []);
      assert.ok((await parentsOf(gen2)).length > 0, 'the second generation refers to the first');
      assert.ok(refBytes(gen2) > MIB / 2, `most of the memory is referred to: ${refBytes(gen2)} bytes`);

      // Restarted from the full image, it runs on; its next checkpoint refers to what it was
      // restored from (mapped from that image, or copied), not storing it again.
      scribbleAfter(launched.out, (await imageFacts(gen1)).stdoutOffset);
      const mark = writeMark(launched.out);
      const again = box.startStasis(['restart', '--coord-port', String(port), ...mode.restart, gen1]);
      await waitRestoredWrites(launched.out, mark, again);
      await steps(launched.out, 12, [again]);
      const gen3 = await checkpoint(box, port);
      const facts3 = await imageFacts(gen3);
      await killRestart(again);
      assert.ok((await parentsOf(gen3)).includes(`gen-000001/${path.basename(onlyImage(gen1))}`), 'the generation after the restart refers back');
      assert.ok(refBytes(gen3) > MIB / 2, `the memory restored (${mode.restart.length ? 'copied' : 'mapped from the image'}) is referred to, not stored again: ${refBytes(gen3)} bytes`);
      const size3 = fs.statSync(onlyImage(gen3)).size;
      assert.ok(size3 * 4 < refBytes(gen3), `and the image (${size3} bytes) is small beside what it refers to`);

      scribbleAfter(launched.out, facts3.stdoutOffset);
      await expectFinishesLikeReference(box.startStasis(['restart', '--coord-port', String(port), ...mode.restart, gen3]),
        launched.out, await ref, `restart of ${path.basename(gen3)} (${mode.name})`);
    });
  }

  test(`a forked writer that fails: the next image is full, the one after refers back, and it restarts exactly — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('incr', ARGS);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'incr', ARGS, 3, LIMIT.start, [], { STASIS_FI: 'writer-kill:2' });
    await checkpoint(box, port);
    await steps(launched.out, 12, [launched.proc]);
    const failed = await box.stasis(['checkpoint', '--coord-port', String(port)], LIMIT.checkpoint);
    assert.equal(failed.status, 1, `the checkpoint whose writer was killed fails: ${failed.stderr}`);
    await steps(launched.out, 12, [launched.proc]);
    const gen2 = await checkpoint(box, port);
    assert.equal(path.basename(gen2), 'gen-000002');
    assert.deepEqual(await parentsOf(gen2), [], 'after a generation that did not count, a full image');
    await steps(launched.out, 12, [launched.proc]);
    const gen3 = await checkpoint(box, port);
    assert.ok((await parentsOf(gen3)).includes(`gen-000002/${path.basename(onlyImage(gen2))}`), 'the next one refers to it');
    const facts3 = await imageFacts(gen3);
    await killLaunched(box, port, launched);
    scribbleAfter(launched.out, facts3.stdoutOffset);
    await expectFinishesLikeReference(startRestart(box, port, launched.ckptDir), launched.out, await ref, 'restart after a failed writer');
  });

  test(`a restart of an incremental generation maps the full image's chunks it refers to, and refers them back — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('incr', ARGS);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'incr', ARGS, 3, LIMIT.start, ['--no-compress']);
    const gen1 = await checkpoint(box, port);
    // Long enough for some steps to zap pages (MADV_DONTNEED) that gen1 holds: gen2 stores
    // nothing for them and refers to nothing, so they must come back as zero, not as gen1's.
    await steps(launched.out, 40, [launched.proc]);
    const gen2 = await checkpoint(box, port);
    await killLaunched(box, port, launched);
    const full = onlyImage(gen1);
    assert.ok((await parentsOf(gen2)).includes(`gen-000001/${path.basename(full)}`), 'the second generation refers to the first');

    // Mapped memory is not read, so not checked, at restart: --verify checks the earlier
    // image's chunks too. One byte flipped in a chunk of gen1 fails it before anything starts; put back, it passes.
    // The largest chunk: one the restart maps (the last one, say, may be too small).
    const chunk = (await readImage(full)).chunks.reduce((a, b) => (b.rawLen > a.rawLen ? b : a));
    const flip = (): void => {
      const fd = fs.openSync(full, 'r+');
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, chunk.dataOffset + 100);
      b[0] = b[0]! ^ 0x10;
      fs.writeSync(fd, b, 0, 1, chunk.dataOffset + 100);
      fs.closeSync(fd);
    };
    flip();
    const bad = await box.stasis(['restart', '--verify', '--coord-port', String(port), gen2]);
    flip();
    assert.equal(bad.status, 1, `restart --verify with a damaged earlier image must fail: ${bad.stderr}`);
    assert.match(bad.stderr, /^stasis: .*gen-000001.*CRC mismatch in record #\d+ \(CHUNK\)/, `and say which image, in one line: ${bad.stderr}`);

    scribbleAfter(launched.out, (await imageFacts(gen2)).stdoutOffset);
    const mark = writeMark(launched.out);
    const again = box.startStasis(['restart', '--verify', '--coord-port', String(port), gen2]);
    await waitRestoredWrites(launched.out, mark, again);
    const pid = await hostPid(box, port, again);
    const mapped = mappingsOf(pid, full);
    assert.ok(mapped.length > 0, `memory gen2 refers to should be mapped from ${full}; the maps: ${fs.readFileSync(`/proc/${pid}/maps`, 'utf8')}`);
    await steps(launched.out, 12, [again]);
    const gen3 = await checkpoint(box, port);
    const facts3 = await imageFacts(gen3);
    await killRestart(again);
    const img3 = await readImage(onlyImage(gen3), { verify: true });
    assert.deepEqual(img3.regions.filter((g) => g.path.includes('.img')).map((g) => g.path), [], 'the newer image must not refer to an image as a file mapping');
    assert.ok((await parentsOf(gen3)).includes(`gen-000001/${path.basename(full)}`), 'the generation after the restart refers back to the full one');
    assert.ok(refBytes(gen3) > MIB / 2, `the memory mapped from the full image is referred to, not stored again: ${refBytes(gen3)} bytes`);

    scribbleAfter(launched.out, facts3.stdoutOffset);
    await expectFinishesLikeReference(box.startStasis(['restart', '--coord-port', String(port), gen3]), launched.out, await ref,
      'restart of the generation written after restarting an incremental one');
  });
}
