/*
 * The end-to-end harness: real programs run under the real `stasis` CLI, as root and as an
 * unprivileged user, with every wait bound to an event and a deadline.
 *
 * Identities. Each scenario runs as `root` and as `user`. Run as root, the suite plays the
 * user with `setpriv` as STASIS_TEST_USER (default stasis-test); since the checkout may sit
 * where that user cannot read (/root), the runtime package (bin/, dist/src/, the native
 * build, package.json) is copied once per test file into a world-readable directory (both
 * identities run that copy), the test programs are compiled into another, and each test
 * gets a directory the user owns. Run as anyone else, the suite is that user and the root
 * variant is skipped.
 *
 * Events, not sleeps. A program's progress is seen by watching its output file
 * (fs.watch, then a re-check, so a write between two checks is never missed); a process's
 * end is its ChildProcess 'close', which waits until every holder of its stderr pipe has
 * exited — for `stasis restart` that includes the loader, the namespace's init and the
 * restored program, so 'close' means the whole restored tree is gone. Every wait has a
 * deadline that fails the test with what was seen so far.
 *
 * Every spawned process gets its own process group; a test's leftovers (groups, and the
 * coordinators it saw) are killed with SIGKILL when the test ends, pass or fail.
 */

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestContext } from 'node:test';
import { packageRoot } from '../../src/native/paths';

// ─── identities ─────────────────────────────────────────────────────────────────────────

export type IdentityName = 'root' | 'user';

export interface Identity {
  name: IdentityName;
  uid: number;
  gid: number;
  /** Commands are prefixed with setpriv to become uid/gid (the suite runs as root). */
  switchUser: boolean;
  /** Printed in test names and messages: "root", "user stasis-test". */
  label: string;
}

export interface Variant {
  name: IdentityName;
  /** A reason to skip this variant, or false. */
  skip: string | false;
  /** Resolves the identity; throws (failing the test) when it cannot be had. */
  identity(): Identity;
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

export function testUserName(): string {
  return process.env.STASIS_TEST_USER || 'stasis-test';
}

function lookupUser(name: string): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      `the unprivileged test user "${name}" does not exist — create it with ` +
        `\`useradd --system --no-create-home ${name}\` (or set STASIS_TEST_USER to an existing unprivileged user)`,
    );
  }
}

/** The two variants every scenario runs in: as root, and as an unprivileged user. */
export function variants(): Variant[] {
  const root = runningAsRoot();
  const myUid = process.getuid?.() ?? -1;
  return [
    {
      name: 'root',
      skip: root ? false : `the suite runs as uid ${myUid}; the root variant needs root`,
      identity: () => ({ name: 'root', uid: 0, gid: 0, switchUser: false, label: 'root' }),
    },
    {
      name: 'user',
      skip: false,
      identity: () => {
        if (!root) {
          const uid = process.getuid!();
          return { name: 'user', uid, gid: process.getgid!(), switchUser: false, label: `user ${os.userInfo().username}` };
        }
        const name = testUserName();
        const { uid, gid } = lookupUser(name);
        if (uid === 0) throw new Error(`STASIS_TEST_USER=${name} is root; it must name an unprivileged user`);
        return { name: 'user', uid, gid, switchUser: true, label: `user ${name}` };
      },
    },
  ];
}

// ─── shared, per test file: runtime copy and compiled programs ──────────────────────────

const shared: {
  dirs: string[];
  /** Compilers and reference runs: not any one test's, killed with the rest at the end. */
  procs: Proc[];
  runtimeCopy: string | null;
  programs: Map<string, Promise<string>>;
  programDir: string | null;
} = {
  dirs: [],
  procs: [],
  runtimeCopy: null,
  programs: new Map(),
  programDir: null,
};

/** Removes what this test file shared (call from a top-level `after`). */
export function removeShared(): void {
  for (const p of shared.procs.splice(0)) p.killGroup();
  for (const d of shared.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  shared.runtimeCopy = null;
  shared.programDir = null;
  shared.programs.clear();
}

function worldReadableDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  shared.dirs.push(dir);
  return dir;
}

/**
 * The `bin/stasis` every identity runs: a world-readable snapshot of the checkout's runtime.
 * A snapshot, too, because images name the agent's file and a restart refuses a mapped file
 * that changed: a rebuild while the suite runs must not fail it.
 */
