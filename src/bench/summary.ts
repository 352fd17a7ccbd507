/*
 * From the runs to the figures the report shows: medians, the paired ratios (the median
 * of each run's own ratio, so a slow moment of the disk that hits both halves of a pair
 * cancels out), and the spread from the fastest to the slowest run.
 */

import { CriuResult } from './criu';
import { CheckpointSample, WorkloadResult } from './measure';
import { CPU_STEPS, ExecResult, OverheadResult, SYS_OPS } from './overhead';

export type Range = [number, number];

/** The medians of one kind of checkpoint (the full one, or the incremental one) of a row. */
export interface CheckpointSummary {
  wallS: number;
  coordS: number;
  /** Median over the runs where the heartbeats carried a gap; null when none did. */
  pauseAppS: number | null;
  /** Median longest gap during the whole checkpoint (the pause, or a wait for a core). */
  stallAppS: number | null;
  pauseCliS: number | null;
  imageBytes: number;
  ddBytes: number;
  ddFrom: 'images' | 'raw';
  ddS: number;
  ratio: number;
  coldReadS: number | null;
  ranges: { wall: Range; dd: Range; pauseApp: Range | null };
  ddSourceCachedMin: number | null;
  /** How many of the runs' checkpoints were not forked, and the reasons given, each once. */
  notForkedRuns: number;
  notForked: string[];
}

export interface Summary {
  name: string;
  label: string;
  /** Extra `stasis launch` options of this row. */
  options: string[];
  runs: number;
  residentBytes: number | null;
  anonBytes: number | null;
  setupS: number;
  full: CheckpointSummary;
  incremental: (CheckpointSummary & {
    /** Medians of each run's incremental / full ratio. */
    timeVsFull: number;
    sizeVsFull: number;
    dirtied: string;
  }) | null;
  restartColdS: number;
  restartWarmS: number;
  ranges: { restartCold: Range; restartWarm: Range };
  coldCachedMax: number | null;
  warmCachedMin: number | null;
  criu: CriuSummary | null;
}

export interface CriuSummary {
  dumpS: number;
  /** dump followed by syncfs of the image folder: durable like a Stasis checkpoint. */
  dumpSyncS: number;
  pauseS: number | null;
  restoreColdS: number;
  restoreWarmS: number;
  imageBytes: number;
  ranges: { dumpSync: Range; restoreWarm: Range; restoreCold: Range };
  incremental: { dumpSyncS: number; bytes: number; tracked: boolean } | null;
}

/** Overheads as medians over the pairs of (Stasis / native − 1). */
export interface Overheads {
  cpu: number;
  /** open/close and write together. */
  syscall: number;
  openclose: number;
  write: number;
}

export interface OverheadSummary {
  pairs: number;
  /** By the process's CPU time: the figures the targets are judged on. */
  onCpu: Overheads;
  /** By the wall clock, in the same runs. */
  wall: Overheads;
  /** Median fastest-slice CPU times per operation, in nanoseconds. */
  perOp: { cpuNative: number; cpuStasis: number; opencloseNative: number; opencloseStasis: number; writeNative: number; writeStasis: number };
  ranges: { cpu: Range; syscall: Range };
}

