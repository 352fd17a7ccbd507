/*
 * Constants and typed records of the image format (docs/image-format.md). The reader
 * produces these objects, the test writer consumes them; u64/i64 fields are bigints.
 */

export const IMAGE_MAGIC = Buffer.from('STASISIM', 'latin1');
export const IMAGE_VERSION = 1;
export const FILE_HEADER_SIZE = 32;
export const RECORD_MAGIC = Buffer.from('SREC', 'latin1');
export const RECORD_HEADER_SIZE = 16;
export const RECORD_ALIGN = 8;
export const CHUNK_HEAD_SIZE = 32;
export const CHUNK_DATA_ALIGN = 4096;
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
export const FILEDATA_HEAD_SIZE = 32;
export const MAX_FILEDATA_BYTES = 8 * 1024 * 1024;

export const RecordType = {
  INFO: 1,
  PROCESS: 2,
  REGION: 3,
  THREAD: 4,
  FD: 5,
  CHUNK: 6,
  FILEDATA: 10,
  FD_SHARE: 11,
  FD_LOCK: 12,
  PROC_STATE: 7,
  THREAD_STATE: 8,
  POSIX_TIMER: 9,
  SEM_UNDO: 13,
  REFS: 14,
  END: 15,
  PARENT: 16,
  PAGES: 17,
} as const;

/** File header flags: an incremental image may hold PARENT, REFS and PAGES records. */
export const IMAGE_FLAG_INCREMENTAL = 1n;

const RECORD_NAMES = new Map<number, string>(Object.entries(RecordType).map(([k, v]) => [v, k]));

export function recordTypeName(type: number): string {
  return RECORD_NAMES.get(type) ?? `type ${type}`;
}

export const REGION_KINDS = ['ANON', 'FILE', 'HEAP', 'STACK', 'VDSO', 'VVAR', 'VVAR_VCLOCK', 'VSYSCALL', 'SHMEM_ANON'] as const;
export const RegionKind = Object.fromEntries(REGION_KINDS.map((k, i) => [k, i])) as { [K in (typeof REGION_KINDS)[number]]: number };
export const REGION_SHARED = 1;
export const REGION_GROWSDOWN = 2;
/** A shared mapping of a tmpfs file (/dev/shm): its chunks are the file's content, put back on restart. */
export const REGION_CONTENT = 4;
/** madvise(MADV_HUGEPAGE) was given (VmFlags hg); a restart gives it again. */
export const REGION_HUGEPAGE = 8;
/** madvise(MADV_NOHUGEPAGE) was given (VmFlags nh); a restart gives it again. */
export const REGION_NOHUGEPAGE = 16;

export function regionKindName(kind: number): string {
  return REGION_KINDS[kind] ?? `kind ${kind}`;
}

export const FD_KINDS: { readonly [kind: number]: string } = {
  1: 'REG', 2: 'DIR', 3: 'CHR', 4: 'TTY', 5: 'PIPE', 6: 'EVENTFD', 7: 'EPOLL', 8: 'SIGNALFD', 9: 'TIMERFD', 10: 'INHERIT',
  11: 'DELETED', 12: 'FIFO', 13: 'PTY',
};
export const FdKind = {
  REG: 1, DIR: 2, CHR: 3, TTY: 4, PIPE: 5, EVENTFD: 6, EPOLL: 7, SIGNALFD: 8, TIMERFD: 9, INHERIT: 10,
  DELETED: 11, FIFO: 12, PTY: 13,
} as const;
export const DELETED_MEMFD = 1;
export const PTY_LOCKED = 1;
export const PTY_PACKET = 2;

export function fdKindName(kind: number): string {
  return FD_KINDS[kind] ?? `kind ${kind}`;
}

export const THREAD_LEADER = 1;
export const THREAD_CKPT = 2;

/** Indexes into THREAD gregs (x86-64 `uc_mcontext.gregs` order). */
export const REG_RSP = 15;
export const REG_RIP = 16;

export interface ImageInfo {
  pageSize: number;
  flags: number;
  createdUnixNs: bigint;
  ckptId: bigint;
  machine: string;
  kernelRelease: string;
  kernelVersion: string;
  glibcVersion: string;
  hostname: string;
  stasisVersion: string;
}

export interface SigAction {
  handler: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
}

export interface Rlimit {
  cur: bigint;
  max: bigint;
}

