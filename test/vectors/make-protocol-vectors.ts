/*
 * Generates the wire-protocol vectors in test/vectors/protocol/ (see the README there).
 *
 *   node dist/test/vectors/make-protocol-vectors.js --write   rewrite the files
 *   node dist/test/vectors/make-protocol-vectors.js           check that they are current
 *
 * The files are committed: the C implementation is tested against them without Node. The
 * test runner also runs this file (it lives under test/), which is the check mode.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../src/native/paths';
import { FRAME_HEADER_SIZE, PROTOCOL_VERSION } from '../../src/protocol/frame';
import { encodeMessage, Message, messageCode, messageToJson } from '../../src/protocol/messages';

export interface GoodVector {
  name: string;
  message: Message;
}

export interface BadVector {
  name: string;
  bytes: Buffer;
  reason: string;
}

const CKPT = '/home/user/stasis-ckpt';

/** Client-message vectors are named client-*; the C side does not speak those. */
export const GOOD: GoodVector[] = [
  { name: 'hello-first', message: { type: 'HELLO', pid: 4242, ppid: 1, flags: 0, procId: 0n, pidns: 4026531836n, name: 'app', ckptDir: CKPT, hostname: 'node1' } },
  { name: 'hello-restarted', message: { type: 'HELLO', pid: 31337, ppid: 31336, flags: 1, procId: 7n, pidns: 4026532901n, name: 'café-π', ckptDir: '/tmp/ckpt dir/ünï', hostname: 'build-host.example.org' } },
  { name: 'hello-empty-strings', message: { type: 'HELLO', pid: 1, ppid: 0, flags: 0, procId: 0n, pidns: 0n, name: '', ckptDir: '', hostname: '' } },
  { name: 'hello-max', message: { type: 'HELLO', pid: 0xffffffff, ppid: 0xffffffff, flags: 0xffffffff, procId: (1n << 64n) - 1n, pidns: (1n << 64n) - 1n, name: 'x'.repeat(300), ckptDir: CKPT, hostname: 'h' } },
  { name: 'welcome', message: { type: 'WELCOME', procId: 1n } },
  { name: 'welcome-big', message: { type: 'WELCOME', procId: 0x0123456789abcdefn } },
  { name: 'suspend', message: { type: 'SUSPEND', ckptId: 3n } },
  { name: 'suspended-ok', message: { type: 'SUSPENDED', ckptId: 3n, status: 0, nthreads: 4 } },
  { name: 'suspended-error', message: { type: 'SUSPENDED', ckptId: 3n, status: -12, nthreads: 0 } },
  { name: 'write', message: { type: 'WRITE', ckptId: 3n, imagePath: `${CKPT}/gen-000001/app-4242.img`, shares: [], shmSkip: [], flags: 0 } },
  { name: 'write-shares', message: { type: 'WRITE', ckptId: 4n, imagePath: `${CKPT}/gen-000002/sort-7.img`, shares: [{ fd: 0, flags: 4, shareId: 0x600000003n }, { fd: 1, flags: 3, shareId: 0x700000001n }, { fd: -1, flags: 0xffffffff, shareId: (1n << 64n) - 1n }], shmSkip: [{ key: 0x1000000000123n }, { key: (1n << 64n) - 1n }], flags: 1 } },
  { name: 'write-full', message: { type: 'WRITE', ckptId: 5n, imagePath: `${CKPT}/gen-000003/app-4242.img`, shares: [], shmSkip: [], flags: 3 } },
  { name: 'commit', message: { type: 'COMMIT', ckptId: 4n, flags: 1 } },
  { name: 'commit-failed', message: { type: 'COMMIT', ckptId: 5n, flags: 0 } },
  { name: 'hello-init', message: { type: 'HELLO', pid: 1, ppid: 0, flags: 2, procId: 0n, pidns: 4026532901n, name: 'stasis-init', ckptDir: CKPT, hostname: 'node1' } },
  { name: 'list', message: { type: 'LIST', ckptId: 5n } },
  { name: 'write-init', message: { type: 'WRITE', ckptId: 5n, imagePath: `${CKPT}/gen-000003/sysv-ipc.bin`, shares: [], shmSkip: [], flags: 0 } },
  { name: 'listed-empty', message: { type: 'LISTED', ckptId: 5n, procs: [], shares: [], sems: [], semvals: [], shmOwners: [], shmSegs: [], msgQueues: [], cttys: [] } },
  { name: 'listed-tree', message: { type: 'LISTED', ckptId: 5n, procs: [{ pid: 2, ppid: 1, pgid: 2, sid: 1, status: -1, flags: 0 }, { pid: 7, ppid: 2, pgid: 2, sid: 1, status: 256, flags: 1 }], shares: [{ pid: 2, fd: 1, flags: 1, shareId: 0x200000001n }, { pid: 7, fd: 1, flags: 0, shareId: 0x200000001n }], sems: [{ id: 0, key: 0, mode: 0o600, uid: 1000, gid: 1000, nsems: 2 }, { id: 32769, key: 0x1234abcd, mode: 0o666, uid: 0, gid: 0, nsems: 1 }], semvals: [{ value: 3 }, { value: 0 }, { value: 32767 }], shmOwners: [{ pid: 2, key: 0x1000000000123n }], shmSegs: [{ id: 0, key: 0, mode: 0o600, uid: 1000, gid: 1000, size: 8192n }, { id: 65537, key: 0x5eed, mode: 0o640, uid: 0, gid: 0, size: (1n << 40n) }], msgQueues: [{ id: 0, key: 0, mode: 0o600, uid: 1000, gid: 1000, messages: 3, bytes: 4113n, qbytes: 16384n }, { id: 98305, key: 0xfeedbeef, mode: 0o644, uid: 0, gid: 0, messages: 0, bytes: 0n, qbytes: 1n << 33n }], cttys: [{ pid: 7, pty: 3, foreground: 7 }, { pid: 9, pty: 300, foreground: -1 }] } },
  { name: 'written-ok', message: { type: 'WRITTEN', ckptId: 3n, status: 0, imageBytes: 1234567890123n, message: '' } },
  { name: 'written-error', message: { type: 'WRITTEN', ckptId: 3n, status: -28, imageBytes: 0n, message: 'write app-4242.img.tmp: No space left on device' } },
  { name: 'written-min-status', message: { type: 'WRITTEN', ckptId: 9n, status: -2147483648, imageBytes: 0n, message: 'x' } },
  { name: 'resume', message: { type: 'RESUME', ckptId: 3n } },
  { name: 'resume-restart', message: { type: 'RESUME', ckptId: 0n } },
  { name: 'resumed', message: { type: 'RESUMED', ckptId: 3n, pauseNs: 12345678n } },
  { name: 'resumed-restart', message: { type: 'RESUMED', ckptId: 0n, pauseNs: 0n } },
  { name: 'captured-forked', message: { type: 'CAPTURED', ckptId: 3n, status: 0, flags: 1, writerPid: 4243, message: '' } },
  { name: 'captured-not-forked', message: { type: 'CAPTURED', ckptId: 3n, status: 0, flags: 0, writerPid: 0, message: 'memory pressure: 512 MiB available, 1024 MiB could be copied' } },
  { name: 'captured-error', message: { type: 'CAPTURED', ckptId: 4n, status: -24, flags: 0, writerPid: 0, message: 'too many open fds' } },
  { name: 'kill', message: { type: 'KILL' } },
  { name: 'client-request-checkpoint', message: { type: 'REQUEST', body: { cmd: 'checkpoint' } } },
  { name: 'client-request-status', message: { type: 'REQUEST', body: { cmd: 'status' } } },
  { name: 'client-progress', message: { type: 'PROGRESS', body: { phase: 'suspended', processes: 1 } } },
  { name: 'client-response-ok', message: { type: 'RESPONSE', body: { ok: true, generation: `${CKPT}/gen-000001`, durationMs: 12, bytes: 1048576 } } },
  { name: 'client-response-error', message: { type: 'RESPONSE', body: { ok: false, code: 'NO_PROCESSES', message: 'no processes are connected to the coordinator' } } },
];

