/*
 * What running under Stasis costs a program between checkpoints: a CPU-bound loop, a
 * syscall-heavy loop (open/close of a file, then write()), and starting a program with
 * fork + exec from inside the computation. programs/overhead.c times itself, so starting
 * it under `stasis launch` (namespaces, the coordinator) is not counted, only what the
 * agent and the namespaces cost the code itself.
 *
 * Native and Stasis runs alternate, and which goes first alternates from pair to pair, so
 * a slow minute of the shared machine lands on both sides. Within a run the figure is the
 * fastest of its slices (the one least disturbed by other work); across runs, the median
 * of each pair's own ratio (or difference, for exec).
 *
 * The loops are judged on the process's CPU time: on a machine whose two cores are shared
 * with other work, a slice's wall-clock time swings by 2× with what else runs, while its
 * CPU time stays within 1%. CPU time still counts everything Stasis does in the process;
 * what it would miss (the process blocked on something Stasis waits for) shows in the
 * wall-clock figures, which are kept and reported beside it. Exec is wall clock: its
 * cost under Stasis is mostly waiting (for the coordinator).
 */

import * as path from 'node:path';
import { StasisError } from '../errors';
import { runChecked } from './proc';
import { StasisDriver } from './stasis-driver';
import { Program } from './workloads';

/** The work in one slice, as programs/overhead.c defines it. */
export const CPU_STEPS = 20_000_000;
export const SYS_OPS = 20_000;

/** The fastest slice of each loop in one run, in nanoseconds. */
export interface LoopTimes {
  cpu: number;
  openclose: number;
  write: number;
}

/** One run: the fastest slices by the process's CPU time and by the wall clock. */
export interface RunTimes {
  onCpu: LoopTimes;
  wall: LoopTimes;
}

export interface OverheadResult {
  /** Slices per run (each slice: 20M hash steps, or 20000 open/close pairs and 20000 writes). */
  slices: number;
  pairs: { native: RunTimes; stasis: RunTimes }[];
}

export interface ExecResult {
  /** fork-exec-wait round trips per run. */
  count: number;
  /** Median round trip of each run, in seconds. */
  pairs: { nativeS: number; stasisS: number }[];
}

/** The "KIND NS NS ..." lines overhead.c prints, by kind. */
export function parseSlices(stdout: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of stdout.split('\n')) {
    const [kind, ...rest] = line.trim().split(/\s+/);
    if (!kind || rest.length === 0 || !rest.every((x) => /^\d+$/.test(x))) continue;
    out.set(kind, rest.map(Number));
  }
  return out;
}

function pick(slices: Map<string, number[]>, kind: string, what: string): number[] {
  const v = slices.get(kind);
  if (!v || v.length === 0) throw new StasisError('INTERNAL', `${what}: overhead printed no "${kind}" line`);
  return v;
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function pct(stasis: number, native: number): string {
  return `${((stasis / native - 1) * 100).toFixed(1)}%`;
}

export async function measureOverhead(driver: StasisDriver, program: Program, workDir: string, pairs: number): Promise<OverheadResult> {
  const slices = 10;
  const ckptDir = path.join(workDir, 'ckpt-overhead');
  const run = async (where: 'native' | 'stasis', args: string[]): Promise<Map<string, number[]>> => {
    const r = where === 'native'
      ? await runChecked(program.file, args, 300000)
      : await driver.launchToEnd(ckptDir, program.file, args, 300000);
    return parseSlices(r.stdout);
  };
  const once = async (where: 'native' | 'stasis'): Promise<RunTimes> => {
    const cpu = await run(where, ['cpu', String(slices)]);
    const sys = await run(where, ['sys', String(slices), workDir]);
    const fastest = (suffix: string): LoopTimes => ({
      cpu: Math.min(...pick(cpu, `cpu${suffix}`, where)),
      openclose: Math.min(...pick(sys, `openclose${suffix}`, where)),
      write: Math.min(...pick(sys, `write${suffix}`, where)),
    });
    return { onCpu: fastest('-oncpu'), wall: fastest('') };
  };
  const result: OverheadResult = { slices, pairs: [] };
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? (['native', 'stasis'] as const) : (['stasis', 'native'] as const);
    const got: Partial<Record<'native' | 'stasis', RunTimes>> = {};
    for (const where of order) got[where] = await once(where);
    const p = { native: got.native!, stasis: got.stasis! };
    result.pairs.push(p);
    const n = p.native.onCpu;
    const st = p.stasis.onCpu;
    log(`overhead: pair ${i + 1}/${pairs}: CPU time under Stasis: cpu loop ${pct(st.cpu, n.cpu)}, open/close ${pct(st.openclose, n.openclose)}, ` +
      `write ${pct(st.write, n.write)} (wall clock: cpu loop ${pct(p.stasis.wall.cpu, p.native.wall.cpu)})`);
  }
  return result;
}

export async function measureExec(driver: StasisDriver, program: Program, workDir: string, pairs: number, count: number): Promise<ExecResult> {
  const ckptDir = path.join(workDir, 'ckpt-exec');
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const once = async (where: 'native' | 'stasis'): Promise<number> => {
    const args = ['exec', String(count)];
    const r = where === 'native' ? await runChecked(program.file, args, 300000) : await driver.launchToEnd(ckptDir, program.file, args, 300000);
    return median(pick(parseSlices(r.stdout), 'exec', where)) / 1e9;
  };
  const result: ExecResult = { count, pairs: [] };
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? (['native', 'stasis'] as const) : (['stasis', 'native'] as const);
    const got: Partial<Record<'native' | 'stasis', number>> = {};
    for (const where of order) got[where] = await once(where);
    result.pairs.push({ nativeS: got.native!, stasisS: got.stasis! });
    log(`exec: pair ${i + 1}/${pairs}: fork+exec+wait ${(got.native! * 1000).toFixed(2)} ms natively, ${(got.stasis! * 1000).toFixed(2)} ms under Stasis`);
  }
  return result;
}