export interface ImageProcess {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  uid: number;
  gid: number;
  umask: number;
  procId: bigint;
  startCode: bigint;
  endCode: bigint;
  startData: bigint;
  endData: bigint;
  startBrk: bigint;
  brk: bigint;
  startStack: bigint;
  argStart: bigint;
  argEnd: bigint;
  envStart: bigint;
  envEnd: bigint;
  restartEntry: bigint;
  restartInfo: bigint;
  restartInfoSize: number;
  rseqOffset: bigint;
  rseqSize: number;
  rseqSig: number;
  sigactions: SigAction[];
  rlimits: Rlimit[];
  cwd: string;
  exe: string;
  comm: string;
  auxv: Buffer;
}

export interface ImageRegion {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
  prot: number;
  flags: number;
  kind: number;
  dev: bigint;
  inode: bigint;
  fileSize: bigint;
  fileMtimeNs: bigint;
  path: string;
}

export interface ImageThread {
  tid: number;
  flags: number;
  fsBase: bigint;
  gsBase: bigint;
  clearChildTid: bigint;
  robustList: bigint;
  robustListLen: bigint;
  sigmask: bigint;
  altstackSp: bigint;
  altstackSize: bigint;
  altstackFlags: number;
  resumeSp: bigint;
  gregs: bigint[];
  xsave: Buffer;
}

export type FdExtra =
  | { kind: 'REG'; size: bigint }
  | { kind: 'PIPE'; pipeId: bigint; end: number; pipeSize: number; data: Buffer }
  | { kind: 'EVENTFD'; count: bigint; flags: number }
  | { kind: 'EPOLL'; entries: { fd: number; events: number; data: bigint }[] }
  | { kind: 'SIGNALFD'; mask: bigint }
  | { kind: 'TIMERFD'; clockid: number; flags: number; valueNs: bigint; intervalNs: bigint }
  | { kind: 'DELETED'; fileId: bigint; size: bigint; flags: number; seals: number }
  | { kind: 'FIFO'; fifoId: bigint; pipeSize: number; data: Buffer }
  | {
    kind: 'PTY'; ptyId: bigint; end: number; flags: number; iflag: number; oflag: number; cflag: number; lflag: number;
    line: number; cc: Buffer; rows: number; cols: number; xpixel: number; ypixel: number; masterData: Buffer; slaveData: Buffer;
  }
  | { kind: 'RAW'; bytes: Buffer };

export interface ImageFd {
  fd: number;
  fdFlags: number;
  kind: number;
  openFlags: number;
  /** -1, or the lowest fd sharing this fd's open file description (restored by dup). */
  dupOf: number;
  offset: bigint;
  dev: bigint;
  inode: bigint;
  mode: number;
  path: string;
  /** Null for kinds without extra bytes; RAW for kinds this reader does not know. */
  extra: FdExtra | null;
  /** From the FD_SHARE record for this fd: what other processes of the computation hold of it. */
  share?: FdShare;
  /** From FD_LOCK records: the locks held through this fd. */
  locks?: FdLock[];
}

export const LOCK_KINDS: { readonly [kind: number]: string } = { 1: 'FLOCK', 2: 'POSIX', 3: 'OFD' };
export const LOCK_EOF = (1n << 64n) - 1n;

export interface FdLock {
  fd: number;
  /** 1 flock, 2 POSIX record lock, 3 OFD lock. */
  kind: number;
  /** 1 read (shared), 2 write (exclusive). */
  type: number;
  start: bigint;
  /** Inclusive; LOCK_EOF: to the end of the file. */
  end: bigint;
}

/** FD_SHARE flags (the protocol's share flags). */
export const SHARE_OWNER = 1;
export const SHARE_PIPE_OWNER = 2;
export const SHARE_PIPE = 4;
export const SHARE_PTY = 8;
export const SHARE_PTY_OWNER = 16;
/** FD_SHARE flags: the pty is a controlling terminal; stasis-init makes it on restart (with SHARE_PTY). */
export const SHARE_PTY_CTTY = 32;

export interface FdShare {
  fd: number;
  flags: number;
  /** The open file description's id across the processes; 0n: not shared as a description. */
  shareId: bigint;
}

/** A queued signal: the kernel's 128-byte siginfo (si_signo at 0, si_errno at 4, si_code at 8). */
export const SIGINFO_SIZE = 128;
export const THREAD_STATE_NO_NEW_PRIVS = 1;
export const PROC_STATE_CHILD_SUBREAPER = 1;
export const ITIMER_NAMES = ['real', 'virtual', 'prof'] as const;
export const SIGEV_NAMES: { readonly [notify: number]: string } = {
  0: 'SIGEV_SIGNAL', 1: 'SIGEV_NONE', 2: 'SIGEV_THREAD', 4: 'SIGEV_THREAD_ID',
};