function header(magic: string, version: number, type: number, length: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_SIZE);
  h.write(magic, 0, 'latin1');
  h.writeUInt16LE(version, 4);
  h.writeUInt16LE(type, 6);
  h.writeUInt32LE(length, 8);
  return h;
}

function frame(type: number, payload: Buffer, length = payload.length): Buffer {
  return Buffer.concat([header('STSP', PROTOCOL_VERSION, type, length), payload]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

function str(raw: Buffer): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(raw.length);
  return Buffer.concat([b, raw]);
}

function helloPayload(reserved: number, name: Buffer): Buffer {
  return Buffer.concat([u32(42), u32(1), u32(0), u32(reserved), u64(0n), u64(0n), str(name), str(Buffer.from(CKPT)), str(Buffer.from('h'))]);
}

const HELLO = messageCode('HELLO');
const WELCOME = messageCode('WELCOME');
const SUSPEND = messageCode('SUSPEND');
const WRITTEN = messageCode('WRITTEN');
const CAPTURED = messageCode('CAPTURED');
const RESUMED = messageCode('RESUMED');
const KILL = messageCode('KILL');
const COMMIT = messageCode('COMMIT');
const WRITE = messageCode('WRITE');
const LISTED = messageCode('LISTED');
const REQUEST = messageCode('REQUEST');
const welcome = encodeMessage({ type: 'WELCOME', procId: 1n });

/** Bad frames: each .bin is rejected with the reason keyword in its .txt. */
export const BAD: BadVector[] = [
  { name: 'bad-magic', bytes: Buffer.concat([header('STSQ', 1, WELCOME, 8), u64(1n)]), reason: 'bad-magic' },
  { name: 'bad-magic-http', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), reason: 'bad-magic' },
  { name: 'bad-version-0', bytes: Buffer.concat([header('STSP', 0, WELCOME, 8), u64(1n)]), reason: 'bad-version' },
  { name: 'bad-version-3', bytes: Buffer.concat([header('STSP', PROTOCOL_VERSION - 1, WELCOME, 8), u64(1n)]), reason: 'bad-version' },
  { name: 'bad-version-5', bytes: Buffer.concat([header('STSP', PROTOCOL_VERSION + 1, WELCOME, 8), u64(1n)]), reason: 'bad-version' },
  { name: 'unknown-type-0', bytes: frame(0x00, Buffer.alloc(0)), reason: 'unknown-type' },
  { name: 'unknown-type-0x10', bytes: frame(0x10, u64(1n)), reason: 'unknown-type' },
  { name: 'too-long', bytes: header('STSP', PROTOCOL_VERSION, WELCOME, 1048577), reason: 'too-long' },
  { name: 'too-long-max', bytes: header('STSP', PROTOCOL_VERSION, HELLO, 0xffffffff), reason: 'too-long' },
  { name: 'truncated-header', bytes: welcome.subarray(0, 7), reason: 'truncated' },
  { name: 'truncated-payload', bytes: welcome.subarray(0, welcome.length - 3), reason: 'truncated' },
  { name: 'short-payload-welcome', bytes: frame(WELCOME, u32(1)), reason: 'short-payload' },
  { name: 'short-payload-hello-str', bytes: frame(HELLO, Buffer.concat([u32(42), u32(1), u32(0), u32(0), u64(0n), u64(0n), u32(100)])), reason: 'short-payload' },
  { name: 'trailing-bytes-suspend', bytes: frame(SUSPEND, Buffer.concat([u64(3n), Buffer.from([0])])), reason: 'trailing-bytes' },
  { name: 'trailing-bytes-kill', bytes: frame(KILL, u32(0)), reason: 'trailing-bytes' },
  { name: 'bad-utf8-hello-name', bytes: frame(HELLO, helloPayload(0, Buffer.from([0x61, 0xff, 0xfe]))), reason: 'bad-utf8' },
  { name: 'bad-field-hello-reserved', bytes: frame(HELLO, helloPayload(5, Buffer.from('app'))), reason: 'bad-field' },
  { name: 'bad-field-written-reserved', bytes: frame(WRITTEN, Buffer.concat([u64(3n), u32(0), u32(1), u64(10n), str(Buffer.alloc(0))])), reason: 'bad-field' },
  { name: 'bad-field-captured-reserved', bytes: frame(CAPTURED, Buffer.concat([u64(3n), u32(0), u32(1), u32(7), u32(2), str(Buffer.alloc(0))])), reason: 'bad-field' },
  { name: 'bad-field-commit-reserved', bytes: frame(COMMIT, Buffer.concat([u64(4n), u32(1), u32(9)])), reason: 'bad-field' },
  { name: 'short-payload-write-v3', bytes: frame(WRITE, Buffer.concat([u64(3n), str(Buffer.from('/x')), u32(0), u32(0)])), reason: 'short-payload' },
  { name: 'short-payload-resumed-v2', bytes: frame(RESUMED, u64(3n)), reason: 'short-payload' },
  { name: 'short-payload-write-shares', bytes: frame(WRITE, Buffer.concat([u64(3n), str(Buffer.from('/x')), u32(2), u32(1), u32(0), u64(1n), u32(0)])), reason: 'short-payload' },
  { name: 'short-payload-listed-count', bytes: frame(LISTED, Buffer.concat([u64(3n), u32(0xffffffff)])), reason: 'short-payload' },
  { name: 'trailing-bytes-listed', bytes: frame(LISTED, Buffer.concat([u64(3n), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0)])), reason: 'trailing-bytes' },
  { name: 'client-bad-json', bytes: frame(REQUEST, Buffer.from('{"cmd":')), reason: 'bad-json' },
  { name: 'client-json-not-object', bytes: frame(REQUEST, Buffer.from('["checkpoint"]')), reason: 'bad-json' },
];

