/*
 * CRIU, the side-by-side reference, when a working one is installed.
 *
 * Detection runs `criu check`. An installed CRIU can still be unusable: Debian 12's 3.17
 * fails on recent kernels with "Unexpected rt vDSO area bounds". Any failure is reported
 * in one line and the bench goes on without CRIU columns; it never fails the run.
 *
 * The CRIU run mirrors the Stasis one: the same program, started in its own session
 * (CRIU dumps a session leader without --shell-job), with stdout on a regular file because
 * CRIU cannot reattach a pipe to a reader outside the dump. `criu dump --leave-running`
 * for all but the last checkpoint, which kills the process; then `syncfs` of the image
 * folder, timed apart, since CRIU does not fsync its images and a Stasis checkpoint is
 * durable when it returns. Each restore (`criu restore -d`) first cuts the output file
 * back to its size at the dump, as CRIU checks it, and is timed to the first new
 * heartbeat in that file.
 */

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { StasisError } from '../errors';
import { runCommand } from './proc';
import { Workload } from './workloads';

export interface CriuStatus {
  usable: boolean;
  binary: string | null;
  /** One sentence for the report. */
  line: string;
}

export interface CriuResult {
  dumps: { dumpS: number; syncS: number }[];
  restores: number[];
  imageBytes: number;
}

function findBinary(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'].filter(Boolean);
  for (const d of dirs) {
    const p = path.join(d, 'criu');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export async function detectCriu(): Promise<CriuStatus> {
  const bin = findBinary();
  if (!bin) return { usable: false, binary: null, line: 'CRIU unavailable: not installed (no `criu` on PATH or in /usr/sbin), so there are no CRIU columns in this run.' };
  const v = await runCommand(bin, ['--version'], 15000).catch(() => null);
  const version = /Version:\s*(\S+)/.exec(v?.stdout ?? '')?.[1] ?? 'of unknown version';
  const check = await runCommand(bin, ['check'], 60000).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
  const text = `${check.stdout}\n${check.stderr}`;
  if (check.code === 0) return { usable: true, binary: bin, line: `CRIU ${version} (${bin}): \`criu check\` passed; CRIU was measured side by side in this run.` };
  const why = /Unexpected rt vDSO area bounds/.test(text)
    ? 'Unexpected rt vDSO area bounds (this CRIU predates the kernel\'s vDSO layout)'
    : text.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `status ${check.code}`;
  return { usable: false, binary: bin, line: `CRIU unavailable: CRIU ${version} is installed but \`criu check\` fails on this kernel: ${why}. No CRIU columns in this run.` };
}

const BEAT = /^beat \d+ /m;

/** The workload of a CRIU run in progress, for killCriuWorkload. */
let current: { pid: number; program: string } | null = null;

/** Kills the CRIU run's workload, if one is running (for an interrupted bench). */
export function killCriuWorkload(): void {
  if (current) killOurs(current.pid, current.program);
}

/**
 * Polls `file` from `offset` until `re` matches a complete line; resolves with the time.
 * Gives up early, with the error of `abandon`, if that promise rejects.
 */
async function waitInFile(file: string, offset: number, re: RegExp, timeoutMs: number, what: string, abandon?: Promise<unknown>): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let failure: unknown = null;
  abandon?.catch((err: unknown) => (failure = err));
  for (;;) {
    if (failure !== null) throw failure;
    const now = performance.now();
    let text = '';
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          fs.readSync(fd, buf, 0, buf.length, offset);
          text = buf.toString('utf8');
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // not there yet
    }
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    if (re.test(complete)) return now;
    if (now > deadline) throw new StasisError('TIMEOUT', `CRIU run: no ${what} within ${timeoutMs / 1000} s in ${file}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** SIGKILLs `pid` if it is still our program (CRIU restores it under the same pid). */
function killOurs(pid: number, program: string): void {
  try {
    if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === program) process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new StasisError('TIMEOUT', `CRIU run: pid ${pid} still alive ${timeoutMs / 1000} s after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function criuChecked(bin: string, args: string[], timeoutMs: number, logFile: string): Promise<number> {
  const r = await runCommand(bin, args, timeoutMs);
  if (r.code !== 0) {
    let tail = '';
    try {
      tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-2).join(' / ');
    } catch {
      tail = r.stderr.trim();
    }
    throw new StasisError('EXEC', `criu ${args[0]} exited with status ${r.code}: ${tail}`);
  }
  return r.seconds;
}

export async function measureCriu(bin: string, w: Workload, program: string, workDir: string, reps: number): Promise<CriuResult> {
  const dir = path.join(workDir, `criu-${w.name}`);
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'stdout.txt');
  const ioTimeout = 120000 + (w.touchedBytes / 1024 ** 3) * 60000;
  const outFd = fs.openSync(out, 'w');
  const child = spawn(program, w.args, { detached: true, stdio: ['ignore', outFd, outFd] });
  fs.closeSync(outFd);
  const pid = child.pid;
  if (pid !== undefined) current = { pid, program };
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const result: CriuResult = { dumps: [], restores: [], imageBytes: 0 };
  try {
    if (pid === undefined) throw new StasisError('EXEC', `cannot start ${program} for the CRIU run`);
    await waitInFile(out, 0, /^ready\b/m, w.readyTimeoutMs, '"ready" line');
    let imgDir = '';
    for (let i = 1; i <= reps; i++) {
      const last = i === reps;
      const prev = imgDir;
      imgDir = path.join(dir, `dump-${i}`);
      fs.mkdirSync(imgDir);
      const args = ['dump', '-t', String(pid), '-D', imgDir, '-o', 'dump.log', ...(last ? [] : ['--leave-running'])];
      const dumpS = await criuChecked(bin, args, ioTimeout, path.join(imgDir, 'dump.log'));
      const sync = await runCommand('sync', ['-f', imgDir], ioTimeout);
      result.dumps.push({ dumpS, syncS: sync.seconds });
      process.stderr.write(`bench: ${w.name}: criu dump ${i}/${reps}: ${dumpS.toFixed(3)} s + sync ${sync.seconds.toFixed(3)} s\n`);
      if (prev) fs.rmSync(prev, { recursive: true, force: true });
      if (!last) await waitInFile(out, fs.statSync(out).size, BEAT, 10000, 'heartbeat after criu dump');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    result.imageBytes = fs.readdirSync(imgDir).reduce((n, f) => n + fs.statSync(path.join(imgDir, f)).size, 0);
    const sizeAtDump = fs.statSync(out).size;
    for (let i = 1; i <= reps; i++) {
      fs.truncateSync(out, sizeAtDump);
      const t0 = performance.now();
      const restoring = criuChecked(bin, ['restore', '-D', imgDir, '-d', '-o', `restore-${i}.log`], ioTimeout, path.join(imgDir, `restore-${i}.log`));
      const [seen] = await Promise.all([waitInFile(out, sizeAtDump, BEAT, ioTimeout, 'heartbeat after criu restore', restoring), restoring]);
      result.restores.push((seen - t0) / 1000);
      process.stderr.write(`bench: ${w.name}: criu restore ${i}/${reps}: ${((seen - t0) / 1000).toFixed(3)} s to the first heartbeat\n`);
      killOurs(pid, program);
      await waitGone(pid, 30000);
    }
    return result;
  } finally {
    if (pid !== undefined) killOurs(pid, program);
    current = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
