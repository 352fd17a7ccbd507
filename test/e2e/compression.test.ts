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
 *
 * The loader decodes zstd chunks on one thread per CPU (native/loader/decode-pool.c): the
 * 128 MiB image has more zstd chunks than the ring has slots, so several are in flight at
 * once, and the output after the restart shows any chunk decoded to the wrong place or
 * overtaken by a later one. A damaged chunk in the middle of the image (earlier ones still
 * being decoded) stops that restart with one line naming that chunk's record: its CRC,
 * which the loader checks as it decodes, or, with the CRC made to match, its frame.
 *
 * A smooth float64 field (test/programs/field.c) is stored byte-shuffled (CHUNK encoding
 * 2): `stasis inspect --json` lists encoding-2 chunks, they pass --verify, and the restart,
 * which unshuffles them on the decode threads, continues to the same output.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { ChunkEncoding, ParsedImage } from '../../src/image/format';
import { readImage } from '../../src/image/reader';
import { checkpoint, expectFinishesLikeReference, imageFacts, killLaunched, launchUntil, onlyImage, startRestart, waitRestoredWrites } from './flows';
import { crc32c } from '../../src/image/crc32c';
import { Box, CliResult, freePort, oneLine, reference, removeShared, variants, writeMark } from './harness';

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
    assert.ok(c.zstd >= 12, `more zstd chunks (${c.zstd}) than the loader's ring has slots on this machine`);
    const size = BigInt(fs.statSync(file).size);
    assert.ok(size * 4n < MEMORY, `the image (${size} bytes) is under a quarter of the memory (${MEMORY})`);
    const inspect = await box.stasis(['inspect', '--verify', gen]);
    assert.equal(inspect.status, 0, `stasis inspect --verify: ${inspect.stderr}`);
    assert.match(inspect.stdout, /chunk data verified/);
    assert.match(inspect.stdout, /chunks \(\d+ zstd(, \d+ of them byte-shuffled)?\): .* of memory stored in/);

    const r = await ref;
    assert.ok((await imageFacts(gen)).stdoutOffset < r.output.length, 'checkpointed mid-run');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, r, `the compressed image restarted as ${box.who.label}`);
  });

  test(`a float64 field is stored byte-shuffled, restarted to the same output — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const args = ['64', '4000'];
    const ref = reference('field', args);
    const port = await freePort();
    const launched = await launchUntil(box, port, 'field', args, 3);
    const gen = await checkpoint(box, port);
    await killLaunched(box, port, launched);

    const inspect = await box.stasis(['inspect', '--json', onlyImage(gen)]);
    assert.equal(inspect.status, 0, `stasis inspect --json: ${inspect.stderr}`);
    const json = JSON.parse(inspect.stdout) as { chunks: { encoding: number; rawLen: string; storedLen: number }[] };
    const shuffled = json.chunks.filter((c) => c.encoding === ChunkEncoding.SHUF8_ZSTD);
    const fieldBytes = shuffled.reduce((s, c) => s + BigInt(c.rawLen), 0n);
    assert.ok(fieldBytes * 10n >= 9n * (64n << 20n), `most of the 64 MiB field is in encoding-2 chunks: ${fieldBytes} bytes in ${shuffled.length}`);
    const stored = shuffled.reduce((s, c) => s + c.storedLen, 0);
    assert.ok(BigInt(stored) * 3n < fieldBytes, `the shuffled chunks store under a third of their memory: ${stored} of ${fieldBytes}`);
    const verify = await box.stasis(['inspect', '--verify', gen]);
    assert.equal(verify.status, 0, `stasis inspect --verify: ${verify.stderr}`);
    assert.match(verify.stdout, /chunks \(\d+ zstd, \d+ of them byte-shuffled\)/);

    const r = await ref;
    assert.ok((await imageFacts(gen)).stdoutOffset < r.output.length, 'checkpointed mid-run');
    const restart = startRestart(box, port, launched.ckptDir);
    await expectFinishesLikeReference(restart, launched.out, r, `the byte-shuffled image restarted as ${box.who.label}`);
  });

  test(`a damaged zstd chunk mid-image stops the restart with one line naming it — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const port = await freePort();
    const launched = await launchUntil(box, port, 'records', [String(MIB), '100000'], 3);
    const gen = await checkpoint(box, port);
    await killLaunched(box, port, launched);
    const img = await readImage(onlyImage(gen));
    const zstd = img.chunks.filter((c) => c.encoding === ChunkEncoding.ZSTD);
    assert.ok(zstd.length >= 8, `several zstd chunks: ${zstd.length}`);
    const victim = zstd[zstd.length >> 1]!;
    const output = fs.readFileSync(launched.out);

    // Where the chunk's record starts: its 16-byte header, then the head (addr, raw_len, ...),
    // within the 8 KiB before the data.
    const before = Buffer.alloc(8192);
    const key = Buffer.alloc(16);
    key.writeBigUInt64LE(victim.addr, 0);
    key.writeBigUInt64LE(victim.rawLen, 8);
    const probe = fs.openSync(onlyImage(gen), 'r');
    fs.readSync(probe, before, 0, before.length, victim.dataOffset - before.length);
    fs.closeSync(probe);
    const headAt = victim.dataOffset - before.length + before.lastIndexOf(key);
    assert.ok(headAt > victim.dataOffset - before.length, 'the chunk\'s head is found before its data');
    const recordAt = headAt - 16;

    let copies = 0;
    const damaged = async (what: string, damage: (fd: number) => void): Promise<CliResult> => {
      const dir = box.path(`damaged-${++copies}`);
      fs.cpSync(gen, dir, { recursive: true });
      box.giveAway(dir);
      const fd = fs.openSync(onlyImage(dir), 'r+');
      damage(fd);
      fs.closeSync(fd);
      const r = await box.stasis(['restart', '--coord-port', String(port), dir]);
      assert.equal(r.status, 1, `${what}: ${JSON.stringify({ status: r.status, stderr: r.stderr })}`);
      assert.ok(oneLine(r.stderr), `${what}: expected one line on stderr, got ${JSON.stringify(r.stderr)}`);
      assert.ok(fs.readFileSync(launched.out).equals(output), `${what}: the program's output changed — something ran`);
      return r;
    };
    const rewrite = (fd: number, at: number, f: (b: Buffer) => void, len = 4): void => {
      const b = Buffer.alloc(len);
      fs.readSync(fd, b, 0, len, at);
      f(b);
      fs.writeSync(fd, b, 0, len, at);
    };

    const flipped = await damaged('a flipped byte in the frame', (fd) => rewrite(fd, victim.dataOffset + (victim.storedLen >> 1), (b) => {
      b[0] = b[0]! ^ 0x10;
    }, 1));
    assert.match(flipped.stderr, new RegExp(`CRC mismatch in record #\\d+ \\(CHUNK\\) at offset ${recordAt} \\(chunk data\\)`));

    const notFrame = await damaged('a frame without its magic, CRC matching', (fd) => {
      rewrite(fd, victim.dataOffset, (b) => b.writeUInt32LE(0x12345678, 0));
      const record = Buffer.alloc(victim.dataOffset + victim.storedLen - (recordAt + 16));
      fs.readSync(fd, record, 0, record.length, recordAt + 16);
      rewrite(fd, recordAt + 12, (b) => b.writeUInt32LE(crc32c(record), 0));
    });
    assert.match(notFrame.stderr, new RegExp(`record #\\d+ \\(CHUNK\\) at offset ${recordAt}: chunk data is not a zstd frame`));
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
