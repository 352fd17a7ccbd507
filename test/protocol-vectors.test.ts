/*
 * The wire-protocol vectors (test/vectors/protocol/, see its README): the TypeScript codec
 * decodes every .bin to its .json and re-encodes every .json to its .bin byte for byte,
 * rejects every bad/*.bin with the reason in its .txt, and — when the native build is
 * there — native/build/proto-vectors must agree on all of it. A small fuzzer seeded from the
 * vectors checks that no input makes the decoder fail in any other way than ProtocolError.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { nativeBuildDir, packageRoot } from '../src/native/paths';
import { ProtocolError } from '../src/protocol/frame';
import { decodeMessage, encodeMessage, Message, messageFromJson, messageToJson, newFrameReader } from '../src/protocol/messages';
import { rng } from './helpers/rng';

const DIR = path.join(packageRoot(), 'test', 'vectors', 'protocol');
const BAD_DIR = path.join(DIR, 'bad');
const PROTO_VECTORS = path.join(nativeBuildDir(), 'proto-vectors');

function names(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.bin')).map((n) => n.slice(0, -4)).sort();
}

/** Decodes a file that must hold exactly one frame; throws ProtocolError otherwise. */
function decodeFile(bytes: Buffer): Message {
  const reader = newFrameReader();
  const frames = reader.push(bytes);
  reader.finish();
  if (frames.length !== 1) throw new Error(`${frames.length} frames in one vector`);
  return decodeMessage(frames[0]!);
}

const good = names(DIR);
const bad = names(BAD_DIR);

test('there is a vector for every message type', () => {
  const types = new Set(good.map((n) => JSON.parse(fs.readFileSync(path.join(DIR, `${n}.json`), 'utf8')).type));
  for (const t of ['HELLO', 'WELCOME', 'SUSPEND', 'SUSPENDED', 'WRITE', 'WRITTEN', 'RESUME', 'RESUMED', 'KILL', 'LIST', 'LISTED', 'COMMIT', 'REQUEST', 'RESPONSE', 'PROGRESS']) {
    assert.ok(types.has(t), `no vector for ${t}`);
  }
  assert.ok(bad.length >= 5);
});

for (const name of good) {
  test(`vector ${name}: decode matches .json, encode matches .bin`, () => {
    const bin = fs.readFileSync(path.join(DIR, `${name}.bin`));
    const json = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8'));
    assert.deepEqual(messageToJson(decodeFile(bin)), json);
    assert.deepEqual(encodeMessage(messageFromJson(json)), bin);
  });
}

for (const name of bad) {
  test(`bad vector ${name}: rejected as ${fs.readFileSync(path.join(BAD_DIR, `${name}.txt`), 'utf8').trim()}`, () => {
    const bin = fs.readFileSync(path.join(BAD_DIR, `${name}.bin`));
    const reason = fs.readFileSync(path.join(BAD_DIR, `${name}.txt`), 'utf8').trim();
    assert.throws(() => decodeFile(bin), (err: unknown) => err instanceof ProtocolError && err.reason === reason);
  });
}

test('the JSON form rejects malformed vectors', () => {
  assert.throws(() => messageFromJson({ type: 'WELCOME', procId: 1 }), /u64 decimal string/);
  assert.throws(() => messageFromJson({ type: 'WELCOME', procId: '18446744073709551616' }), /u64/);
  assert.throws(() => messageFromJson({ type: 'SUSPENDED', ckptId: '1', status: 2 ** 31, nthreads: 0 }), /i32/);
  assert.throws(() => messageFromJson({ type: 'KILL', extra: 1 }), /no field "extra"/);
  assert.throws(() => messageFromJson({ type: 'NOPE' }), /unknown message type/);
});

test('encoding refuses values that do not fit their fields', () => {
  assert.throws(() => encodeMessage({ type: 'SUSPENDED', ckptId: 1n, status: 0, nthreads: -1 }), RangeError);
  assert.throws(() => encodeMessage({ type: 'WRITE', ckptId: 1n, imagePath: 'x'.repeat(70000), shares: [], shmSkip: [], flags: 0 }), RangeError);
  assert.throws(() => encodeMessage({ type: 'WELCOME', procId: 1n << 64n }), RangeError);
});


test('fuzz: mutated vectors decode or fail with ProtocolError, nothing else', () => {
  const seeds = [...good.map((n) => fs.readFileSync(path.join(DIR, `${n}.bin`))), ...bad.map((n) => fs.readFileSync(path.join(BAD_DIR, `${n}.bin`)))];
  const next = rng(0x5eed);
  for (let i = 0; i < 3000; i++) {
    const input = Buffer.from(seeds[next() % seeds.length]!);
    const mutations = 1 + (next() % 4);
    let bytes: Buffer = input;
    for (let k = 0; k < mutations; k++) {
      const op = next() % 3;
      if (op === 0 && bytes.length > 0) bytes[next() % bytes.length] = next() & 0xff;
      else if (op === 1) bytes = bytes.subarray(0, next() % (bytes.length + 1));
      else bytes = Buffer.concat([bytes, Buffer.from([next() & 0xff])]);
    }
    const reader = newFrameReader();
    try {
      for (let at = 0; at < bytes.length;) {
        const n = 1 + (next() % 16);
        for (const f of reader.push(bytes.subarray(at, at + n))) decodeMessage(f);
        at += n;
      }
      reader.finish();
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw new Error(`input ${bytes.toString('hex')} threw ${String(err)}`);
    }
  }
});

const skipNative = fs.existsSync(PROTO_VECTORS) ? false : `${PROTO_VECTORS} is not built (run \`make -C native\`)`;

// Both native tests report every disagreement at once, so one run shows the whole picture.

test('native proto-vectors decodes every agent vector to the same JSON', { skip: skipNative }, () => {
  const problems: string[] = [];
  for (const name of good.filter((n) => !n.startsWith('client-'))) {
    const r = spawnSync(PROTO_VECTORS, ['decode', path.join(DIR, `${name}.bin`)], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`.trim();
    const lines = r.stdout.trim().split('\n');
    const expected = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8'));
    if (r.status !== 0 || lines.length !== 1) {
      problems.push(`${name}: exit ${r.status}: ${out}`);
      continue;
    }
    let got: unknown;
    try {
      got = JSON.parse(lines[0]!);
    } catch {
      problems.push(`${name}: not JSON: ${lines[0]}`);
      continue;
    }
    try {
      assert.deepEqual(got, expected);
    } catch {
      problems.push(`${name}: got ${lines[0]}, expected ${JSON.stringify(expected)}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('native proto-vectors rejects every bad agent vector with the same reason', { skip: skipNative }, () => {
  const problems: string[] = [];
  for (const name of bad.filter((n) => !n.startsWith('client-'))) {
    const reason = fs.readFileSync(path.join(BAD_DIR, `${name}.txt`), 'utf8').trim();
    const r = spawnSync(PROTO_VECTORS, ['decode', path.join(BAD_DIR, `${name}.bin`)], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    const line = out.split('\n').find((l) => l.startsWith('error: '));
    const got = line ? /^error: ([a-z0-9-]+)/.exec(line)?.[1] : undefined;
    if (r.status !== 1 || got !== reason) problems.push(`${name}: expected "error: ${reason}" and exit 1, got exit ${r.status}: ${out.trim()}`);
  }
  assert.deepEqual(problems, []);
});
