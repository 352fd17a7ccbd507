/*
 * From the runs of one workload to the figures the report shows: medians, and the paired
 * checkpoint/dd ratio (the median of each run's own ratio, so a slow moment of the disk
 * that hits both halves of a pair cancels out).
 */

import { CriuResult } from './criu';
import { WorkloadResult } from './measure';

export interface Summary {
  name: string;
  label: string;
  runs: number;
  residentBytes: number | null;
  imageBytes: number;
  ckptWallS: number;
  ckptCoordS: number;
  ddS: number;
  ratio: number;
  restartColdS: number;
  restartWarmS: number;
  /** [min, max] over the runs of the four timings above that the chart shows. */
  ranges: { ckptWall: Range; dd: Range; restartCold: Range; restartWarm: Range };
  /** Lowest cache residency of the dd source, highest of a cold image, lowest of a warm one. */
  ddSourceCachedMin: number | null;
  coldCachedMax: number | null;
  warmCachedMin: number | null;
  criu: CriuSummary | null;
}

export type Range = [number, number];

export interface CriuSummary {
  dumpS: number;
  /** dump followed by syncfs of the image folder: durable like a Stasis checkpoint. */
  dumpSyncS: number;
  restoreS: number;
  imageBytes: number;
  ranges: { dumpSync: Range; restore: Range };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function range(xs: readonly number[]): Range {
  return xs.length ? [Math.min(...xs), Math.max(...xs)] : [NaN, NaN];
}

function extreme(xs: (number | null)[], pick: (a: number, b: number) => number): number | null {
  if (xs.length === 0 || xs.some((x) => x === null)) return null;
  return (xs as number[]).reduce((a, b) => pick(a, b));
}

export function summarize(r: WorkloadResult, criu: CriuResult | null): Summary {
  const cold = r.restarts.filter((x) => x.cache === 'cold');
  const warm = r.restarts.filter((x) => x.cache === 'warm');
  return {
    name: r.workload.name,
    label: r.workload.label,
    runs: r.checkpoints.length,
    residentBytes: r.residentBytes,
    imageBytes: r.imageBytesOnDisk,
    ckptWallS: median(r.checkpoints.map((c) => c.wallS)),
    ckptCoordS: median(r.checkpoints.map((c) => c.coordS)),
    ddS: median(r.checkpoints.map((c) => c.ddS)),
    ratio: median(r.checkpoints.map((c) => c.ratio)),
    restartColdS: median(cold.map((x) => x.seconds)),
    restartWarmS: median(warm.map((x) => x.seconds)),
    ranges: {
      ckptWall: range(r.checkpoints.map((c) => c.wallS)),
      dd: range(r.checkpoints.map((c) => c.ddS)),
      restartCold: range(cold.map((x) => x.seconds)),
      restartWarm: range(warm.map((x) => x.seconds)),
    },
    ddSourceCachedMin: extreme(r.checkpoints.map((c) => c.ddSourceCached), Math.min),
    coldCachedMax: extreme(cold.map((x) => x.cached), Math.max),
    warmCachedMin: extreme(warm.map((x) => x.cached), Math.min),
    criu: criu && criu.dumps.length && criu.restores.length
      ? {
        dumpS: median(criu.dumps.map((d) => d.dumpS)),
        dumpSyncS: median(criu.dumps.map((d) => d.dumpS + d.syncS)),
        restoreS: median(criu.restores),
        imageBytes: criu.imageBytes,
        ranges: { dumpSync: range(criu.dumps.map((d) => d.dumpS + d.syncS)), restore: range(criu.restores) },
      }
      : null,
  };
}
