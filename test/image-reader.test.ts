/*
 * The image reader: CRC-32C, a round trip through the TypeScript writer, byte-exact damaged
 * images (each named after what is wrong) rejected with errors that name the record and
 * offset, a fuzzer seeded from a valid image, and the C writer's vectors in
 * test/vectors/image/ (test/image-vectors.test.ts holds the loader to them too).
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, TestContext } from 'node:test';
import { ByteWriter } from '../src/binary/cursor';
import { StasisError } from '../src/errors';
import { crc32c } from '../src/image/crc32c';
import { describeImage, imageToJson } from '../src/image/describe';
import { RecordType, recordTypeName } from '../src/image/format';
import { readImage, readImageMetadata } from '../src/image/reader';
import { encodeRegion } from '../src/image/records';
import { EncodedImage, encodeImage } from '../src/image/writer';
import { packageRoot } from '../src/native/paths';
import { sampleImage } from './helpers/image-fixture';
import { tmpDir } from './helpers/tmp';
import { rng } from './helpers/rng';

function write(t: TestContext, bytes: Buffer, name = 'app-4242.img'): string {
  const file = path.join(tmpDir(t), name);
  fs.writeFileSync(file, bytes);
  return file;
}

async function rejects(file: string, pattern: RegExp, verify = false): Promise<void> {
  await assert.rejects(readImage(file, { verify }), (err: unknown) => {
    assert.ok(err instanceof StasisError, `not a StasisError: ${String(err)}`);
    assert.equal(err.code, 'BAD_IMAGE');
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

/** Rewrites a record's payload byte and its CRC, so that only the meaning is wrong. */
function patchRecord(img: EncodedImage, index: number, patch: (payload: Buffer) => void): Buffer {
  const bytes = Buffer.from(img.bytes);
  const rec = img.records[index]!;
  const payload = bytes.subarray(rec.offset + 16, rec.offset + 16 + rec.payloadLength);
  patch(payload);
  bytes.writeUInt32LE(crc32c(payload), rec.offset + 12);
  return bytes;
}

test('crc32c matches the published check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data));
  }
});

test('the reader returns what the writer wrote', async (t) => {
  const content = sampleImage();
  const img = encodeImage(content);
  const file = write(t, img.bytes);
  const parsed = await readImage(file, { verify: true });
  assert.equal(parsed.fileSize, img.bytes.length);
  assert.deepEqual(parsed.info, content.info);
  assert.deepEqual(parsed.process, content.process);
  assert.deepEqual(parsed.regions, content.regions);
  assert.deepEqual(parsed.threads, content.threads);
  assert.deepEqual(parsed.fds, content.fds);
  assert.equal(parsed.chunks.length, content.chunks.length);
  parsed.chunks.forEach((c, i) => {
    const want = content.chunks[i]!;
    assert.equal(c.addr, want.addr);
    assert.equal(c.rawLen, BigInt(want.data.length));
    assert.equal(c.dataOffset % 4096, 0);
    assert.deepEqual(img.bytes.subarray(c.dataOffset, c.dataOffset + c.storedLen), want.data);
  });
  assert.equal(parsed.end.records, BigInt(img.records.length - 1));
  assert.equal(parsed.verified, true);
});

