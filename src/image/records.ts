/*
 * Payload codecs of the image records, both directions side by side so a field changed in
 * one is seen in the other. Decoders must consume the payload exactly (the caller checks
 * with ByteReader.end); they throw DecodeError, which the reader turns into a StasisError
 * naming the record and its offset.
 *
 * The limits and the wording of the checks are those of the restore loader
 * (native/loader/meta.c): both readers are held to the same vectors (test/vectors/image/).
 */

import { ByteReader, ByteWriter, DecodeError } from '../binary/cursor';
import {
  DELETED_MEMFD, FdExtra, FdKind, FdLock, FdShare, LOCK_EOF, PTY_LOCKED, PTY_PACKET, SHARE_OWNER, SHARE_PIPE, SHARE_PIPE_OWNER, SHARE_PTY, SHARE_PTY_CTTY, SHARE_PTY_OWNER, ImageChunk,
  ImageEnd, ImageFd, ImageInfo, ImagePosixTimer, ImageProcess, ImageSemUndo, MAX_SEM_ADJ, ImageProcState, ImageRegion, ImageThread, ImageThreadState,
  SIGINFO_SIZE,
} from './format';

/** Limits of what the loader restores; larger values make a record malformed. */
export const MAX_NSIG = 64;
export const MAX_NRLIMIT = 16;
export const MAX_AUXV = 1024;
export const MAX_GREGS = 256;
export const MAX_FD = 1 << 20;
export const MAX_SIGINFO = 4096;
export const MAX_AFFINITY = 1024;
const MAX_PATH = 4095;
const MAX_COMM = 63;

function invalid(message: string): DecodeError {
  return new DecodeError('short', message);
}

/**
 * A `str`. Its bytes need not be UTF-8 (the agent writes Linux paths as they are): invalid
 * sequences become U+FFFD, as the C test tools print them too. It holds no NUL byte (the
 * agent writes C strings, the loader reads them as such).
 */
const lossyUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function str(r: ByteReader, what: string, maxBytes = 0xffff): string {
  const raw = r.bytes(r.u16(`${what} length`), what);
  if (raw.length > maxBytes) throw invalid(`${what} is longer than ${maxBytes} bytes`);
  if (raw.includes(0)) throw invalid(`${what} contains a NUL byte`);
  return lossyUtf8.decode(raw);
}

// --- INFO -----------------------------------------------------------------------------

export function decodeInfo(r: ByteReader): ImageInfo {
  return {
    pageSize: r.u32('page_size'),
    flags: r.u32('flags'),
    createdUnixNs: r.u64('created_unix_ns'),
    ckptId: r.u64('ckpt_id'),
    machine: str(r, 'machine'),
    kernelRelease: str(r, 'kernel_release'),
    kernelVersion: str(r, 'kernel_version'),
    glibcVersion: str(r, 'glibc_version'),
    hostname: str(r, 'hostname'),
    stasisVersion: str(r, 'stasis_version'),
  };
}

export function encodeInfo(w: ByteWriter, v: ImageInfo): void {
  w.u32(v.pageSize).u32(v.flags).u64(v.createdUnixNs).u64(v.ckptId)
    .str(v.machine).str(v.kernelRelease).str(v.kernelVersion).str(v.glibcVersion).str(v.hostname).str(v.stasisVersion);
}

// --- PROCESS --------------------------------------------------------------------------

const MM_FIELDS = [
  'startCode', 'endCode', 'startData', 'endData', 'startBrk', 'brk', 'startStack', 'argStart', 'argEnd', 'envStart', 'envEnd',
] as const;

