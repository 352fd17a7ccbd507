/*
 * A test agent: a real protocol peer written in TypeScript that speaks to the coordinator
 * over TCP exactly as libstasis.so's checkpoint thread does (HELLO, then SUSPEND/WRITE/RESUME
 * answered in order: SUSPENDED; CAPTURED, then WRITTEN at once when not forked; RESUMED,
 * then WRITTEN once its "writer" is done when forked). Instead of stopping threads and
 * dumping memory it writes a small file the way the spec says (`.tmp`, fsync, rename).
 * Behaviours let a test make it fail or die at a chosen step.
 */

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { MessageSocket } from '../../src/protocol/message-socket';
import { CAPTURED_FORKED, HELLO_RESTARTED, Message, MessageName, SuspendMessage, WriteMessage } from '../../src/protocol/messages';

export type StepResult = 'ok' | 'disconnect' | 'ignore' | { status: number; message?: string };

/**
 * What a forked agent's writer does after RESUMED: 'ok' writes the image and sends WRITTEN;
 * a status fails WRITTEN; 'die-after-image' writes the image and disconnects (the process
 * ended while its writer ran); 'disconnect' disconnects without an image.
 */
export type WriterResult = StepResult | 'die-after-image';

export interface AgentBehaviour {
  onSuspend?: (msg: SuspendMessage) => StepResult | Promise<StepResult>;
  /** The capture (CAPTURED): 'disconnect' before it, a status to fail it. */
  onWrite?: (msg: WriteMessage) => StepResult | Promise<StepResult>;
  onWriter?: (msg: WriteMessage) => WriterResult | Promise<WriterResult>;
}

export interface FakeAgentOptions {
  port: number;
  pid: number;
  name?: string;
  ckptDir: string;
  restarted?: boolean;
  procId?: number;
  behaviour?: AgentBehaviour;
  /** Bytes written as the "image" (default: a line naming the agent). */
  image?: Buffer;
  /** Answer like a forked checkpoint (CAPTURED_FORKED; the image after RESUMED). */
  forked?: boolean;
  /** The pause RESUMED reports (default 1.5 ms). */
  pauseNs?: bigint;
  /** Why it was not forked (CAPTURED.message) when not forked. */
  notForkedReason?: string;
}

export class FakeAgent {
  readonly received: Message[] = [];
  procId = 0;
  private readonly unread = new Map<MessageName, Message[]>();
  private readonly waiters = new Map<MessageName, ((m: Message) => void)[]>();
  private readonly ms: MessageSocket;
  readonly closed: Promise<void>;
  /** The WRITE whose image a forked agent writes after RESUMED. */
  private pending: WriteMessage | null = null;

  private constructor(socket: net.Socket, private readonly opts: FakeAgentOptions) {
    let onClose!: () => void;
    this.closed = new Promise((resolve) => (onClose = resolve));
    this.ms = new MessageSocket(socket, {
      message: (msg) => this.onMessage(msg),
      close: () => onClose(),
    });
  }