function stasisBin(): string {
  const root = packageRoot();
  if (shared.runtimeCopy === null) {
    const dir = worldReadableDir('stasis-e2e-pkg-');
    const copy = (rel: string): void => {
      fs.cpSync(path.join(root, rel), path.join(dir, rel), { recursive: true });
    };
    for (const rel of ['package.json', 'bin', path.join('dist', 'src'), path.join('native', 'build', 'libstasis.so'), path.join('native', 'build', 'stasis-restore'), path.join('native', 'build', 'stasis-init')]) {
      copy(rel);
    }
    // The CLI's own dependencies (fzstd: `stasis inspect --verify` of zstd chunks).
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) copy(path.join('node_modules', dep));
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    shared.runtimeCopy = dir;
  }
  return path.join(shared.runtimeCopy, 'bin', 'stasis');
}

export interface ProgramSpec {
  /** A C file in test/programs, compiled with gcc. */
  c?: string;
  cflags?: string[];
  /** A script in test/programs and the interpreter that runs it. */
  script?: string;
  interpreter?: string;
  /** A folder in test/programs the script uses, copied beside it. */
  folder?: string;
}

export const PROGRAMS = {
  cpu: { c: 'cpu.c' },
  threads: { c: 'threads.c', cflags: ['-pthread'] },
  state: { c: 'state.c' },
  kstate: { c: 'kstate.c', cflags: ['-pthread'] },
  evloop: { c: 'evloop.c' },
  python: { script: 'compute.py', interpreter: '/usr/bin/python3' },
  node: { script: 'compute.js', interpreter: process.execPath },
  bigheap: { c: 'bigheap.c' },
  records: { c: 'records.c' },
  field: { c: 'field.c' },
  deleted: { c: 'deleted.c' },
  fifo: { c: 'fifo.c' },
  pty: { c: 'pty.c' },
  tree: { c: 'tree.c', cflags: ['-pthread'] },
  pipeline: { script: 'pipeline.sh', interpreter: '/bin/bash' },
  shmcount: { c: 'shmcount.c', cflags: ['-pthread'] },
  mp: { script: 'mp.py', interpreter: '/usr/bin/python3' },
  make: { script: 'make.sh', interpreter: '/bin/bash', folder: 'makeproj' },
  ptydrive: { c: 'ptydrive.c' },
  posixshm: { c: 'posixshm.c', cflags: ['-pthread'] },
  staticcpu: { c: 'cpu.c', cflags: ['-static'] },
  withstatic: { script: 'withstatic.sh', interpreter: '/bin/bash' },
  spawner: { c: 'spawner.c' },
  locks: { c: 'locks.c' },
  mutator: { c: 'mutator.c' },
  quietkids: { c: 'quietkids.c' },
  waiter: { c: 'waiter.c' },
  sysvipc: { c: 'sysvipc.c' },
  ctty: { c: 'ctty.c' },
  incr: { c: 'incr.c' },
  mapped: { c: 'mapped.c' },
  hugemem: { c: 'hugemem.c' },
} satisfies Record<string, ProgramSpec>;

export type ProgramName = keyof typeof PROGRAMS;

function programsSourceDir(): string {
  // Compiled, this file is dist/test/e2e/harness.js; the sources stay in test/programs.
  return path.join(packageRoot(), 'test', 'programs');
}

/** The compiled binary or copied script of a test program, in a world-readable folder. */
function programFile(name: ProgramName): Promise<string> {
  let p = shared.programs.get(name);
  if (!p) {
    p = buildProgram(name);
    shared.programs.set(name, p);
  }
  return p;
}

async function buildProgram(name: ProgramName): Promise<string> {
  const spec: ProgramSpec = PROGRAMS[name];
  if (shared.programDir === null) shared.programDir = worldReadableDir('stasis-e2e-prog-');
  const src = path.join(programsSourceDir(), spec.c ?? spec.script!);
  if (spec.script) {
    const out = path.join(shared.programDir, spec.script);
    fs.copyFileSync(src, out);
    fs.chmodSync(out, 0o644);
    if (spec.folder) {
      const to = path.join(shared.programDir, spec.folder);
      fs.cpSync(path.join(programsSourceDir(), spec.folder), to, { recursive: true });
      fs.chmodSync(to, 0o755);
      for (const f of fs.readdirSync(to)) fs.chmodSync(path.join(to, f), 0o644);
    }
    return out;
  }
  const out = path.join(shared.programDir, name);
  const r = await runPlain('gcc', ['-O2', '-Wall', '-Wextra', '-o', out, src, ...(spec.cflags ?? [])], { timeoutMs: 60000 });
  if (r.status !== 0) throw new Error(`cannot compile ${src}: gcc exited ${r.status}: ${r.stderr}`);
  fs.chmodSync(out, 0o755);
  return out;
}

