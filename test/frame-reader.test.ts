/* FrameReader: any TCP chunking gives the same frames; bad headers fail as early as possible. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameReader, ProtocolError } from '../src/protocol/frame';
import { decodeMessage, encodeMessage, Message, newFrameReader } from '../src/protocol/messages';

const MESSAGES: Message[] = [
  { type: 'HELLO', pid: 10, ppid: 1, flags: 0, procId: 0n, pidns: 0n, name: 'app', ckptDir: '/c', hostname: 'h' },
  { type: 'WELCOME', procId: 1n },
  { type: 'KILL' },
  { type: 'WRITTEN', ckptId: 2n, status: -5, imageBytes: 99n, message: 'EIO while writing' },
  { type: 'REQUEST', body: { cmd: 'status', big: 'x'.repeat(5000) } },
  { type: 'RESUMED', ckptId: 2n, pauseNs: 1234567n },
  { type: 'CAPTURED', ckptId: 2n, status: 0, flags: 1, writerPid: 9, message: '' },
];
const STREAM = Buffer.concat(MESSAGES.map(encodeMessage));

function collect(reader: FrameReader, chunks: Buffer[]): Message[] {
  const out: Message[] = [];
  for (const c of chunks) for (const f of reader.push(c)) out.push(decodeMessage(f));
  reader.finish();
  return out;
}

test('byte-by-byte feeding yields every frame', () => {
  const chunks = [...STREAM].map((b) => Buffer.from([b]));
  assert.deepEqual(collect(newFrameReader(), chunks), MESSAGES);
});

test('one big chunk yields every frame', () => {
  assert.deepEqual(collect(newFrameReader(), [STREAM]), MESSAGES);
});

test('every split point of the stream into two chunks yields every frame', () => {
  for (let cut = 0; cut <= STREAM.length; cut += 7) {
    assert.deepEqual(collect(newFrameReader(), [STREAM.subarray(0, cut), STREAM.subarray(cut)]), MESSAGES);
  }
});

test('bad magic is detected on the first wrong byte', () => {
  const r = newFrameReader();
  assert.deepEqual(r.push(Buffer.from('ST')), []);
  assert.throws(() => r.push(Buffer.from('X')), (e: unknown) => e instanceof ProtocolError && e.reason === 'bad-magic');
});

test('an oversize length is rejected from the header alone, before any payload', () => {
  const h = encodeMessage({ type: 'KILL' });
  h.writeUInt32LE(1048577, 8);
  assert.throws(() => newFrameReader().push(h), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-long');
  h.writeUInt32LE(1048576, 8);
  assert.deepEqual(newFrameReader().push(h), []); // exactly the limit is allowed; waiting for payload
});

test('a reader stays failed after its first error', () => {
  const r = newFrameReader();
  assert.throws(() => r.push(Buffer.from('nope')), ProtocolError);
  assert.throws(() => r.push(encodeMessage({ type: 'KILL' })), (e: unknown) => e instanceof ProtocolError && e.reason === 'bad-magic');
});

test('a stream ending inside a frame is truncated; between frames it is fine', () => {
  const r = newFrameReader();
  r.push(STREAM.subarray(0, 20));
  assert.throws(() => r.finish(), (e: unknown) => e instanceof ProtocolError && e.reason === 'truncated');
  const ok = newFrameReader();
  ok.push(encodeMessage({ type: 'KILL' }));
  ok.finish();
});

test('the largest payload allowed passes through', () => {
  const body = { pad: 'y'.repeat(1048576 - 10) };
  const frame = encodeMessage({ type: 'PROGRESS', body });
  assert.equal(frame.length, 12 + 1048576);
  const chunks: Buffer[] = [];
  for (let i = 0; i < frame.length; i += 65536) chunks.push(frame.subarray(i, i + 65536));
  assert.deepEqual(collect(newFrameReader(), chunks), [{ type: 'PROGRESS', body }]);
  assert.throws(() => encodeMessage({ type: 'PROGRESS', body: { pad: body.pad + 'z' } }), RangeError);
});

test('a large frame dribbled one byte at a time is not re-copied on every byte', () => {
  const frame = encodeMessage({ type: 'PROGRESS', body: { p: 'x'.repeat(256 * 1024) } });
  const r = newFrameReader();
  const t0 = process.hrtime.bigint();
  let frames = 0;
  for (let i = 0; i < frame.length; i++) frames += r.push(frame.subarray(i, i + 1)).length;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(frames, 1);
  assert.ok(ms < 2000, `took ${ms} ms: quadratic copying?`);
});
