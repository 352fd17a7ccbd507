/*
 * Messages of the wire protocol (docs/protocol.md), defined once as a table of field lists.
 * The binary codec, the exact-length check and the JSON form used by the test vectors are
 * all derived from that table, so a field cannot be added to one and forgotten in another.
 *
 * u64 fields are bigints here; `reserved` fields are not part of the message objects: they
 * are written as 0 and a nonzero value is rejected (reason `bad-field`).
 */

import { ByteReader, ByteWriter, DecodeError } from '../binary/cursor';
import { encodeFrame, Frame, FrameReader, ProtocolError } from './frame';

export type JsonObject = { [key: string]: unknown };

export interface HelloMessage {
  type: 'HELLO';
  pid: number;
  ppid: number;
  flags: number;
  procId: bigint;
  pidns: bigint;
  name: string;
  ckptDir: string;
  hostname: string;
}
export interface WelcomeMessage { type: 'WELCOME'; procId: bigint }
export interface SuspendMessage { type: 'SUSPEND'; ckptId: bigint }
export interface SuspendedMessage { type: 'SUSPENDED'; ckptId: bigint; status: number; nthreads: number }
/** One fd whose open file description, or pipe, other processes of the namespace hold too. */
export interface ShareEntry { fd: number; flags: number; shareId: bigint }
export interface WriteMessage {
  type: 'WRITE';
  ckptId: bigint;
  imagePath: string;
  shares: ShareEntry[];
  /** Shared memory objects another process saves: this one leaves their content out. */
  shmSkip: { key: bigint }[];
  /** WRITE_TRACK, WRITE_FULL (incremental checkpoints); unknown bits are ignored. */
  flags: number;
}
/** Whether the generation an agent wrote an image for counts (sent after the commit, or its failure). */
export interface CommitMessage { type: 'COMMIT'; ckptId: bigint; flags: number }
export interface WrittenMessage {
  type: 'WRITTEN';
  ckptId: bigint;
  status: number;
  imageBytes: bigint;
  message: string;
}
/**
 * The process's state is captured and it waits for RESUME. With CAPTURED_FORKED, a writer
 * process (`writerPid`, in the process's PID namespace) finishes the image while the process
 * runs on, and WRITTEN follows once it is durable; without it the image is complete and
 * `message` says why it was not forked (empty when the checkpoint failed or nothing is to say).
 */
export interface CapturedMessage {
  type: 'CAPTURED';
  ckptId: bigint;
  status: number;
  flags: number;
  writerPid: number;
  message: string;
}
export interface ResumeMessage { type: 'RESUME'; ckptId: bigint }
/** `pauseNs`: how long the process's threads were stopped (CLOCK_MONOTONIC); 0 after a restart. */
export interface ResumedMessage { type: 'RESUMED'; ckptId: bigint; pauseNs: bigint }
export interface KillMessage { type: 'KILL' }
export interface ListMessage { type: 'LIST'; ckptId: bigint }
/** A process of the namespace as its init sees it; `status` is the wait status of a zombie, else -1. */
export interface ListedProcess { pid: number; ppid: number; pgid: number; sid: number; status: number; flags: number }
export interface ListedShare { pid: number; fd: number; flags: number; shareId: bigint }
/** A SysV semaphore set of the namespace; its `nsems` values follow in LISTED.semvals, set after set. */
export interface ListedSem { id: number; key: number; mode: number; uid: number; gid: number; nsems: number }
export interface ListedMessage {
  type: 'LISTED';
  ckptId: bigint;
  procs: ListedProcess[];
  shares: ListedShare[];
  sems: ListedSem[];
  semvals: { value: number }[];
  /** Each shared memory object of the namespace and the process that saves its content. */
  shmOwners: { pid: number; key: bigint }[];
  /** The namespace's SysV shared memory segments (their ids; content travels in images, or in the init's SysV data). */
  shmSegs: ListedShmSeg[];
  /** The namespace's SysV message queues; their messages travel in the init's SysV data (WRITE to the init). */
  msgQueues: ListedMsgQueue[];
  /** Processes whose controlling terminal is a pty the computation holds the master of. */
  cttys: ListedCtty[];
}

