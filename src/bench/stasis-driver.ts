/*
 * Drives Stasis the way a user does: every step is the `stasis` command in a child
 * process, so the times include what a user waits for (starting the CLI, talking to the
 * coordinator), not only the agent's work. One detached coordinator per bench run, on a
 * port it picks itself, so launch and restart never start (or wait for) one of their own.
 *
 * The commands run from a private copy of the build (snapshotBuild): a rebuild in the
 * checkout during the run would otherwise swap libstasis.so under a checkpointed process,
 * and restart rightly refuses a process whose mapped files changed.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveGeneration } from '../ckpt-dir/resolve';
import { StasisError } from '../errors';
import { nativePath, packageRoot } from '../native/paths';
import { parsePause, pauseFromStatus } from './features';
import { folderBytes } from './machine';
import { Line, LiveProcess, runChecked, runCommand, RunResult } from './proc';

/**
 * Copies what `stasis` runs from (package.json, bin/, dist/src/, the native build, the
 * runtime dependencies) to
 * `dir`; returns the copy's bin/stasis. The copy finds its own native files, as paths.ts
 * derives them from where the code is.
 */
export function snapshotBuild(dir: string): string {
  const root = packageRoot();
  for (const f of [nativePath('agent'), nativePath('restorer'), nativePath('init')]) {
    if (!fs.existsSync(f)) throw new StasisError('NATIVE_MISSING', `${f} is missing — run npm run build first`);
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(root, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.cpSync(path.join(root, 'dist', 'src'), path.join(dir, 'dist', 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'native', 'build'), { recursive: true });
  for (const f of [nativePath('agent'), nativePath('restorer'), nativePath('init')]) fs.copyFileSync(f, path.join(dir, 'native', 'build', path.basename(f)));
  // The CLI's runtime dependencies (fzstd, which the image reader loads).
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    fs.cpSync(path.join(root, 'node_modules', dep), path.join(dir, 'node_modules', dep), { recursive: true });
  }
  return path.join(dir, 'bin', 'stasis');
}

export interface CheckpointResult {
  /** Wall time of `stasis checkpoint`, spawn to exit. */
  wallS: number;
  /** The coordinator's own figure (SUSPEND sent to generation committed). */
  coordS: number;
  /** Bytes of the images, as the agents reported them. */
  bytes: number;
  /** What the generation's folder holds on disk: the bytes this checkpoint added. */
  folderBytes: number;
  /** The pause `stasis checkpoint` printed (or the coordinator's status holds), if any. */
  reportedPauseS: number | null;
  /** The coordinator's pause window (SUSPEND sent to last RESUMED), CLOCK_MONOTONIC µs, if it gives one. */
  pauseWindowUs: [number, number] | null;
  /** Why processes were not checkpointed forked, as `stasis checkpoint` says ("not forked: ..."). */
  notForked: string[];
  generation: string;
  images: string[];
}

/** A `[from, to]` pair of numbers, or null. */
export function pauseWindow(v: unknown): [number, number] | null {
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) && v[0] <= v[1]
    ? [v[0] as number, v[1] as number] : null;
}

/** The reasons in "... not forked: REASON" lines. */
export function parseNotForked(text: string): string[] {
  return [...text.matchAll(/\bnot forked\b:?\s*(.*)$/gim)].map((m) => m[1]!.trim() || 'no reason given');
}

export class StasisDriver {
  private constructor(readonly bin: string, readonly port: number, readonly logFile: string) {}

  /** Starts a coordinator with the `stasis` at `bin`, logging into `workDir`. */
  static async start(bin: string, workDir: string): Promise<StasisDriver> {
    const logFile = path.join(workDir, 'coordinator.log');
    const r = await runChecked(process.execPath, [bin, 'coordinator', '--daemon', '--port', '0', '--log', logFile], 30000);
    const port = Number(r.stdout.trim());
    if (!Number.isInteger(port) || port <= 0) throw new StasisError('COORDINATOR', `stasis coordinator --daemon printed ${JSON.stringify(r.stdout)}`);
    return new StasisDriver(bin, port, logFile);
  }