export function vectorDir(): string {
  return path.join(packageRoot(), 'test', 'vectors', 'protocol');
}

function expectedFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const v of GOOD) {
    files.set(`${v.name}.bin`, encodeMessage(v.message));
    files.set(`${v.name}.json`, Buffer.from(JSON.stringify(messageToJson(v.message)) + '\n'));
  }
  for (const v of BAD) {
    files.set(path.join('bad', `${v.name}.bin`), v.bytes);
    files.set(path.join('bad', `${v.name}.txt`), Buffer.from(`${v.reason}\n`));
  }
  return files;
}

function main(argv: string[]): number {
  const dir = vectorDir();
  const files = expectedFiles();
  if (argv.includes('--write')) {
    fs.mkdirSync(path.join(dir, 'bad'), { recursive: true });
    for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes);
    process.stdout.write(`wrote ${files.size} files to ${dir}\n`);
    return 0;
  }
  const stale: string[] = [];
  for (const [name, bytes] of files) {
    let onDisk: Buffer | null = null;
    try {
      onDisk = fs.readFileSync(path.join(dir, name));
    } catch {
      // missing
    }
    if (onDisk === null || !onDisk.equals(bytes)) stale.push(name);
  }
  if (stale.length > 0) {
    process.stderr.write(`protocol vectors out of date: ${stale.join(', ')} — run node dist/test/vectors/make-protocol-vectors.js --write\n`);
    return 1;
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