export interface ListedShmSeg { id: number; key: number; mode: number; uid: number; gid: number; size: bigint }
/** `messages` unread messages of `bytes` bytes in all; `qbytes` is the queue's byte limit. */
export interface ListedMsgQueue { id: number; key: number; mode: number; uid: number; gid: number; messages: number; bytes: bigint; qbytes: bigint }
/** `pty`: the pty's number (as in FD PTY records); `foreground`: the terminal's foreground process group (-1: none). */
export interface ListedCtty { pid: number; pty: number; foreground: number }
export interface RequestMessage { type: 'REQUEST'; body: JsonObject }
export interface ResponseMessage { type: 'RESPONSE'; body: JsonObject }
export interface ProgressMessage { type: 'PROGRESS'; body: JsonObject }

/** Sent by an agent to the coordinator. */
export type AgentToCoord = HelloMessage | SuspendedMessage | CapturedMessage | WrittenMessage | ResumedMessage | ListedMessage;
/** Sent by the coordinator to an agent (or to a namespace's init). */
export type CoordToAgent = WelcomeMessage | SuspendMessage | WriteMessage | ResumeMessage | KillMessage | ListMessage | CommitMessage;
export type AgentMessage = AgentToCoord | CoordToAgent;
export type ClientMessage = RequestMessage | ResponseMessage | ProgressMessage;
export type Message = AgentMessage | ClientMessage;
export type MessageName = Message['type'];

/** HELLO.flags bit 0: the process was just restored from an image. */
export const HELLO_RESTARTED = 1;
/** HELLO.flags bit 1: the peer is the init of a computation's PID namespace, not a process to checkpoint. */
export const HELLO_INIT = 2;

/** CAPTURED flags bit 0: a writer process finishes the image while the process runs on. */
export const CAPTURED_FORKED = 1;

/** LISTED process flags. */
export const LISTED_ZOMBIE = 1;
/** LISTED process flags: statically linked (no agent, no dynamic loader): it will never join. */
export const LISTED_STATIC = 2;
/** Share flags (LISTED and WRITE): this process restores the open file description and hands it to the others. */
export const SHARE_OWNER = 1;
/** Share flags: this process saves the pipe's unread bytes and creates the pipe on restore. */
export const SHARE_PIPE_OWNER = 2;
/** Share flags: the fd is a pipe end whose pipe other processes also hold. */
export const SHARE_PIPE = 4;
/** Share flags: an end of a pty whose master is in the computation, with ends in several processes. */
export const SHARE_PTY = 8;
/** Share flags: this process makes that pty on restart and saves its unread bytes. */
export const SHARE_PTY_OWNER = 16;
/** Share flags: that pty is a process's controlling terminal; stasis-init makes it on restart. */
export const SHARE_PTY_CTTY = 32;
/** WRITE flags: track written pages for the next checkpoint, and refer to the last committed image. */
export const WRITE_TRACK = 1;
/** WRITE flags: store every page, refer to nothing (tracking goes on for the next one). */
export const WRITE_FULL = 2;
/** COMMIT flags: the generation was committed. */
export const COMMIT_COMMITTED = 1;

type ScalarKind = 'u32' | 'i32' | 'u64' | 'str' | 'json' | 'reserved32';
/** A u32 count, then that many entries of fixed-width scalar fields. */
interface ListKind { list: ReadonlyArray<readonly [string, 'u32' | 'i32' | 'u64']> }
type FieldKind = ScalarKind | ListKind;
type Direction = 'agent-to-coord' | 'coord-to-agent' | 'client-to-coord' | 'coord-to-client';

interface MessageSpec {
  code: number;
  direction: Direction;
  /** [field name, kind] in wire order; reserved fields have an empty name. */
  fields: ReadonlyArray<readonly [string, FieldKind]>;
}

