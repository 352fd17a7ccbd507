/*
 * The steps the end-to-end scenarios are made of — launch a program with its stdout in a
 * file, checkpoint it, SIGKILL it, restart it, compare the file with a reference run —
 * each checking what it can see on the way (exit statuses, one generation per checkpoint,
 * the offset the image saved for stdout).
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readImage } from '../../src/image/reader';
import { Box, Exit, Proc, programArgv, ProgramName, Reference, waitForLines, waitForWrite } from './harness';

/** Deadlines: generous next to what each step takes here, so only a hang trips them. */
export const LIMIT = {
  start: 30000,
  checkpoint: 60000,
  run: 120000,
  die: 20000,
};

export interface Launched {
  proc: Proc;
  out: string;
  ckptDir: string;
}

/** `stasis launch` of a test program, stdout to a file, until it has printed `lines` lines. */
export async function launchUntil(box: Box, port: number, name: ProgramName, args: string[], lines: number, timeoutMs = LIMIT.start, launchOptions: string[] = [], env?: NodeJS.ProcessEnv): Promise<Launched> {
  const out = box.emptyFile('out.txt');
  const ckptDir = box.path('ckpt');
  const argv = await programArgv(name, args);
  const proc = box.startStasis(['launch', '--coord-port', String(port), '--ckpt-dir', ckptDir, ...launchOptions, '--', ...argv], { stdoutFile: out, env });
  await waitForLines(out, lines, { timeoutMs, abortOn: [proc] });
  return { proc, out, ckptDir };
}

/** `stasis checkpoint`, which must succeed; returns the generation folder it printed. */
export async function checkpoint(box: Box, port: number, limit = LIMIT.checkpoint): Promise<string> {
  const r = await box.stasis(['checkpoint', '--coord-port', String(port)], limit);
  assert.equal(r.status, 0, `stasis checkpoint failed: ${r.stderr}`);
  const m = /^(\/\S+\/gen-\d{6})\n$/.exec(r.stdout);
  assert.ok(m, `stasis checkpoint printed ${JSON.stringify(r.stdout)}, expected one generation folder`);
  assert.ok(fs.existsSync(path.join(m[1]!, 'MANIFEST.json')), `${m[1]} has no MANIFEST.json after the checkpoint returned`);
  return m[1]!;
}

