/*
 * Fast restart maps the image's anonymous memory into place (native/loader/place.c). A
 * program that uses its memory in every way a file mapping differs from anonymous memory
 * (test/programs/mapped.c: madvise(MADV_DONTNEED), mremap growth, glibc realloc of mmapped
 * blocks, heap, sparse memory) is checkpointed and restarted; while it runs, its large
 * regions must be mappings of the image (or the test proves nothing). It is checkpointed
 * again: the newer image must hold that memory as anonymous memory, never as a mapping of
 * the older image. Without incremental checkpoints it stores all of it, and the older image
 * is deleted before the newer generation is restarted (with --verify: every chunk's
 * checksum is checked first); with them, what the program did not write since the restart
 * is referred back to the older image (docs/architecture.md, "Incremental checkpoints":
 * memory a fast restart mapped), which the newer generation then depends on. Both that
 * restart and one with --no-map must end byte-identical to an uninterrupted run. As root
 * and as an unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { readImage } from '../../src/image/reader';
import { RegionKind } from '../../src/image/format';
import {
  checkpoint, expectFinishesLikeReference, hostPid, imageFacts, killLaunched, killRestart, launchUntil, mappingsOf, onlyImage,
  scribbleAfter, startRestart, waitRestoredWrites,
} from './flows';
import { Box, freePort, reference, removeShared, variants, writeMark } from './harness';

after(removeShared);

const ARGS = ['120'];
/** Where test/programs/mapped.c keeps its sparse mapping, which it never writes after it starts. */
const SPARSE_ADDR = 0x200000000000n, SPARSE_LEN = 16n << 20n;

for (const v of variants()) for (const incremental of [false, true]) {
  const what = incremental ? 'referred back to the old image, which is kept' : 'and the old image is not needed';
  test(`memory restored by mapping the image is saved again as anonymous memory, ${what} — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('mapped', ARGS);
    const port = await freePort();
    await box.coordinator(port, incremental ? [] : ['--no-incremental']);

    const launched = await launchUntil(box, port, 'mapped', ARGS, 8);
    const gen1 = await checkpoint(box, port);
    await killLaunched(box, port, launched);
    const first = await imageFacts(gen1);
    const r = await ref;

    scribbleAfter(launched.out, first.stdoutOffset);
    const mark = writeMark(launched.out);
    const restart = startRestart(box, port, gen1);
    await waitRestoredWrites(launched.out, mark, restart);
    const pid = await hostPid(box, port, restart);
    const mapped = mappingsOf(pid, onlyImage(gen1));
    assert.ok(mapped.length >= 3, `the restarted program's memory should be mapped from ${onlyImage(gen1)}; its maps: ${fs.readFileSync(`/proc/${pid}/maps`, 'utf8')}`);
    const gen2 = await checkpoint(box, port);
    const stillMapped = mappingsOf(pid, onlyImage(gen1));
    await killRestart(restart);
    assert.ok(stillMapped.length > 0, 'some memory should still be mapped from the image when it is checkpointed again');

    const img = await readImage(onlyImage(gen2));
    const fileRegions = img.regions.filter((g) => g.path.includes('.img'));
    assert.deepEqual(fileRegions.map((g) => g.path), [], 'the newer image must not refer to an image');
    const overlap = (a: bigint, len: bigint, start: bigint, end: bigint): bigint => {
      const lo = a > start ? a : start, hi = a + len < end ? a + len : end;
      return hi > lo ? hi - lo : 0n;
    };
    let mappedBytes = 0n, referredBytes = 0n;
    for (const [start, end] of stillMapped) {
      const g = img.regions.find((x) => x.start <= start && end <= x.end);
      assert.ok(g, `memory 0x${start.toString(16)}-0x${end.toString(16)} mapped from the image is missing from the newer image`);
      assert.ok(g.kind === RegionKind.ANON || g.kind === RegionKind.HEAP,
        `memory 0x${start.toString(16)}-0x${end.toString(16)} is saved as region kind ${g.kind}, not as anonymous memory`);
      const stored = img.chunks.reduce((n, k) => n + overlap(k.addr, k.rawLen, start, end), 0n) +
        (img.incremental?.pages ?? []).reduce((n, pg) => n + pg.addrs.reduce((m, a) => m + overlap(a, 4096n, start, end), 0n), 0n);
      const referred = (img.incremental?.refs ?? []).filter((e) => img.incremental!.parents[e.parent]!.path.startsWith('gen-000001/'))
        .reduce((n, e) => n + overlap(e.addr, e.len, start, end), 0n);
      assert.ok(stored + referred > 0n, `memory 0x${start.toString(16)} mapped from the image is neither stored nor referred to in the newer image`);
      mappedBytes += end - start;
      referredBytes += referred;
    }
    if (incremental) {
      // How much the program rewrote between the restart and the checkpoint depends on the
      // machine's speed, but its sparse mapping it never writes: the data in it (every other
      // 256 KiB) is all still mapped from the first image and must be referred back to it,
      // not stored again.
      const sparseEnd = SPARSE_ADDR + SPARSE_LEN;
      const stored = img.chunks.reduce((n, k) => n + overlap(k.addr, k.rawLen, SPARSE_ADDR, sparseEnd), 0n) +
        (img.incremental?.pages ?? []).reduce((n, pg) => n + pg.addrs.reduce((m, a) => m + overlap(a, 4096n, SPARSE_ADDR, sparseEnd), 0n), 0n);
      const referred = (img.incremental?.refs ?? []).filter((e) => img.incremental!.parents[e.parent]!.path.startsWith('gen-000001/'))
        .reduce((n, e) => n + overlap(e.addr, e.len, SPARSE_ADDR, sparseEnd), 0n);
      assert.equal(stored, 0n, 'the untouched sparse mapping must not be stored again');
      assert.equal(referred, SPARSE_LEN / 2n, 'the data of the untouched sparse mapping must be referred back to the first image');
      assert.ok(referredBytes >= referred, `${referredBytes} of the ${mappedBytes} bytes still mapped from the image are referred to it`);
    } else {
      assert.equal(img.incremental, undefined, 'with --no-incremental, a full image');
    }

    scribbleAfter(launched.out, first.stdoutOffset);
    const copied = box.startStasis(['restart', '--coord-port', String(port), '--no-map', gen1]);
    await expectFinishesLikeReference(copied, launched.out, r, 'restart --no-map of the first generation');

    if (!incremental) fs.rmSync(gen1, { recursive: true });
    scribbleAfter(launched.out, (await imageFacts(gen2)).stdoutOffset);
    const last = box.startStasis(['restart', '--coord-port', String(port), '--verify', launched.ckptDir]);
    await expectFinishesLikeReference(last, launched.out, r, `restart --verify of the generation the restarted program wrote, ${incremental ? 'which refers to the first' : 'the first one deleted'}`);
  });
}
