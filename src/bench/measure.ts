/*
 * The measurements of one checkpoint workload under Stasis (one row of the report: the
 * workload with the default options, or with the extra `stasis launch` options of a variant).
 *
 * Runs: each of the `reps` runs launches the program afresh and takes its first (full)
 * checkpoint, so a build with incremental checkpoints cannot turn the 2nd and 3rd runs into
 * small incremental ones. An incremental workload then has the program dirty some of its
 * pages (SIGUSR1) and takes a second checkpoint, whose time and bytes are the incremental
 * figures. Per checkpoint:
 *  - pause, as the application sees it: the longest gap its heartbeat loop reports in the
 *    beats whose stretch of time (from the beat before to their own, both stamped with
 *    CLOCK_MONOTONIC) overlaps the pause window the coordinator reports (SUSPEND sent to the
 *    last RESUMED, on the same clock): the beat during which the threads were stopped, and
 *    any other that touches that window; and the pause `stasis checkpoint` reports;
 *  - stall: the longest gap in all the beats that arrive from just before `stasis
 *    checkpoint` starts until the second beat after it returns: the pause, or a longer wait
 *    for a core while the image writer competes with the program for the machine's two;
 *  - time until complete: `stasis checkpoint` from spawn to exit (the generation is then
 *    committed, every image fsynced);
 *  - image: the bytes of the generation's folder on disk;
 *  - raw storage, paired: right after, dd with fsync writes as many bytes into the same
 *    folder: a copy of the images when they hold the program's memory as is, or, when they
 *    are smaller than 90% of its anonymous memory (compressed), that many bytes of
 *    incompressible data, since the raw limit is about writing the memory out;
 *  - a cold read of the images (their pages dropped from the page cache, then dd to
 *    /dev/null): what a restart from disk must at least read.
 *
 * Both halves of a pair must find the machine in the same state, and on a VM that is not
 * only the disk. A write into the page cache is fast when the kernel reuses pages it
 * freed moments ago, and several times slower when it takes pages it has not touched for a
 * while: most likely a ballooned VM (free page reporting) has handed those back to the
 * host, and each first touch is then a fault in the host. Measured on the 2-core Firecracker VM this was
 * written on: 1 GiB into the page cache in 2.7 s on such pages, 0.35-0.45 s right after a
 * 1 GiB file was deleted. So before each half the bench deletes a cached, fsynced file of
 * about the image's size (a scratch file before the checkpoint, the previous dd copy
 * before dd), and both run on recycled memory, as on a machine without a balloon.
 *
 * Restarts: the last run's process is killed, then its latest generation is restarted
 * `reps` times cold (the image's pages dropped from the page cache first) and `reps` times
 * warm (the image read whole first, as a restart that maps it in place reads only what the
 * program touches), alternating. Restart time is from spawning `stasis restart`
 * to the first heartbeat line the restored process prints.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveGeneration } from '../ckpt-dir/resolve';
import { StasisError } from '../errors';
import { Features } from './features';
import { anonBytes, cachedFraction, coldRead, ddCopies, dropFromCache, loadIntoCache, removeAll, residentBytes, writeScratch } from './machine';
import { Line, LiveProcess, runChecked } from './proc';
import { CheckpointResult, StasisDriver } from './stasis-driver';
import { prepareRawfile, Program, Workload } from './workloads';

export interface CheckpointSample {
  /** `stasis checkpoint`, spawn to exit. */
  wallS: number;
  /** The coordinator's own figure (suspend to commit). */
  coordS: number;
  /** Longest heartbeat gap of the beats that overlap the pause window; null if none carried one. */
  pauseAppS: number | null;
  /** Longest heartbeat gap from the start of `stasis checkpoint` until after it returned. */
  stallAppS: number | null;
  /** What `stasis checkpoint` reported as the pause, if anything. */
  pauseCliS: number | null;
  /** Why `stasis checkpoint` says it did not fork, if it says so. */
  notForked: string[];
  /** The generation folder's bytes on disk. */
  imageBytes: number;
  /** Bytes the paired dd wrote, and from what. */
  ddBytes: number;
  ddFrom: 'images' | 'raw';
  ddS: number;
  /** wallS / ddS of this pair. */
  ratio: number;
  /** How much of dd's source was in the page cache when dd read it. */
  ddSourceCached: number | null;
  /** Reading the images with the page cache dropped; null where not measured. */
  coldReadS: number | null;
}

export interface RunSample {
  /** From spawning `stasis launch` to the "ready" line. */
  setupS: number;
  residentBytes: number | null;
  anonBytes: number | null;
  full: CheckpointSample;
  /** The second checkpoint of an incremental workload, after the program dirtied pages. */
  incremental: (CheckpointSample & { dirtied: string }) | null;
}

