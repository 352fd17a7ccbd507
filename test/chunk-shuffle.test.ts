/*
 * CHUNK encoding 2 in the TypeScript reader (src/image/zstd.ts): the byte shuffle by 8 held
 * to its definition (docs/image-format.md), and the golden vector's shuffled chunk, written
 * by the agent's C shuffle, decoded back to exactly the field the vector tool filled it
 * with (native/tests/image-vectors.c, fill_field: IEEE arithmetic, the same bytes here).
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ChunkEncoding } from '../src/image/format';
import { readImage } from '../src/image/reader';
import { decodeZstdChunk, shuffle8, unshuffle8 } from '../src/image/zstd';
import { packageRoot } from '../src/native/paths';

test('shuffle8 puts byte k of every 8-byte word in plane k, the tail as it is; unshuffle8 undoes it', () => {
  for (let n = 0; n <= 300; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);
    const words = Math.floor(n / 8);
    const want = new Uint8Array(n);
    for (let j = 0; j < n; j++) want[j] = j < 8 * words ? bytes[8 * (j % words) + Math.floor(j / words)]! : bytes[j]!;
    const planes = shuffle8(bytes);
    assert.deepEqual(planes, want, `shuffle8 of ${n} bytes`);
    assert.deepEqual(unshuffle8(planes), bytes, `unshuffle8 of ${n} bytes`);
  }
});

test("the vector's byte-shuffled chunk decodes to the field the C writer shuffled", async () => {
  const file = path.join(packageRoot(), 'test', 'vectors', 'image', 'rich.img');
  const img = await readImage(file, { verify: true });
  const shuffled = img.chunks.filter((c) => c.encoding === ChunkEncoding.SHUF8_ZSTD);
  assert.equal(shuffled.length, 1);
  const c = shuffled[0]!;
  const fd = fs.openSync(file, 'r');
  const data = Buffer.alloc(c.storedLen);
  fs.readSync(fd, data, 0, c.storedLen, c.dataOffset);
  fs.closeSync(fd);
  const decoded = decodeZstdChunk(data, Number(c.rawLen), true);
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.why);
  // fill_field(p, n, seed 11): word i is (double)(float)(1 + seed + x(1 - x/1024)), x = i/512.
  const want = new Float64Array(Number(c.rawLen) / 8);
  for (let i = 0; i < want.length; i++) {
    const x = i / 512;
    want[i] = Math.fround(1 + 11 + x * (1 - x / 1024));
  }
  assert.deepEqual(Buffer.from(decoded.bytes), Buffer.from(want.buffer));
  const plain = decodeZstdChunk(data, Number(c.rawLen), false);
  assert.ok(plain.ok && !Buffer.from(plain.bytes).equals(Buffer.from(want.buffer)), 'the stored bytes are the shuffled field');
});
