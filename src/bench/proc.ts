/*
 * Child processes for the bench. Every child is started in its own process group and
 * tracked until it exits, so a failed or interrupted run can still kill all it started
 * (`killAll`), grandchildren included. Every wait has a deadline: a hung checkpoint or a
 * workload that never prints its line becomes a TIMEOUT error, not a hung bench.
 */

import { ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { StasisError } from '../errors';

const live = new Set<ChildProcess>();

/** SIGKILLs the process group of every child still running. */
export function killAll(): void {
  for (const child of live) killGroup(child);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function describeExit(e: Exit): string {
  return e.signal ? `killed by ${e.signal}` : `exited with status ${e.code}`;
}

function startTracked(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from just before spawn to exit, in seconds. */
  seconds: number;
}

/**
 * Runs a command to completion, capturing its output. Resolves whatever the exit status;
 * rejects only when it cannot be started or outlives `timeoutMs` (it is then killed).
 */
export function runCommand(file: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    const t0 = performance.now();
    const child = startTracked(file, args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new StasisError('TIMEOUT', `${file} ${args.join(' ')} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new StasisError('EXEC', `cannot run ${file}: ${err.message}`));
    });
    child.once('exit', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      // Output may still be in flight after 'exit'; 'close' says the pipes are drained.
      child.once('close', () => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, seconds });
      });
    });
  });
}

/** Like runCommand, but a non-zero status is an error that quotes stderr. */
export async function runChecked(file: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  const r = await runCommand(file, args, timeoutMs);
  if (r.code !== 0) {
    throw new StasisError('EXEC', `${file} ${args.join(' ')} exited with status ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  }
  return r;
}

export interface Line {
  text: string;
  /** performance.now() when the chunk holding the line arrived. */
  at: number;
}

interface Waiter {
  match: (line: string) => boolean;
  resolve: (l: Line) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A long-running child (a workload under `stasis launch`, or `stasis restart`) whose
 * stdout is read line by line. Waits see only lines that arrive after they start.
 */
export class LiveProcess {
  readonly child: ChildProcess;
  /** performance.now() just before spawn. */
  readonly startedAt: number;
  readonly exited: Promise<Exit>;
  private partial = '';
  private stderrTail = '';
  private recent: string[] = [];
  private waiters: Waiter[] = [];
  private exit: Exit | null = null;
  private readonly onLine: ((l: Line) => void) | undefined;

  constructor(readonly name: string, file: string, args: readonly string[], onLine?: (l: Line) => void) {
    this.onLine = onLine;
    this.startedAt = performance.now();
    this.child = startTracked(file, args);
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (err) => {
        this.stderrTail += `cannot start: ${err.message}\n`;
        this.finish({ code: null, signal: null }, resolve);
      });
      this.child.once('close', (code, signal) => this.finish({ code, signal }, resolve));
    });
    (this.child.stdout as Readable).setEncoding('utf8').on('data', (s: string) => this.feed(s, performance.now()));
    (this.child.stderr as Readable).setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-2000);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** The next stdout line that `match` accepts, within `timeoutMs`. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs: number, what: string): Promise<Line> {
    const test = typeof match === 'function' ? match : (l: string): boolean => match.test(l);
    if (this.exit) return Promise.reject(this.exitedError(what));
    return new Promise<Line>((resolve, reject) => {
      const w: Waiter = {
        match: test,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new StasisError('TIMEOUT', `${this.name}: no ${what} within ${timeoutMs / 1000} s${this.context()}`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Waits for the exit; SIGKILLs the process group if it takes longer than `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    const e = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (e) return e;
    killGroup(this.child);
    return this.exited;
  }

  kill(): void {
    killGroup(this.child);
  }

  private feed(chunk: string, at: number): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const text of parts) {
      this.recent.push(text);
      if (this.recent.length > 5) this.recent.shift();
      this.onLine?.({ text, at });
      for (const w of [...this.waiters]) {
        if (!w.match(text)) continue;
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve({ text, at });
      }
    }
  }

  private finish(e: Exit, resolve: (e: Exit) => void): void {
    if (this.exit) return;
    this.exit = e;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(this.exitedError('line'));
    }
    this.waiters = [];
    resolve(e);
  }

  private exitedError(what: string): StasisError {
    return new StasisError('EXEC', `${this.name} ${describeExit(this.exit!)} before its ${what}${this.context()}`);
  }

  private context(): string {
    const out = this.recent.length ? ` — last output: ${this.recent.slice(-2).join(' / ')}` : '';
    const err = this.stderrTail.trim() ? ` — stderr: ${this.stderrTail.trim().split('\n').slice(-3).join(' / ')}` : '';
    return out + err;
  }
}
