/*
 * Frame layer of the wire protocol (docs/protocol.md): a 12-byte header — magic "STSP",
 * u16 version, u16 type, u32 payload length — then the payload.
 *
 * FrameReader is incremental: TCP may split or merge frames anywhere, so it keeps the bytes
 * of an unfinished frame and checks each header field as soon as its bytes arrive (random
 * bytes are rejected after the first wrong magic byte, an oversize length before any of its
 * payload is buffered). After the first ProtocolError the reader is dead: the caller drops
 * the connection, as the spec requires.
 */

import { StasisError } from '../errors';

export const FRAME_MAGIC = Buffer.from('STSP', 'latin1');
export const PROTOCOL_VERSION = 4;
export const FRAME_HEADER_SIZE = 12;
export const MAX_PAYLOAD = 1048576;

/**
 * Why a frame was rejected. These keywords are shared with the C implementation
 * (`error: <reason>` from native/build/proto-vectors) and the vectors in
 * test/vectors/protocol/bad/.
 */
export type RejectReason =
  | 'bad-magic'
  | 'bad-version'
  | 'too-long'
  | 'unknown-type'
  | 'truncated'
  | 'short-payload'
  | 'trailing-bytes'
  | 'bad-utf8'
  | 'bad-json'
  | 'bad-field'
  | 'wrong-direction'
  | 'unexpected';

export class ProtocolError extends StasisError {
  readonly reason: RejectReason;

  constructor(reason: RejectReason, detail: string) {
    super('BAD_FRAME', `${reason}: ${detail}`);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}

export interface Frame {
  type: number;
  payload: Buffer;
}

export function encodeFrame(type: number, payload: Buffer): Buffer {
  if (payload.length > MAX_PAYLOAD) {
    throw new RangeError(`payload of ${payload.length} bytes is over the ${MAX_PAYLOAD}-byte frame limit`);
  }
  const header = Buffer.alloc(FRAME_HEADER_SIZE);
  FRAME_MAGIC.copy(header, 0);
  header.writeUInt16LE(PROTOCOL_VERSION, 4);
  header.writeUInt16LE(type, 6);
  header.writeUInt32LE(payload.length, 8);
  return Buffer.concat([header, payload]);
}

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Size of the frame being received, once its header has been read. */
  private need: number | null = null;
  private failure: ProtocolError | null = null;

  /** @param isKnownType decides which type codes exist; others are rejected at the header. */
  constructor(private readonly isKnownType: (type: number) => boolean) {}

  /** Bytes received that do not form a whole frame yet. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Feeds received bytes; returns the frames they complete. Throws ProtocolError. */
  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Frame[] = [];
    try {
      for (;;) {
        // Once a header is known, wait for the whole frame before copying anything, so a
        // peer dribbling bytes cannot make each push re-copy a large partial payload.
        if (this.need !== null && this.pendingBytes < this.need) break;
        const buf = this.flatten();
        const total = this.checkHeader(buf);
        if (total === null) break;
        this.need = total;
        if (buf.length < total) break;
        frames.push({ type: buf.readUInt16LE(6), payload: Buffer.from(buf.subarray(FRAME_HEADER_SIZE, total)) });
        const rest = buf.subarray(total);
        this.pending = rest.length > 0 ? [rest] : [];
        this.pendingBytes = rest.length;
        this.need = null;
        if (rest.length === 0) break;
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.failure = err;
      this.pending = [];
      this.pendingBytes = 0;
      throw err;
    }
    return frames;
  }

  private flatten(): Buffer {
    if (this.pending.length !== 1) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0]!;
  }

  /** Call when the stream ends: a partial frame left over is an error. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.pendingBytes > 0) {
      const err = new ProtocolError('truncated', `stream ended inside a frame (${this.pendingBytes} bytes of it received)`);
      this.failure = err;
      throw err;
    }
  }

  /** Validates as much of the header as `buf` holds; returns the frame size once known. */
  private checkHeader(buf: Buffer): number | null {
    const magicBytes = Math.min(buf.length, FRAME_MAGIC.length);
    for (let i = 0; i < magicBytes; i++) {
      if (buf[i] !== FRAME_MAGIC[i]) {
        throw new ProtocolError('bad-magic', `frame starts with ${buf.subarray(0, magicBytes).toString('hex')}, not the "STSP" magic`);
      }
    }
    if (buf.length < 6) return null;
    const version = buf.readUInt16LE(4);
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError('bad-version', `protocol version ${version}, this side speaks ${PROTOCOL_VERSION}`);
    }
    if (buf.length < 8) return null;
    const type = buf.readUInt16LE(6);
    if (!this.isKnownType(type)) {
      throw new ProtocolError('unknown-type', `message type 0x${type.toString(16).padStart(2, '0')} is not defined`);
    }
    if (buf.length < FRAME_HEADER_SIZE) return null;
    const length = buf.readUInt32LE(8);
    if (length > MAX_PAYLOAD) {
      throw new ProtocolError('too-long', `payload length ${length} is over the ${MAX_PAYLOAD}-byte limit`);
    }
    return FRAME_HEADER_SIZE + length;
  }
}