export interface RestartSample {
  cache: 'cold' | 'warm';
  seconds: number;
  /** Page-cache residency of the image just before the restart. */
  cached: number | null;
}

export interface WorkloadResult {
  workload: Workload;
  /** The extra `stasis launch` options of this row ([] for the default run). */
  options: string[];
  /** The workload's label, with the options when there are any. */
  label: string;
  runs: RunSample[];
  restarts: RestartSample[];
  heartbeatsChecked: number;
}

const GIB = 1024 ** 3;
const BEAT = /^beat \d+ /;
const BEAT_OK = /^beat \d+ ok\b/;

export interface Beat {
  /** performance.now() when the line arrived. */
  at: number;
  /** The longest loop gap the line reports, in seconds. */
  gapS: number | null;
  /** When the program printed the line, CLOCK_MONOTONIC µs ("... at_us T"), or null. */
  atUs: number | null;
}

/** A heartbeat line's gap figure ("... gap_us 1234"), in seconds, or null. */
export function beatGap(text: string): number | null {
  const m = /\bgap_us (\d+)\b/.exec(text);
  return m ? Number(m[1]) / 1e6 : null;
}

/** A heartbeat line's own timestamp ("... at_us 1234"), CLOCK_MONOTONIC µs, or null. */
export function beatTime(text: string): number | null {
  const m = /\bat_us (\d+)\b/.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The longest gap of the beats whose stretch (after the beat before, up to their own
 * timestamp) overlaps `window` (CLOCK_MONOTONIC µs); null if no such beat has a gap. The
 * beat during which the program was stopped is one of them (it was printed after the
 * pause began, the one before it before), so this is at least the pause the program saw.
 */
export function gapAcross(beats: readonly Beat[], window: [number, number]): number | null {
  let max: number | null = null;
  for (let i = 1; i < beats.length; i++) {
    const prev = beats[i - 1]!.atUs, b = beats[i]!;
    if (prev === null || b.atUs === null || b.gapS === null) continue;
    if (b.atUs > window[0] && prev < window[1] && (max === null || b.gapS > max)) max = b.gapS;
  }
  return max;
}

/** The longest gap among the beats that arrived after `from` and up to `to`, or null. */
export function longestGap(beats: readonly Beat[], from: number, to: number): number | null {
  let max: number | null = null;
  for (const b of beats) {
    if (b.at > from && b.at <= to && b.gapS !== null && (max === null || b.gapS > max)) max = b.gapS;
  }
  return max;
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Watches heartbeats: counts them, keeps the recent ones, remembers the first that is not "ok". */
class Heartbeats {
  count = 0;
  bad: string | null = null;
  recent: Beat[] = [];

  readonly onLine = (l: Line): void => {
    if (!BEAT.test(l.text)) return;
    this.count++;
    if (!BEAT_OK.test(l.text) && this.bad === null) this.bad = l.text;
    this.recent.push({ at: l.at, gapS: beatGap(l.text), atUs: beatTime(l.text) });
    if (this.recent.length > 4000) this.recent.splice(0, 2000);
  };

  assertOk(where: string): void {
    if (this.bad !== null) throw new StasisError('INTERNAL', `${where}: the workload reports damaged state: ${JSON.stringify(this.bad)}`);
  }
}

interface Context {
  driver: StasisDriver;
  w: Workload;
  features: Features;
  ckptDir: string;
  ioTimeout: number;
  beats: Heartbeats;
  /** Deleted right before each dd (see the comment at the top). */
  lastCopies: string[];
  /** The incompressible file dd copies when the images are compressed. */
  raw: { file: string; bytes: number } | null;
  rawfile: Program;
}

/** The row label: "4 GiB random" or "4 GiB random, --no-compress". */
export function rowLabel(w: Workload, options: string[]): string {
  return options.length ? `${w.label}, ${options.join(' ')}` : w.label;
}

export async function measureWorkload(
  driver: StasisDriver, w: Workload, options: string[], program: Program, features: Features, workDir: string, reps: number,
): Promise<WorkloadResult> {
  const tag = [w.name, ...options.map((o) => o.replace(/^-+/, ''))].join('-');
  const gib = Math.max(1, w.touchedBytes / GIB);
  const beats = new Heartbeats();
  const result: WorkloadResult = { workload: w, options, label: rowLabel(w, options), runs: [], restarts: [], heartbeatsChecked: 0 };
  const launchOptions = [...options, ...(w.incremental && features.launchOptions.has('--incremental') ? ['--incremental'] : [])];
  let ckptDir = '';
  const ctx: Context = {
    driver, w, features, ckptDir, ioTimeout: 60000 + gib * 60000, beats, lastCopies: [], raw: null,
    rawfile: await prepareRawfile(workDir),
  };
  try {
    for (let i = 1; i <= reps; i++) {
      if (ckptDir) fs.rmSync(ckptDir, { recursive: true, force: true });
      ckptDir = path.join(workDir, `ckpt-${tag}-${i}`);
      fs.mkdirSync(ckptDir, { recursive: true });
      ctx.ckptDir = ckptDir;
      log(`${tag}: run ${i}/${reps}: launching ${path.basename(program.file)} ${[...program.prefix.map((p) => path.basename(p)), ...w.args].join(' ')}`);
      const app = driver.launch(tag, ckptDir, launchOptions, program.file, [...program.prefix, ...w.args], beats.onLine);
      try {
        result.runs.push(await oneRun(ctx, app, i, reps));
        beats.assertOk(`${tag} after checkpointing`);
        await driver.killAndWait(app, 30000);
      } finally {
        app.kill();
        removeAll(ctx.lastCopies);
        ctx.lastCopies = [];
      }
    }
    if (ctx.raw) removeAll([ctx.raw.file]);

    const images = (await resolveGeneration(ckptDir)).images.map((i) => i.path);
    for (let i = 1; i <= reps; i++) {
      for (const cache of ['cold', 'warm'] as const) {
        if (cache === 'cold') await dropFromCache(images);
        else await loadIntoCache(images, ctx.ioTimeout);
        const cached = await cachedFraction(images);
        const seconds = await restartOnce(driver, tag, ckptDir, beats, ctx.ioTimeout);
        result.restarts.push({ cache, seconds, cached });
        log(`${tag}: restart ${i}/${reps} (${cache}, ${fmtCached(cached)} of the image cached): ${seconds.toFixed(3)} s to the first heartbeat`);
      }
    }
    result.heartbeatsChecked = beats.count;
    return result;
  } finally {
    if (ctx.raw) removeAll([ctx.raw.file]);
    if (ckptDir) fs.rmSync(ckptDir, { recursive: true, force: true });
  }
}

async function oneRun(ctx: Context, app: LiveProcess, i: number, reps: number): Promise<RunSample> {
  const { driver, w } = ctx;
  const ready = await app.waitForLine(/^ready\b/, w.readyTimeoutMs, '"ready" line');
  const setupS = (ready.at - app.startedAt) / 1000;
  await app.waitForLine(BEAT, 10000, 'first heartbeat');
  const pid = await driver.hostPid();
  const run: RunSample = {
    setupS,
    residentBytes: pid === null ? null : residentBytes(pid),
    anonBytes: pid === null ? null : anonBytes(pid),
    full: null as unknown as CheckpointSample,
    incremental: null,
  };
  const scratchSize = run.residentBytes ?? w.touchedBytes;
  const full = await timedCheckpoint(ctx, app, scratchSize, []);
  run.full = await pairWithDd(ctx, full, run.anonBytes, true);
  log(`${ctx.ckptDir.split('/').pop()}: run ${i}/${reps}: checkpoint ${describe(run.full)}`);

  if (w.incremental) {
    if (pid === null) throw new StasisError('INTERNAL', `${w.name}: no host pid to signal for dirtying pages`);
    const dirtied = app.waitForLine(/^dirtied\b/, 60000, '"dirtied" line');
    process.kill(pid, 'SIGUSR1');
    const line = await dirtied;
    const opts = ctx.features.checkpointOptions.has('--incremental') ? ['--incremental'] : [];
    const incr = await timedCheckpoint(ctx, app, scratchSize, opts);
    run.incremental = { ...(await pairWithDd(ctx, incr, null, false)), dirtied: line.text.replace(/^dirtied /, '').replace(/ in [\d.]+ ms$/, '') };
    log(`${ctx.ckptDir.split('/').pop()}: run ${i}/${reps}: after dirtying ${run.incremental.dirtied}: checkpoint ${describe(run.incremental)}`);
  }
  return run;
}

interface Timed {
  c: CheckpointResult;
  pauseAppS: number | null;
  stallAppS: number | null;
}

/**
 * One checkpoint on recycled memory (a scratch file of about `scratchSize` deleted just
 * before), with the application's own view of the pause.
 */
async function timedCheckpoint(ctx: Context, app: LiveProcess, scratchSize: number, options: string[]): Promise<Timed> {
  const scratch = await writeScratch(path.join(ctx.ckptDir, 'scratch'), scratchSize, ctx.ioTimeout);
  removeAll([scratch]);
  // A beat printed after the scratch file is gone: the beats from here on carry gaps of the
  // checkpoint's window only, not of the scratch write competing for the two cores.
  const from = (await app.waitForLine(BEAT, 10000, 'heartbeat before the checkpoint')).at;
  const c = await ctx.driver.checkpoint(ctx.ioTimeout, options);
  await app.waitForLine(BEAT, 10000, 'heartbeat after the checkpoint');
  const to = (await app.waitForLine(BEAT, 10000, 'second heartbeat after the checkpoint')).at;
  const stallAppS = longestGap(ctx.beats.recent, from, to);
  // Without a pause window (an older coordinator) or timestamped beats, the stall is all
  // that is known of the pause.
  const across = c.pauseWindowUs ? gapAcross(ctx.beats.recent, c.pauseWindowUs) : null;
  return { c, pauseAppS: across ?? stallAppS, stallAppS };
}

/** Pairs a checkpoint with dd of as many bytes into the same folder, then reads it cold. */
async function pairWithDd(ctx: Context, t: Timed, anon: number | null, full: boolean): Promise<CheckpointSample> {
  const images = t.c.images.filter((f) => path.dirname(f) === t.c.generation);
  let sources = images.length ? images : t.c.images;
  let ddFrom: 'images' | 'raw' = 'images';
  if (full && anon !== null && t.c.folderBytes < 0.9 * anon) {
    ddFrom = 'raw';
    const bytes = Math.ceil(anon / 4096) * 4096;
    if (!ctx.raw || Math.abs(ctx.raw.bytes - bytes) > 0.01 * bytes) {
      if (ctx.raw) removeAll([ctx.raw.file]);
      const file = path.join(path.dirname(ctx.ckptDir), `raw-${ctx.w.name}`);
      await runChecked(ctx.rawfile.file, [file, String(bytes)], ctx.ioTimeout);
      ctx.raw = { file, bytes };
    }
    sources = [ctx.raw.file];
  }
  if (ctx.lastCopies.length === 0) {
    // No earlier copy to delete in this run: free as much memory with a scratch file.
    const size = sources.reduce((n, f) => n + fs.statSync(f).size, 0);
    removeAll([await writeScratch(path.join(ctx.ckptDir, 'scratch'), size, ctx.ioTimeout)]);
  }
  removeAll(ctx.lastCopies);
  const ddSourceCached = await cachedFraction(sources);
  const dd = await ddCopies(sources, ctx.ckptDir, 'dd-copy', ctx.ioTimeout);
  ctx.lastCopies = dd.outputs;
  const coldReadS = full ? await coldRead(images, ctx.ioTimeout) : null;
  return {
    wallS: t.c.wallS,
    coordS: t.c.coordS,
    pauseAppS: t.pauseAppS,
    stallAppS: t.stallAppS,
    pauseCliS: t.c.reportedPauseS,
    notForked: t.c.notForked,
    imageBytes: t.c.folderBytes,
    ddBytes: dd.bytes,
    ddFrom,
    ddS: dd.seconds,
    ratio: t.c.wallS / dd.seconds,
    ddSourceCached,
    coldReadS,
  };
}

function describe(s: CheckpointSample): string {
  const pause = s.pauseAppS === null ? 'unknown' : `${(s.pauseAppS * 1000).toFixed(1)} ms`;
  const cli = (s.pauseCliS === null ? '' : ` (stasis says ${(s.pauseCliS * 1000).toFixed(1)} ms)`) +
    (s.notForked.length ? ` not forked: ${s.notForked.join('; ')}` : '');
  return `${s.wallS.toFixed(3)} s (coordinator ${s.coordS.toFixed(3)} s), pause ${pause}${cli}, ${fmtMiB(s.imageBytes)} on disk; ` +
    `dd of ${fmtMiB(s.ddBytes)} (${s.ddFrom}) ${s.ddS.toFixed(3)} s, ratio ${s.ratio.toFixed(2)}` +
    (s.coldReadS === null ? '' : `; cold read ${s.coldReadS.toFixed(3)} s`);
}

async function restartOnce(driver: StasisDriver, tag: string, ckptDir: string, beats: Heartbeats, timeoutMs: number): Promise<number> {
  const proc: LiveProcess = driver.restart(`${tag} (restarted)`, ckptDir, beats.onLine);
  try {
    const first = await proc.waitForLine(BEAT, timeoutMs, 'first heartbeat after restart');
    const seconds = (first.at - proc.startedAt) / 1000;
    // A few more beats, each checking its memory, before it is killed.
    for (let k = 0; k < 3; k++) await proc.waitForLine(BEAT, 10000, 'heartbeat after restart');
    beats.assertOk(`${tag} after restart`);
    await driver.killAndWait(proc, 30000);
    return seconds;
  } finally {
    proc.kill();
  }
}

function fmtMiB(n: number): string {
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function fmtCached(f: number | null): string {
  return f === null ? 'unknown' : `${Math.round(f * 100)}%`;
}