test('readImageMetadata stops at the first chunk: what readImage says, without chunks or END', async (t) => {
  const img = encodeImage(sampleImage());
  const meta = await readImageMetadata(write(t, img.bytes));
  const { chunks, end, verified, ...full } = await readImage(write(t, img.bytes));
  assert.ok(chunks.length > 0 && end && !verified);
  assert.deepEqual({ ...meta, path: '' }, { ...full, path: '' });
  assert.ok(!('chunks' in meta) && !('end' in meta));

  // What lies after the first chunk is stasis-restore --check's to refuse.
  const second = img.records.filter((r) => r.type === RecordType.CHUNK)[1]!;
  for (const cut of [second.offset + 16 + Math.floor(second.payloadLength / 2), img.bytes.length - 1]) {
    const file = write(t, img.bytes.subarray(0, cut));
    await readImageMetadata(file);
    await rejects(file, /truncated/);
  }
  // What comes before it is still refused.
  const region = img.records.find((r) => r.type === RecordType.REGION)!;
  const bytes = Buffer.from(img.bytes);
  bytes[region.offset + 20]! ^= 0xff;
  await assert.rejects(readImageMetadata(write(t, bytes)), /CRC mismatch in record #\d+ \(REGION\)/);
});

test('the text report shows header, process, memory map, threads, fds and totals', async (t) => {
  const file = write(t, encodeImage(sampleImage()).bytes);
  const text = describeImage(await readImage(file));
  for (const want of ['x86_64', '6.1.0-18-amd64', 'glibc 2.36', 'pid 4242', '/home/user/work', '/usr/local/bin/app',
    '0x426000', '[heap]', 'rw-p', 'HEAP', '12 KiB', 'leader', '0x401136', '0x7ffffffde5c0', 'PIPE', 'pipe:[5555]',
    '/home/user/work/data.txt', '42', 'totals', '4 chunks', '28672 bytes']) {
    assert.ok(text.includes(want), `missing ${want} in:\n${text}`);
  }
  const json = imageToJson(await readImage(file)) as { process: { procId: string; auxv: string }; regions: { kindName: string }[] };
  assert.equal(json.process.procId, '1');
  assert.equal(json.regions[2]!.kindName, 'HEAP');
  assert.equal(json.process.auxv.slice(0, 6), '000102');
});

test('a flipped byte in any record is a CRC error naming that record and its offset', async (t) => {
  const img = encodeImage(sampleImage());
  for (const [index, rec] of img.records.entries()) {
    if (rec.type === RecordType.CHUNK) continue;
    const bytes = Buffer.from(img.bytes);
    bytes[rec.offset + 16 + Math.floor(rec.payloadLength / 2)]! ^= 0x01;
    await rejects(write(t, bytes), new RegExp(`CRC mismatch in record #${index} \\(${recordTypeName(rec.type)}\\) at offset ${rec.offset}\\b`));
  }
});

test('chunk data is checked only with verify', async (t) => {
  const img = encodeImage(sampleImage());
  const index = img.records.findIndex((r) => r.type === RecordType.CHUNK);
  const rec = img.records[index]!;
  const bytes = Buffer.from(img.bytes);
  bytes[rec.offset + rec.payloadLength]! ^= 0x80; // inside the chunk's data
  const file = write(t, bytes);
  await readImage(file);
  await rejects(file, new RegExp(`CRC mismatch in record #${index} \\(CHUNK\\) at offset ${rec.offset} \\(chunk data\\)`), true);
});

test('truncation anywhere is reported as truncation', async (t) => {
  const img = encodeImage(sampleImage());
  const cuts = new Set([0, 5, 31, 32, 40, img.bytes.length - 1, img.bytes.length - 8]);
  for (const r of img.records) {
    cuts.add(r.offset);
    cuts.add(r.offset + 9);
    cuts.add(r.offset + 16 + Math.floor(r.payloadLength / 2));
  }
  for (const cut of cuts) await rejects(write(t, img.bytes.subarray(0, cut)), /truncated/);
});

test('header problems: wrong magic, newer version, unknown flags, bad header CRC', async (t) => {
  const img = encodeImage(sampleImage()).bytes;
  const magic = Buffer.from(img);
  magic.write('ELF', 0, 'latin1');
  await rejects(write(t, magic), /is not a Stasis image/);
  const version = Buffer.from(img);
  version.writeUInt32LE(2, 8);
  version.writeUInt32LE(crc32c(version.subarray(0, 24)), 24);
  await rejects(write(t, version), /image format version 2 is not supported \(this stasis reads version 1\)/);
  const flags = Buffer.from(img);
  flags.writeUInt32LE(2, 16);
  flags.writeUInt32LE(crc32c(flags.subarray(0, 24)), 24);
  await rejects(write(t, flags), /flags 0x2 are not supported/);
  const crc = Buffer.from(img);
  crc[12]! ^= 0x40;
  await rejects(write(t, crc), /CRC mismatch in the file header/);
});

test('an END that disagrees with the records is rejected', async (t) => {
  const img = encodeImage(sampleImage());
  const end = img.records.length - 1;
  await rejects(write(t, patchRecord(img, end, (p) => p.writeBigUInt64LE(3n, 8))), /END says chunks 3, the file has 4/);
  await rejects(write(t, patchRecord(img, end, (p) => p.writeBigUInt64LE(1n, 24))), /END says end_offset 1/);
});

test('trailing bytes after END are rejected', async (t) => {
  const img = encodeImage(sampleImage()).bytes;
  await rejects(write(t, Buffer.concat([img, Buffer.alloc(8)])), /8 bytes of trailing data after the END record/);
});

test('records of unknown types are skipped', async (t) => {
  const content = sampleImage();
  content.extraRecords = [{ type: 42, payload: Buffer.from('from the future') }];
  const parsed = await readImage(write(t, encodeImage(content).bytes), { verify: true });
  assert.deepEqual(parsed.unknownRecords.map((r) => [r.type, r.length]), [[42, 15]]);
});

test('a record out of order is rejected', async (t) => {
  const content = sampleImage();
  const w = new ByteWriter();
  encodeRegion(w, { ...content.regions[0]!, start: 0x900000n, end: 0x901000n });
  content.extraRecords = [{ type: RecordType.REGION, payload: w.toBuffer() }];
  await rejects(write(t, encodeImage(content).bytes), /\(REGION\) at offset \d+ is out of order/);
});

test('a chunk outside the recorded regions is rejected', async (t) => {
  const content = sampleImage();
  content.chunks.push({ addr: 0x500000n, data: Buffer.alloc(4096, 1) });
  await rejects(write(t, encodeImage(content).bytes), /chunk 0x500000-0x501000 lies outside the recorded memory regions/);
});

test('a payload whose fields do not fill it exactly is rejected', async (t) => {
  const img = encodeImage(sampleImage());
  const bytes = Buffer.from(img.bytes);
  // Grow the INFO machine string's length by one: every later field shifts.
  const info = img.records[0]!;
  bytes.writeUInt16LE(7, info.offset + 16 + 24);
  const payload = bytes.subarray(info.offset + 16, info.offset + 16 + info.payloadLength);
  bytes.writeUInt32LE(crc32c(payload), info.offset + 12);
  await rejects(write(t, bytes), /record #0 \(INFO\) at offset 32: /);
});


test('fuzz: damaged images are accepted or rejected with a StasisError, nothing else', async (t) => {
  const base = encodeImage(sampleImage()).bytes;
  const dir = tmpDir(t);
  const next = rng(0xc0ffee);
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(base);
    // Headers and non-chunk payloads are where parsing happens: aim most flips there.
    const span = next() % 4 === 0 ? bytes.length : 4096;
    for (let k = 1 + (next() % 3); k > 0; k--) bytes[next() % span] = next() & 0xff;
    const cut = next() % 8 === 0 ? next() % bytes.length : bytes.length;
    const file = path.join(dir, `fuzz-${i}.img`);
    fs.writeFileSync(file, bytes.subarray(0, cut));
    try {
      await readImage(file, { verify: true });
    } catch (err) {
      if (!(err instanceof StasisError)) throw new Error(`case ${i}: ${String(err)}`);
    }
  }
});

// --- vectors written by the C agent ------------------------------------------------------

const VECTORS = path.join(packageRoot(), 'test', 'vectors', 'image');
const vectorImages = fs.existsSync(VECTORS) ? fs.readdirSync(VECTORS).filter((n) => n.endsWith('.img')).sort() : [];
const badDir = path.join(VECTORS, 'bad');
const badImages = fs.existsSync(badDir) ? fs.readdirSync(badDir).filter((n) => n.endsWith('.img')).sort() : [];

/** Every key of `expected` must match in `actual`; arrays element by element, same length. */
function assertSubset(actual: unknown, expected: unknown, where: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertSubset(actual[i], e, `${where}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${where}: expected an object`);
    for (const [k, v] of Object.entries(expected)) assertSubset((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.equal(actual, expected, where);
  }
}

test('C-written image vectors parse and match their expectations', { skip: vectorImages.length === 0 ? 'no test/vectors/image/*.img yet (the C writer provides them)' : false }, async () => {
  for (const name of vectorImages) {
    const parsed = await readImage(path.join(VECTORS, name), { verify: true });
    const expectFile = path.join(VECTORS, name.replace(/\.img$/, '.json'));
    if (fs.existsSync(expectFile)) assertSubset(imageToJson(parsed), JSON.parse(fs.readFileSync(expectFile, 'utf8')), name);
  }
});

test('bad C-written image vectors are rejected with the expected message', { skip: badImages.length === 0 ? 'no test/vectors/image/bad/*.img' : false }, async () => {
  for (const name of badImages) {
    const want = fs.readFileSync(path.join(badDir, name.replace(/\.img$/, '.txt')), 'utf8').trim();
    await assert.rejects(readImage(path.join(badDir, name), { verify: true }), (err: unknown) =>
      err instanceof StasisError && err.message.includes(want), `${name}: expected an error containing ${JSON.stringify(want)}`);
  }
});