export function decodeProcess(r: ByteReader): ImageProcess {
  const pid = r.u32('pid');
  const ppid = r.u32('ppid');
  const pgid = r.u32('pgid');
  const sid = r.u32('sid');
  const uid = r.u32('uid');
  const gid = r.u32('gid');
  const umask = r.u32('umask');
  r.u32('reserved');
  const procId = r.u64('proc_id');
  const mm = {} as Record<(typeof MM_FIELDS)[number], bigint>;
  for (const f of MM_FIELDS) mm[f] = r.u64(f);
  const restartEntry = r.u64('restart_entry');
  const restartInfo = r.u64('restart_info');
  const restartInfoSize = r.u32('restart_info_size');
  r.u32('reserved');
  const rseqOffset = r.i64('rseq_offset');
  const rseqSize = r.u32('rseq_size');
  const rseqSig = r.u32('rseq_sig');
  const nsig = r.u32('nsig');
  if (nsig > MAX_NSIG) throw invalid(`nsig is more than ${MAX_NSIG}`);
  const sigactions = [];
  for (let i = 0; i < nsig; i++) {
    sigactions.push({ handler: r.u64('sa_handler'), flags: r.u64('sa_flags'), restorer: r.u64('sa_restorer'), mask: r.u64('sa_mask') });
  }
  const nrlimit = r.u32('nrlimit');
  if (nrlimit > MAX_NRLIMIT) throw invalid(`nrlimit is more than ${MAX_NRLIMIT}`);
  const rlimits = [];
  for (let i = 0; i < nrlimit; i++) rlimits.push({ cur: r.u64('rlim_cur'), max: r.u64('rlim_max') });
  const cwd = str(r, 'cwd', MAX_PATH);
  const exe = str(r, 'exe', MAX_PATH);
  const comm = str(r, 'comm', MAX_COMM);
  const auxvLen = r.u32('auxv_len');
  const auxv = Buffer.from(r.bytes(auxvLen, 'auxv'));
  if (auxvLen > MAX_AUXV) throw invalid(`auxv is longer than ${MAX_AUXV} bytes`);
  return {
    pid, ppid, pgid, sid, uid, gid, umask, procId, ...mm, restartEntry, restartInfo, restartInfoSize,
    rseqOffset, rseqSize, rseqSig, sigactions, rlimits, cwd, exe, comm, auxv,
  };
}

export function encodeProcess(w: ByteWriter, v: ImageProcess): void {
  w.u32(v.pid).u32(v.ppid).u32(v.pgid).u32(v.sid).u32(v.uid).u32(v.gid).u32(v.umask).u32(0).u64(v.procId);
  for (const f of MM_FIELDS) w.u64(v[f]);
  w.u64(v.restartEntry).u64(v.restartInfo).u32(v.restartInfoSize).u32(0);
  w.i64(v.rseqOffset).u32(v.rseqSize).u32(v.rseqSig);
  w.u32(v.sigactions.length);
  for (const s of v.sigactions) w.u64(s.handler).u64(s.flags).u64(s.restorer).u64(s.mask);
  w.u32(v.rlimits.length);
  for (const l of v.rlimits) w.u64(l.cur).u64(l.max);
  w.str(v.cwd).str(v.exe).str(v.comm).u32(v.auxv.length).bytes(v.auxv);
}

// --- REGION ---------------------------------------------------------------------------

export function decodeRegion(r: ByteReader): ImageRegion {
  const start = r.u64('start');
  const end = r.u64('end');
  const fileOffset = r.u64('file_offset');
  const prot = r.u32('prot');
  const flags = r.u32('flags');
  const kind = r.u32('kind');
  r.u32('reserved');
  return {
    start, end, fileOffset, prot, flags, kind,
    dev: r.u64('dev'), inode: r.u64('inode'), fileSize: r.u64('file_size'), fileMtimeNs: r.i64('file_mtime_ns'),
    path: str(r, 'path', MAX_PATH),
  };
}

export function encodeRegion(w: ByteWriter, v: ImageRegion): void {
  w.u64(v.start).u64(v.end).u64(v.fileOffset).u32(v.prot).u32(v.flags).u32(v.kind).u32(0)
    .u64(v.dev).u64(v.inode).u64(v.fileSize).i64(v.fileMtimeNs).str(v.path);
}

// --- THREAD ---------------------------------------------------------------------------

export function decodeThread(r: ByteReader): ImageThread {
  const tid = r.u32('tid');
  const flags = r.u32('flags');
  const fsBase = r.u64('fs_base');
  const gsBase = r.u64('gs_base');
  const clearChildTid = r.u64('clear_child_tid');
  const robustList = r.u64('robust_list');
  const robustListLen = r.u64('robust_list_len');
  const sigmask = r.u64('sigmask');
  const altstackSp = r.u64('altstack_sp');
  const altstackSize = r.u64('altstack_size');
  const altstackFlags = r.u32('altstack_flags');
  r.u32('reserved');
  const resumeSp = r.u64('resume_sp');
  const ngregs = r.u32('ngregs');
  if (ngregs > MAX_GREGS) throw invalid(`ngregs is more than ${MAX_GREGS}`);
  const gregs: bigint[] = [];
  for (let i = 0; i < ngregs; i++) gregs.push(r.u64('greg'));
  const xsaveLen = r.u32('xsave_len');
  const xsave = Buffer.from(r.bytes(xsaveLen, 'xsave'));
  return {
    tid, flags, fsBase, gsBase, clearChildTid, robustList, robustListLen, sigmask,
    altstackSp, altstackSize, altstackFlags, resumeSp, gregs, xsave,
  };
}