export interface ImageItimer {
  valueNs: bigint;
  intervalNs: bigint;
}

export interface ImageProcState {
  realtimeNs: bigint;
  monotonicNs: bigint;
  boottimeNs: bigint;
  personality: number;
  flags: number;
  dumpable: number;
  /** ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF: remaining time and interval. */
  itimers: ImageItimer[];
  /** The shared pending signals, in queue order. */
  siginfo: Buffer[];
}

export interface ImageThreadState {
  tid: number;
  flags: number;
  nice: number;
  pdeathsig: number;
  timerSlackNs: bigint;
  comm: string;
  affinity: Buffer;
  /** The thread's own pending signals, in queue order. */
  siginfo: Buffer[];
}

export interface ImagePosixTimer {
  timerId: number;
  clockid: number;
  notify: number;
  signo: number;
  notifyTid: number;
  sigevValue: bigint;
  valueNs: bigint;
  intervalNs: bigint;
}

/** SEM_UNDO: the process's non-zero semadj values on one SysV semaphore set, by semaphore number. */
export interface ImageSemUndo {
  semid: number;
  adj: { num: number; adj: number }[];
}
/** Limits of a SEM_UNDO record: semaphore numbers below this, adjustments in -32768..32767. */
export const MAX_SEM_ADJ = 32000;

/** How a CHUNK's data is stored. */
export const ChunkEncoding = {
  RAW: 0,
  /** One zstd frame that decompresses to exactly raw_len bytes. */
  ZSTD: 1,
  /** The same, of the memory byte-shuffled by 8: plane k holds byte k of every 8-byte word. */
  SHUF8_ZSTD: 2,
} as const;

export interface ImageChunk {
  addr: bigint;
  rawLen: bigint;
  /** ChunkEncoding */
  encoding: number;
  storedLen: number;
  /** File offset of the chunk's data (a multiple of 4096). */
  dataOffset: number;
}

/** A FILEDATA record: bytes of a file the restore recreates (a deleted one). */
export interface ImageFileData {
  fileId: bigint;
  offset: bigint;
  len: number;
  /** File offset of the data (a multiple of 4096). */
  dataOffset: number;
}

export interface ImageEnd {
  records: bigint;
  chunks: bigint;
  contentBytes: bigint;
  endOffset: bigint;
}

export interface UnknownRecord {
  type: number;
  offset: number;
  length: number;
}

export interface ParsedImage {
  path: string;
  fileSize: number;
  version: number;
  info: ImageInfo;
  process: ImageProcess;
  regions: ImageRegion[];
  threads: ImageThread[];
  fds: ImageFd[];
  fileData: ImageFileData[];
  /** Null in images of agents that did not write it. */
  procState: ImageProcState | null;
  threadStates: ImageThreadState[];
  posixTimers: ImagePosixTimer[];
  semUndo: ImageSemUndo[];
  chunks: ImageChunk[];
  end: ImageEnd;
  unknownRecords: UnknownRecord[];
  /** Only in images with the INCREMENTAL header flag (src/image/incr.ts). */
  incremental?: IncrementalParts;
  /** True when chunk data CRCs were checked too. */
  verified: boolean;
}

/** An earlier image this one refers to; the n-th PARENT record is parent n. */
export interface ImageParent {
  fileSize: bigint;
  /** The CRC of the earlier image's INFO record: which image it is. */
  infoCrc: number;
  /** Bytes of this image's memory its REFS take from that image. */
  refBytes: bigint;
  /** `gen-NNNNNN/NAME`, beside this image's own generation folder. */
  path: string;
}

/** Pages whose bytes are in the CHUNK or PAGES record at `recordAt` of parent `parent`. */
export interface ImageRef {
  addr: bigint;
  len: bigint;
  parent: number;
  recordAt: bigint;
}

/** A PAGES record: scattered pages, their data page-aligned in the file. */
export interface ImagePages {
  offset: number;
  encoding: number;
  storedLen: number;
  /** File offset of the data (a multiple of 4096). */
  dataOffset: number;
  addrs: bigint[];
}

export interface IncrementalParts {
  parents: ImageParent[];
  refs: ImageRef[];
  pages: ImagePages[];
}

/** An image's records before its chunks (readImageMetadata), checked as readImage checks them. */
export type ImageMetadata = Omit<ParsedImage, 'chunks' | 'end' | 'verified'>;

export function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
