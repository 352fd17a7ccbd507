/*
 * Little-endian field cursors shared by the wire protocol and the image format. Both specs
 * use the same encodings: fixed-width little-endian integers (u64 as bigint) and `str`, a
 * u16 byte length followed by UTF-8 without a terminator.
 *
 * ByteReader throws DecodeError; each format catches it at its boundary and turns it into
 * its own error (ProtocolError, or a StasisError naming the image record).
 */

export type DecodeFailure = 'short' | 'bad-utf8' | 'trailing';

export class DecodeError extends Error {
  readonly kind: DecodeFailure;

  constructor(kind: DecodeFailure, message: string) {
    super(message);
    this.name = 'DecodeError';
    this.kind = kind;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private take(n: number, what: string): number {
    if (n > this.buf.length - this.pos) {
      throw new DecodeError('short', `${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u16(what = 'u16'): number {
    return this.buf.readUInt16LE(this.take(2, what));
  }

  u32(what = 'u32'): number {
    return this.buf.readUInt32LE(this.take(4, what));
  }

  i32(what = 'i32'): number {
    return this.buf.readInt32LE(this.take(4, what));
  }

  u64(what = 'u64'): bigint {
    return this.buf.readBigUInt64LE(this.take(8, what));
  }

  i64(what = 'i64'): bigint {
    return this.buf.readBigInt64LE(this.take(8, what));
  }

  bytes(n: number, what = 'bytes'): Buffer {
    const at = this.take(n, what);
    return this.buf.subarray(at, at + n);
  }

  str(what = 'str'): string {
    const len = this.u16(`${what} length`);
    const raw = this.bytes(len, what);
    try {
      return utf8.decode(raw);
    } catch {
      throw new DecodeError('bad-utf8', `${what} is not valid UTF-8`);
    }
  }

  /** Everything not read yet, decoded as UTF-8. */
  restAsUtf8(what = 'text'): string {
    const raw = this.bytes(this.remaining, what);
    try {
      return utf8.decode(raw);
    } catch {
      throw new DecodeError('bad-utf8', `${what} is not valid UTF-8`);
    }
  }

  /** Fields must consume the buffer exactly. */
  end(what = 'payload'): void {
    if (this.remaining !== 0) {
      throw new DecodeError('trailing', `${what} has ${this.remaining} bytes after its last field`);
    }
  }
}

export class ByteWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  private push(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return this.push(b);
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return this.push(b);
  }

  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return this.push(b);
  }

  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return this.push(b);
  }

  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    return this.push(b);
  }

  bytes(b: Uint8Array): this {
    return this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  zeros(n: number): this {
    return this.push(Buffer.alloc(n));
  }

  /** Throws RangeError when the UTF-8 form does not fit a u16 length. */
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 0xffff) throw new RangeError(`string of ${b.length} bytes does not fit a u16 length`);
    return this.u16(b.length).push(b);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}