export function encodeThread(w: ByteWriter, v: ImageThread): void {
  w.u32(v.tid).u32(v.flags).u64(v.fsBase).u64(v.gsBase).u64(v.clearChildTid).u64(v.robustList).u64(v.robustListLen)
    .u64(v.sigmask).u64(v.altstackSp).u64(v.altstackSize).u32(v.altstackFlags).u32(0).u64(v.resumeSp);
  w.u32(v.gregs.length);
  for (const g of v.gregs) w.u64(g);
  w.u32(v.xsave.length).bytes(v.xsave);
}

// --- FD -------------------------------------------------------------------------------

export function decodeFdShare(r: ByteReader): FdShare {
  const fd = r.i32('fd');
  const flags = r.u32('flags');
  const shareId = r.u64('share_id');
  if ((flags & ~(SHARE_OWNER | SHARE_PIPE_OWNER | SHARE_PIPE | SHARE_PTY | SHARE_PTY_OWNER | SHARE_PTY_CTTY)) !== 0) throw invalid('unknown share flags');
  if ((flags & SHARE_OWNER) !== 0 && shareId === 0n) throw invalid('an owner of no shared description');
  return { fd, flags, shareId };
}

export function decodeFdLock(r: ByteReader): FdLock {
  const fd = r.i32('fd');
  const kind = r.u32('kind');
  const type = r.u32('type');
  if (r.u32('reserved') !== 0) throw invalid('a reserved field is not 0');
  const start = r.u64('start');
  const end = r.u64('end');
  if (kind < 1 || kind > 3) throw invalid('unknown lock kind');
  if (type !== 1 && type !== 2) throw invalid('unknown lock type');
  if (start > end || (end !== LOCK_EOF && end > 1n << 62n)) throw invalid('the locked range is empty or out of range');
  return { fd, kind, type, start, end };
}

export function encodeFdLock(w: ByteWriter, v: FdLock): void {
  w.i32(v.fd).u32(v.kind).u32(v.type).u32(0).u64(v.start).u64(v.end);
}

export function encodeFdShare(w: ByteWriter, v: FdShare): void {
  w.i32(v.fd).u32(v.flags).u64(v.shareId);
}

export function decodeFd(r: ByteReader): ImageFd {
  const fd = r.i32('fd');
  const fdFlags = r.u32('fd_flags');
  const kind = r.u32('kind');
  const openFlags = r.u32('open_flags');
  const dupOf = r.i32('dup_of');
  r.u32('reserved');
  const offset = r.u64('offset');
  const dev = r.u64('dev');
  const inode = r.u64('inode');
  const mode = r.u32('mode');
  const extraLen = r.u32('extra_len');
  const path = str(r, 'path', MAX_PATH);
  const extraBytes = r.bytes(extraLen, 'extra');
  if (fd < 0 || fd > MAX_FD) throw invalid('fd is out of range');
  if (dupOf < -1) throw invalid('dup_of is neither -1 nor an fd');
  if (dupOf >= fd) throw invalid('dup_of is not a lower fd');
  if (dupOf >= 0 && extraLen !== 0) throw invalid('a duplicated fd has extra bytes');
  let extra: FdExtra | null = null;
  if (dupOf < 0) {
    try {
      extra = decodeFdExtra(kind, new ByteReader(extraBytes));
    } catch (err) {
      if (err instanceof DecodeError) throw invalid(`the extra bytes do not fit the fd kind (${err.message})`);
      throw err;
    }
  }
  return { fd, fdFlags, kind, openFlags, dupOf, offset, dev, inode, mode, path, extra };
}

