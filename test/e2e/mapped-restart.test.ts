/*
 * Fast restart maps the image's anonymous memory into place (native/loader/place.c). A
 * program that uses its memory in every way a file mapping differs from anonymous memory
 * (test/programs/mapped.c: madvise(MADV_DONTNEED), mremap growth, glibc realloc of mmapped
 * blocks, heap, sparse memory) is checkpointed and restarted; while it runs, its large
 * regions must be mappings of the image (or the test proves nothing). It is checkpointed
 * again: the newer image must hold that memory as anonymous memory, never as a mapping of
 * the older image, which is then deleted before the newer generation is restarted (with
 * --verify: every chunk's checksum is checked first). Both that restart and one with
 * --no-map must end byte-identical to an uninterrupted run. As root and as an
 * unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { readImage } from '../../src/image/reader';
import { RegionKind } from '../../src/image/format';
import {
  checkpoint, expectFinishesLikeReference, hostPid, imageFacts, killLaunched, killRestart, launchUntil, onlyImage, scribbleAfter,
  startRestart, waitRestoredWrites,
} from './flows';
import { Box, freePort, reference, removeShared, variants, writeMark } from './harness';

after(removeShared);

const ARGS = ['120'];

/** The [start, end) ranges of `pid`'s mappings of `file`. */
function mappingsOf(pid: number, file: string): [bigint, bigint][] {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')
    .filter((l) => l.endsWith(` ${file}`) || l.endsWith(` ${file} (deleted)`))
    .map((l) => {
      const [s, e] = l.split(' ')[0]!.split('-');
      return [BigInt(`0x${s}`), BigInt(`0x${e}`)];
    });
}

for (const v of variants()) {
  test(`memory restored by mapping the image is saved again as anonymous memory, and the old image is not needed — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('mapped', ARGS);
    const port = await freePort();
    await box.coordinator(port);

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
    for (const [start, end] of stillMapped) {
      const g = img.regions.find((x) => x.start <= start && end <= x.end);
      assert.ok(g, `memory 0x${start.toString(16)}-0x${end.toString(16)} mapped from the image is missing from the newer image`);
      assert.ok(g.kind === RegionKind.ANON || g.kind === RegionKind.HEAP,
        `memory 0x${start.toString(16)}-0x${end.toString(16)} is saved as region kind ${g.kind}, not as anonymous memory`);
      assert.ok(img.chunks.some((k) => k.addr < end && start < k.addr + k.rawLen), `memory 0x${start.toString(16)} mapped from the image has no chunk in the newer image`);
    }

    scribbleAfter(launched.out, first.stdoutOffset);
    const copied = box.startStasis(['restart', '--coord-port', String(port), '--no-map', gen1]);
    await expectFinishesLikeReference(copied, launched.out, r, 'restart --no-map of the first generation');

    fs.rmSync(gen1, { recursive: true });
    scribbleAfter(launched.out, (await imageFacts(gen2)).stdoutOffset);
    const last = box.startStasis(['restart', '--coord-port', String(port), '--verify', launched.ckptDir]);
    await expectFinishesLikeReference(last, launched.out, r, 'restart --verify of the generation the restarted program wrote, the first one deleted');
  });
}