const SPECS: { readonly [K in MessageName]: MessageSpec } = {
  HELLO: {
    code: 0x01,
    direction: 'agent-to-coord',
    fields: [
      ['pid', 'u32'], ['ppid', 'u32'], ['flags', 'u32'], ['', 'reserved32'],
      ['procId', 'u64'], ['pidns', 'u64'], ['name', 'str'], ['ckptDir', 'str'], ['hostname', 'str'],
    ],
  },
  WELCOME: { code: 0x02, direction: 'coord-to-agent', fields: [['procId', 'u64']] },
  SUSPEND: { code: 0x03, direction: 'coord-to-agent', fields: [['ckptId', 'u64']] },
  SUSPENDED: {
    code: 0x04,
    direction: 'agent-to-coord',
    fields: [['ckptId', 'u64'], ['status', 'i32'], ['nthreads', 'u32']],
  },
  WRITE: {
    code: 0x05,
    direction: 'coord-to-agent',
    fields: [
      ['ckptId', 'u64'], ['imagePath', 'str'], ['shares', { list: [['fd', 'i32'], ['flags', 'u32'], ['shareId', 'u64']] }],
      ['shmSkip', { list: [['key', 'u64']] }], ['flags', 'u32'], ['', 'reserved32'],
    ],
  },
  WRITTEN: {
    code: 0x06,
    direction: 'agent-to-coord',
    fields: [['ckptId', 'u64'], ['status', 'i32'], ['', 'reserved32'], ['imageBytes', 'u64'], ['message', 'str']],
  },
  RESUME: { code: 0x07, direction: 'coord-to-agent', fields: [['ckptId', 'u64']] },
  RESUMED: { code: 0x08, direction: 'agent-to-coord', fields: [['ckptId', 'u64'], ['pauseNs', 'u64']] },
  KILL: { code: 0x09, direction: 'coord-to-agent', fields: [] },
  LIST: { code: 0x0a, direction: 'coord-to-agent', fields: [['ckptId', 'u64']] },
  COMMIT: { code: 0x0d, direction: 'coord-to-agent', fields: [['ckptId', 'u64'], ['flags', 'u32'], ['', 'reserved32']] },
  LISTED: {
    code: 0x0b,
    direction: 'agent-to-coord',
    fields: [
      ['ckptId', 'u64'],
      ['procs', { list: [['pid', 'u32'], ['ppid', 'u32'], ['pgid', 'u32'], ['sid', 'u32'], ['status', 'i32'], ['flags', 'u32']] }],
      ['shares', { list: [['pid', 'u32'], ['fd', 'i32'], ['flags', 'u32'], ['shareId', 'u64']] }],
      ['sems', { list: [['id', 'i32'], ['key', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['nsems', 'u32']] }],
      ['semvals', { list: [['value', 'u32']] }],
      ['shmOwners', { list: [['pid', 'u32'], ['key', 'u64']] }],
      ['shmSegs', { list: [['id', 'i32'], ['key', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['size', 'u64']] }],
      ['msgQueues', { list: [['id', 'i32'], ['key', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['messages', 'u32'], ['bytes', 'u64'], ['qbytes', 'u64']] }],
      ['cttys', { list: [['pid', 'u32'], ['pty', 'u32'], ['foreground', 'i32']] }],
    ],
  },
  CAPTURED: {
    code: 0x0c,
    direction: 'agent-to-coord',
    fields: [['ckptId', 'u64'], ['status', 'i32'], ['flags', 'u32'], ['writerPid', 'u32'], ['', 'reserved32'], ['message', 'str']],
  },
  REQUEST: { code: 0x20, direction: 'client-to-coord', fields: [['body', 'json']] },
  RESPONSE: { code: 0x21, direction: 'coord-to-client', fields: [['body', 'json']] },
  PROGRESS: { code: 0x22, direction: 'coord-to-client', fields: [['body', 'json']] },
};

const NAMES = Object.keys(SPECS) as MessageName[];
const BY_CODE = new Map<number, MessageName>(NAMES.map((name) => [SPECS[name].code, name]));

export function messageNames(): readonly MessageName[] {
  return NAMES;
}

export function messageCode(name: MessageName): number {
  return SPECS[name].code;
}

export function isKnownMessageType(code: number): boolean {
  return BY_CODE.has(code);
}

/** A FrameReader that knows the message types of this protocol. */
export function newFrameReader(): FrameReader {
  return new FrameReader(isKnownMessageType);
}

export function isAgentToCoord(msg: Message): msg is AgentToCoord {
  return SPECS[msg.type].direction === 'agent-to-coord';
}

export function isAgentMessage(name: MessageName): boolean {
  const d = SPECS[name].direction;
  return d === 'agent-to-coord' || d === 'coord-to-agent';
}

/** Encodes a message as a whole frame. Throws RangeError on out-of-range field values. */
export function encodeMessage(msg: Message): Buffer {
  const spec = SPECS[msg.type];
  const values = msg as unknown as Record<string, unknown>;
  const w = new ByteWriter();
  for (const [name, kind] of spec.fields) {
    const v = values[name];
    if (typeof kind === 'object') {
      const entries = v as Record<string, unknown>[];
      w.u32(entries.length);
      for (const e of entries) for (const [f, k] of kind.list) writeScalar(w, k, e[f]);
      continue;
    }
    writeScalar(w, kind, v);
  }
  return encodeFrame(spec.code, w.toBuffer());
}

function writeScalar(w: ByteWriter, kind: ScalarKind, v: unknown): void {
  switch (kind) {
    case 'reserved32': w.u32(0); break;
    case 'u32': w.u32(v as number); break;
    case 'i32': w.i32(v as number); break;
    case 'u64': w.u64(v as bigint); break;
    case 'str': w.str(v as string); break;
    case 'json': w.bytes(Buffer.from(JSON.stringify(v), 'utf8')); break;
  }
}

/** Decodes a frame's payload, requiring its fields to consume it exactly. Throws ProtocolError. */
export function decodeMessage(frame: Frame): Message {
  const name = BY_CODE.get(frame.type);
  if (name === undefined) {
    throw new ProtocolError('unknown-type', `message type 0x${frame.type.toString(16).padStart(2, '0')} is not defined`);
  }
  const r = new ByteReader(frame.payload);
  const msg: Record<string, unknown> = { type: name };
  try {
    for (const [field, kind] of SPECS[name].fields) {
      const what = `${name}.${field || 'reserved'}`;
      if (typeof kind === 'object') {
        const n = r.u32(`${what} count`);
        const width = kind.list.reduce((s, [, k]) => s + (k === 'u64' ? 8 : 4), 0);
        if (n * width > frame.payload.length) throw new ProtocolError('short-payload', `${what} claims ${n} entries`);
        const entries: Record<string, unknown>[] = [];
        for (let i = 0; i < n; i++) {
          const e: Record<string, unknown> = {};
          for (const [f, k] of kind.list) {
            const at = `${what}[${i}].${f}`;
            e[f] = k === 'u32' ? r.u32(at) : k === 'i32' ? r.i32(at) : r.u64(at);
          }
          entries.push(e);
        }
        msg[field] = entries;
        continue;
      }
      switch (kind) {
        case 'reserved32': {
          const v = r.u32(what);
          if (v !== 0) throw new ProtocolError('bad-field', `${what} is ${v}, must be 0`);
          break;
        }
        case 'u32': msg[field] = r.u32(what); break;
        case 'i32': msg[field] = r.i32(what); break;
        case 'u64': msg[field] = r.u64(what); break;
        case 'str': msg[field] = r.str(what); break;
        case 'json': msg[field] = parseJsonObject(r.restAsUtf8(what), what); break;
      }
    }
    r.end(name);
  } catch (err) {
    if (err instanceof DecodeError) {
      const reason = err.kind === 'short' ? 'short-payload' : err.kind === 'trailing' ? 'trailing-bytes' : 'bad-utf8';
      throw new ProtocolError(reason, err.message);
    }
    throw err;
  }
  return msg as unknown as Message;
}

function parseJsonObject(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad-json', `${what} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('bad-json', `${what} must be a JSON object`);
  }
  return value as JsonObject;
}

/*
 * The JSON form of a message, shared with native/build/proto-vectors (see
 * test/vectors/protocol/README.md): {"type": NAME, field: value, ...} with the field names
 * above, u64 values as decimal strings, other integers as numbers, reserved fields left out;
 * a client message's payload object is under the key "json" (the spec's name for it).
 */

function jsonKey(field: string, kind: FieldKind): string {
  return kind === 'json' ? 'json' : field;
}

function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) {
    return v.map((e) => Object.fromEntries(Object.entries(e as Record<string, unknown>).map(([k, x]) => [k, toJsonValue(x)])));
  }
  return v;
}