function decodeFdExtra(kind: number, r: ByteReader): FdExtra | null {
  let extra: FdExtra | null;
  switch (kind) {
    case FdKind.REG:
      extra = { kind: 'REG', size: r.u64('size') };
      break;
    case FdKind.DIR: case FdKind.CHR: case FdKind.TTY: case FdKind.INHERIT:
      extra = null;
      break;
    case FdKind.PIPE: {
      const pipeId = r.u64('pipe_id');
      const end = r.u32('end');
      const pipeSize = r.u32('pipe_size');
      const dataLen = r.u32('data_len');
      extra = { kind: 'PIPE', pipeId, end, pipeSize, data: Buffer.from(r.bytes(dataLen, 'pipe data')) };
      break;
    }
    case FdKind.EVENTFD: {
      const count = r.u64('count');
      const flags = r.u32('flags');
      r.u32('reserved');
      extra = { kind: 'EVENTFD', count, flags };
      break;
    }
    case FdKind.EPOLL: {
      const n = r.u32('n');
      r.u32('reserved');
      const entries = [];
      for (let i = 0; i < n; i++) entries.push({ fd: r.i32('epoll fd'), events: r.u32('events'), data: r.u64('data') });
      extra = { kind: 'EPOLL', entries };
      break;
    }
    case FdKind.SIGNALFD:
      extra = { kind: 'SIGNALFD', mask: r.u64('mask') };
      break;
    case FdKind.TIMERFD:
      extra = { kind: 'TIMERFD', clockid: r.u32('clockid'), flags: r.u32('flags'), valueNs: r.u64('value_ns'), intervalNs: r.u64('interval_ns') };
      break;
    case FdKind.DELETED: {
      extra = { kind: 'DELETED', fileId: r.u64('file_id'), size: r.u64('size'), flags: r.u32('flags'), seals: r.u32('seals') };
      r.end('fd extra');
      if (extra.fileId === 0n) throw invalid('file_id is 0');
      if ((extra.flags & ~DELETED_MEMFD) !== 0) throw invalid(`unknown flags 0x${extra.flags.toString(16)}`);
      return extra;
    }
    case FdKind.FIFO: {
      const fifoId = r.u64('fifo_id');
      const pipeSize = r.u32('pipe_size');
      const dataLen = r.u32('data_len');
      extra = { kind: 'FIFO', fifoId, pipeSize, data: Buffer.from(r.bytes(dataLen, 'fifo data')) };
      break;
    }
    case FdKind.PTY: {
      const ptyId = r.u64('pty_id');
      const end = r.u32('end');
      const flags = r.u32('flags');
      const iflag = r.u32('iflag');
      const oflag = r.u32('oflag');
      const cflag = r.u32('cflag');
      const lflag = r.u32('lflag');
      const line = r.bytes(1, 'line')[0]!;
      const cc = Buffer.from(r.bytes(19, 'cc'));
      const rows = r.u16('rows');
      const cols = r.u16('cols');
      const xpixel = r.u16('xpixel');
      const ypixel = r.u16('ypixel');
      const masterLen = r.u32('master_len');
      const slaveLen = r.u32('slave_len');
      const masterData = Buffer.from(r.bytes(masterLen, 'master data'));
      const slaveData = Buffer.from(r.bytes(slaveLen, 'slave data'));
      r.end('fd extra');
      if (end > 1) throw invalid(`end ${end} is neither 0 (master) nor 1 (slave)`);
      if ((flags & ~(PTY_LOCKED | PTY_PACKET)) !== 0) throw invalid(`unknown flags 0x${flags.toString(16)}`);
      return {
        kind: 'PTY', ptyId, end, flags, iflag, oflag, cflag, lflag, line, cc, rows, cols, xpixel, ypixel, masterData, slaveData,
      };
    }
    default:
      return { kind: 'RAW', bytes: Buffer.from(r.bytes(r.remaining, 'extra')) };
  }
  r.end('fd extra');
  return extra;
}

/** The extra bytes of an fd kind (none for null). */
export function encodeFdExtra(w: ByteWriter, x: FdExtra | null): void {
  if (!x) return;
  switch (x.kind) {
    case 'REG': w.u64(x.size); break;
    case 'PIPE': w.u64(x.pipeId).u32(x.end).u32(x.pipeSize).u32(x.data.length).bytes(x.data); break;
    case 'EVENTFD': w.u64(x.count).u32(x.flags).u32(0); break;
    case 'EPOLL':
      w.u32(x.entries.length).u32(0);
      for (const e of x.entries) w.i32(e.fd).u32(e.events).u64(e.data);
      break;
    case 'SIGNALFD': w.u64(x.mask); break;
    case 'TIMERFD': w.u32(x.clockid).u32(x.flags).u64(x.valueNs).u64(x.intervalNs); break;
    case 'DELETED': w.u64(x.fileId).u64(x.size).u32(x.flags).u32(x.seals); break;
    case 'FIFO': w.u64(x.fifoId).u32(x.pipeSize).u32(x.data.length).bytes(x.data); break;
    case 'PTY':
      w.u64(x.ptyId).u32(x.end).u32(x.flags).u32(x.iflag).u32(x.oflag).u32(x.cflag).u32(x.lflag)
        .bytes(Buffer.from([x.line])).bytes(x.cc).u16(x.rows).u16(x.cols).u16(x.xpixel).u16(x.ypixel)
        .u32(x.masterData.length).u32(x.slaveData.length).bytes(x.masterData).bytes(x.slaveData);
      break;
    case 'RAW': w.bytes(x.bytes); break;
  }
}

