/*
 * Streaming reader of image files (docs/image-format.md). Images can be GiBs, so the file is
 * read through a small window: every record header and every other payload is read and
 * CRC-checked; the 32-byte head of a CHUNK or FILEDATA record is parsed and its data
 * skipped, unless `verify` asks for the data's CRC too (then it is streamed in 1 MiB pieces,
 * and a zstd chunk is also decoded, as the loader would: ./zstd.ts).
 * readImageMetadata stops at the first CHUNK (or PAGES): what `stasis restart` needs to plan, while
 * stasis-restore --check walks the chunks and END in C before anything starts.
 *
 * The structure is checked as a loader would need it: record order, exact payload lengths,
 * zero padding, page-aligned chunk data inside the recorded regions, and an END record that
 * agrees with what came before it and ends the file. Every problem is a StasisError
 * (code BAD_IMAGE) naming the file, the record and its offset. The restore loader
 * (native/loader/meta.c, chunks.c) makes the same checks in the same order with the same
 * words; test/image-vectors.test.ts holds the two to the vectors and a fuzzer.
 */

import * as fsp from 'node:fs/promises';
import { ByteReader, DecodeError } from '../binary/cursor';
import { errnoCode, StasisError } from '../errors';
import { crc32c } from './crc32c';
import { decodeZstdChunk } from './zstd';
import {
  align, ChunkEncoding, IMAGE_FLAG_INCREMENTAL, IncrementalParts, FdKind, FdLock, FdShare, SHARE_PIPE, SHARE_PIPE_OWNER, SHARE_PTY, SHARE_PTY_CTTY, SHARE_PTY_OWNER, CHUNK_DATA_ALIGN, CHUNK_HEAD_SIZE, FILE_HEADER_SIZE, FILEDATA_HEAD_SIZE,
  ImageFileData, MAX_FILEDATA_BYTES, IMAGE_MAGIC, IMAGE_VERSION, ImageChunk, ImageFd, ImageInfo, ImagePosixTimer, ImageProcess, ImageSemUndo,
  ImageMetadata, ImageProcState, ImageRegion, ImageThread, ImageThreadState, MAX_CHUNK_BYTES, ParsedImage, RECORD_ALIGN, RECORD_HEADER_SIZE,
  RECORD_MAGIC, recordTypeName, RecordType, UnknownRecord, ImageEnd, RegionKind, REGION_CONTENT, REGION_SHARED,
} from './format';
import {
  chunkFromHead, decodeChunkHead, decodeEnd, decodeFileDataHead, decodeFd, decodeFdLock, decodeFdShare, decodeInfo, decodePosixTimer, decodeSemUndo,
  decodeProcess, decodeProcState, decodeRegion, decodeThread, decodeThreadState,
} from './records';
import {
  checkParent, decodeParent, decodeRefs, emptyIncrementalParts, PagesError, readPagesRecord,
} from './incr';

export interface ReadImageOptions {
  /** Also check the CRC of every CHUNK's data, and decode zstd chunks (reads the whole file). */
  verify?: boolean;
}

/**
 * Non-CHUNK records larger than this are corrupt (a PROCESS or FD record is KiBs, at most
 * ~2 MiB with pipe data); unknown ones are skipped unread. The loader's limit too.
 */
const MAX_META_RECORD = 16 * 1024 * 1024;
/** Reads of records go through a window this large (a chunk record needs only its first page). */
const WINDOW = 64 * 1024;
/** Data whose CRC is checked is read in pieces this large. */
const CRC_PIECE = 1024 * 1024;

