/*
 * Node adapter: a TCP socket that carries protocol messages. Used by the coordinator's net
 * server, the CLI client and the test agents.
 *
 * A ProtocolError — from the frame reader, the decoder, or thrown by the `message` handler
 * because the message is not allowed in the peer's state — destroys this socket only, after
 * reporting it once through `protocolError`.
 */

import * as net from 'node:net';
import { ProtocolError } from './frame';
import { decodeMessage, encodeMessage, Message, newFrameReader } from './messages';

export interface MessageSocketHandlers {
  message(msg: Message): void;
  protocolError?(err: ProtocolError): void;
  /** The peer finished sending (clean EOF); default: close our side too. */
  end?(): void;
  close?(): void;
}

export class MessageSocket {
  readonly remote: string;
  private readonly reader = newFrameReader();
  private dead = false;

  constructor(readonly socket: net.Socket, private readonly handlers: MessageSocketHandlers) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      if (this.dead) return;
      try {
        this.reader.finish();
        if (this.handlers.end) this.handlers.end();
        else socket.end();
      } catch (err) {
        this.fail(err);
      }
    });
    // 'close' always follows; errors (ECONNRESET, EPIPE) only mean the peer is gone.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.dead = true;
      this.handlers.close?.();
    });
  }

  get closed(): boolean {
    return this.dead || this.socket.destroyed;
  }

  send(msg: Message): void {
    if (this.closed) return;
    this.socket.write(encodeMessage(msg));
  }

  /** Flushes what was sent, then closes. */
  end(): void {
    if (!this.closed) this.socket.end();
  }

  destroy(): void {
    this.dead = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    try {
      for (const frame of this.reader.push(chunk)) {
        this.handlers.message(decodeMessage(frame));
        if (this.dead) return;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (!(err instanceof ProtocolError)) throw err;
    if (this.dead) return;
    this.dead = true;
    this.handlers.protocolError?.(err);
    this.socket.destroy();
  }
}
