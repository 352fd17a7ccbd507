/*
 * CRIU, the side-by-side reference, when a working one is installed.
 *
 * Detection: the binary named by STASIS_BENCH_CRIU (for a CRIU built from source and not
 * installed), else `criu` on PATH or in the sbin folders; then `criu check`. An installed
 * CRIU can still be unusable: Debian 12's 3.17 fails on kernel 6.18 with "Unexpected rt
 * vDSO area bounds". Any failure is one line in the report, quoting CRIU's first
 * informative error, and the bench goes on without CRIU columns; it never fails the run.
 *
 * The CRIU run mirrors the Stasis one, interleaved with it (each workload's CRIU run
 * follows its Stasis run): the same program, started in its own session (CRIU dumps a
 * session leader without --shell-job), with stdout on a regular file because CRIU cannot
 * reattach a pipe to a reader outside the dump. `criu dump --leave-running` `reps` times,
 * each on recycled memory like a Stasis checkpoint, then `syncfs` of the image folder,
 * timed apart, since CRIU does not fsync its images and a Stasis checkpoint is durable
 * when it returns. The pause is the longest heartbeat gap in the file around the dump.
 * An incremental workload gets, after each dump, its pages dirtied and a second dump with
 * `--track-mem` and `--prev-images-dir` when `criu check --feature mem_dirty_track`
 * passes (without soft-dirty bits in the kernel CRIU refuses both, and its second dump is
 * a full one). Then one more dump, untimed and without --leave-running (CRIU ends the
 * program, so the output file keeps the size CRIU recorded), is restored `reps` times
 * cold and `reps` times warm (`criu restore`, which stays the program's parent), each after cutting the output file back
 * to that size, as CRIU checks it, and timed to the first new heartbeat in that file.
 */

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { StasisError } from '../errors';
import { dropFromCache, folderBytes, loadIntoCache, removeAll, writeScratch } from './machine';
import { beatGap } from './measure';
import { runCommand } from './proc';
import { Program, Workload } from './workloads';

export interface CriuStatus {
  usable: boolean;
  binary: string | null;
  /** Whether CRIU can track dirty memory here (needs the kernel's soft-dirty bits). */
  trackMem: boolean;
  /** One sentence for the report. */
  line: string;
}

export interface CriuDump {
  dumpS: number;
  syncS: number;
  pauseS: number | null;
}

export interface CriuResult {
  dumps: CriuDump[];
  incremental: (CriuDump & { bytes: number; tracked: boolean })[];
  restores: { cache: 'cold' | 'warm'; seconds: number }[];
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

/**
 * Why `criu check` failed, from its output: the first error that says something (CRIU
 * first logs its helper's "exited, status=1" lines), without the "Error (file:line):"
 * prefix; or the last line when no line is marked as an error.
 */
export function criuCheckReason(output: string, status: number | null): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /^Error\b/.test(l) || /: Error \(/.test(l));
  const telling = errors.find((l) => !/exited, status=\d+|^Error \([^)]*\):\s*$/.test(l)) ?? errors[0] ?? lines[lines.length - 1];
  if (!telling) return `status ${status}`;
  return telling.replace(/^.*?Error \([^)]*\):\s*/, '');
}

/** Runs `criu check` with `bin`: its version, and null when it passes or why it fails. */
async function check(bin: string): Promise<{ version: string; failure: string | null } | null> {
  const v = await runCommand(bin, ['--version'], 15000).catch(() => null);
  if (!v) return null;
  const version = /Version:\s*(\S+)/.exec(v.stdout)?.[1] ?? 'of unknown version';
  const r = await runCommand(bin, ['check'], 60000).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
  return { version, failure: r.code === 0 ? null : criuCheckReason(`${r.stdout}\n${r.stderr}`, r.code) };
}

