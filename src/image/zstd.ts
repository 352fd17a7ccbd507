/*
 * CHUNK encodings 1 and 2 (docs/image-format.md): the chunk's data is one zstd frame that
 * decompresses to exactly its raw bytes (encoding 2: to those bytes byte-shuffled by 8,
 * undone here by unshuffle8). The frame header and the layout of its blocks are
 * checked here by hand, in the order and with the words of the loader
 * (native/loader/chunk-decode.c), so that both take the same decision on any frame; the
 * blocks are then decoded by fzstd (pure JavaScript, no native code).
 */

import { decompress } from 'fzstd';

const ZSTD_MAGIC = 0xfd2fb528;
const MAX_WINDOW = 8 * 1024 * 1024;
const MAX_BLOCK = 128 * 1024;

export type ZstdChunk = { ok: true; bytes: Uint8Array } | { ok: false; why: string };

/**
 * Decodes the stored data of a zstd chunk of `raw` bytes, unshuffling it if `shuffled`
 * (encoding 2); `why` continues "chunk data ...".
 */
export function decodeZstdChunk(data: Uint8Array, raw: number, shuffled = false): ZstdChunk {
  const n = data.length;
  const le = (at: number, len: number): bigint => {
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i]!);
    return v;
  };
  if (n < 5 || le(0, 4) !== BigInt(ZSTD_MAGIC)) return { ok: false, why: 'is not a zstd frame' };
  const fhd = data[4]!;
  if ((fhd & 0x0f) !== 0) return { ok: false, why: 'is a zstd frame with a reserved bit, a checksum or a dictionary' };
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const fcsLen = fcsFlag ? 1 << fcsFlag : single;
  if (fcsLen === 0) return { ok: false, why: 'is a zstd frame without its content size' };
  const at = single ? 5 : 6;
  if (at + fcsLen <= n) {
    const fcs = le(at, fcsLen) + (fcsLen === 2 ? 256n : 0n);
    if (fcs !== BigInt(raw)) return { ok: false, why: `is a zstd frame of ${fcs} bytes, the chunk covers ${raw}` };
  }
  const notDecoded: ZstdChunk = { ok: false, why: `does not decompress to ${raw} bytes` };
  if (frameSize(data, single, at + fcsLen) !== n) return notDecoded;
  try {
    const bytes = decompress(data, new Uint8Array(raw));
    if (bytes.length !== raw) return notDecoded;
    return { ok: true, bytes: shuffled ? unshuffle8(bytes) : bytes };
  } catch {
    return notDecoded;
  }
}

/**
 * The bytes whose byte shuffle by 8 is `planes` (native/common/shuffle.h): plane k, at
 * k * words, holds byte k of every 8-byte word; bytes past the last whole word follow as
 * they are.
 */
export function unshuffle8(planes: Uint8Array): Uint8Array {
  const n = planes.length;
  const words = Math.floor(n / 8);
  const out = new Uint8Array(n);
  for (let k = 0; k < 8; k++) {
    const plane = k * words;
    for (let i = 0; i < words; i++) out[8 * i + k] = planes[plane + i]!;
  }
  out.set(planes.subarray(8 * words), 8 * words);
  return out;
}

/** The byte shuffle by 8 of `bytes`: the inverse of unshuffle8. */
export function shuffle8(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const words = Math.floor(n / 8);
  const out = new Uint8Array(n);
  for (let k = 0; k < 8; k++) {
    const plane = k * words;
    for (let i = 0; i < words; i++) out[plane + i] = bytes[8 * i + k]!;
  }
  out.set(bytes.subarray(8 * words), 8 * words);
  return out;
}

/** The frame's length by its block headers, or -1 when it does not hold together. */
function frameSize(data: Uint8Array, single: number, headerLen: number): number {
  const n = data.length;
  if (headerLen > n) return -1;
  if (!single) {
    const wd = data[5]!;
    const base = 2 ** (10 + (wd >> 3));
    if (base + (base / 8) * (wd & 7) > MAX_WINDOW) return -1;
  }
  let pos = headerLen;
  for (;;) {
    if (n - pos < 3) return -1;
    const bh = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3 || size > MAX_BLOCK) return -1;
    const body = type === 1 ? 1 : size;
    if (3 + body > n - pos) return -1;
    pos += 3 + body;
    if (bh & 1) return pos;
  }
}
