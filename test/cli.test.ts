/*
 * The `stasis` command as a user runs it (bin/stasis in a child process): bad input gives
 * one line on stderr and the right exit status, fast; --help works everywhere; a daemon
 * coordinator can be started, queried and stopped.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test, TestContext } from 'node:test';
import { Manifest, serializeManifest } from '../src/ckpt-dir/manifest';
import { RecordType } from '../src/image/format';
import { encodeImage } from '../src/image/writer';
import { nativePath, packageRoot } from '../src/native/paths';
import { sampleImage } from './helpers/image-fixture';
import { tmpDir } from './helpers/tmp';

const BIN = path.join(packageRoot(), 'bin', 'stasis');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('STASIS_')) delete env[k];
  return env;
}

function stasis(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: opts.env ?? cleanEnv(), timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Exactly one line on stderr, starting with "stasis: ". */
function oneLine(r: Result, pattern: RegExp): void {
  assert.match(r.stderr, /^stasis: [^\n]*\n$/, `stderr: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, pattern);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A checkpoint directory with one committed generation holding `images` (name → bytes). */
function generation(t: TestContext, images: Record<string, Buffer>, tweak: (m: Manifest) => void = () => {}): { dir: string; gen: string } {
  const dir = tmpDir(t);
  const gen = path.join(dir, 'gen-000001');
  fs.mkdirSync(gen);
  for (const [name, bytes] of Object.entries(images)) fs.writeFileSync(path.join(gen, name), bytes);
  const m: Manifest = {
    format: 'stasis-generation', version: 2, generation: 1, ckptId: 1, created: new Date().toISOString(),
    namespace: true, zombies: [], semaphores: [], sharedSegments: [], messageQueues: [], terminals: [],
    processes: Object.entries(images).map(([image, b], i) => ({ procId: i + 1, pid: 4242 + i, ppid: 1, pgid: 4242, sid: 1, name: 'app', image, bytes: b.length })),
  };
  tweak(m);
  fs.writeFileSync(path.join(gen, 'MANIFEST.json'), serializeManifest(m));
  fs.symlinkSync('gen-000001', path.join(dir, 'latest'));
  return { dir, gen };
}

test('launch without a program: usage error, exit 2, one line', async () => {
  for (const args of [['launch'], ['launch', '--'], ['launch', '--ckpt-dir', '/tmp/x']]) {
    const r = await stasis(args);
    assert.equal(r.code, 2, JSON.stringify(r));
    oneLine(r, /no program to launch/);
  }
});

test('checkpoint with no coordinator: exit 1, one line, fast', async () => {
  const port = await freePort();
  const r = await stasis(['checkpoint', '--coord-port', String(port)]);
  assert.equal(r.code, 1);
  oneLine(r, new RegExp(`^stasis: no coordinator at 127\\.0\\.0\\.1:${port} — start one with \`stasis launch\` or \`stasis coordinator\`, or pass --coord-port\\n$`));
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  const viaEnv = await stasis(['status'], { env: { ...cleanEnv(), STASIS_COORD_PORT: String(port) } });
  assert.equal(viaEnv.code, 1);
  oneLine(viaEnv, new RegExp(`no coordinator at 127\\.0\\.0\\.1:${port}`));
});

test('restart of a directory that does not exist: exit 1, one line', async () => {
  const r = await stasis(['restart', '/nonexistent']);
  assert.equal(r.code, 1);
  oneLine(r, /no checkpoint directory at \/nonexistent/);
});