/** Order rank of each known record type; records may not go back to a lower rank. */
const RANK: { [type: number]: number } = {
  [RecordType.INFO]: 0,
  [RecordType.PARENT]: 1,
  [RecordType.PROCESS]: 2,
  [RecordType.REGION]: 3,
  [RecordType.THREAD]: 4,
  [RecordType.FD]: 5,
  [RecordType.FD_SHARE]: 6,
  [RecordType.FD_LOCK]: 7,
  [RecordType.FILEDATA]: 8,
  [RecordType.PROC_STATE]: 9,
  [RecordType.THREAD_STATE]: 10,
  [RecordType.POSIX_TIMER]: 11,
  [RecordType.SEM_UNDO]: 12,
  [RecordType.REFS]: 13,
  [RecordType.CHUNK]: 14,
  [RecordType.PAGES]: 14,
  [RecordType.END]: 15,
};
/** Ranks of records an image holds at most one of. */
const SINGLE = new Set([RecordType.INFO, RecordType.PROCESS, RecordType.PROC_STATE, RecordType.END].map((t) => RANK[t]!));

const DAMAGED = 'the image is damaged — restart from an earlier generation';

class WindowedFile {
  private winStart = 0;
  private win = Buffer.alloc(0);

  constructor(private readonly fh: fsp.FileHandle, readonly size: number) {}

  /** Exactly `len` bytes at `offset`; the caller has checked they lie inside the file. */
  async read(offset: number, len: number): Promise<Buffer> {
    if (offset >= this.winStart && offset + len <= this.winStart + this.win.length) {
      return this.win.subarray(offset - this.winStart, offset - this.winStart + len);
    }
    const want = Math.min(Math.max(len, WINDOW), this.size - offset);
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < len) throw new Error(`short read at offset ${offset}`);
    this.winStart = offset;
    this.win = buf.subarray(0, got);
    return this.win.subarray(0, len);
  }

  async crcOf(offset: number, len: number, previous: number): Promise<number> {
    let crc = previous;
    const buf = Buffer.alloc(Math.min(CRC_PIECE, Math.max(len, 1)));
    for (let done = 0; done < len;) {
      const n = Math.min(buf.length, len - done);
      const { bytesRead } = await this.fh.read(buf, 0, n, offset + done);
      if (bytesRead === 0) throw new Error(`short read at offset ${offset + done}`);
      crc = crc32c(buf.subarray(0, bytesRead), crc);
      done += bytesRead;
    }
    return crc;
  }
}

export async function readImage(file: string, opts: ReadImageOptions = {}): Promise<ParsedImage> {
  return (await open(file, (f) => parse(file, f, opts.verify === true ? 'verify' : 'full'))) as ParsedImage;
}

export async function readImageMetadata(file: string): Promise<ImageMetadata> {
  return open(file, (f) => parse(file, f, 'metadata'));
}

type Depth = 'metadata' | 'full' | 'verify';

