/*
 * Image encoder in TypeScript. The agent (C) writes the real images; this one exists to
 * build test images — valid ones and byte-exact damaged ones — before and besides the C
 * vectors, and it is the second implementation that keeps docs/image-format.md honest.
 */

import * as fsp from 'node:fs/promises';
import { ByteWriter } from '../binary/cursor';
import { crc32c } from './crc32c';
import {
  align, CHUNK_DATA_ALIGN, CHUNK_HEAD_SIZE, FILE_HEADER_SIZE, IMAGE_FLAG_INCREMENTAL, IMAGE_MAGIC, IMAGE_VERSION, ImageFd, ImageInfo, ImageParent, ImageRef,
  ImageProcess, ImageRegion, ImageThread, RECORD_ALIGN, RECORD_HEADER_SIZE, RECORD_MAGIC, RecordType,
} from './format';
import { encodeParent, encodeRefs } from './incr';
import { encodeChunkHead, encodeEnd, encodeFd, encodeFdLock, encodeFdShare, encodeInfo, encodeProcess, encodeRegion, encodeThread } from './records';

export interface ImageContent {
  info: ImageInfo;
  process: ImageProcess;
  regions: ImageRegion[];
  threads: ImageThread[];
  fds: ImageFd[];
  /** Raw chunks; the data length is the chunk's raw_len. */
  chunks: { addr: bigint; data: Buffer }[];
  /** Records of types this reader does not know, written just before END. */
  extraRecords?: { type: number; payload: Buffer }[];
  /** An incremental image: the header flag, PARENT records after INFO, one REFS record before the chunks. */
  incremental?: { parents: ImageParent[]; refs: ImageRef[] };
}

/** Where each record landed, for tests that damage one on purpose. */
export interface RecordLayout {
  type: number;
  offset: number;
  payloadLength: number;
}

export interface EncodedImage {
  bytes: Buffer;
  records: RecordLayout[];
}

export function encodeImage(content: ImageContent): EncodedImage {
  const parts: Buffer[] = [];
  const records: RecordLayout[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };

  const header = Buffer.alloc(FILE_HEADER_SIZE);
  IMAGE_MAGIC.copy(header, 0);
  header.writeUInt32LE(IMAGE_VERSION, 8);
  header.writeUInt32LE(FILE_HEADER_SIZE, 12);
  header.writeBigUInt64LE(content.incremental ? IMAGE_FLAG_INCREMENTAL : 0n, 16);
  header.writeUInt32LE(crc32c(header.subarray(0, 24)), 24);
  push(header);

  const record = (type: number, payload: Buffer): void => {
    records.push({ type, offset, payloadLength: payload.length });
    push(recordHeader(type, payload));
    push(payload);
    push(Buffer.alloc(align(payload.length, RECORD_ALIGN) - payload.length));
  };
  const build = (fn: (w: ByteWriter) => void): Buffer => {
    const w = new ByteWriter();
    fn(w);
    return w.toBuffer();
  };

  record(RecordType.INFO, build((w) => encodeInfo(w, content.info)));
  for (const p of content.incremental?.parents ?? []) record(RecordType.PARENT, build((w) => encodeParent(w, p)));
  record(RecordType.PROCESS, build((w) => encodeProcess(w, content.process)));
  for (const r of content.regions) record(RecordType.REGION, build((w) => encodeRegion(w, r)));
  for (const t of content.threads) record(RecordType.THREAD, build((w) => encodeThread(w, t)));
  for (const f of content.fds) record(RecordType.FD, build((w) => encodeFd(w, f)));
  for (const f of content.fds) if (f.share) record(RecordType.FD_SHARE, build((w) => encodeFdShare(w, f.share!)));
  for (const f of content.fds) for (const l of f.locks ?? []) record(RecordType.FD_LOCK, build((w) => encodeFdLock(w, l)));
  if (content.incremental?.refs.length) record(RecordType.REFS, build((w) => encodeRefs(w, content.incremental!.refs)));
  let contentBytes = 0n;
  for (const c of content.chunks) {
    const headAt = offset + RECORD_HEADER_SIZE;
    const pad = (CHUNK_DATA_ALIGN - ((headAt + CHUNK_HEAD_SIZE) % CHUNK_DATA_ALIGN)) % CHUNK_DATA_ALIGN;
    const w = new ByteWriter();
    encodeChunkHead(w, { addr: c.addr, rawLen: BigInt(c.data.length), encoding: 0, storedLen: c.data.length, pad });
    w.zeros(pad).bytes(c.data);
    record(RecordType.CHUNK, w.toBuffer());
    contentBytes += BigInt(c.data.length);
  }
  for (const x of content.extraRecords ?? []) record(x.type, x.payload);
  const end = { records: BigInt(records.length), chunks: BigInt(content.chunks.length), contentBytes, endOffset: BigInt(offset) };
  record(RecordType.END, build((w) => encodeEnd(w, end)));
  return { bytes: Buffer.concat(parts), records };
}

export function recordHeader(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(RECORD_HEADER_SIZE);
  RECORD_MAGIC.copy(h, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(0, 6);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(crc32c(payload), 12);
  return h;
}

export async function writeImageFile(file: string, content: ImageContent): Promise<EncodedImage> {
  const img = encodeImage(content);
  await fsp.writeFile(file, img.bytes, { mode: 0o600 });
  return img;
}