  private args(cmd: string, ...rest: string[]): string[] {
    return [this.bin, cmd, '--coord-port', String(this.port), ...rest];
  }

  /** `stasis launch [OPTIONS]` of a program whose stdout lines go to `onLine`. */
  launch(name: string, ckptDir: string, options: string[], program: string, args: string[], onLine?: (l: Line) => void): LiveProcess {
    return new LiveProcess(name, process.execPath, this.args('launch', '--ckpt-dir', ckptDir, ...options, '--', program, ...args), onLine);
  }

  /** `stasis launch` of a program that exits by itself; its output once it has. */
  launchToEnd(ckptDir: string, program: string, args: string[], timeoutMs: number): Promise<RunResult> {
    return runChecked(process.execPath, this.args('launch', '--ckpt-dir', ckptDir, '--', program, ...args), timeoutMs);
  }

  /** `stasis restart` of the latest generation of `ckptDir`; the process's stdout is its stdout. */
  restart(name: string, ckptDir: string, onLine?: (l: Line) => void): LiveProcess {
    return new LiveProcess(name, process.execPath, this.args('restart', ckptDir), onLine);
  }

  async checkpoint(timeoutMs: number, options: string[] = []): Promise<CheckpointResult> {
    const r = await runCommand(process.execPath, this.args('checkpoint', ...options), timeoutMs);
    if (r.code !== 0) throw new StasisError('AGENT_FAILED', `stasis checkpoint failed (status ${r.code}): ${r.stderr.trim()}`);
    const st = await this.status();
    const last = st.lastCheckpoint as { durationMs?: unknown; bytes?: unknown; generation?: unknown } | null;
    if (!last || typeof last.durationMs !== 'number' || typeof last.bytes !== 'number' || typeof last.generation !== 'string') {
      throw new StasisError('COORDINATOR', `stasis status --json has no usable lastCheckpoint: ${JSON.stringify(last)}`);
    }
    const gen = await resolveGeneration(last.generation);
    return {
      wallS: r.seconds,
      coordS: last.durationMs / 1000,
      bytes: last.bytes,
      folderBytes: folderBytes(gen.path),
      reportedPauseS: parsePause(`${r.stdout}\n${r.stderr}`) ?? pauseFromStatus(last as Record<string, unknown>),
      pauseWindowUs: pauseWindow((last as Record<string, unknown>).pauseWindowUs),
      notForked: parseNotForked(r.stderr),
      generation: gen.path,
      images: gen.images.map((i) => i.path),
    };
  }

  async status(): Promise<Record<string, unknown>> {
    const r = await runChecked(process.execPath, this.args('status', '--json'), 30000);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  /** The pid on this machine of the first process the coordinator lists, if it knows one. */
  async hostPid(): Promise<number | null> {
    const st = await this.status();
    return (st.processes as { hostPid?: number }[] | undefined)?.[0]?.hostPid || null;
  }

  /** Number of processes the coordinator has connected. */
  async processCount(): Promise<number> {
    const st = await this.status();
    return Array.isArray(st.processes) ? st.processes.length : 0;
  }

  /** `stasis kill`, then waits for `proc` (the launch or restart CLI) to exit. */
  async killAndWait(proc: LiveProcess, timeoutMs: number): Promise<void> {
    await runCommand(process.execPath, this.args('kill'), 30000);
    await proc.waitExit(timeoutMs);
    // The coordinator drops a killed process when its connection closes; wait for that so
    // the next launch or restart starts from an empty coordinator.
    const deadline = Date.now() + timeoutMs;
    while ((await this.processCount()) > 0) {
      if (Date.now() > deadline) throw new StasisError('TIMEOUT', `the coordinator still lists processes ${timeoutMs / 1000} s after stasis kill`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Best effort: kill whatever is left and stop the coordinator. */
  async shutdown(): Promise<void> {
    await runCommand(process.execPath, this.args('kill'), 10000).catch(() => undefined);
    await runCommand(process.execPath, this.args('shutdown'), 10000).catch(() => undefined);
  }

  /** The last lines of the coordinator's log, for error messages. */
  logTail(lines = 5): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}