export async function detectCriu(): Promise<CriuStatus> {
  const fromEnv = process.env.STASIS_BENCH_CRIU || null;
  const onPath = findBinary();
  const bin = fromEnv ?? onPath;
  const none = (line: string): CriuStatus => ({ usable: false, binary: bin, trackMem: false, line });
  if (!bin) return none('CRIU unavailable: not installed (no `criu` on PATH or in /usr/sbin), so there are no CRIU columns in this run.');
  const c = await check(bin);
  if (!c) return none(`CRIU unavailable: ${bin}${fromEnv ? ' (from STASIS_BENCH_CRIU)' : ''} cannot be run. No CRIU columns in this run.`);
  if (c.failure !== null) {
    return none(`CRIU unavailable: CRIU ${c.version} (${bin}) is installed but \`criu check\` fails on this kernel: "${c.failure}". No CRIU columns in this run.`);
  }
  // A CRIU named by STASIS_BENCH_CRIU: say what the installed one would have done.
  let installed = '';
  if (fromEnv && onPath && onPath !== fromEnv) {
    const p = await check(onPath);
    if (p?.failure) installed = ` (The installed CRIU ${p.version}, ${onPath}, fails \`criu check\` on this kernel: "${p.failure}".)`;
  }
  const track = await runCommand(bin, ['check', '--feature', 'mem_dirty_track'], 60000).catch(() => null);
  const trackMem = track?.code === 0;
  return {
    usable: true,
    binary: bin,
    trackMem,
    line: `CRIU ${c.version} (${bin}${fromEnv ? ', from STASIS_BENCH_CRIU' : ''}): \`criu check\` passed; CRIU was measured side by side in this run` +
      (trackMem ? '.' : ', without memory tracking (`criu check --feature mem_dirty_track` fails: this kernel has no soft-dirty bits), so its second dump of the incremental workload is a full one.') +
      installed,
  };
}

const BEAT = /^beat \d+ /m;

/** The workload of a CRIU run in progress, for killCriuWorkload. */
let current: { pid: number; program: string } | null = null;

/** Kills the CRIU run's workload, if one is running (for an interrupted bench). */
export function killCriuWorkload(): void {
  if (current) killOurs(current.pid, current.program);
}

function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return '';
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * Polls `file` from `offset` until `count` complete lines match `re`; resolves with the
 * time of the poll that saw them. Gives up early, with the error of `abandon`, if that
 * promise rejects.
 */
