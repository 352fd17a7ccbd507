/*
 * The CLI's side of the client protocol: connect to a coordinator, send one REQUEST, pass
 * PROGRESS frames on, return the RESPONSE body. Connection problems become StasisErrors
 * that tell the user how to get a coordinator.
 */

import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import { errnoCode, isErrorCode, StasisError } from '../errors';
import { ProtocolError } from '../protocol/frame';
import { MessageSocket } from '../protocol/message-socket';
import { JsonObject, Message } from '../protocol/messages';

export interface CoordAddress {
  host: string;
  port: number;
}

export interface RequestOptions {
  onProgress?: (body: JsonObject) => void;
  /** Gives up connecting after this long (default 5 s). */
  connectTimeoutMs?: number;
  /** Gives up waiting for the response after this long (default: wait). */
  responseTimeoutMs?: number;
}

export function formatAddress(addr: CoordAddress): string {
  return `${addr.host}:${addr.port}`;
}

/** Resolves a host name to an IPv4 literal (agents take `STASIS_COORD_ADDR=<ipv4>:<port>`). */
export async function resolveIPv4(host: string): Promise<string> {
  if (net.isIPv4(host)) return host;
  try {
    const { address } = await dns.lookup(host, { family: 4 });
    return address;
  } catch {
    throw new StasisError('USAGE', `cannot resolve coordinator host ${JSON.stringify(host)} to an IPv4 address — pass --coord-host with an IPv4 address or a resolvable name`);
  }
}

/** The `cause` of the error sendRequest rejects with when the peer hung up before answering. */
export const CLOSED_BEFORE_ANSWER = 'closed-before-answer';

export function noCoordinatorError(addr: CoordAddress): StasisError {
  return new StasisError('NO_COORDINATOR', `no coordinator at ${formatAddress(addr)} — start one with \`stasis launch\` or \`stasis coordinator\`, or pass --coord-port`);
}

export function connect(addr: CoordAddress, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: addr.host, port: addr.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new StasisError('NO_COORDINATOR', `no answer from ${formatAddress(addr)} within ${Math.round(timeoutMs / 1000)} s — check --coord-host and --coord-port`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      const code = errnoCode(err);
      if (code === 'ECONNREFUSED') reject(noCoordinatorError(addr));
      else reject(new StasisError('NO_COORDINATOR', `cannot reach the coordinator at ${formatAddress(addr)}: ${code ?? err.message} — check --coord-host and --coord-port`));
    });
  });
}

/** Sends one request; resolves with the response body, whether ok or not. */
export async function sendRequest(addr: CoordAddress, body: JsonObject, opts: RequestOptions = {}): Promise<JsonObject> {
  const socket = await connect(addr, opts.connectTimeoutMs);
  return new Promise<JsonObject>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      fn();
    };
    const timer = opts.responseTimeoutMs
      ? setTimeout(() => {
          settle(() => reject(new StasisError('COORDINATOR', `no response from ${formatAddress(addr)} within ${Math.round(opts.responseTimeoutMs! / 1000)} s — is it a stasis coordinator?`)));
          ms.destroy();
        }, opts.responseTimeoutMs)
      : null;
    const ms = new MessageSocket(socket, {
      message: (msg: Message) => {
        if (msg.type === 'PROGRESS') {
          opts.onProgress?.(msg.body);
        } else if (msg.type === 'RESPONSE') {
          settle(() => resolve(msg.body));
          ms.end();
        } else {
          throw new ProtocolError('wrong-direction', `a coordinator does not send ${msg.type} to clients`);
        }
      },
      protocolError: (err) =>
        settle(() => reject(new StasisError('COORDINATOR', `${formatAddress(addr)} answered with a bad frame (${err.reason}) — is another program using port ${addr.port}? pass --coord-port`))),
      close: () =>
        settle(() => reject(new StasisError('COORDINATOR', `the coordinator at ${formatAddress(addr)} closed the connection without answering — see its log`, { cause: CLOSED_BEFORE_ANSWER }))),
    });
    ms.send({ type: 'REQUEST', body });
  });
}

/** Returns an ok response; turns `{ok:false}` into the StasisError it describes. */
export function expectOk(body: JsonObject): JsonObject {
  if (body.ok === true) return body;
  const message = typeof body.message === 'string' && body.message !== '' ? body.message : 'the coordinator reported an error without a message — see its log';
  throw new StasisError(isErrorCode(body.code) ? body.code : 'COORDINATOR', message);
}

/**
 * 'closing': it hung up without answering, or it is a coordinator that says it is shutting
 * down — either way the port may be free a moment later.
 */
export type ProbeResult = 'stasis' | 'none' | 'other' | 'closing';

export interface ProbeOptions {
  timeoutMs?: number;
  /** Tell a coordinator that exits when idle to wait for a process about to join it. */
  expectAgent?: boolean;
}

/** Is a stasis coordinator listening at addr, nothing, or some other program? */
export async function probeCoordinator(addr: CoordAddress, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const request: JsonObject = opts.expectAgent ? { cmd: 'status', expectAgent: true } : { cmd: 'status' };
  try {
    const body = await sendRequest(addr, request, { connectTimeoutMs: timeoutMs, responseTimeoutMs: timeoutMs });
    if (body.ok === true) return 'stasis';
    return body.code === 'SHUTDOWN' ? 'closing' : 'other';
  } catch (err) {
    if (err instanceof StasisError && err.code === 'NO_COORDINATOR') return 'none';
    if (err instanceof StasisError && err.cause === CLOSED_BEFORE_ANSWER) return 'closing';
    return 'other';
  }
}
