/*
 * Starting a coordinator in the background: `stasis coordinator --daemon`, and `launch` /
 * `restart` when nobody answers at the coordinator address.
 *
 * The child is stasis itself, detached, with its stdout/stderr on a log file and fd 3 a pipe
 * back to us. When it is listening it writes "listening <port>\n" there (or "error <CODE>
 * <message>\n" and exits), so we wait on that event rather than polling or sleeping.
 */

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { isErrorCode, StasisError } from '../errors';
import { cliEntryPoint } from '../native/paths';
import { CoordAddress, formatAddress, probeCoordinator, ProbeResult, sendRequest } from './client';

export interface DetachedCoordinatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  exitWhenIdle?: boolean;
  intervalSec?: number;
  keep?: number;
  /** Incremental checkpoints off (`--no-incremental`), or a full one every N (`--full-every`). */
  noIncremental?: boolean;
  fullEvery?: number;
  /** Where its log goes; null: /dev/null. */
  logFile: string | null;
  /** Safety net only; readiness is signalled (default 20 s). */
  readyTimeoutMs?: number;
}

export interface DetachedCoordinator {
  pid: number;
  port: number;
}

export async function startDetachedCoordinator(opts: DetachedCoordinatorOptions): Promise<DetachedCoordinator> {
  const args = [cliEntryPoint(), 'coordinator', '--host', opts.host, '--port', String(opts.port), '--ready-fd', '3'];
  if (opts.exitWhenIdle) args.push('--exit-when-idle');
  if (opts.intervalSec !== undefined) args.push('--interval', String(opts.intervalSec));
  if (opts.keep !== undefined) args.push('--keep', String(opts.keep));
  if (opts.noIncremental) args.push('--no-incremental');
  if (opts.fullEvery !== undefined) args.push('--full-every', String(opts.fullEvery));
  const logFd = fs.openSync(opts.logFile ?? '/dev/null', 'a', 0o600);
  let child;
  try {
    child = spawn(process.execPath, args, { detached: true, cwd: '/', stdio: ['ignore', logFd, logFd, 'pipe'] });
  } finally {
    fs.closeSync(logFd);
  }
  const pipe = child.stdio[3] as Readable;
  const where = opts.logFile ? ` — see ${opts.logFile}` : '';
  return new Promise<DetachedCoordinator>((resolve, reject) => {
    let text = '';
    let done = false;
    const finish = (err: StasisError | null, port = 0): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      pipe.destroy();
      child.removeAllListeners('exit');
      child.unref();
      if (err) reject(err);
      else resolve({ pid: child.pid!, port });
    };
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      finish(new StasisError('COORDINATOR', `the coordinator did not start listening within ${Math.round((opts.readyTimeoutMs ?? 20000) / 1000)} s${where}`));
    }, opts.readyTimeoutMs ?? 20000);
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      const listening = /^listening ([0-9]+)$/.exec(line);
      if (listening) return finish(null, Number(listening[1]));
      const failed = /^error ([A-Z_]+) (.*)$/.exec(line);
      if (failed) return finish(new StasisError(isErrorCode(failed[1]) ? failed[1] : 'COORDINATOR', failed[2]!));
      finish(new StasisError('COORDINATOR', `the coordinator sent an unexpected start-up line ${JSON.stringify(line)}${where}`));
    });
    pipe.on('error', () => undefined);
    child.once('error', (err) => finish(new StasisError('COORDINATOR', `cannot start a coordinator: ${err.message}`)));
    child.once('exit', (code, signal) =>
      finish(new StasisError('COORDINATOR', `the coordinator exited (${signal ?? `status ${code}`}) before listening${where}`)));
  });
}

export interface EnsureOptions {
  /** An IPv4 literal. */
  addr: CoordAddress;
  logFile: string | null;
  intervalSec?: number;
  keep?: number;
  noIncremental?: boolean;
  fullEvery?: number;
}

export interface EnsureResult {
  started: boolean;
  pid?: number;
}

/** How often a port that hangs up on us is asked again before it counts as another program's. */
const CLOSING_RETRIES = 5;

/**
 * What listens at addr, for a process about to join: a coordinator that answers is told to
 * wait for it. One that is shutting down (its last process just left) hangs up or says so;
 * it stops listening before it does, so asking again at once finds the port free.
 */
async function probeForAgent(addr: CoordAddress): Promise<ProbeResult> {
  let r = await probeCoordinator(addr, { expectAgent: true });
  for (let i = 0; r === 'closing' && i < CLOSING_RETRIES; i++) r = await probeCoordinator(addr, { expectAgent: true });
  return r;
}

/**
 * Makes sure a stasis coordinator answers at addr, and stays for the process the caller is
 * about to start, starting an auto-exiting one if nothing listens there. Another program
 * on the port is an error.
 */
export async function ensureCoordinator(opts: EnsureOptions): Promise<EnsureResult> {
  const inUse = (): StasisError =>
    new StasisError('PORT_IN_USE', `port ${opts.addr.port} is in use by another program — pass --coord-port N`);
  const first = await probeForAgent(opts.addr);
  if (first === 'stasis') return { started: false };
  if (first !== 'none') throw inUse();
  try {
    const started = await startDetachedCoordinator({
      host: opts.addr.host,
      port: opts.addr.port,
      exitWhenIdle: true,
      intervalSec: opts.intervalSec,
      keep: opts.keep,
      noIncremental: opts.noIncremental,
      fullEvery: opts.fullEvery,
      logFile: opts.logFile,
    });
    return { started: true, pid: started.pid };
  } catch (err) {
    // Another launch may have started one between our probe and our listen.
    if (err instanceof StasisError && err.code === 'PORT_IN_USE') {
      if ((await probeForAgent(opts.addr)) === 'stasis') return { started: false };
      throw inUse();
    }
    if (err instanceof StasisError) {
      throw new StasisError(err.code, `cannot start a coordinator at ${formatAddress(opts.addr)}: ${err.message}`);
    }
    throw err;
  }
}

/**
 * Best effort, after the program a coordinator was started for could not run: shut that
 * coordinator down unless some other process has joined it meanwhile. (If this fails, the
 * coordinator still exits on its own when no process comes.)
 */
export async function releaseCoordinator(addr: CoordAddress): Promise<void> {
  try {
    const st = await sendRequest(addr, { cmd: 'status' }, { responseTimeoutMs: 2000 });
    if (Array.isArray(st.processes) && st.processes.length === 0) {
      await sendRequest(addr, { cmd: 'shutdown' }, { responseTimeoutMs: 2000 });
    }
  } catch {
    // already gone, or not ours to stop
  }
}
