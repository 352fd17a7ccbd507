/*
 * Compressed and raw images end to end (test/programs/records.c: 128 MiB of 64-byte
 * records that compress well, rewritten slice by slice, every output line depending on
 * the memory before it).
 *
 * By default the agent compresses: the image is a small fraction of the memory, its zstd
 * chunks pass `stasis inspect --verify` (run as the variant's user), and the restart
 * decodes them to the same output as an uninterrupted run. With `stasis launch
 * --no-compress` every chunk is raw, also after the program exec'd itself with an empty
 * environment (the agent puts the setting back) and after a restart (a restarted program
 * checkpointed again still writes raw chunks). As root and as an unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { ChunkEncoding, ParsedImage } from '../../src/image/format';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, launchUntil, onlyImage, startRestart, waitRestoredWrites } from './flows';
import { Box, freePort, reference, removeShared, variants, writeMark } from './harness';

after(removeShared);

const MIB = 128;
const MEMORY = BigInt(MIB) << 20n;

function chunkTotals(img: ParsedImage): { raw: bigint; stored: bigint; zstd: number; chunks: number } {
  return {
    raw: img.chunks.reduce((s, c) => s + c.rawLen, 0n),
    stored: BigInt(img.chunks.reduce((s, c) => s + c.storedLen, 0)),
    zstd: img.chunks.filter((c) => c.encoding === ChunkEncoding.ZSTD).length,
    chunks: img.chunks.length,
  };
}

for (const v of variants()) {
  test(`compressible memory makes an image far smaller than the memory, restarted to the same output — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = [String(MIB)];
    const ref = reference('records', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'records', args, 3);
    const gen = await checkpoint(box, port);
    await killLaunched(box, port, launched);

    const file = onlyImage(gen);
    const img = await readImage(file, { verify: true });
    const c = chunkTotals(img);
    assert.ok(c.raw >= MEMORY, `the chunks cover the ${MIB} MiB of records: ${c.raw} bytes`);
    assert.ok(c.zstd > 0 && c.zstd * 2 > c.chunks, `most chunks are zstd: ${c.zstd} of ${c.chunks}`);
    const size = BigInt(fs.statSync(file).size);
    assert.ok(size * 4n < MEMORY, `the image (${size} bytes) is under a quarter of the memory (${MEMORY})`);
    const inspect = await box.stasis(['inspect', '--verify', gen]);
    assert.equal(inspect.status, 0, `stasis inspect --verify: ${inspect.stderr}`);
    assert.match(inspect.stdout, /chunk data verified/);
    assert.match(inspect.stdout, /chunks \(\d+ zstd\): .* of memory stored in/);

    const r = await ref;
    assert.ok((await imageFacts(gen)).stdoutOffset < r.output.length, 'checkpointed mid-run');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, r, `the compressed image restarted as ${box.who.label}`);
  });

  test(`--no-compress writes raw chunks, across an exec with a clean environment and after a restart — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    // Long enough to be checkpointed again once restarted.
    const args = ['--exec-clean', String(MIB), '1200'];
    const ref = reference('records', args);
    const port = await freePort();
    await box.coordinator(port);
    const launched = await launchUntil(box, port, 'records', args, 3, undefined, ['--no-compress']);
    const gen1 = await checkpoint(box, port);
    await killLaunched(box, port, launched);

    const c1 = chunkTotals(await readImage(onlyImage(gen1), { verify: true }));
    assert.equal(c1.zstd, 0, 'no zstd chunk');
    assert.equal(c1.stored, c1.raw, 'every chunk stores its raw bytes');
    assert.ok(c1.raw >= MEMORY, `the chunks cover the ${MIB} MiB of records: ${c1.raw} bytes`);

    // Restarted, the program is checkpointed again: still raw. What it did not write since
    // the restart the incremental image refers back to gen1 for (where it is raw too).
    const mark = writeMark(launched.out);
    const restart = startRestart(box, port, gen1);
    await waitRestoredWrites(launched.out, mark, restart);
    const gen2 = await checkpoint(box, port);
    const img2 = await readImage(onlyImage(gen2), { verify: true });
    const c2 = chunkTotals(img2);
    const referred = (img2.incremental?.refs ?? []).reduce((s, r) => s + r.len, 0n);
    const paged = BigInt((img2.incremental?.pages ?? []).reduce((s, g) => s + g.storedLen, 0));
    assert.equal(c2.zstd, 0, `${gen2}: no zstd chunk after a restart`);
    assert.equal(c2.stored, c2.raw, `${gen2}: every chunk stores its raw bytes`);
    assert.ok(c2.raw + paged + referred >= MEMORY, `${gen2}: its chunks and references cover the records: ${c2.raw} + ${paged} + ${referred} bytes`);
    await expectFinishesLikeReference(restart, launched.out, await ref, `the raw image restarted as ${box.who.label}`);
  });
}