test('restart of a truncated or corrupted image: exit 1, one line, nothing started', async (t) => {
  const img = encodeImage(sampleImage());
  const truncated = generation(t, { 'app-4242.img': img.bytes.subarray(0, img.bytes.length - 100) });
  const r1 = await stasis(['restart', truncated.dir]);
  assert.equal(r1.code, 1);
  oneLine(r1, /app-4242\.img: truncated/);

  const flipped = Buffer.from(img.bytes);
  const region = img.records.find((r) => r.type === RecordType.REGION)!;
  flipped[region.offset + 20]! ^= 0xff;
  const corrupt = generation(t, { 'app-4242.img': flipped });
  const r2 = await stasis(['restart', corrupt.gen]);
  assert.equal(r2.code, 1);
  oneLine(r2, new RegExp(`CRC mismatch in record #2 \\(REGION\\) at offset ${region.offset} — the image is damaged`));

  const notImage = generation(t, { 'app-4242.img': Buffer.from('#!/bin/sh\necho hi\n'.repeat(4)) });
  const r3 = await stasis(['restart', notImage.dir]);
  assert.equal(r3.code, 1);
  oneLine(r3, /is not a Stasis image/);
});

test('restart refuses incomplete generations and process trees it cannot rebuild', async (t) => {
  const img = encodeImage(sampleImage()).bytes;
  const orphan = generation(t, { 'a-1.img': img, 'b-2.img': img }, (m) => { m.processes[1]!.ppid = 77; });
  const r = await stasis(['restart', orphan.dir]);
  assert.equal(r.code, 1);
  oneLine(r, /the parent 77 of process 4243 is not in the generation — restart from an earlier generation/);
  const lost = generation(t, { 'a-1.img': img, 'b-2.img': img }, (m) => { m.processes[1]!.sid = 99; m.processes[1]!.ppid = 4242; });
  oneLine(await stasis(['restart', lost.dir]), /process 4243 is in session 99, which neither it nor its parent is in: restoring such a session is not supported yet/);
  const loose = generation(t, { 'a-1.img': img, 'b-2.img': img }, (m) => { m.namespace = false; });
  oneLine(await stasis(['restart', loose.dir]), /holds 2 processes that were not launched in their own namespace/);

  const dir = tmpDir(t);
  fs.mkdirSync(path.join(dir, 'gen-000002'));
  const r2 = await stasis(['restart', path.join(dir, 'gen-000002')]);
  assert.equal(r2.code, 1);
  oneLine(r2, /generation gen-000002 is incomplete \(no MANIFEST\.json\) — restart from an earlier one/);

  const r3 = await stasis(['restart'], { cwd: dir });
  assert.equal(r3.code, 1);
  oneLine(r3, /no checkpoint directory at .*stasis-ckpt/);
});

test('restart of a valid image without the native build says how to build it', { skip: fs.existsSync(nativePath('restorer')) ? 'native part is built' : false }, async (t) => {
  const ok = generation(t, { 'app-4242.img': encodeImage(sampleImage()).bytes });
  const r = await stasis(['restart', ok.dir, '--coord-port', String(await freePort())]);
  assert.equal(r.code, 1);
  oneLine(r, /native part not built .* — run npm ci/);
});