async function open(file: string, read: (f: WindowedFile) => Promise<ImageMetadata>): Promise<ImageMetadata> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    const why = errnoCode(err) === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new StasisError('BAD_IMAGE', `cannot open image ${file}: ${why}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new StasisError('BAD_IMAGE', `${file} is not a regular file — pass an image or a generation folder`);
    return await read(new WindowedFile(fh, st.size));
  } finally {
    await fh.close();
  }
}

async function parse(file: string, f: WindowedFile, depth: Depth): Promise<ImageMetadata | ParsedImage> {
  const verify = depth === 'verify';
  const bad = (what: string): StasisError => new StasisError('BAD_IMAGE', `${file}: ${what} — ${DAMAGED}`);

  // File header.
  if (f.size < FILE_HEADER_SIZE) {
    if (f.size >= IMAGE_MAGIC.length && !(await f.read(0, IMAGE_MAGIC.length)).equals(IMAGE_MAGIC)) {
      throw new StasisError('BAD_IMAGE', `${file} is not a Stasis image (wrong magic)`);
    }
    throw bad(`truncated: ${f.size} bytes, shorter than the ${FILE_HEADER_SIZE}-byte file header`);
  }
  const hdr = await f.read(0, FILE_HEADER_SIZE);
  if (!hdr.subarray(0, 8).equals(IMAGE_MAGIC)) {
    throw new StasisError('BAD_IMAGE', `${file} is not a Stasis image (magic ${JSON.stringify(hdr.subarray(0, 8).toString('latin1'))}, expected "STASISIM")`);
  }
  const version = hdr.readUInt32LE(8);
  if (version !== IMAGE_VERSION) {
    throw new StasisError('BAD_IMAGE', `${file}: image format version ${version} is not supported (this stasis reads version ${IMAGE_VERSION}) — use a matching stasis`);
  }
  if (hdr.readUInt32LE(24) !== crc32c(hdr.subarray(0, 24))) throw bad('CRC mismatch in the file header at offset 0');
  if (hdr.readUInt32LE(12) !== FILE_HEADER_SIZE) throw bad(`file header size ${hdr.readUInt32LE(12)}, expected ${FILE_HEADER_SIZE}`);
  const flags = hdr.readBigUInt64LE(16);
  if ((flags & ~IMAGE_FLAG_INCREMENTAL) !== 0n) {
    throw new StasisError('BAD_IMAGE', `${file}: image flags 0x${flags.toString(16)} are not supported by this stasis — use a matching stasis`);
  }

  let info: ImageInfo | null = null;
  let proc: ImageProcess | null = null;
  const regions: ImageRegion[] = [];
  const threads: ImageThread[] = [];
  const fds: ImageFd[] = [];
  const fileData: ImageFileData[] = [];
  /** Files the DELETED fds declare: their size, and where their FILEDATA has come to. */
  const files = new Map<bigint, { size: bigint; end: bigint }>();
  let procState: ImageProcState | null = null;
  const threadStates: ImageThreadState[] = [];
  const posixTimers: ImagePosixTimer[] = [];
  const semUndo: ImageSemUndo[] = [];
  const chunks: ImageChunk[] = [];
  const unknownRecords: UnknownRecord[] = [];
  let end: ImageEnd | null = null;
  /** PARENT, REFS, PAGES: only in images with the INCREMENTAL flag. */
  const incremental = (flags & IMAGE_FLAG_INCREMENTAL) !== 0n;
  const incr: IncrementalParts = emptyIncrementalParts();
  const refsEnd = { value: 0n };
  let rank = -1;
  let contentBytes = 0n;
  let index = 0;
  let offset = FILE_HEADER_SIZE;

  while (end === null) {
    const at = `record #${index}`;
    if (offset + RECORD_HEADER_SIZE > f.size) {
      throw bad(`truncated at offset ${offset}: the file ends before ${at}${offset === f.size ? '' : "'s header"} and has no END record`);
    }
    const rh = await f.read(offset, RECORD_HEADER_SIZE);
    if (!rh.subarray(0, 4).equals(RECORD_MAGIC)) throw bad(`${at} at offset ${offset} has no SREC magic`);
    const type = rh.readUInt16LE(4);
    const len = rh.readUInt32LE(8);
    const crc = rh.readUInt32LE(12);
    const name = `${at} (${recordTypeName(type)}) at offset ${offset}`;
    const payloadAt = offset + RECORD_HEADER_SIZE;
    const next = payloadAt + align(len, RECORD_ALIGN);
    if (payloadAt + len > f.size) throw bad(`truncated: ${name} needs ${len} payload bytes, the file ends ${f.size - payloadAt} bytes in`);
    if (next > f.size) throw bad(`truncated: ${name} is missing its padding`);

    const r = RANK[type];
    if (r !== undefined) {
      if (r < rank || (r === rank && SINGLE.has(r))) throw bad(`${name} is out of order`);
      if (r > 0 && info === null) throw bad(`${name} comes before the INFO record`);
      if (r > RANK[RecordType.PROCESS]! && proc === null) throw bad(`${name} comes before the PROCESS record`);
      rank = r;
    }

    if (depth === 'metadata' && (type === RecordType.CHUNK || type === RecordType.PAGES || type === RecordType.END)) break;
    if (type === RecordType.CHUNK) {
      if (len < CHUNK_HEAD_SIZE) throw bad(`${name} is ${len} bytes, shorter than a chunk head`);
      const head = decodeChunkHead(new ByteReader(await f.read(payloadAt, CHUNK_HEAD_SIZE)));
      const dataAt = payloadAt + CHUNK_HEAD_SIZE + head.pad;
      const pageSize = BigInt(info!.pageSize);
      if (head.pad >= CHUNK_DATA_ALIGN || dataAt % CHUNK_DATA_ALIGN !== 0) throw bad(`${name}: data at offset ${dataAt} is not 4096-aligned`);
      if (CHUNK_HEAD_SIZE + head.pad + head.storedLen !== len) throw bad(`${name}: head says ${CHUNK_HEAD_SIZE + head.pad + head.storedLen} bytes, record has ${len}`);
      if (head.encoding > ChunkEncoding.SHUF8_ZSTD) throw new StasisError('BAD_IMAGE', `${file}: ${name} uses chunk encoding ${head.encoding}, not supported by this stasis — use a matching stasis`);
      if (head.encoding === ChunkEncoding.RAW && BigInt(head.storedLen) !== head.rawLen) throw bad(`${name}: raw chunk stores ${head.storedLen} bytes for ${head.rawLen}`);
      if (head.encoding !== ChunkEncoding.RAW && BigInt(head.storedLen) >= head.rawLen) {
        const kind = head.encoding === ChunkEncoding.ZSTD ? 'zstd' : 'shuffled zstd';
        throw bad(`${name}: ${kind} chunk stores ${head.storedLen} bytes for ${head.rawLen}, not fewer`);
      }
      if (head.rawLen === 0n || head.rawLen > BigInt(MAX_CHUNK_BYTES) || head.rawLen % pageSize !== 0n || head.addr % pageSize !== 0n) {
        throw bad(`${name}: chunk 0x${head.addr.toString(16)}+${head.rawLen} is not a whole number of pages up to 8 MiB`);
      }
      const target = chunkTarget(regions, head.addr, head.addr + head.rawLen);
      if (target !== 'ok') {
        const where = target === 'outside' ? 'lies outside the recorded memory regions' : 'lies in a region whose content is not stored';
        throw bad(`${name}: chunk 0x${head.addr.toString(16)}-0x${(head.addr + head.rawLen).toString(16)} ${where}`);
      }
      if (verify) {
        const headAndPad = Buffer.from(await f.read(payloadAt, CHUNK_HEAD_SIZE + head.pad));
        if (!isZero(headAndPad.subarray(CHUNK_HEAD_SIZE))) throw bad(`${name}: nonzero bytes in the alignment pad`);
        if (head.encoding !== ChunkEncoding.RAW) {
          // At most 8 MiB: checked whole, then decoded as the loader would.
          const data = await f.read(dataAt, head.storedLen);
          if (crc32c(data, crc32c(headAndPad)) !== crc) throw bad(`CRC mismatch in ${name} (chunk data)`);
          const decoded = decodeZstdChunk(data, Number(head.rawLen), head.encoding === ChunkEncoding.SHUF8_ZSTD);
          if (!decoded.ok) throw bad(`${name}: chunk data ${decoded.why}`);
        } else {
          const sum = await f.crcOf(dataAt, head.storedLen, crc32c(headAndPad));
          if (sum !== crc) throw bad(`CRC mismatch in ${name} (chunk data)`);
        }
      }
      chunks.push(chunkFromHead(head, dataAt));
      contentBytes += head.rawLen;
    } else if (type === RecordType.PAGES) {
      if (!incremental) throw bad(`${name} needs the INCREMENTAL flag in the file header`);
      let got;
      try {
        got = await readPagesRecord((o, n) => f.read(o, n), payloadAt, len, info!.pageSize, regions);
      } catch (err) {
        if (err instanceof PagesError) throw bad(`${name}${err.message}`);
        throw err;
      }
      if (verify) {
        let sum = crc32c(Buffer.concat(got.headCrc));
        sum = await f.crcOf(got.pages.dataOffset, got.pages.storedLen, sum);
        if (sum !== crc) throw bad(`CRC mismatch in ${name} (pages data)`);
      }
      incr.pages.push(got.pages);
      contentBytes += BigInt(got.pages.storedLen);
    } else if (type === RecordType.FILEDATA) {
      if (len < FILEDATA_HEAD_SIZE) throw bad(`${name} is ${len} bytes, shorter than a file data head`);
      const head = decodeFileDataHead(new ByteReader(await f.read(payloadAt, FILEDATA_HEAD_SIZE)));
      const dataAt = payloadAt + FILEDATA_HEAD_SIZE + head.pad;
      if (head.pad >= CHUNK_DATA_ALIGN || dataAt % CHUNK_DATA_ALIGN !== 0) throw bad(`${name}: data at offset ${dataAt} is not 4096-aligned`);
      if (FILEDATA_HEAD_SIZE + head.pad + head.len !== len) throw bad(`${name}: head says ${FILEDATA_HEAD_SIZE + head.pad + head.len} bytes, record has ${len}`);
      const file = files.get(head.fileId);
      if (!file) throw bad(`${name}: file ${head.fileId} is not declared by a DELETED fd before it`);
      if (head.len === 0 || head.len > MAX_FILEDATA_BYTES || head.offset % BigInt(CHUNK_DATA_ALIGN) !== 0n) {
        throw bad(`${name}: file data at ${head.offset}+${head.len} is empty, over 8 MiB or not page aligned`);
      }
      if (head.offset < file.end) throw bad(`${name}: file data at ${head.offset} overlaps or precedes the one before it`);
      if (head.offset + BigInt(head.len) > file.size) throw bad(`${name}: file data at ${head.offset}+${head.len} runs past the file's size`);
      const headAndPad = await f.read(payloadAt, FILEDATA_HEAD_SIZE + head.pad);
      if (!isZero(headAndPad.subarray(FILEDATA_HEAD_SIZE))) throw bad(`${name}: nonzero bytes in the alignment pad`);
      if (verify) {
        const sum = await f.crcOf(dataAt, head.len, crc32c(headAndPad));
        if (sum !== crc) throw bad(`CRC mismatch in ${name} (file data)`);
      }
      file.end = head.offset + BigInt(head.len);
      fileData.push({ fileId: head.fileId, offset: head.offset, len: head.len, dataOffset: dataAt });
    } else if (r === undefined && len > MAX_META_RECORD) {
      unknownRecords.push({ type, offset, length: len }); // a later version's bulk record: skip unread
    } else {
      if ((type === RecordType.PARENT || type === RecordType.REFS) && !incremental) {
        throw bad(`${name} needs the INCREMENTAL flag in the file header`);
      }
      if (len > MAX_META_RECORD) throw bad(`${name} is ${len} bytes, implausibly large`);
      const raw = await f.read(payloadAt, next - payloadAt);
      const payload = raw.subarray(0, len);
      if (crc32c(payload) !== crc) throw bad(`CRC mismatch in ${name}`);
      if (!isZero(raw.subarray(len))) throw bad(`${name} has nonzero padding`);
      const pr = new ByteReader(payload);
      try {
        switch (type) {
          case RecordType.INFO: info = decodeInfo(pr); break;
          case RecordType.PROCESS: proc = decodeProcess(pr); break;
          case RecordType.REGION: regions.push(decodeRegion(pr)); break;
          case RecordType.THREAD: threads.push(decodeThread(pr)); break;
          case RecordType.FD: fds.push(declareFile(decodeFd(pr), files)); break;
          case RecordType.FD_SHARE: attachShare(fds, decodeFdShare(pr)); break;
          case RecordType.FD_LOCK: attachLock(fds, decodeFdLock(pr)); break;
          case RecordType.PROC_STATE: procState = decodeProcState(pr); break;
          case RecordType.THREAD_STATE: threadStates.push(decodeThreadState(pr)); break;
          case RecordType.POSIX_TIMER: posixTimers.push(decodePosixTimer(pr)); break;
          case RecordType.SEM_UNDO: semUndo.push(decodeSemUndo(pr)); break;
          case RecordType.PARENT: {
            const p = decodeParent(pr);
            pr.end('payload');
            const why = checkParent(incr.parents, p);
            if (why) throw new DecodeError('short', why);
            incr.parents.push(p);
            break;
          }
          case RecordType.REFS: decodeRefs(pr, len, incr, regions, refsEnd); break;
          case RecordType.END: end = decodeEnd(pr); break;
          default: unknownRecords.push({ type, offset, length: len }); pr.bytes(pr.remaining);
        }
        pr.end('payload');
      } catch (err) {
        if (err instanceof DecodeError) throw bad(`${name}: ${err.message}`);
        throw err;
      }
      if (type === RecordType.INFO) checkInfo(info!, bad, name);
      if (type === RecordType.REGION) checkRegion(regions, info!, bad, name);
      if (type === RecordType.THREAD_STATE) checkThreadState(threadStates, threads, bad, name);
      if (type === RecordType.POSIX_TIMER) checkPosixTimer(posixTimers, threads, bad, name);
      if (type === RecordType.SEM_UNDO && semUndo.slice(0, -1).some((u) => u.semid === semUndo[semUndo.length - 1]!.semid)) {
        throw bad(`${name}: semid ${semUndo[semUndo.length - 1]!.semid} has a SEM_UNDO already`);
      }
      if (type === RecordType.END) {
        const e = end!;
        const expect: [string, bigint, bigint][] = [
          ['records', e.records, BigInt(index)],
          ['chunks', e.chunks, BigInt(chunks.length + incr.pages.length)],
          ['content_bytes', e.contentBytes, contentBytes],
          ['end_offset', e.endOffset, BigInt(offset)],
        ];
        for (const [field, got, want] of expect) {
          if (got !== want) throw bad(`truncated or spliced: END says ${field} ${got}, the file has ${want}`);
        }
        if (next !== f.size) throw bad(`${f.size - next} bytes of trailing data after the END record at offset ${offset}`);
      }
    }
    index += 1;
    offset = next;
  }

  if (proc === null) throw bad('no PROCESS record');
  if (threads.length === 0) throw bad('no THREAD record');
  if (depth === 'metadata') {
    return {
      path: file, fileSize: f.size, version, info: info!, process: proc, regions, threads, fds, fileData, procState, threadStates,
      posixTimers, semUndo, unknownRecords,
      // PARENT and REFS come before the memory; PAGES are among the chunks (not read here).
      ...(incremental ? { incremental: incr } : {}),
    };
  }
  return {
    path: file, fileSize: f.size, version, info: info!, process: proc, regions, threads, fds, fileData, procState, threadStates,
    posixTimers, semUndo, chunks, end: end!, // the walk stops before END only for metadata
    unknownRecords, verified: verify,
    ...(incremental ? { incremental: incr } : {}),
  };
}