export function encodeFd(w: ByteWriter, v: ImageFd): void {
  const extra = new ByteWriter();
  encodeFdExtra(extra, v.extra);
  w.i32(v.fd).u32(v.fdFlags).u32(v.kind).u32(v.openFlags).i32(v.dupOf).u32(0).u64(v.offset).u64(v.dev).u64(v.inode).u32(v.mode)
    .u32(extra.length).str(v.path).bytes(extra.toBuffer());
}

// --- PROC_STATE, THREAD_STATE, POSIX_TIMER ---------------------------------------------

/** n queued signals (n already read): n × 128-byte siginfo, each with a signal number 1..64. */
function siginfoList(r: ByteReader, n: number): Buffer[] {
  if (n > MAX_SIGINFO) throw invalid(`nsiginfo is more than ${MAX_SIGINFO}`);
  const raw = r.bytes(n * SIGINFO_SIZE, 'siginfo');
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(Buffer.from(raw.subarray(i * SIGINFO_SIZE, (i + 1) * SIGINFO_SIZE)));
  for (const s of out) {
    const sig = s.readUInt32LE(0);
    if (sig < 1 || sig > 64) throw invalid("a pending signal's number is not 1..64");
  }
  return out;
}

export function decodeProcState(r: ByteReader): ImageProcState {
  const realtimeNs = r.i64('realtime_ns');
  const monotonicNs = r.i64('monotonic_ns');
  const boottimeNs = r.i64('boottime_ns');
  const personality = r.u32('personality');
  const flags = r.u32('flags');
  const dumpable = r.u32('dumpable');
  r.u32('reserved');
  const itimers = [];
  for (let i = 0; i < 3; i++) itimers.push({ valueNs: r.u64('itimer value_ns'), intervalNs: r.u64('itimer interval_ns') });
  const n = r.u32('nsiginfo');
  r.u32('reserved');
  const siginfo = siginfoList(r, n);
  if (dumpable > 2) throw invalid('dumpable is not 0, 1 or 2');
  return { realtimeNs, monotonicNs, boottimeNs, personality, flags, dumpable, itimers, siginfo };
}

export function encodeProcState(w: ByteWriter, v: ImageProcState): void {
  w.i64(v.realtimeNs).i64(v.monotonicNs).i64(v.boottimeNs).u32(v.personality).u32(v.flags).u32(v.dumpable).u32(0);
  for (const t of v.itimers) w.u64(t.valueNs).u64(t.intervalNs);
  w.u32(v.siginfo.length).u32(0);
  for (const s of v.siginfo) w.bytes(s);
}

export function decodeThreadState(r: ByteReader): ImageThreadState {
  const tid = r.u32('tid');
  const flags = r.u32('flags');
  const nice = r.i32('nice');
  const pdeathsig = r.u32('pdeathsig');
  const timerSlackNs = r.u64('timer_slack_ns');
  const comm = str(r, 'comm', 15);
  const affinityLen = r.u32('affinity_len');
  if (affinityLen > MAX_AFFINITY || affinityLen % 8 !== 0) throw invalid(`affinity_len is not a multiple of 8 up to ${MAX_AFFINITY}`);
  const affinity = Buffer.from(r.bytes(affinityLen, 'affinity'));
  const siginfo = siginfoList(r, r.u32('nsiginfo'));
  if (nice < -20 || nice > 19) throw invalid('nice is not between -20 and 19');
  if (pdeathsig > 64) throw invalid('pdeathsig is not a signal');
  return { tid, flags, nice, pdeathsig, timerSlackNs, comm, affinity, siginfo };
}

export function encodeThreadState(w: ByteWriter, v: ImageThreadState): void {
  w.u32(v.tid).u32(v.flags).i32(v.nice).u32(v.pdeathsig).u64(v.timerSlackNs).str(v.comm).u32(v.affinity.length).bytes(v.affinity);
  w.u32(v.siginfo.length);
  for (const s of v.siginfo) w.bytes(s);
}

