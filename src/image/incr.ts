/*
 * The records of incremental images (docs/image-format.md: PARENT, REFS, PAGES) in the
 * TypeScript reader: their payload codecs (both directions), the checks reader.ts makes on
 * them, with the words of the restore loader (native/loader/refs.c), and a quick read of
 * an image's PARENT records for the coordinator and `stasis restart` (which generations an
 * image needs).
 */

import * as fsp from 'node:fs/promises';
import { ByteReader, ByteWriter, DecodeError } from '../binary/cursor';
import {
  CHUNK_DATA_ALIGN, FILE_HEADER_SIZE, ParsedImage, IMAGE_FLAG_INCREMENTAL, IMAGE_MAGIC, ImagePages, ImageParent, ImageRef, ImageRegion,
  IncrementalParts, MAX_CHUNK_BYTES, RECORD_ALIGN, RECORD_HEADER_SIZE, RECORD_MAGIC, RecordType, align,
} from './format';

export const MAX_PARENTS = 64;
export const REF_SIZE = 32;
export const MAX_REFS_PER_RECORD = 65536;
export const PAGES_HEAD_SIZE = 16;
export const MAX_PAGES_PER_RECORD = 2048;
const MAX_PATH = 4095;
const lossyUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const GENERATION_IMAGE_RE = /^gen-[0-9]{6,}\/(?!\.\.?$)[^/]+$/;

function invalid(message: string): DecodeError {
  return new DecodeError('short', message);
}

export function emptyIncrementalParts(): IncrementalParts {
  return { parents: [], refs: [], pages: [] };
}

/** A PARENT path names an image in a generation folder beside the referring image's own. */
export function isParentPath(p: string): boolean {
  return GENERATION_IMAGE_RE.test(p);
}

// --- PARENT ---------------------------------------------------------------------------

export function decodeParent(r: ByteReader): ImageParent {
  const fileSize = r.u64('file_size');
  const infoCrc = r.u32('info_crc');
  r.u32('reserved');
  const refBytes = r.u64('ref_bytes');
  const raw = r.bytes(r.u16('path length'), 'path');
  if (raw.length > MAX_PATH) throw invalid(`path is longer than ${MAX_PATH} bytes`);
  if (raw.includes(0)) throw invalid('path contains a NUL byte');
  return { fileSize, infoCrc, refBytes, path: lossyUtf8.decode(raw) };
}

export function encodeParent(w: ByteWriter, v: ImageParent): void {
  w.u64(v.fileSize).u32(v.infoCrc).u32(0).u64(v.refBytes).str(v.path);
}

/** Checks the PARENT just decoded against the ones before it (loader: parse_parent). */
export function checkParent(parents: ImageParent[], p: ImageParent): string | null {
  if (parents.length === MAX_PARENTS) return `more than ${MAX_PARENTS} PARENT records`;
  if (!isParentPath(p.path)) return 'path is not of the form gen-NNNNNN/NAME';
  if (parents.some((q) => q.path === p.path)) return 'path names the same image as an earlier PARENT record';
  return null;
}

// --- REFS -----------------------------------------------------------------------------

export function encodeRefs(w: ByteWriter, refs: ImageRef[]): void {
  w.u32(refs.length).u32(0);
  for (const e of refs) w.u64(e.addr).u64(e.len).u32(e.parent).u32(0).u64(e.recordAt);
}

/**
 * Decodes and checks a REFS payload, appending its entries (loader: parse_refs, check_entry).
 * `lastEnd` carries the end of the reference before, across records.
 */
export function decodeRefs(
  r: ByteReader, payloadLen: number, parts: IncrementalParts, regions: ImageRegion[], lastEnd: { value: bigint },
): void {
  const n = r.u32('n');
  r.u32('reserved');
  if (n === 0 || n > MAX_REFS_PER_RECORD) throw invalid(`holds ${n} entries, not 1 to ${MAX_REFS_PER_RECORD}`);
  if (payloadLen !== 8 + n * REF_SIZE) throw invalid(`payload has ${payloadLen} bytes for ${n} entries`);
  for (let i = 0; i < n; i++) {
    const k = parts.refs.length;
    const addr = r.u64('addr');
    const len = r.u64('len');
    const parent = r.u32('parent');
    r.u32('reserved');
    const recordAt = r.u64('record_at');
    const at = `entry ${k}`;
    if (parent >= parts.parents.length) throw invalid(`${at}: parent ${parent} has no PARENT record`);
    if (len === 0n || len > BigInt(MAX_CHUNK_BYTES) || len % 4096n !== 0n || addr % 4096n !== 0n || addr + len >= 1n << 64n) {
      throw invalid(`${at}: 0x${addr.toString(16)} is not a whole number of pages up to 8 MiB`);
    }
    if (addr < lastEnd.value) throw invalid(`${at}: 0x${addr.toString(16)} overlaps or precedes the reference before it`);
    if (recordAt < BigInt(FILE_HEADER_SIZE) || recordAt % 8n !== 0n) throw invalid(`${at}: record offset 0x${recordAt.toString(16)} is not a record's`);
    const target = contentTarget(regions, addr, addr + len);
    if (target !== 'ok') {
      throw invalid(`${at}: 0x${addr.toString(16)} ${target === 'outside' ? 'lies outside the recorded memory regions' : 'lies in a region whose content is not stored'}`);
    }
    lastEnd.value = addr + len;
    parts.refs.push({ addr, len, parent, recordAt });
  }
}