/** A DELETED fd declares its file (the first one with that file_id). */
function declareFile(fd: ImageFd, files: Map<bigint, { size: bigint; end: bigint }>): ImageFd {
  if (fd.dupOf < 0 && fd.extra?.kind === 'DELETED' && !files.has(fd.extra.fileId)) files.set(fd.extra.fileId, { size: fd.extra.size, end: 0n });
  return fd;
}

function checkInfo(info: ImageInfo, bad: (w: string) => StasisError, name: string): void {
  const p = info.pageSize;
  if (p < 4096 || p > 1 << 30 || (p & (p - 1)) !== 0) throw bad(`${name}: page size ${p} is not a power of two of at least 4096`);
}

function checkRegion(regions: ImageRegion[], info: ImageInfo, bad: (w: string) => StasisError, name: string): void {
  const r = regions[regions.length - 1]!;
  const page = BigInt(info.pageSize);
  if (r.start >= r.end || r.start % page !== 0n || r.end % page !== 0n) {
    throw bad(`${name}: region 0x${r.start.toString(16)}-0x${r.end.toString(16)} is empty or not page aligned`);
  }
  const prev = regions[regions.length - 2];
  if (prev && prev.end > r.start) throw bad(`${name}: region 0x${r.start.toString(16)} overlaps or precedes the one before it`);
}