  static async connect(opts: FakeAgentOptions): Promise<FakeAgent> {
    const socket = net.connect({ host: '127.0.0.1', port: opts.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const agent = new FakeAgent(socket, opts);
    const welcome = agent.next('WELCOME');
    agent.ms.send({
      type: 'HELLO',
      pid: opts.pid,
      ppid: 1,
      flags: opts.restarted ? HELLO_RESTARTED : 0,
      procId: BigInt(opts.procId ?? 0),
      pidns: 0n,
      name: opts.name ?? `agent${opts.pid}`,
      ckptDir: opts.ckptDir,
      hostname: 'testhost',
    });
    const w = await welcome;
    if (w.type === 'WELCOME') agent.procId = Number(w.procId);
    return agent;
  }

  /** The next message of `type` that no earlier next(type) returned. */
  next(type: MessageName): Promise<Message> {
    const q = this.unread.get(type);
    if (q && q.length > 0) return Promise.resolve(q.shift()!);
    return new Promise((resolve) => listOf(this.waiters, type).push(resolve));
  }

  count(type: MessageName): number {
    return this.received.filter((m) => m.type === type).length;
  }

  send(msg: Message): void {
    this.ms.send(msg);
  }

  /** Dies like a crashed process: the connection just goes away. */
  kill(): void {
    this.ms.destroy();
  }

  close(): Promise<void> {
    this.ms.end();
    return this.closed;
  }

  private onMessage(msg: Message): void {
    this.received.push(msg);
    const w = this.waiters.get(msg.type)?.shift();
    if (w) w(msg);
    else listOf(this.unread, msg.type).push(msg);
    void this.respond(msg);
  }

  private async respond(msg: Message): Promise<void> {
    const b = this.opts.behaviour ?? {};
    switch (msg.type) {
      case 'SUSPEND': {
        const r = b.onSuspend ? await b.onSuspend(msg) : 'ok';
        if (this.apply(r)) this.ms.send({ type: 'SUSPENDED', ckptId: msg.ckptId, status: statusOf(r), nthreads: 2 });
        break;
      }
      case 'WRITE': {
        const r = b.onWrite ? await b.onWrite(msg) : 'ok';
        if (r === 'ok' && this.opts.forked) {
          this.pending = msg;
          this.ms.send({ type: 'CAPTURED', ckptId: msg.ckptId, status: 0, flags: CAPTURED_FORKED, writerPid: this.opts.pid + 1000, message: '' });
        } else if (r === 'ok') {
          const bytes = this.writeImage(msg);
          this.ms.send({ type: 'CAPTURED', ckptId: msg.ckptId, status: 0, flags: 0, writerPid: 0, message: this.opts.notForkedReason ?? 'a fake agent does not fork' });
          this.ms.send({ type: 'WRITTEN', ckptId: msg.ckptId, status: 0, imageBytes: BigInt(bytes), message: '' });
        } else if (this.apply(r)) {
          const message = typeof r === 'object' ? r.message ?? '' : '';
          this.ms.send({ type: 'CAPTURED', ckptId: msg.ckptId, status: statusOf(r), flags: 0, writerPid: 0, message });
        }
        break;
      }
      case 'RESUME': {
        this.ms.send({ type: 'RESUMED', ckptId: msg.ckptId, pauseNs: this.opts.pauseNs ?? 1500000n });
        const w = this.pending;
        this.pending = null;
        if (!w) break;
        const r = b.onWriter ? await b.onWriter(w) : 'ok';
        if (r === 'ok') {
          const bytes = this.writeImage(w);
          this.ms.send({ type: 'WRITTEN', ckptId: w.ckptId, status: 0, imageBytes: BigInt(bytes), message: '' });
        } else if (r === 'die-after-image') {
          this.writeImage(w);
          this.ms.destroy();
        } else if (this.apply(r)) {
          const message = typeof r === 'object' ? r.message ?? '' : '';
          this.ms.send({ type: 'WRITTEN', ckptId: w.ckptId, status: statusOf(r), imageBytes: 0n, message });
        }
        break;
      }
      case 'KILL':
        this.ms.destroy();
        break;
      default:
        break;
    }
  }

  /** Writes the "image" as the spec says; returns its size. */
  private writeImage(msg: WriteMessage): number {
    const data = this.opts.image ?? Buffer.from(`image of ${this.opts.name ?? this.opts.pid}\n`);
    const fd = fs.openSync(`${msg.imagePath}.tmp`, 'w', 0o600);
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(`${msg.imagePath}.tmp`, msg.imagePath);
    const dfd = fs.openSync(path.dirname(msg.imagePath), 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
    return data.length;
  }

  /** False when the step should not be answered. */
  private apply(r: StepResult): boolean {
    if (r === 'disconnect') {
      this.ms.destroy();
      return false;
    }
    return r !== 'ignore';
  }
}

function statusOf(r: StepResult): number {
  return typeof r === 'object' ? r.status : 0;
}

function listOf<T>(map: Map<MessageName, T[]>, key: MessageName): T[] {
  let l = map.get(key);
  if (!l) map.set(key, (l = []));
  return l;
}
