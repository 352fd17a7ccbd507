/*
 * A small but complete image, as the agent would write it for a two-thread process with a
 * heap, a stack, a mapped file, the vdso and one fd of each kind. Tests write it with the
 * TypeScript encoder, then read it back or damage it.
 */

import { FdKind, RegionKind, REGION_GROWSDOWN, THREAD_CKPT, THREAD_LEADER } from '../../src/image/format';
import { ImageContent } from '../../src/image/writer';

const PAGE = 4096;

function pattern(pages: number, seed: number): Buffer {
  const b = Buffer.alloc(pages * PAGE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

export function sampleImage(): ImageContent {
  const gregs = Array.from({ length: 23 }, (_, i) => BigInt(0x1000 + i));
  gregs[16] = 0x401136n; // RIP
  gregs[15] = 0x7ffffffde5c0n; // RSP
  const ckptRegs = Array.from({ length: 23 }, () => 0n);
  ckptRegs[16] = 0x7ffff7fb1234n;
  ckptRegs[15] = 0x7ffff75ffe80n;
  return {
    info: {
      pageSize: PAGE,
      flags: 0,
      createdUnixNs: 1795298400123456789n,
      ckptId: 7n,
      machine: 'x86_64',
      kernelRelease: '6.1.0-18-amd64',
      kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1',
      glibcVersion: '2.36',
      hostname: 'node1',
      stasisVersion: '0.1.0',
    },
    process: {
      pid: 4242, ppid: 4200, pgid: 4242, sid: 4100, uid: 1000, gid: 1000, umask: 0o022,
      procId: 1n,
      startCode: 0x401000n, endCode: 0x402000n, startData: 0x403000n, endData: 0x404000n,
      startBrk: 0x405000n, brk: 0x426000n, startStack: 0x7ffffffde000n,
      argStart: 0x7fffffffe100n, argEnd: 0x7fffffffe120n, envStart: 0x7fffffffe120n, envEnd: 0x7fffffffefe0n,
      restartEntry: 0x7ffff7fb1000n, restartInfo: 0x7ffff7fd0000n, restartInfoSize: 4144,
      rseqOffset: -0x20n, rseqSize: 32, rseqSig: 0x53053053,
      sigactions: Array.from({ length: 64 }, (_, i) => ({ handler: i === 1 ? 0x401200n : 0n, flags: 0x4000000n, restorer: 0x7ffff7e1a050n, mask: BigInt(i) })),
      rlimits: Array.from({ length: 16 }, (_, i) => ({ cur: i === 7 ? 1024n : (1n << 64n) - 1n, max: (1n << 64n) - 1n })),
      cwd: '/home/user/work',
      exe: '/usr/local/bin/app',
      comm: 'app',
      auxv: Buffer.from(Array.from({ length: 64 }, (_, i) => i)),
    },
    regions: [
      { start: 0x401000n, end: 0x402000n, fileOffset: 0x1000n, prot: 5, flags: 0, kind: RegionKind.FILE, dev: 0x803n, inode: 1234n, fileSize: 16384n, fileMtimeNs: 1700000000000000000n, path: '/usr/local/bin/app' },
      { start: 0x403000n, end: 0x404000n, fileOffset: 0x2000n, prot: 3, flags: 0, kind: RegionKind.FILE, dev: 0x803n, inode: 1234n, fileSize: 16384n, fileMtimeNs: 1700000000000000000n, path: '/usr/local/bin/app' },
      { start: 0x405000n, end: 0x426000n, fileOffset: 0n, prot: 3, flags: 0, kind: RegionKind.HEAP, dev: 0n, inode: 0n, fileSize: 0n, fileMtimeNs: 0n, path: '[heap]' },
      { start: 0x7ffff7600000n, end: 0x7ffff7e00000n, fileOffset: 0n, prot: 3, flags: 0, kind: RegionKind.ANON, dev: 0n, inode: 0n, fileSize: 0n, fileMtimeNs: 0n, path: '' },
      { start: 0x7ffff7fc1000n, end: 0x7ffff7fc3000n, fileOffset: 0n, prot: 5, flags: 0, kind: RegionKind.VDSO, dev: 0n, inode: 0n, fileSize: 0n, fileMtimeNs: 0n, path: '[vdso]' },
      { start: 0x7ffffffde000n, end: 0x7ffffffff000n, fileOffset: 0n, prot: 3, flags: REGION_GROWSDOWN, kind: RegionKind.STACK, dev: 0n, inode: 0n, fileSize: 0n, fileMtimeNs: 0n, path: '[stack]' },
    ],
    threads: [
      {
        tid: 4242, flags: THREAD_LEADER, fsBase: 0x7ffff7d8a740n, gsBase: 0n, clearChildTid: 0x7ffff7d8aa10n,
        robustList: 0x7ffff7d8aa20n, robustListLen: 24n, sigmask: 0n, altstackSp: 0n, altstackSize: 0n, altstackFlags: 2,
        resumeSp: 0x7ffffffde100n, gregs, xsave: Buffer.alloc(832, 0x5a),
      },
      {
        tid: 4243, flags: THREAD_CKPT, fsBase: 0x7ffff75ff6c0n, gsBase: 0n, clearChildTid: 0x7ffff75ff990n,
        robustList: 0x7ffff75ff9a0n, robustListLen: 24n, sigmask: 0xfffffffe7ffbfeffn, altstackSp: 0n, altstackSize: 0n, altstackFlags: 2,
        resumeSp: 0x7ffff75ffe80n, gregs: ckptRegs, xsave: Buffer.alloc(0),
      },
    ],
    fds: [
      { fd: 0, fdFlags: 0, kind: FdKind.TTY, openFlags: 0o2, dupOf: -1, offset: 0n, dev: 0x8800n, inode: 3n, mode: 0o20620, path: '/dev/pts/0', extra: null },
      { fd: 1, fdFlags: 0, kind: FdKind.INHERIT, openFlags: 0o1, dupOf: -1, offset: 0n, dev: 0n, inode: 0n, mode: 0o10600, path: 'pipe:[999]', extra: null },
      { fd: 3, fdFlags: 1, kind: FdKind.REG, openFlags: 0o2102, dupOf: -1, offset: 42n, dev: 0x803n, inode: 777n, mode: 0o100644, path: '/home/user/work/data.txt', extra: { kind: 'REG', size: 42n } },
      { fd: 4, fdFlags: 0, kind: FdKind.PIPE, openFlags: 0, dupOf: -1, offset: 0n, dev: 0xcn, inode: 5555n, mode: 0o10600, path: 'pipe:[5555]', extra: { kind: 'PIPE', pipeId: 5555n, end: 0, pipeSize: 65536, data: Buffer.from('hello') } },
      { fd: 5, fdFlags: 1, kind: FdKind.EVENTFD, openFlags: 0o2, dupOf: -1, offset: 0n, dev: 0xdn, inode: 1n, mode: 0o600, path: 'anon_inode:[eventfd]', extra: { kind: 'EVENTFD', count: 3n, flags: 1 } },
      { fd: 6, fdFlags: 1, kind: FdKind.EPOLL, openFlags: 0o2, dupOf: -1, offset: 0n, dev: 0xdn, inode: 1n, mode: 0o600, path: 'anon_inode:[eventpoll]', extra: { kind: 'EPOLL', entries: [{ fd: 4, events: 1, data: 4n }, { fd: 5, events: 5, data: 0xdeadbeefn }] } },
      { fd: 7, fdFlags: 1, kind: FdKind.SIGNALFD, openFlags: 0o2, dupOf: -1, offset: 0n, dev: 0xdn, inode: 1n, mode: 0o600, path: 'anon_inode:[signalfd]', extra: { kind: 'SIGNALFD', mask: 1n << 9n } },
      { fd: 8, fdFlags: 1, kind: FdKind.TIMERFD, openFlags: 0o2, dupOf: -1, offset: 0n, dev: 0xdn, inode: 1n, mode: 0o600, path: 'anon_inode:[timerfd]', extra: { kind: 'TIMERFD', clockid: 1, flags: 0, valueNs: 500000000n, intervalNs: 1000000000n } },
    ],
    chunks: [
      { addr: 0x403000n, data: pattern(1, 1) },
      { addr: 0x405000n, data: pattern(2, 2) },
      { addr: 0x40a000n, data: pattern(1, 3) },
      { addr: 0x7ffffffef000n, data: pattern(3, 4) },
    ],
  };
}