function checkThreadState(states: ImageThreadState[], threads: ImageThread[], bad: (w: string) => StasisError, name: string): void {
  const s = states[states.length - 1]!;
  if (!threads.some((t) => t.tid === s.tid)) throw bad(`${name}: tid ${s.tid} has no THREAD record`);
  if (states.slice(0, -1).some((o) => o.tid === s.tid)) throw bad(`${name}: tid ${s.tid} has a THREAD_STATE already`);
}

function checkPosixTimer(timers: ImagePosixTimer[], threads: ImageThread[], bad: (w: string) => StasisError, name: string): void {
  const t = timers[timers.length - 1]!;
  if (t.notify === 4 && !threads.some((x) => x.tid === t.notifyTid)) throw bad(`${name}: notify_tid ${t.notifyTid} has no THREAD record`);
  if (timers.slice(0, -1).some((o) => o.timerId === t.timerId)) throw bad(`${name}: timer id ${t.timerId} is taken by an earlier POSIX_TIMER`);
}

/**
 * A chunk lies inside one region (the agent writes them region by region) whose content the
 * image stores: not the vdso/vvar/vsyscall, nor a shared file mapping (the file holds it).
 */
function chunkTarget(regions: ImageRegion[], start: bigint, end: bigint): 'ok' | 'outside' | 'no-content' {
  const r = regions.find((g) => g.start <= start && end <= g.end);
  if (!r) return 'outside';
  const none = [RegionKind.VDSO, RegionKind.VVAR, RegionKind.VVAR_VCLOCK, RegionKind.VSYSCALL].includes(r.kind) ||
    (r.kind === RegionKind.FILE && (r.flags & REGION_SHARED) !== 0 && (r.flags & REGION_CONTENT) === 0);
  return none ? 'no-content' : 'ok';
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** FD_SHARE annotates the FD record of its fd, once (the loader's rules, meta.c). */
function attachShare(fds: ImageFd[], share: FdShare): void {
  const f = fds.find((x) => x.fd === share.fd);
  if (!f) throw new DecodeError('short', 'no FD record for its fd');
  if (f.share) throw new DecodeError('short', 'a second FD_SHARE for one fd');
  if ((share.flags & (SHARE_PIPE | SHARE_PIPE_OWNER)) !== 0 && f.dupOf < 0 && f.kind !== FdKind.PIPE) {
    throw new DecodeError('short', 'pipe share flags on an fd that is not a pipe');
  }
  if ((share.flags & (SHARE_PTY | SHARE_PTY_OWNER | SHARE_PTY_CTTY)) !== 0 && f.dupOf < 0 && f.kind !== FdKind.PTY) {
    throw new DecodeError('short', 'pty share flags on an fd that is not a pty');
  }
  if ((share.flags & (SHARE_PTY_OWNER | SHARE_PTY_CTTY)) !== 0 && (share.flags & SHARE_PTY) === 0) {
    throw new DecodeError('short', 'pty owner or terminal flags without the pty flag');
  }
  f.share = share;
}

/** FD_LOCK: a lock held through an fd with an FD record before it (meta-records.c). */
function attachLock(fds: ImageFd[], lock: FdLock): void {
  const f = fds.find((x) => x.fd === lock.fd);
  if (!f) throw new DecodeError('short', 'no FD record for its fd');
  (f.locks ??= []).push(lock);
}