// --- PAGES ----------------------------------------------------------------------------

export interface PagesHead {
  npages: number;
  encoding: number;
  storedLen: number;
  pad: number;
}

export function decodePagesHead(r: ByteReader): PagesHead {
  return { npages: r.u32('npages'), encoding: r.u32('encoding'), storedLen: r.u32('stored_len'), pad: r.u32('pad') };
}

/** The whole PAGES payload: head, address list, pad, data. */
export function encodePages(w: ByteWriter, payloadAt: number, addrs: bigint[], data: Buffer): void {
  const listEnd = payloadAt + PAGES_HEAD_SIZE + addrs.length * 8;
  const pad = align(listEnd, CHUNK_DATA_ALIGN) - listEnd;
  w.u32(addrs.length).u32(0).u32(data.length).u32(pad);
  for (const a of addrs) w.u64(a);
  w.zeros(pad).bytes(data);
}

type Read = (offset: number, len: number) => Promise<Buffer>;

/**
 * Reads and checks a PAGES record's head, address list and pad (loader: read_pages_head);
 * returns it with the CRC of all that, to be continued over the data. Throws the message
 * (the caller names the record).
 */
export async function readPagesRecord(
  read: Read, payloadAt: number, len: number, pageSize: number, regions: ImageRegion[] | null,
): Promise<{ pages: ImagePages; headCrc: Buffer[] }> {
  if (len < PAGES_HEAD_SIZE) throw new PagesError(` is ${len} bytes, shorter than a pages head`);
  const headBuf = await read(payloadAt, PAGES_HEAD_SIZE);
  const head = decodePagesHead(new ByteReader(headBuf));
  if (head.npages === 0 || head.npages > MAX_PAGES_PER_RECORD) throw new PagesError(`: holds ${head.npages} pages, not 1 to ${MAX_PAGES_PER_RECORD}`);
  const listAt = payloadAt + PAGES_HEAD_SIZE;
  const dataAt = listAt + head.npages * 8 + head.pad;
  if (head.pad >= CHUNK_DATA_ALIGN || dataAt % CHUNK_DATA_ALIGN !== 0) throw new PagesError(`: data at offset ${dataAt} is not 4096-aligned`);
  const says = PAGES_HEAD_SIZE + head.npages * 8 + head.pad + head.storedLen;
  if (says !== len) throw new PagesError(`: head says ${says} bytes, not the record's`);
  if (head.encoding !== 0) throw new PagesError(` uses encoding ${head.encoding}, not supported by this version`);
  if (head.storedLen !== head.npages * pageSize) throw new PagesError(`: stores ${head.storedLen} bytes, not a page for each address`);
  const list = await read(listAt, head.npages * 8);
  const addrs: bigint[] = [];
  for (let i = 0; i < head.npages; i++) {
    const a = list.readBigUInt64LE(i * 8);
    if (a % BigInt(pageSize) !== 0n) throw new PagesError(`: address ${i} is not page aligned`);
    if (i > 0 && a <= addrs[i - 1]!) throw new PagesError(`: address ${i} is not above the one before it`);
    if (regions) {
      const target = contentTarget(regions, a, a + BigInt(pageSize));
      if (target !== 'ok') {
        throw new PagesError(`: address ${i} ${target === 'outside' ? 'lies outside the recorded memory regions' : 'lies in a region whose content is not stored'}`);
      }
    }
    addrs.push(a);
  }
  const pad = await read(listAt + head.npages * 8, head.pad);
  if (pad.some((b) => b !== 0)) throw new PagesError(': nonzero bytes in the alignment pad');
  return {
    pages: { offset: payloadAt - RECORD_HEADER_SIZE, encoding: head.encoding, storedLen: head.storedLen, dataOffset: dataAt, addrs },
    headCrc: [Buffer.from(headBuf), Buffer.from(list), Buffer.from(pad)],
  };
}