test('unknown options, commands and bad numbers are usage errors', async () => {
  const cases: [string[], RegExp][] = [
    [['status', '--bogus'], /unknown option --bogus for `stasis status` — see `stasis status --help`/],
    [['frobnicate'], /unknown command "frobnicate" — see `stasis --help`/],
    [['checkpoint', '--coord-port', 'x'], /--coord-port must be a whole number from 1 to 65535/],
    [['checkpoint', '--coord-port'], /--coord-port needs a value/],
    [['coordinator', '--keep', '0'], /--keep must be a whole number from 1/],
    [['inspect'], /name an image file or a generation folder/],
    [['kill', 'extra'], /unexpected argument "extra"/],
  ];
  for (const [args, pattern] of cases) {
    const r = await stasis(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${JSON.stringify(r)}`);
    oneLine(r, pattern);
  }
});

test('every subcommand has --help', async () => {
  for (const cmd of ['launch', 'checkpoint', 'restart', 'status', 'inspect', 'kill', 'coordinator', 'shutdown']) {
    const r = await stasis([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`^usage: stasis ${cmd}`));
    assert.match(r.stdout, /--coord-port N/);
    assert.equal(r.stderr, '');
  }
  const top = await stasis(['--help']);
  assert.match(top.stdout, /commands:/);
});

test('inspect shows an image and a generation, as text and JSON', async (t) => {
  const { dir, gen } = generation(t, { 'app-4242.img': encodeImage(sampleImage()).bytes });
  const text = await stasis(['inspect', path.join(gen, 'app-4242.img'), '--verify']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /memory map \(6 regions\)/);
  assert.match(text.stdout, /4242 +leader +0x401136 +0x7ffffffde5c0/);
  const json = await stasis(['inspect', '--json', dir]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { generation: { generation: number }; images: { process: { pid: number } }[] };
  assert.equal(parsed.generation.generation, 1);
  assert.equal(parsed.images[0]!.process.pid, 4242);
  const missing = await stasis(['inspect', path.join(dir, 'nope.img')]);
  assert.equal(missing.code, 1);
  oneLine(missing, /does not exist/);
});

test('a daemon coordinator starts, answers, refuses a second one on its port, and shuts down', async (t) => {
  const port = await freePort();
  const logDir = tmpDir(t);
  const started = await stasis(['coordinator', '--daemon', '--port', String(port), '--log', path.join(logDir, 'c.log')]);
  assert.equal(started.code, 0, started.stderr);
  assert.equal(started.stdout, `${port}\n`);
  t.after(() => stasis(['shutdown', '--coord-port', String(port)]));

  const status = await stasis(['status', '--json', '--coord-port', String(port)]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).coordinator.port, port);

  const ckpt = await stasis(['checkpoint', '--coord-port', String(port)]);
  assert.equal(ckpt.code, 1);
  oneLine(ckpt, /no processes are connected to the coordinator/);

  const second = await stasis(['coordinator', '--port', String(port)]);
  assert.equal(second.code, 1);
  oneLine(second, new RegExp(`port ${port} is in use by another program — pass --coord-port N`));

  const stop = await stasis(['shutdown', '--coord-port', String(port)]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(fs.readFileSync(path.join(logDir, 'c.log'), 'utf8'), /Z stasis-coordinator: listening on 127\.0\.0\.1:\d+/);
});

test('launch refuses a port held by another program', async (t) => {
  const blocker = net.createServer((s) => s.end('HTTP/1.0 400 Bad Request\r\n\r\n'));
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await stasis(['launch', '--coord-port', String(port), '--ckpt-dir', tmpDir(t), '--', 'true']);
  assert.equal(r.code, 1);
  if (fs.existsSync(nativePath('agent'))) oneLine(r, new RegExp(`port ${port} is in use by another program — pass --coord-port N`));
  else oneLine(r, /native part not built/);
});

const noAgent = fs.existsSync(nativePath('agent')) ? false : 'native part not built';

test('launch runs the program under the agent and exits with its status', { skip: noAgent }, async (t) => {
  const port = await freePort();
  const dir = path.join(tmpDir(t), 'ckpt');
  const env = { ...cleanEnv(), LD_PRELOAD: '' };
  const r = await stasis(['launch', '--coord-port', String(port), '--ckpt-dir', dir, '--', 'sh', '-c',
    'echo "$STASIS_COORD_ADDR|$STASIS_CKPT_DIR|$LD_PRELOAD"; exit 3'], { env });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, `127.0.0.1:${port}|${dir}|${nativePath('agent')}\n`);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  const killed = await stasis(['launch', '--coord-port', String(port), '--ckpt-dir', dir, '--', 'sh', '-c', 'kill -TERM $$']);
  assert.equal(killed.code, 143);
  const missing = await stasis(['launch', '--coord-port', String(port), '--ckpt-dir', dir, '--', '/nonexistent/prog']);
  assert.equal(missing.code, 1);
  oneLine(missing, /cannot run \/nonexistent\/prog: no such program/);
});