export interface ExecSummary {
  pairs: number;
  count: number;
  nativeS: number;
  stasisS: number;
  /** Median over the pairs of (Stasis − native). */
  extraS: number;
  range: Range;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function range(xs: readonly number[]): Range {
  return xs.length ? [Math.min(...xs), Math.max(...xs)] : [NaN, NaN];
}

function known(xs: (number | null)[]): number[] {
  return xs.filter((x): x is number => x !== null);
}

function medianOrNull(xs: (number | null)[]): number | null {
  const k = known(xs);
  return k.length ? median(k) : null;
}

function extreme(xs: (number | null)[], pick: (a: number, b: number) => number): number | null {
  if (xs.length === 0 || xs.some((x) => x === null)) return null;
  return (xs as number[]).reduce((a, b) => pick(a, b));
}

export function summarizeCheckpoints(cs: CheckpointSample[]): CheckpointSummary {
  const pauses = known(cs.map((c) => c.pauseAppS));
  return {
    wallS: median(cs.map((c) => c.wallS)),
    coordS: median(cs.map((c) => c.coordS)),
    pauseAppS: pauses.length ? median(pauses) : null,
    stallAppS: medianOrNull(cs.map((c) => c.stallAppS)),
    pauseCliS: medianOrNull(cs.map((c) => c.pauseCliS)),
    imageBytes: median(cs.map((c) => c.imageBytes)),
    ddBytes: median(cs.map((c) => c.ddBytes)),
    ddFrom: cs.some((c) => c.ddFrom === 'raw') ? 'raw' : 'images',
    ddS: median(cs.map((c) => c.ddS)),
    ratio: median(cs.map((c) => c.ratio)),
    coldReadS: medianOrNull(cs.map((c) => c.coldReadS)),
    ranges: { wall: range(cs.map((c) => c.wallS)), dd: range(cs.map((c) => c.ddS)), pauseApp: pauses.length ? range(pauses) : null },
    ddSourceCachedMin: extreme(cs.map((c) => c.ddSourceCached), Math.min),
    notForkedRuns: cs.filter((c) => c.notForked.length).length,
    notForked: [...new Set(cs.flatMap((c) => c.notForked))],
  };
}

export function summarize(r: WorkloadResult, criu: CriuResult | null): Summary {
  const cold = r.restarts.filter((x) => x.cache === 'cold');
  const warm = r.restarts.filter((x) => x.cache === 'warm');
  const withIncr = r.runs.filter((x) => x.incremental !== null);
  return {
    name: r.workload.name,
    label: r.label,
    options: r.options,
    runs: r.runs.length,
    residentBytes: median(known(r.runs.map((x) => x.residentBytes))) || null,
    anonBytes: median(known(r.runs.map((x) => x.anonBytes))) || null,
    setupS: median(r.runs.map((x) => x.setupS)),
    full: summarizeCheckpoints(r.runs.map((x) => x.full)),
    incremental: withIncr.length
      ? {
        ...summarizeCheckpoints(withIncr.map((x) => x.incremental!)),
        timeVsFull: median(withIncr.map((x) => x.incremental!.wallS / x.full.wallS)),
        sizeVsFull: median(withIncr.map((x) => x.incremental!.imageBytes / x.full.imageBytes)),
        dirtied: withIncr[withIncr.length - 1]!.incremental!.dirtied,
      }
      : null,
    restartColdS: median(cold.map((x) => x.seconds)),
    restartWarmS: median(warm.map((x) => x.seconds)),
    ranges: { restartCold: range(cold.map((x) => x.seconds)), restartWarm: range(warm.map((x) => x.seconds)) },
    coldCachedMax: extreme(cold.map((x) => x.cached), Math.max),
    warmCachedMin: extreme(warm.map((x) => x.cached), Math.min),
    criu: criu ? summarizeCriu(criu) : null,
  };
}

export function summarizeCriu(c: CriuResult): CriuSummary | null {
  if (!c.dumps.length || !c.restores.length) return null;
  const cold = c.restores.filter((x) => x.cache === 'cold').map((x) => x.seconds);
  const warm = c.restores.filter((x) => x.cache === 'warm').map((x) => x.seconds);
  const durable = c.dumps.map((d) => d.dumpS + d.syncS);
  return {
    dumpS: median(c.dumps.map((d) => d.dumpS)),
    dumpSyncS: median(durable),
    pauseS: medianOrNull(c.dumps.map((d) => d.pauseS)),
    restoreColdS: median(cold),
    restoreWarmS: median(warm),
    imageBytes: c.imageBytes,
    ranges: { dumpSync: range(durable), restoreWarm: range(warm), restoreCold: range(cold) },
    incremental: c.incremental.length
      ? {
        dumpSyncS: median(c.incremental.map((d) => d.dumpS + d.syncS)),
        bytes: median(c.incremental.map((d) => d.bytes)),
        tracked: c.incremental.every((d) => d.tracked),
      }
      : null,
  };
}

export function summarizeOverhead(o: OverheadResult): OverheadSummary {
  type Times = OverheadResult['pairs'][number]['native']['onCpu'];
  const sys = (t: Times): number => t.openclose + t.write;
  const rel = (clock: 'onCpu' | 'wall', f: (t: Times) => number): number[] => o.pairs.map((p) => f(p.stasis[clock]) / f(p.native[clock]) - 1);
  const overheads = (clock: 'onCpu' | 'wall'): Overheads => ({
    cpu: median(rel(clock, (t) => t.cpu)),
    syscall: median(rel(clock, sys)),
    openclose: median(rel(clock, (t) => t.openclose)),
    write: median(rel(clock, (t) => t.write)),
  });
  const per = (side: 'native' | 'stasis', f: (t: Times) => number, ops: number): number => median(o.pairs.map((p) => f(p[side].onCpu))) / ops;
  return {
    pairs: o.pairs.length,
    onCpu: overheads('onCpu'),
    wall: overheads('wall'),
    perOp: {
      cpuNative: per('native', (t) => t.cpu, CPU_STEPS),
      cpuStasis: per('stasis', (t) => t.cpu, CPU_STEPS),
      opencloseNative: per('native', (t) => t.openclose, SYS_OPS),
      opencloseStasis: per('stasis', (t) => t.openclose, SYS_OPS),
      writeNative: per('native', (t) => t.write, SYS_OPS),
      writeStasis: per('stasis', (t) => t.write, SYS_OPS),
    },
    ranges: { cpu: range(rel('onCpu', (t) => t.cpu)), syscall: range(rel('onCpu', sys)) },
  };
}

export function summarizeExec(e: ExecResult): ExecSummary {
  const extra = e.pairs.map((p) => p.stasisS - p.nativeS);
  return {
    pairs: e.pairs.length,
    count: e.count,
    nativeS: median(e.pairs.map((p) => p.nativeS)),
    stasisS: median(e.pairs.map((p) => p.stasisS)),
    extraS: median(extra),
    range: range(extra),
  };
}

/** "image 2.90× smaller than the memory", or "about as large" when it is not compressed. */
export function shrinkNote(memory: number, image: number): string {
  const f = memory / image;
  return f >= 1.05 ? `image ${f.toFixed(2)}× smaller than the memory` : 'image about as large as the memory';
}