async function waitInFile(file: string, offset: number, re: RegExp, timeoutMs: number, what: string, abandon?: Promise<unknown>, count = 1): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let failure: unknown = null;
  abandon?.catch((err: unknown) => (failure = err));
  const line = new RegExp(re.source, re.flags.replace('m', ''));
  for (;;) {
    if (failure !== null) throw failure;
    const now = performance.now();
    const text = readFrom(file, offset);
    const complete = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
    if (complete.filter((l) => line.test(l)).length >= count) return now;
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

/** The last two error lines of a CRIU log, or '' when it cannot be read. */
function logErrors(logFile: string): string {
  try {
    return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').filter((l) => /Error/.test(l)).slice(-2).join(' / ');
  } catch {
    return '';
  }
}

async function criuChecked(bin: string, args: string[], timeoutMs: number, logFile: string): Promise<number> {
  const r = await runCommand(bin, args, timeoutMs);
  if (r.code !== 0) throw new StasisError('EXEC', `criu ${args[0]} exited with status ${r.code}: ${logErrors(logFile) || r.stderr.trim()}`);
  return r.seconds;
}

/** The longest "gap_us" among the beat lines of `text`. */
function longestGapIn(text: string): number | null {
  let max: number | null = null;
  for (const l of text.split('\n')) {
    const g = /^beat \d+ /.test(l) ? beatGap(l) : null;
    if (g !== null && (max === null || g > max)) max = g;
  }
  return max;
}

export async function measureCriu(status: CriuStatus, w: Workload, program: Program, workDir: string, reps: number): Promise<CriuResult> {
  const bin = status.binary!;
  const dir = path.join(workDir, `criu-${w.name}`);
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'stdout.txt');
  const ioTimeout = 120000 + (w.touchedBytes / 1024 ** 3) * 60000;
  const outFd = fs.openSync(out, 'w');
  const child = spawn(program.file, [...program.prefix, ...w.args], { detached: true, stdio: ['ignore', outFd, outFd] });
  fs.closeSync(outFd);
  const pid = child.pid;
  if (pid !== undefined) current = { pid, program: program.file };
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const result: CriuResult = { dumps: [], incremental: [], restores: [], imageBytes: 0 };
  const track = w.incremental && status.trackMem ? ['--track-mem'] : [];
  let n = 0;
  const log = (msg: string): void => void process.stderr.write(`bench: ${w.name}: criu ${msg}\n`);

  /**
   * One dump on recycled memory, durable after syncfs, with the pause the program saw.
   * `final`: without --leave-running (CRIU kills the program), so that the output file
   * keeps the size CRIU recorded and the restores can put it back.
   */
  const dump = async (extra: string[], final = false): Promise<{ d: CriuDump; imgDir: string }> => {
    const imgDir = path.join(dir, `dump-${++n}`);
    fs.mkdirSync(imgDir);
    const scratch = await writeScratch(path.join(dir, 'scratch'), Math.max(w.touchedBytes, 1 << 20), ioTimeout);
    removeAll([scratch]);
    let offset = fs.statSync(out).size;
    await waitInFile(out, offset, BEAT, 10000, 'heartbeat before criu dump');
    offset = fs.statSync(out).size;
    const args = ['dump', '-t', String(pid), '-D', imgDir, '-o', 'dump.log', ...(final ? [] : ['--leave-running']), ...extra];
    const dumpS = await criuChecked(bin, args, ioTimeout, path.join(imgDir, 'dump.log'));
    const sync = await runCommand('sync', ['-f', imgDir], ioTimeout);
    if (!final) await waitInFile(out, offset, BEAT, 10000, 'heartbeats after criu dump', undefined, 2);
    return { d: { dumpS, syncS: sync.seconds, pauseS: final ? null : longestGapIn(readFrom(out, offset)) }, imgDir };
  };
  const dropOthers = (keep: string): void => {
    for (const old of fs.readdirSync(dir)) {
      if (old.startsWith('dump-') && path.join(dir, old) !== keep) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
    }
  };

  try {
    if (pid === undefined) throw new StasisError('EXEC', `cannot start ${program.file} for the CRIU run`);
    await waitInFile(out, 0, /^ready\b/m, w.readyTimeoutMs, '"ready" line');
    let lastFull = '';
    for (let i = 1; i <= reps; i++) {
      const full = await dump(track);
      result.dumps.push(full.d);
      log(`dump ${i}/${reps}: ${full.d.dumpS.toFixed(3)} s + sync ${full.d.syncS.toFixed(3)} s, pause ${fmtMs(full.d.pauseS)}`);
      dropOthers(full.imgDir);
      lastFull = full.imgDir;
      result.imageBytes = folderBytes(full.imgDir);
      if (w.incremental) {
        const offset = fs.statSync(out).size;
        process.kill(pid, 'SIGUSR1');
        await waitInFile(out, offset, /^dirtied\b/m, 60000, '"dirtied" line');
        // Without memory tracking CRIU refuses --prev-images-dir: the second dump is a full one.
        const incr = await dump(track.length ? [...track, '--prev-images-dir', `../${path.basename(full.imgDir)}`] : []);
        const bytes = folderBytes(incr.imgDir);
        result.incremental.push({ ...incr.d, bytes, tracked: track.length > 0 });
        log(`dump after dirtying ${i}/${reps}: ${incr.d.dumpS.toFixed(3)} s + sync ${incr.d.syncS.toFixed(3)} s, ${(bytes / 1024 ** 2).toFixed(1)} MiB`);
      }
    }
    // The image the restores use: one more dump, untimed, that ends the program (see dump()).
    const chained = w.incremental && track.length ? [...track, '--prev-images-dir', `../${path.basename(lastFull)}`] : [];
    const last = (await dump(chained, true)).imgDir;
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    await waitGone(pid, 30000);
    const sizeAtDump = fs.statSync(out).size;
    // Every dump left: the last one, and the one it builds on when it is incremental.
    const images = fs.readdirSync(dir).filter((d) => d.startsWith('dump-'))
      .flatMap((d) => fs.readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f)));
    for (let i = 1; i <= reps; i++) {
      for (const cache of ['cold', 'warm'] as const) {
        const files = images.filter((f) => fs.statSync(f).isFile());
        if (cache === 'cold') await dropFromCache(files);
        else await loadIntoCache(files, ioTimeout);
        fs.truncateSync(out, sizeAtDump);
        // Not -d: criu stays the restored program's parent and reaps it once it is
        // killed, so its pid is free for the next restore (a detached one is left to this
        // machine's PID 1, which may reap it late).
        const logName = `restore-${i}-${cache}.log`;
        const t0 = performance.now();
        const restoring = runCommand(bin, ['restore', '-D', last, '-o', logName], ioTimeout);
        const early = restoring.then((r) => {
          throw new StasisError('EXEC', `criu restore exited with status ${r.code} before the program ran: ${logErrors(path.join(last, logName)) || r.stderr.trim()}`);
        });
        const seen = await waitInFile(out, sizeAtDump, BEAT, ioTimeout, 'heartbeat after criu restore', early);
        result.restores.push({ cache, seconds: (seen - t0) / 1000 });
        log(`restore ${i}/${reps} (${cache}): ${((seen - t0) / 1000).toFixed(3)} s to the first heartbeat`);
        killOurs(pid, program.file);
        await restoring.catch(() => undefined);
        await waitGone(pid, 30000);
      }
    }
    return result;
  } finally {
    if (pid !== undefined) killOurs(pid, program.file);
    current = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmtMs(s: number | null): string {
  return s === null ? 'unknown' : `${(s * 1000).toFixed(1)} ms`;
}