export function decodePosixTimer(r: ByteReader): ImagePosixTimer {
  const timerId = r.i32('timer_id');
  const clockid = r.i32('clockid');
  const notify = r.u32('notify');
  const signo = r.u32('signo');
  const notifyTid = r.u32('notify_tid');
  r.u32('reserved');
  const v = { timerId, clockid, notify, signo, notifyTid, sigevValue: r.u64('sigev_value'), valueNs: r.u64('value_ns'), intervalNs: r.u64('interval_ns') };
  if (timerId < 0) throw invalid('timer_id is negative');
  if (![0, 1, 2, 4].includes(notify)) throw invalid('notify is not SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD or SIGEV_THREAD_ID');
  if (signo > 64 || (signo === 0 && notify !== 1)) throw invalid('signo is not 1..64');
  return v;
}

export function encodePosixTimer(w: ByteWriter, v: ImagePosixTimer): void {
  w.i32(v.timerId).i32(v.clockid).u32(v.notify).u32(v.signo).u32(v.notifyTid).u32(0).u64(v.sigevValue).u64(v.valueNs).u64(v.intervalNs);
}

export function decodeSemUndo(r: ByteReader): ImageSemUndo {
  const semid = r.i32('semid');
  const n = r.u32('n');
  if (semid < 0) throw invalid('semid is negative');
  if (n === 0 || n > MAX_SEM_ADJ) throw invalid('n is not 1..32000');
  const adj: { num: number; adj: number }[] = [];
  for (let i = 0; i < n; i++) {
    const e = { num: r.u32('num'), adj: r.i32('adj') };
    if (e.num >= MAX_SEM_ADJ) throw invalid('a semaphore number is not below 32000');
    if (i > 0 && e.num <= adj[i - 1]!.num) throw invalid('semaphore numbers do not go up');
    if (e.adj === 0 || e.adj < -32768 || e.adj > 32767) throw invalid('an adjustment is 0 or not in -32768..32767');
    adj.push(e);
  }
  return { semid, adj };
}

export function encodeSemUndo(w: ByteWriter, v: ImageSemUndo): void {
  w.i32(v.semid).u32(v.adj.length);
  for (const e of v.adj) w.u32(e.num).i32(e.adj);
}

// --- CHUNK head -----------------------------------------------------------------------

export interface ChunkHead {
  addr: bigint;
  rawLen: bigint;
  encoding: number;
  storedLen: number;
  pad: number;
}

export function decodeChunkHead(r: ByteReader): ChunkHead {
  const head = { addr: r.u64('addr'), rawLen: r.u64('raw_len'), encoding: r.u32('encoding'), storedLen: r.u32('stored_len'), pad: r.u32('pad') };
  r.u32('reserved');
  return head;
}

export function encodeChunkHead(w: ByteWriter, v: ChunkHead): void {
  w.u64(v.addr).u64(v.rawLen).u32(v.encoding).u32(v.storedLen).u32(v.pad).u32(0);
}

export function chunkFromHead(h: ChunkHead, dataOffset: number): ImageChunk {
  return { addr: h.addr, rawLen: h.rawLen, encoding: h.encoding, storedLen: h.storedLen, dataOffset };
}

// --- FILEDATA head -------------------------------------------------------------------

export interface FileDataHead {
  fileId: bigint;
  offset: bigint;
  len: number;
  pad: number;
}

export function decodeFileDataHead(r: ByteReader): FileDataHead {
  const fileId = r.u64('file_id');
  const offset = r.u64('offset');
  const len = r.u32('len');
  r.u32('reserved');
  const pad = r.u32('pad');
  r.u32('reserved');
  return { fileId, offset, len, pad };
}

export function encodeFileDataHead(w: ByteWriter, v: FileDataHead): void {
  w.u64(v.fileId).u64(v.offset).u32(v.len).u32(0).u32(v.pad).u32(0);
}

// --- END ------------------------------------------------------------------------------

export function decodeEnd(r: ByteReader): ImageEnd {
  return { records: r.u64('records'), chunks: r.u64('chunks'), contentBytes: r.u64('content_bytes'), endOffset: r.u64('end_offset') };
}

export function encodeEnd(w: ByteWriter, v: ImageEnd): void {
  w.u64(v.records).u64(v.chunks).u64(v.contentBytes).u64(v.endOffset);
}