export function messageToJson(msg: Message): JsonObject {
  const out: JsonObject = { type: msg.type };
  const values = msg as unknown as Record<string, unknown>;
  for (const [field, kind] of SPECS[msg.type].fields) {
    if (kind === 'reserved32') continue;
    out[jsonKey(field, kind)] = toJsonValue(values[field]);
  }
  return out;
}

const U64_MAX = (1n << 64n) - 1n;

/** Validates a JSON form and builds the message. Throws Error naming the bad field. */
export function messageFromJson(json: unknown): Message {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('message JSON must be an object');
  const obj = json as JsonObject;
  const name = obj.type;
  if (typeof name !== 'string' || !(name in SPECS)) throw new Error(`unknown message type ${JSON.stringify(name)}`);
  const spec = SPECS[name as MessageName];
  const msg: Record<string, unknown> = { type: name };
  const allowed = new Set(['type']);
  for (const [field, kind] of spec.fields) {
    if (kind === 'reserved32') continue;
    const key = jsonKey(field, kind);
    allowed.add(key);
    const v = obj[key];
    const bad = (want: string): Error => new Error(`${name}.${key} must be ${want}, got ${JSON.stringify(v)}`);
    if (typeof kind === 'object') {
      if (!Array.isArray(v)) throw bad('an array');
      msg[field] = v.map((e, i) => scalarsFromJson(`${name}.${key}[${i}]`, e, kind.list));
      continue;
    }
    msg[field] = scalarFromJson(kind, v, bad);
  }
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) throw new Error(`${name} has no field ${JSON.stringify(key)}`);
  }
  return msg as unknown as Message;
}