/** A PAGES check failed; the message follows the record's name. */
export class PagesError extends Error {}

/** Where [start, end) lies: inside one region that stores content, or not (reader.ts chunkTarget). */
export function contentTarget(regions: ImageRegion[], start: bigint, end: bigint): 'ok' | 'outside' | 'no-content' {
  const r = regions.find((g) => g.start <= start && end <= g.end);
  if (!r) return 'outside';
  const none = [4, 5, 6, 7].includes(r.kind) || (r.kind === 1 && (r.flags & 1) !== 0 && (r.flags & 4) === 0);
  return none ? 'no-content' : 'ok';
}

// --- a quick read of the PARENT records -----------------------------------------------

/**
 * The PARENT records of an image: what it needs from earlier generations. They follow the
 * INFO record, so this reads a few KiB, not the image. An image that is not incremental
 * has none, and neither has a file that is not an image at all (a restart refuses that
 * anyway); an incremental image whose PARENT records cannot be read throws an Error.
 */
export async function readImageParents(file: string): Promise<ImageParent[]> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    if (st.size < FILE_HEADER_SIZE) return [];
    const read = async (offset: number, len: number): Promise<Buffer> => {
      if (offset + len > st.size) throw new Error(`${file} is truncated`);
      const b = Buffer.alloc(len);
      const { bytesRead } = await fh.read(b, 0, len, offset);
      if (bytesRead !== len) throw new Error(`${file} is truncated`);
      return b;
    };
    const hdr = await read(0, FILE_HEADER_SIZE);
    if (!hdr.subarray(0, 8).equals(IMAGE_MAGIC)) return [];
    if ((hdr.readBigUInt64LE(16) & IMAGE_FLAG_INCREMENTAL) === 0n) return [];
    const parents: ImageParent[] = [];
    let off = FILE_HEADER_SIZE;
    for (let i = 0; ; i++) {
      const rh = await read(off, RECORD_HEADER_SIZE);
      if (!rh.subarray(0, 4).equals(RECORD_MAGIC)) throw new Error(`${file}: record #${i} has no SREC magic`);
      const type = rh.readUInt16LE(4);
      const len = rh.readUInt32LE(8);
      if (i === 0 && type !== RecordType.INFO) throw new Error(`${file}: the first record is not INFO`);
      if (i > 0 && type !== RecordType.PARENT) return parents;
      if (type === RecordType.PARENT) {
        if (len > 8192) throw new Error(`${file}: PARENT record #${i} is implausibly large`);
        const r = new ByteReader(await read(off + RECORD_HEADER_SIZE, len));
        try {
          parents.push(decodeParent(r));
          r.end('payload');
        } catch (err) {
          throw new Error(`${file}: PARENT record #${i}: ${(err as Error).message}`);
        }
      }
      off += RECORD_HEADER_SIZE + align(len, RECORD_ALIGN);
    }
  } finally {
    await fh.close();
  }
}

/** For `stasis inspect`: how much of an image is new and how much it takes from which earlier image. */
export function describeIncremental(img: ParsedImage, fmt: (n: number) => string): string[] {
  const x = img.incremental;
  if (!x) return [];
  // Memory, not file bytes: a zstd chunk stores less than the memory it brings back.
  const pagesMem = x.pages.reduce((t, g) => t + g.storedLen, 0);
  const fresh = Number(img.chunks.reduce((t, c) => t + c.rawLen, 0n)) + pagesMem;
  const stored = img.chunks.reduce((t, c) => t + c.storedLen, 0) + pagesMem;
  const referred = Number(x.refs.reduce((t, e) => t + e.len, 0n));
  const pages = x.pages.reduce((t, g) => t + g.addrs.length, 0);
  const pct = fresh + referred > 0 ? Math.round((100 * fresh) / (fresh + referred)) : 100;
  const lines = [
    `incremental  ${pct}% new: ${fmt(fresh)} of memory stored in ${fmt(stored)} (${img.chunks.length} chunks, ${x.pages.length} PAGES records of ${pages} pages), ${fmt(referred)} referred to in ${x.parents.length} earlier image(s) (${x.refs.length} references)`,
  ];
  for (const p of x.parents) lines.push(`  from ${p.path}: ${fmt(Number(p.refBytes))}`);
  return lines;
}

/** The generation number of a PARENT path (`gen-000003/x.img` → 3). */
export function parentGeneration(p: string): number {
  return Number(p.slice(4, p.indexOf('/')));
}
