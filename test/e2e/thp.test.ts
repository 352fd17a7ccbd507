/*
 * Transparent huge pages (native/agent/thp.c; docs/architecture.md, "Huge pages and the
 * pause"). test/programs/hugemem.c holds memory in every huge-page situation: a large
 * plain mapping (A, which the agent advises), memory the program advises itself (B: hg;
 * C: nh, though large enough that the agent advised it first), dense memory too small to
 * advise (D, which is collapsed after a checkpoint) and a sparse MAP_NORESERVE mapping (S,
 * whose resident size the program itself checks stays the pages it wrote). Its output does
 * not depend on Stasis, so a restarted run must end byte-identical to an uninterrupted one.
 *
 * Default launch: A is advised, D becomes huge once the first checkpoint is written, the
 * image records the advice, the restarted process has it again on all of A (mapped from the
 * image or not) and saves it again in the next image. --no-thp: A is left alone, the
 * program's own advice is still kept. As root and as an unprivileged user.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { readImage } from '../../src/image/reader';
import { REGION_HUGEPAGE, REGION_NOHUGEPAGE } from '../../src/image/format';
import {
  checkpoint, expectFinishesLikeReference, hostPid, killLaunched, launchUntil, LIMIT, onlyImage, startRestart, waitRestoredWrites,
} from './flows';
import { Box, freePort, reference, removeShared, until, variants, writeMark } from './harness';

after(removeShared);

const MIB = 1024n * 1024n;
const ARGS = ['400'];

interface Vma {
  start: bigint;
  end: bigint;
  path: string;
  flags: string[];
  anonHuge: number;
}

/** The mappings of `pid` as /proc/PID/smaps shows them; none once it has exited. */
function smaps(pid: number): Vma[] {
  const out: Vma[] = [];
  let text = '';
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      out.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), path: head[3]!, flags: [], anonHuge: 0 });
      continue;
    }
    const v = out[out.length - 1];
    if (!v) continue;
    if (line.startsWith('VmFlags:')) v.flags = line.slice(8).trim().split(/\s+/);
    const m = /^AnonHugePages:\s+(\d+) kB/.exec(line);
    if (m) v.anonHuge = Number(m[1]);
  }
  return out;
}

const anonOf = (pid: number, size: bigint): Vma[] => smaps(pid).filter((v) => v.path === '' && v.end - v.start === size);
const show = (vs: Vma[]): string => vs.map((v) => `${v.start.toString(16)}-${v.end.toString(16)} ${v.path} [${v.flags.join(' ')}] AnonHugePages ${v.anonHuge} kB`).join('\n');

for (const v of variants()) {
  test(`large memory gets huge pages, keeps its advice across a restart, sparse memory does not grow, output unchanged — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('hugemem', ARGS);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'hugemem', ARGS, 3);
    const pid = await hostPid(box, port, launched.proc);
    // A (96 MiB) advised by the agent, merged with B (16 MiB, advised by the program).
    const big = smaps(pid).filter((x) => x.path === '' && x.end - x.start >= 112n * MIB && x.flags.includes('hg'));
    assert.equal(big.length, 1, `A and B should be one advised mapping:\n${show(smaps(pid))}`);
    const c = anonOf(pid, 80n * MIB);
    assert.ok(c.length === 1 && c[0]!.flags.includes('nh') && c[0]!.anonHuge === 0, `C keeps the program's MADV_NOHUGEPAGE:\n${show(c)}`);

    const gen1 = await checkpoint(box, port);
    // D (32 MiB, every page written, never advised) is collapsed once the image is written.
    await until('D to be collapsed into huge pages after the checkpoint', {
      timeoutMs: LIMIT.checkpoint, watch: [launched.out], abortOn: [launched.proc],
      detail: () => `${show(smaps(pid))}\n${fs.readFileSync(launched.out, 'utf8').slice(-300)}`,
    }, () => (anonOf(pid, 32n * MIB).some((x) => x.anonHuge > 0) ? true : undefined));
    const img1 = await readImage(onlyImage(gen1));
    const a = img1.regions.find((g) => g.end - g.start >= 112n * MIB);
    assert.ok(a && (a.flags & REGION_HUGEPAGE), `the image records A's advice: ${JSON.stringify(a, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x))}`);
    const ci = img1.regions.find((g) => g.end - g.start === 80n * MIB);
    assert.ok(ci && (ci.flags & REGION_NOHUGEPAGE) && !(ci.flags & REGION_HUGEPAGE), "the image records C's MADV_NOHUGEPAGE");
    await killLaunched(box, port, launched);

    const mark = writeMark(launched.out);
    const restart = startRestart(box, port, gen1);
    await waitRestoredWrites(launched.out, mark, restart);
    const rpid = await hostPid(box, port, restart);
    // A is now several mappings (the image's chunks mapped, the first page copied): each advised.
    const pieces = smaps(rpid).filter((x) => x.start >= a.start && x.end <= a.end);
    assert.ok(pieces.length > 1, `A should be mapped from the image in pieces:\n${show(smaps(rpid))}`);
    assert.deepEqual(pieces.filter((x) => !x.flags.includes('hg')).map((x) => x.start.toString(16)), [], `every piece of A is advised again:\n${show(pieces)}`);
    const gen2 = await checkpoint(box, port);
    const img2 = await readImage(onlyImage(gen2));
    const a2 = img2.regions.find((g) => g.start === a.start);
    assert.ok(a2 && a2.end === a.end && (a2.flags & REGION_HUGEPAGE),
      `the next image holds A (${a.start.toString(16)}-${a.end.toString(16)}) as one advised region again: ${img2.regions.map((g) => `${g.start.toString(16)}-${g.end.toString(16)} ${g.flags}`).join(', ')}`);
    await expectFinishesLikeReference(restart, launched.out, await ref, `hugemem restarted as ${box.who.label}`);
  });

  test(`--no-thp leaves memory as the program maps it, and the program's own advice survives a restart — ${v.name}`, { skip: v.skip, timeout: 300000 }, async (t) => {
    const box = Box.create(t, v.identity());
    const ref = reference('hugemem', ARGS);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'hugemem', ARGS, 3, LIMIT.start, ['--no-thp']);
    const pid = await hostPid(box, port, launched.proc);
    const a = anonOf(pid, 96n * MIB);
    assert.ok(a.length === 1 && !a[0]!.flags.includes('hg') && a[0]!.anonHuge === 0, `A is not advised with --no-thp:\n${show(smaps(pid))}`);
    const gen = await checkpoint(box, port);
    const img = await readImage(onlyImage(gen));
    const ai = img.regions.find((g) => g.start === a[0]!.start);
    assert.ok(ai && !(ai.flags & REGION_HUGEPAGE), 'the image gives A no advice');
    const bi = img.regions.find((g) => g.end - g.start === 16n * MIB);
    assert.ok(bi && (bi.flags & REGION_HUGEPAGE), "the image keeps the program's own MADV_HUGEPAGE on B");
    await killLaunched(box, port, launched);
    const restart = startRestart(box, port, gen);
    await expectFinishesLikeReference(restart, launched.out, await ref, `hugemem --no-thp restarted as ${box.who.label}`);
  });
}