/** The pids a process has in each PID namespace it is in, outermost first (NSpid). */
function nsPids(hostPid: number): number[] {
  try {
    const line = fs.readFileSync(`/proc/${hostPid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    return line ? line.slice(6).trim().split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function children(hostPid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${hostPid}/task/${hostPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The host pid of the process that has `nsPid` in the computation's PID namespace, found
 * among the descendants of `under` (the `stasis launch` or `stasis restart` process: the
 * coordinator only knows the pids inside the namespace).
 */
export function hostPidOf(under: Proc, nsPid: number): number {
  const todo = [under.pid];
  while (todo.length > 0) {
    const p = todo.shift()!;
    const ns = nsPids(p);
    if (ns.length >= 2 && ns[ns.length - 1] === nsPid) return p;
    todo.push(...children(p));
  }
  throw new Error(`no process with pid ${nsPid} in a namespace under ${under.describe()}`);
}

/** The host pid of the one process connected to the coordinator, started by `under`. */
export async function hostPid(box: Box, port: number, under: Proc): Promise<number> {
  const st = await box.status(port);
  assert.equal(st.processes.length, 1, `expected one process at the coordinator, got ${JSON.stringify(st.processes)}`);
  return hostPidOf(under, st.processes[0]!.pid);
}

/** SIGKILL to a launched program by its host pid; waits until it and `stasis launch` are gone. */
export async function killLaunched(box: Box, port: number, launched: Launched): Promise<void> {
  process.kill(await hostPid(box, port, launched.proc), 'SIGKILL');
  const e = await launched.proc.wait(LIMIT.die);
  assert.equal(e.status, 137, `stasis launch should exit 128+SIGKILL when its program is killed: ${launched.proc.describe()}`);
}

/** SIGKILL to `stasis restart` itself; the restored tree must follow it (PR_SET_PDEATHSIG). */
export async function killRestart(restart: Proc): Promise<void> {
  restart.kill();
  // 'close' comes once every holder of the restart's stderr pipe — the loader, the
  // namespace's init, the restored program — has exited.
  await restart.wait(LIMIT.die);
}

/** `stasis restart` of a checkpoint directory or generation, as a running process. */
export function startRestart(box: Box, port: number, target: string): Proc {
  return box.startStasis(['restart', '--coord-port', String(port), target]);
}

/** Waits for the restored program's first write to `out` after `mark` (it runs, and has rejoined the coordinator). */
export function waitRestoredWrites(out: string, mark: bigint, restart: Proc): Promise<void> {
  return waitForWrite(out, mark, { timeoutMs: LIMIT.start, abortOn: [restart] });
}

/** Waits for a restart to finish; checks status and output against the reference. */
export async function expectFinishesLikeReference(restart: Proc, out: string, ref: Reference, what: string): Promise<Exit> {
  const e = await restart.wait(LIMIT.run);
  assert.equal(e.status, ref.status, `${what}: exit status ${e.status}, the uninterrupted run's was ${ref.status}: ${restart.describe()}`);
  assert.equal(restart.stdout, '', `${what}: stasis restart printed on its own stdout; the program's output belongs in ${out}`);
  assertSameOutput(fs.readFileSync(out), ref.output, what);
  return e;
}

/** Byte-identical, or a failure that shows the first line that differs. */
export function assertSameOutput(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  const a = actual.toString('utf8').split('\n');
  const b = expected.toString('utf8').split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  assert.fail(
    `${what}: output differs from the uninterrupted run's (${actual.length} bytes vs ${expected.length}); ` +
      `first difference at line ${i + 1}: got ${JSON.stringify(a[i] ?? '<end>')}, expected ${JSON.stringify(b[i] ?? '<end>')}`,
  );
}

/** The only image of a generation folder. */
/** The [start, end) ranges of `pid`'s mappings of `file`. */
export function mappingsOf(pid: number, file: string): [bigint, bigint][] {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')
    .filter((l) => l.endsWith(` ${file}`) || l.endsWith(` ${file} (deleted)`))
    .map((l) => {
      const [s, e] = l.split(' ')[0]!.split('-');
      return [BigInt(`0x${s}`), BigInt(`0x${e}`)];
    });
}

export function onlyImage(gen: string): string {
  const imgs = fs.readdirSync(gen).filter((f) => f.endsWith('.img'));
  assert.equal(imgs.length, 1, `${gen} holds ${imgs.join(', ')}`);
  return path.join(gen, imgs[0]!);
}

export interface ImageFacts {
  pid: number;
  uid: number;
  threads: number;
  /** The file offset of fd 1: where the restored program writes next. */
  stdoutOffset: number;
}

/** What the generation's image says about its process (read with the project's reader). */
export async function imageFacts(gen: string): Promise<ImageFacts> {
  const img = await readImage(onlyImage(gen));
  const fd1 = img.fds.find((f) => f.fd === 1);
  assert.ok(fd1, `${gen}: the image has no fd 1`);
  return { pid: img.process.pid, uid: img.process.uid, threads: img.threads.length, stdoutOffset: Number(fd1.offset) };
}

/**
 * Overwrites everything after `offset` in the output file with '#', keeping its length: a
 * restart that does not rewrite it all (from the offset its image saved) leaves marks.
 */
export function scribbleAfter(out: string, offset: number): void {
  const size = fs.statSync(out).size;
  if (size <= offset) return;
  const fd = fs.openSync(out, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(size - offset, '#'), 0, size - offset, offset);
  } finally {
    fs.closeSync(fd);
  }
}