/** argv of a test program: [file, ...args]. */
export async function programArgv(name: ProgramName, args: string[]): Promise<string[]> {
  const spec: ProgramSpec = PROGRAMS[name];
  const file = await programFile(name);
  return spec.interpreter ? [spec.interpreter, file, ...args] : [file, ...args];
}

// ─── processes ──────────────────────────────────────────────────────────────────────────

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** As a shell reports it: the code, or 128 + the signal number. */
  status: number;
}

/** A spawned process in its own process group. */
export class Proc {
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  /** Resolves when the process has exited and every holder of its stdio pipes is gone. */
  readonly closed: Promise<Exit>;
  readonly startedAt = Date.now();

  constructor(readonly child: ChildProcess, readonly what: string) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.closed = new Promise<Exit>((resolve) => {
      child.once('error', (err) => {
        this.stderr += `spawn error: ${err.message}\n`;
        this.exit = { code: null, signal: null, status: 255 };
        resolve(this.exit);
      });
      child.once('close', (code, signal) => {
        const status = signal ? 128 + (os.constants.signals[signal] ?? 0) : code ?? 255;
        this.exit = { code, signal, status };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** One line for failure messages: what it is, how it ended, its stderr. */
  describe(): string {
    const how = this.exit ? `status ${this.exit.status}` : 'still running';
    const err = this.stderr.trim();
    return `${this.what} (${how})${err ? `; stderr: ${err.length > 2000 ? `…${err.slice(-2000)}` : err}` : ''}`;
  }

  /** SIGKILL to this process only. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** SIGKILL to its whole process group. */
  killGroup(): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Waits for 'close'; past the deadline the group is killed and the test fails. */
  async wait(timeoutMs: number): Promise<Exit> {
    const e = await withDeadline(this.closed, timeoutMs, () => {
      this.killGroup();
      return `${this.what} did not finish within ${timeoutMs} ms: ${this.describe()}`;
    });
    return e;
  }
}

export function withDeadline<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message())), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('STASIS_') || k.startsWith('NODE_') || k === 'LD_PRELOAD') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface PlainResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command as ourselves to completion (the compiler, reference runs); stdout to a pipe or an fd. */
async function runPlain(file: string, args: string[], opts: { timeoutMs: number; stdout?: number }): Promise<PlainResult> {
  const child = spawn(file, args, { stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'], env: cleanEnv(), detached: true });
  const p = new Proc(child, [file, ...args].join(' '));
  shared.procs.push(p);
  const e = await p.wait(opts.timeoutMs);
  return { status: e.status, stdout: p.stdout, stderr: p.stderr };
}

// ─── reference runs ─────────────────────────────────────────────────────────────────────

export interface Reference {
  output: Buffer;
  status: number;
  ms: number;
}

const references = new Map<string, Promise<Reference>>();

/**
 * The output and exit status of an uninterrupted run, without Stasis, stdout to a file.
 * Computed once per test file for each program and arguments.
 */
export function reference(name: ProgramName, args: string[], timeoutMs = 120000): Promise<Reference> {
  const key = JSON.stringify([name, args]);
  let r = references.get(key);
  if (!r) {
    r = (async () => {
      const argv = await programArgv(name, args);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-e2e-ref-'));
      try {
        const out = path.join(dir, 'out.txt');
        const fd = fs.openSync(out, 'w');
        const t0 = Date.now();
        let res: PlainResult;
        try {
          res = await runPlain(argv[0]!, argv.slice(1), { timeoutMs, stdout: fd });
        } finally {
          fs.closeSync(fd);
        }
        return { output: fs.readFileSync(out), status: res.status, ms: Date.now() - t0 };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    })();
    references.set(key, r);
  }
  return r;
}

// ─── waiting on files ───────────────────────────────────────────────────────────────────

export interface UntilOptions {
  timeoutMs: number;
  /** Files or folders whose changes trigger a re-check. */
  watch: string[];
  /** Fail at once when one of these ends before the condition holds. */
  abortOn?: Proc[];
  /** Extra text for the failure message (e.g. what the file held). */
  detail?: () => string;
}

/**
 * Resolves with check()'s first value that is not undefined, re-checking on every change
 * to the watched paths (and once at the start, so nothing that happened before the
 * watchers were set up is missed).
 */
export function until<T>(what: string, opts: UntilOptions, check: () => T | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const watchers: fs.FSWatcher[] = [];
    const finish = (err: Error | null, value?: T): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
      if (err) reject(err);
      else resolve(value as T);
    };
    const detail = (): string => (opts.detail ? `; ${opts.detail()}` : '');
    const poke = (): void => {
      if (done) return;
      try {
        const v = check();
        if (v !== undefined) finish(null, v);
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${detail()}`)), opts.timeoutMs);
    for (const p of opts.watch) {
      const w = fs.watch(p, { persistent: false }, poke);
      w.on('error', () => undefined);
      watchers.push(w);
    }
    for (const proc of opts.abortOn ?? []) {
      void proc.closed.then(() => {
        poke();
        finish(new Error(`${proc.describe()} ended while waiting for ${what}${detail()}`));
      });
    }
    poke();
  });
}

export function countLines(file: string): number {
  const b = fs.readFileSync(file);
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** Waits until `file` holds at least `n` complete lines. */
export function waitForLines(file: string, n: number, opts: { timeoutMs: number; abortOn?: Proc[] }): Promise<number> {
  return until(`${n} lines in ${file}`, { ...opts, watch: [file], detail: () => `it has ${countLines(file)}` }, () => {
    const have = countLines(file);
    return have >= n ? have : undefined;
  });
}

function mtimeNs(file: string): bigint {
  return fs.statSync(file, { bigint: true }).mtimeNs;
}

/** A mark to wait for the next write to a file from. */
export function writeMark(file: string): bigint {
  return mtimeNs(file);
}

/** Waits until `file` has been written since `mark`. */
export function waitForWrite(file: string, mark: bigint, opts: { timeoutMs: number; abortOn?: Proc[] }): Promise<void> {
  return until(`a write to ${file}`, { ...opts, watch: [file] }, () => (mtimeNs(file) > mark ? true : undefined)).then(() => undefined);
}

// ─── a test's box: its folder, ports, processes ─────────────────────────────────────────

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
  ms: number;
}

export interface StartOptions {
  /** A file (in the box) for stdout; default a pipe. */
  stdoutFile?: string;
  cwd?: string;
  /** Added to the clean environment (e.g. STASIS_FI, fault injection). */
  env?: NodeJS.ProcessEnv;
}

/** Everything one test owns; cleaned up when the test ends. */
export class Box {
  readonly procs: Proc[] = [];
  readonly coordinatorPids = new Set<number>();
  private readonly stasisBin: string;

  private constructor(readonly who: Identity, readonly dir: string) {
    this.stasisBin = stasisBin();
  }

  static create(t: TestContext, who: Identity): Box {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-e2e-'));
    if (who.switchUser) fs.chownSync(dir, who.uid, who.gid);
    const box = new Box(who, dir);
    t.after(() => box.cleanup());
    return box;
  }

  path(...rel: string[]): string {
    return path.join(this.dir, ...rel);
  }

  /** An empty file in the box that the identity owns (for a program's stdout). */
  emptyFile(name: string): string {
    const p = this.path(name);
    fs.writeFileSync(p, '');
    if (this.who.switchUser) fs.chownSync(p, this.who.uid, this.who.gid);
    return p;
  }

  /** Hands a path (recursively) to the identity, after the harness wrote or copied it as root. */
  giveAway(p: string): void {
    if (this.who.switchUser) execFileSync('chown', ['-R', '--no-dereference', `${this.who.uid}:${this.who.gid}`, p]);
  }

  /** Starts a command as the identity, in its own process group. */
  start(argv: string[], opts: StartOptions = {}): Proc {
    const [file, ...args] = this.who.switchUser
      ? ['setpriv', `--reuid=${this.who.uid}`, `--regid=${this.who.gid}`, '--clear-groups', '--', ...argv]
      : argv;
    const fd = opts.stdoutFile !== undefined ? fs.openSync(opts.stdoutFile, 'w') : null;
    let child: ChildProcess;
    try {
      child = spawn(file!, args, {
        cwd: opts.cwd ?? this.dir,
        env: cleanEnv({ HOME: this.dir, ...opts.env }),
        stdio: ['ignore', fd ?? 'pipe', 'pipe'],
        detached: true,
      });
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
    const p = new Proc(child, argv.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ').replace(`${process.execPath} ${this.stasisBin}`, 'stasis'));
    this.procs.push(p);
    return p;
  }

  /** argv for the stasis CLI. */
  stasisArgv(args: string[]): string[] {
    return [process.execPath, this.stasisBin, ...args];
  }

  startStasis(args: string[], opts: StartOptions = {}): Proc {
    return this.start(this.stasisArgv(args), opts);
  }

  /** Runs a stasis command to completion; the deadline fails the test. */
  async stasis(args: string[], timeoutMs = 30000): Promise<CliResult> {
    const p = this.startStasis(args);
    const e = await p.wait(timeoutMs);
    return { ...e, stdout: p.stdout, stderr: p.stderr, ms: Date.now() - p.startedAt };
  }

  /** `stasis status --json`; remembers the coordinator's pid for the cleanup. */
  async status(port: number): Promise<StatusBody> {
    const r = await this.stasis(['status', '--json', '--coord-port', String(port)]);
    if (r.status !== 0) throw new Error(`stasis status failed (${r.status}): ${r.stderr}`);
    const body = JSON.parse(r.stdout) as StatusBody;
    this.coordinatorPids.add(body.coordinator.pid);
    return body;
  }

  /** A foreground `stasis coordinator` owned by the test, ready when this resolves. */
  async coordinator(port: number, options: string[] = []): Promise<Proc> {
    const p = this.startStasis(['coordinator', '--port', String(port), ...options]);
    await waitForStderr(p, new RegExp(`listening on 127\\.0\\.0\\.1:${port} `), 20000);
    return p;
  }

  cleanup(): void {
    for (const p of this.procs) p.killGroup();
    // A coordinator that `launch` or `restart` started outlives them; it exits once idle,
    // but a failed test may leave it waiting. Kill it if that pid is still a coordinator.
    for (const pid of this.coordinatorPids) {
      try {
        if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes('coordinator')) continue;
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StatusBody {
  coordinator: { pid: number; port: number };
  checkpointRunning: boolean;
  processes: { procId: number; pid: number; hostPid: number; name: string; state: string; restarted: boolean }[];
}

/** Waits until a process's stderr (a pipe) contains `pattern`. */
export function waitForStderr(p: Proc, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from ${p.describe()}`)), timeoutMs);
    let done = false;
    const finish = (err: Error | null, m?: RegExpExecArray): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      p.child.stderr?.off('data', check);
      if (err) reject(err);
      else resolve(m!);
    };
    const check = (): void => {
      const m = pattern.exec(p.stderr);
      if (m) finish(null, m);
    };
    p.child.stderr?.on('data', check);
    void p.closed.then(() => {
      check();
      finish(new Error(`${p.describe()} ended before printing ${pattern}`));
    });
    check();
  });
}

// ─── checkpoint directories ─────────────────────────────────────────────────────────────

/** sha256 of every file in every gen-* folder and of the `latest` link, by relative path. */
export function hashGenerations(ckptDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of fs.readdirSync(ckptDir).sort()) {
    const p = path.join(ckptDir, name);
    if (name === 'latest') {
      out.set(name, `-> ${fs.readlinkSync(p)}`);
      continue;
    }
    if (!/^gen-\d+$/.test(name)) continue;
    for (const f of fs.readdirSync(p).sort()) {
      out.set(`${name}/${f}`, crypto.createHash('sha256').update(fs.readFileSync(path.join(p, f))).digest('hex'));
    }
  }
  return out;
}

/** The generation folder `latest` names, e.g. "gen-000002". */
export function latestGeneration(ckptDir: string): string {
  return path.basename(fs.readlinkSync(path.join(ckptDir, 'latest')));
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exactly one line on stderr, from stasis. */
export function oneLine(stderr: string): boolean {
  return /^stasis[^\n]*\n$/.test(stderr);
}
