/*
 * The coordinator under bad input: each kind of bad frame drops that connection (logging
 * the reason) and the coordinator goes on answering well-formed clients. Also: a port that
 * is already taken is a clear error.
 */

import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { test } from 'node:test';
import { sendRequest } from '../src/client/client';
import { StasisError } from '../src/errors';
import { RunningServer, startCoordinatorServer } from '../src/coordinator/net-server';
import { PROTOCOL_VERSION } from '../src/protocol/frame';
import { decodeMessage, encodeMessage, newFrameReader } from '../src/protocol/messages';
import { FakeAgent } from './helpers/fake-agent';
import { server } from './helpers/coordinator';
import { tmpDir } from './helpers/tmp';

/** Sends raw bytes (then optionally half-closes) and waits for the server to close the connection. */
async function sendRaw(port: number, bytes: Buffer, endAfter = false): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(bytes);
  if (endAfter) socket.end();
  await closed;
}

async function statusStillAnswered(s: RunningServer): Promise<void> {
  const res = await sendRequest({ host: '127.0.0.1', port: s.port }, { cmd: 'status' });
  assert.equal(res.ok, true);
}

function header(version: number, type: number, length: number): Buffer {
  const h = Buffer.alloc(12);
  h.write('STSP', 0, 'latin1');
  h.writeUInt16LE(version, 4);
  h.writeUInt16LE(type, 6);
  h.writeUInt32LE(length, 8);
  return h;
}

test('random bytes: dropped with bad-magic, others still served', async (t) => {
  const s = await server(t);
  const junk = crypto.randomBytes(4096);
  junk[0] = 0x00; // never "S"
  await sendRaw(s.port, junk);
  assert.ok(s.logs.some((l) => /dropped connection from .*: bad-magic/.test(l)), s.logs.join('\n'));
  assert.match(s.logs.find((l) => l.includes('bad-magic'))!, /^dropped connection from 127\.0\.0\.1:\d+: /);
  await statusStillAnswered(s);
});

test('a truncated frame then close: dropped as truncated', async (t) => {
  const s = await server(t);
  const frame = encodeMessage({ type: 'REQUEST', body: { cmd: 'status' } });
  await sendRaw(s.port, frame.subarray(0, frame.length - 3), true);
  assert.ok(s.logs.some((l) => l.includes('truncated')), s.logs.join('\n'));
  await statusStillAnswered(s);
});

test('wrong protocol version: dropped with bad-version', async (t) => {
  const s = await server(t);
  await sendRaw(s.port, Buffer.concat([header(PROTOCOL_VERSION + 1, 0x20, 2), Buffer.from('{}')]));
  assert.ok(s.logs.some((l) => l.includes('bad-version')), s.logs.join('\n'));
  await statusStillAnswered(s);
});

test('an oversize length is refused from the header alone', async (t) => {
  const s = await server(t);
  await sendRaw(s.port, header(PROTOCOL_VERSION, 0x20, 2 * 1024 * 1024));
  assert.ok(s.logs.some((l) => l.includes('too-long')), s.logs.join('\n'));
  await statusStillAnswered(s);
});

test('an unknown type, a bad JSON request and a coordinator-only message are each dropped', async (t) => {
  const s = await server(t);
  await sendRaw(s.port, Buffer.concat([header(PROTOCOL_VERSION, 0x7f, 0)]));
  await sendRaw(s.port, Buffer.concat([header(PROTOCOL_VERSION, 0x20, 5), Buffer.from('{"cmd')]));
  await sendRaw(s.port, encodeMessage({ type: 'WELCOME', procId: 1n }));
  await sendRaw(s.port, Buffer.concat([encodeMessage({ type: 'REQUEST', body: { cmd: 'status' } }), encodeMessage({ type: 'KILL' })]));
  for (const reason of ['unknown-type', 'bad-json', 'unexpected', 'wrong-direction']) {
    assert.ok(s.logs.some((l) => l.includes(reason)), `${reason} not logged:\n${s.logs.join('\n')}`);
  }
  await statusStillAnswered(s);
});

test('a HELLO with a relative checkpoint directory is refused', async (t) => {
  const s = await server(t);
  await sendRaw(s.port, encodeMessage({ type: 'HELLO', pid: 5, ppid: 1, flags: 0, procId: 0n, pidns: 0n, name: 'x', ckptDir: 'rel', hostname: 'h' }));
  assert.ok(s.logs.some((l) => l.includes('bad-field')), s.logs.join('\n'));
  const st = await sendRequest({ host: '127.0.0.1', port: s.port }, { cmd: 'status' });
  assert.deepEqual(st.processes, []);
});

test('several requests on one connection are answered in order, even after a half-close', async (t) => {
  const s = await server(t);
  const agent = await FakeAgent.connect({ port: s.port, pid: 77, ckptDir: tmpDir(t) });
  t.after(() => agent.kill());
  const socket = net.connect({ host: '127.0.0.1', port: s.port });
  t.after(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.end(Buffer.concat([
    encodeMessage({ type: 'REQUEST', body: { cmd: 'status' } }),
    encodeMessage({ type: 'REQUEST', body: { cmd: 'checkpoint' } }),
    encodeMessage({ type: 'REQUEST', body: { cmd: 'nope' } }),
  ]));
  await closed;
  const frames = newFrameReader().push(Buffer.concat(chunks)).map(decodeMessage);
  assert.deepEqual(frames.map((f) => (f.type === 'RESPONSE' ? f.body.ok : f.type)),
    [true, 'PROGRESS', 'PROGRESS', 'PROGRESS', 'PROGRESS', 'PROGRESS', true, false]);
});

test('a port already in use is a clear error', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(startCoordinatorServer({ port }), (err: unknown) => {
    assert.ok(err instanceof StasisError);
    assert.equal(err.code, 'PORT_IN_USE');
    assert.equal(err.message, `port ${port} is in use by another program — pass --coord-port N`);
    return true;
  });
});