function scalarsFromJson(what: string, e: unknown, fields: ListKind['list']): Record<string, unknown> {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error(`${what} must be an object`);
  const obj = e as JsonObject;
  const out: Record<string, unknown> = {};
  for (const [f, k] of fields) {
    out[f] = scalarFromJson(k, obj[f], (want) => new Error(`${what}.${f} must be ${want}, got ${JSON.stringify(obj[f])}`));
  }
  for (const key of Object.keys(obj)) {
    if (!fields.some(([f]) => f === key)) throw new Error(`${what} has no field ${JSON.stringify(key)}`);
  }
  return out;
}

function scalarFromJson(kind: ScalarKind, v: unknown, bad: (want: string) => Error): unknown {
  switch (kind) {
    case 'u32':
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffffffff) throw bad('a u32 number');
      return v;
    case 'i32':
      if (!Number.isInteger(v) || (v as number) < -0x80000000 || (v as number) > 0x7fffffff) throw bad('an i32 number');
      return v;
    case 'u64':
      if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)$/.test(v) || BigInt(v) > U64_MAX) throw bad('a u64 decimal string');
      return BigInt(v);
    case 'str':
      if (typeof v !== 'string') throw bad('a string');
      return v;
    case 'json':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('an object');
      return v;
    case 'reserved32':
      return 0;
  }
}
