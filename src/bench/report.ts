/*
 * The bench's outputs: the tables printed to stdout and docs/benchmarks.md. The markdown is
 * generated whole on every run; what it says about method lives here, next to the code
 * that makes the numbers, so the two cannot drift apart.
 */

import { MachineInfo } from './machine';
import { WorkloadResult } from './measure';
import { DMTCP_WRAPPERS, peerFor, PEERS, PHYSICAL_LIMITS } from './peers';
import { ExecSummary, OverheadSummary, shrinkNote, Summary } from './summary';
import { TargetResult } from './targets';

export interface RunInfo {
  machine: MachineInfo;
  reps: number;
  /** Workloads left out by --only, or skipped for lack of memory, with why. */
  skipped: string[];
  /** 1-minute load averages sampled through the run, as "0.12 before 1gib". */
  loads: string[];
  criuLine: string;
  /** What the build under test has, one sentence each (features.ts). */
  features: string[];
  /** "yes", "no" or "unknown": whether this kernel tracks soft-dirty pages. */
  softDirty: string;
  workDir: string;
  wallS: number;
}

export interface Report {
  rows: Summary[];
  results: WorkloadResult[];
  overhead: OverheadSummary | null;
  exec: ExecSummary | null;
  targets: TargetResult[];
}

function gib(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return 'n/a';
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function sec(s: number | null): string {
  return s !== null && Number.isFinite(s) ? s.toFixed(s >= 10 ? 1 : s >= 1 ? 2 : 3) : 'n/a';
}

function msec(s: number | null): string {
  return s !== null && Number.isFinite(s) ? (s * 1000).toFixed(s >= 1 ? 0 : 1) : 'n/a';
}

function pct(f: number | null): string {
  return f === null ? 'unknown' : `${Math.round(f * 100)}%`;
}

function signedPct(f: number): string {
  return Number.isFinite(f) ? `${f >= 0 ? '+' : '−'}${Math.abs(f * 100).toFixed(1)}%` : 'n/a';
}

function rate(bytes: number, s: number): string {
  return s > 0 && bytes > 0 ? `${(bytes / s / 1e9).toFixed(2)} GB/s` : 'n/a';
}

export function ratio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(r >= 10 ? 1 : 2)}×` : 'n/a';
}

function mdTable(head: string[], rows: string[][], align?: string[]): string[] {
  const sep = head.map((_, i) => align?.[i] ?? '---');
  return [`| ${head.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

const MAIN_HEAD = ['Workload', 'Resident', 'Image', 'Pause, app (ms)', 'Pause, reported (ms)', 'Stall, app (ms)', 'Checkpoint (s)', 'dd same bytes (s)', 'Checkpoint / dd', 'Cold read (s)', 'Restart, cold (s)', 'Restart, warm (s)'];

function mainRow(s: Summary): string[] {
  const f = s.full;
  return [s.label, gib(s.residentBytes), gib(f.imageBytes), msec(f.pauseAppS), msec(f.pauseCliS), msec(f.stallAppS), sec(f.wallS), sec(f.ddS), ratio(f.ratio), sec(f.coldReadS), sec(s.restartColdS), sec(s.restartWarmS)];
}

const VERDICT: Record<string, string> = { pass: '**pass**', fail: '**FAIL**', 'not measured': 'not measured' };

function textAligned(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)];
}

/** The medians and the targets as plain text, for stdout. */
export function textTable(r: Report): string {
  const out = textAligned(MAIN_HEAD, r.rows.map(mainRow));
  for (const s of r.rows) {
    if (s.incremental) out.push(`${s.label}: incremental checkpoint ${sec(s.incremental.wallS)} s, ${gib(s.incremental.imageBytes)} on disk (${pct(s.incremental.timeVsFull)} of the full one's time, ${pct(s.incremental.sizeVsFull)} of its bytes)`);
    if (s.criu) out.push(`CRIU ${s.label}: dump + sync ${sec(s.criu.dumpSyncS)} s, pause ${msec(s.criu.pauseS)} ms, restore ${sec(s.criu.restoreWarmS)} s warm / ${sec(s.criu.restoreColdS)} s cold, images ${gib(s.criu.imageBytes)}`);
  }
  if (r.overhead) out.push(`Runtime overhead under Stasis, in CPU time: CPU-bound ${signedPct(r.overhead.onCpu.cpu)}, syscall-heavy ${signedPct(r.overhead.onCpu.syscall)}`);
  if (r.exec) out.push(`Exec start-up: ${msec(r.exec.stasisS)} ms under Stasis vs ${msec(r.exec.nativeS)} ms natively`);
  out.push('', 'Targets:');
  for (const t of r.targets) out.push(`  [${t.verdict === 'pass' ? 'pass' : t.verdict === 'fail' ? 'FAIL' : ' -- '}] ${t.target}: ${t.measured}`);
  return out.join('\n') + '\n';
}

function targetsSection(r: Report): string[] {
  const n = (v: string): number => r.targets.filter((t) => t.verdict === v).length;
  return [
    '## Targets (issue 4)',
    '',
    'Judged on this run\'s medians, on this machine. Only the DMTCP row uses figures not measured',
    'here (the issue\'s, quoted below), as the bench does not run DMTCP.',
    '',
    ...mdTable(['Target', 'Measured', 'Verdict'], r.targets.map((t) => [t.target, t.measured, VERDICT[t.verdict]!])),
    '',
    `**${n('pass')} of ${r.targets.length} targets met**, ${n('fail')} missed, ${n('not measured')} not measured.`,
  ];
}

function featuresSection(r: Report, run: RunInfo): string[] {
  const incr = r.rows.find((s) => s.incremental);
  const incrLine = !incr
    ? 'incremental checkpoints: not measured in this run (the incr4gib workload did not run)'
    : incr.incremental!.sizeVsFull < 0.5
      ? `incremental checkpoints: built; after the program rewrote ${incr.incremental!.dirtied}, the second checkpoint added ${pct(incr.incremental!.sizeVsFull)} of the full one's bytes`
      : `incremental checkpoints: not built, or not working here; after the program rewrote ${incr.incremental!.dirtied}, the second checkpoint still wrote ${pct(incr.incremental!.sizeVsFull)} of the full one's bytes`;
  const sd = run.softDirty === 'yes'
    ? 'this kernel tracks soft-dirty pages'
    : run.softDirty === 'no'
      ? 'this kernel has no soft-dirty bits (`CONFIG_MEM_SOFT_DIRTY` is off: writing 4 to clear_refs and touching a page leaves pagemap bit 55 clear), so incremental checkpoints cannot be built on them here; CRIU\'s `--track-mem` fails for the same reason'
      : 'whether this kernel tracks soft-dirty pages could not be probed';
  return ['## What this build and this kernel have', '', ...[...run.features, incrLine, sd].map((l) => `- ${l}.`)];
}

function resultsNotes(r: Report): string[] {
  const out: string[] = [];
  for (const s of r.rows) {
    const f = s.full;
    if (f.notForkedRuns) out.push(`- ${s.label}: ${f.notForkedRuns} of ${s.runs} checkpoints were not forked: ${f.notForked.join('; ')}.`);
    if (s.anonBytes && s.anonBytes >= 1024 ** 3) {
      out.push(`- ${s.label}: checkpoint ${rate(s.anonBytes, f.wallS)} of memory, dd ${rate(f.ddBytes, f.ddS)}, cold read ${rate(f.imageBytes, f.coldReadS ?? NaN)}, ` +
        `restart ${rate(s.anonBytes, s.restartWarmS)} warm and ${rate(s.anonBytes, s.restartColdS)} cold; ${shrinkNote(s.anonBytes, f.imageBytes)}; ` +
        `launching and filling took ${sec(s.setupS)} s.`);
    }
    if (s.runs >= 2 && s.anonBytes && s.anonBytes >= 1024 ** 3) {
      const spread = (x: [number, number]): string => `${sec(x[0])}–${sec(x[1])} s (${(x[1] / x[0]).toFixed(1)}× apart)`;
      out.push(`- ${s.label}, spread over the runs: checkpoint ${spread(f.ranges.wall)}, dd ${spread(f.ranges.dd)}.`);
    }
  }
  return out;
}

function incrementalSection(r: Report): string[] {
  const rows = r.rows.filter((s) => s.incremental);
  if (!rows.length) return [];
  const out = ['### Incremental checkpoint', ''];
  for (const s of rows) {
    const f = s.full;
    const i = s.incremental!;
    out.push(`${s.label}: a full checkpoint, then the program rewrites ${i.dirtied}, spread evenly over its memory, and is checkpointed again.`, '');
    out.push(...mdTable(['', 'Full', 'After dirtying 5%', 'Ratio'], [
      ['Checkpoint (s)', sec(f.wallS), sec(i.wallS), pct(i.timeVsFull)],
      ['Coordinator (s)', sec(f.coordS), sec(i.coordS), pct(i.coordS / f.coordS)],
      ['Pause, app (ms)', msec(f.pauseAppS), msec(i.pauseAppS), i.pauseAppS !== null && f.pauseAppS !== null ? pct(i.pauseAppS / f.pauseAppS) : 'n/a'],
      ['Added on disk', gib(f.imageBytes), gib(i.imageBytes), pct(i.sizeVsFull)],
      ['dd of those bytes (s)', sec(f.ddS), sec(i.ddS), pct(i.ddS / f.ddS)],
    ], ['---', '---:', '---:', '---:']));
    if (s.criu?.incremental) {
      const c = s.criu.incremental;
      out.push('', `CRIU's second dump: ${sec(c.dumpSyncS)} s with sync, ${gib(c.bytes)}` +
        (c.tracked ? ' (with --track-mem and --prev-images-dir).' : ' (a full dump: CRIU cannot track dirty memory on this kernel).'));
    }
    out.push('');
  }
  return out;
}

function overheadSection(r: Report): string[] {
  const o = r.overhead;
  const e = r.exec;
  if (!o && !e) return [];
  const rows: string[][] = [];
  const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`;
  if (o) {
    const c = o.onCpu;
    const w = o.wall;
    rows.push(['CPU-bound loop, per 1M hash steps', us(o.perOp.cpuNative * 1e6), us(o.perOp.cpuStasis * 1e6), signedPct(c.cpu), signedPct(w.cpu), '']);
    rows.push(['open + close of a file', us(o.perOp.opencloseNative), us(o.perOp.opencloseStasis), signedPct(c.openclose), signedPct(w.openclose), '8× slower']);
    rows.push(['write() of 64 bytes to a file', us(o.perOp.writeNative), us(o.perOp.writeStasis), signedPct(c.write), signedPct(w.write), '1.2× slower']);
    rows.push(['syscall-heavy: both loops together', '', '', signedPct(c.syscall), signedPct(w.syscall), '']);
  }
  if (e) {
    const extra = `${e.extraS >= 0 ? '+' : '−'}${msec(Math.abs(e.extraS))} ms`;
    rows.push(['fork + exec + exit of a small program (wall clock)', `${msec(e.nativeS)} ms`, `${msec(e.stasisS)} ms`, extra, extra, '+22 ms (24 ms vs 2 ms)']);
  }
  const out = ['### Running under Stasis', '', ...mdTable(['Loop', 'Native (CPU time)', 'Under Stasis (CPU time)', 'Overhead, CPU time', 'Overhead, wall clock', 'DMTCP (quoted)'], rows, ['---', '---:', '---:', '---:', '---:', '---:'])];
  if (o) {
    out.push('', `Overhead: median over ${o.pairs} pairs of runs of each pair's own ratio (in CPU time, CPU-bound ranged ${signedPct(o.ranges.cpu[0])} to ${signedPct(o.ranges.cpu[1])}, ` +
      `syscall-heavy ${signedPct(o.ranges.syscall[0])} to ${signedPct(o.ranges.syscall[1])}); a negative figure is noise around zero. The targets are judged on CPU time, ` +
      'which other work on the machine barely moves; the wall-clock column, from the same runs, is what this shared machine gave. ' +
      'A process with a second thread (such as a checkpoint thread waiting in the agent) makes the kernel take its slower, ' +
      'reference-counted path to look up each fd: an idle extra thread alone costs a plain program about +11% CPU time per ' +
      '64-byte write() on this machine (measured while writing the bench), which is what the write() row shows.');
  }
  if (e) out.push('', `Exec: median over ${e.pairs} pairs of runs of each run's median over ${e.count} round trips (the difference ranged ${msec(e.range[0])} to ${msec(e.range[1])} ms).`);
  return [...out, ''];
}

function criuSection(r: Report, run: RunInfo): string[] {
  const out = ['### CRIU, in this run', '', run.criuLine];
  const measured = r.rows.filter((s) => s.criu);
  if (measured.length === 0) return out;
  out.push('', ...mdTable(
    ['Workload', 'CRIU pause (ms)', 'Stasis pause (ms)', 'CRIU dump + sync (s)', 'Stasis checkpoint (s)', 'Stasis faster by', 'CRIU restore, warm (s)', 'Stasis restart, warm (s)', 'Stasis faster by', 'CRIU images'],
    measured.map((s) => {
      const c = s.criu!;
      return [s.label, msec(c.pauseS), msec(s.full.pauseAppS), sec(c.dumpSyncS), sec(s.full.wallS), ratio(c.dumpSyncS / s.full.wallS),
        sec(c.restoreWarmS), sec(s.restartWarmS), ratio(c.restoreWarmS / s.restartWarmS), gib(c.imageBytes)];
    }),
    ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
  ));
  out.push('', `CRIU restores from disk (image not cached): ${measured.map((s) => `${s.label} ${sec(s.criu!.restoreColdS)} s (Stasis ${sec(s.restartColdS)} s)`).join('; ')}.`);
  return out;
}

function peersSection(r: Report): string[] {
  const rows = r.rows.filter((s) => s.options.length === 0 && peerFor(s.name));
  const out = ['### Against the peers\' quoted figures', '',
    'The issue\'s figures for DMTCP and CRIU 4.2 on this machine class (quoted in full below), next to this',
    'run\'s Stasis medians; each cell *checkpoint / restart* in seconds. The peers\' images went to the page',
    'cache without fsync; a Stasis checkpoint returns once its images are on disk. Stasis restarts are warm.', ''];
  if (!rows.length) return [...out, 'No workload with quoted figures ran.'];
  out.push(...mdTable(
    ['Workload', 'Stasis (this run)', 'DMTCP gzip', 'DMTCP --no-gzip', 'CRIU 4.2', 'Stasis faster than DMTCP --no-gzip', 'Stasis faster than CRIU 4.2'],
    rows.map((s) => {
      const p = peerFor(s.name)!;
      const pair = (c: number, rs: number): string => `${sec(c)} / ${sec(rs)}`;
      return [s.label, pair(s.full.wallS, s.restartWarmS), pair(p.dmtcpGzip.ckptS, p.dmtcpGzip.restartS), pair(p.dmtcpNoGzip.ckptS, p.dmtcpNoGzip.restartS),
        pair(p.criu42.ckptS, p.criu42.restartS),
        `${ratio(p.dmtcpNoGzip.ckptS / s.full.wallS)} / ${ratio(p.dmtcpNoGzip.restartS / s.restartWarmS)}`,
        `${ratio(p.criu42.ckptS / s.full.wallS)} / ${ratio(p.criu42.restartS / s.restartWarmS)}`];
    }),
    ['---', '---:', '---:', '---:', '---:', '---:', '---:'],
  ));
  return out;
}

function rawRuns(results: WorkloadResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    out.push('', `**${r.label}**`, '');
    const rows: string[][] = [];
    r.runs.forEach((x, i) => {
      for (const [kind, c] of [['full', x.full], ['incremental', x.incremental]] as const) {
        if (!c) continue;
        rows.push([`${i + 1}${r.workload.incremental ? ` ${kind}` : ''}`, sec(c.wallS), sec(c.coordS), msec(c.pauseAppS), msec(c.pauseCliS), msec(c.stallAppS), String(c.imageBytes),
          sec(c.ddS), `${String(c.ddBytes)} (${c.ddFrom})`, ratio(c.ratio), pct(c.ddSourceCached), sec(c.coldReadS)]);
      }
    });
    out.push(...mdTable(['Run', 'Checkpoint (s)', 'Coordinator (s)', 'Pause, app (ms)', 'Pause, reported (ms)', 'Stall, app (ms)', 'Bytes on disk', 'dd (s)', 'dd bytes (source)', 'Ratio', 'dd source cached', 'Cold read (s)'], rows));
    out.push('');
    out.push(...mdTable(
      ['Restart', 'Cache', 'Image cached before', 'To first heartbeat (s)'],
      r.restarts.map((x, i) => [String(i + 1), x.cache, pct(x.cached), sec(x.seconds)]),
    ));
  }
  return out;
}

function method(r: Report, run: RunInfo): string[] {
  const cacheNote = r.rows.map((s) =>
    `${s.label}: dd source at least ${pct(s.full.ddSourceCachedMin)} cached; cold restarts found at most ${pct(s.coldCachedMax)} of the image cached, warm ones at least ${pct(s.warmCachedMin)}`);
  return [
    '## How it was measured',
    '',
    '- **Workloads** (src/bench/programs/): `memtouch` fills 1 or 4 GiB of anonymous memory with',
    '  incompressible counter-hash data; `field` fills 4 GiB with a smooth 2-D float64 field (sums of',
    '  products of sines, rounded to single precision as mixed-precision codes store them: the same field',
    '  at full double precision compresses by only about 6% with zstd -1, measured while writing the bench);',
    '  `pyobjects.py` builds Python dicts, lists, strs, floats and tuples until the process has grown by',
    '  500 MB; `threads8` runs eight threads passing a turn around a ring. Every process is started afresh',
    '  for each run, so each run\'s checkpoint is a first, full one.',
    '- **Heartbeats and pause**: each workload loops sleeping 1 ms per iteration and prints a line every',
    '  10 ms that checks its own state and carries the longest gap between two iterations since the last',
    '  line and the line\'s CLOCK_MONOTONIC time.',
    `  All ${r.results.reduce((n, x) => n + x.heartbeatsChecked, 0)} heartbeats of this run, before and after every checkpoint and restart, said \`ok\`.`,
    '  *Pause, app* is the longest gap in the lines whose stretch of time (from the line before to their own)',
    '  overlaps the pause window the coordinator reports (`pauseWindowUs`: from sending SUSPEND to the last',
    '  RESUMED, on the same clock): the line during which the program was stopped, and any other touching',
    '  that window. It is the application\'s own view of the pause, about 1.1 ms when nothing stops it.',
    '  *Pause, reported* is what `stasis checkpoint` prints about the pause. *Stall, app* is the longest gap',
    '  in all the lines from just before `stasis checkpoint` starts until the second line after it returns:',
    '  the pause, or, when longer, a wait for a core while the image writer ran beside the program on the',
    '  machine\'s two cores (the program runs on meanwhile, but a 1 ms sleep can take that long to be served).',
    '- **Checkpoint**: wall time of `stasis checkpoint`, from spawning the CLI until it exits, when',
    '  the generation is committed and every image fsynced. The coordinator\'s own figure (suspend to',
    '  commit) is in the per-run tables; the difference is starting the CLI and its round trips.',
    '  *Image* is what the generation\'s folder holds on disk.',
    '- **dd (raw storage)**: right after each checkpoint, `dd bs=4M conv=fsync` writes as many bytes into',
    '  the same directory, timed from spawn to exit: a copy of the images when they hold the memory as it',
    '  is, or, when the images are smaller than 90% of the program\'s anonymous memory (compressed), that',
    '  many bytes of incompressible data, since the raw limit is writing the memory out. *Checkpoint / dd*',
    '  is the median of each pair\'s own ratio, which can differ from the ratio of the two medians.',
    '  *Cold read*: the images read back with dd after their pages were dropped from the page cache.',
    '- **Equal footing**: on a VM a write into the page cache costs several times more when it',
    '  lands on memory the guest has not used lately (most likely the balloon has returned it to',
    '  the host, and each first touch faults in the host) than on memory freed moments ago. So',
    '  right before each timed checkpoint and each timed dd the bench deletes a cached, fsynced',
    '  file of about the image\'s size (an untimed scratch file, or the previous dd copy), and',
    '  both run on just-freed memory, as they would on a machine without a balloon. CRIU\'s dumps get the same.',
    '- **Restart**: from spawning `stasis restart` until the restored process\'s first heartbeat',
    '  line reaches the bench through the inherited stdout pipe: the program runs again, not just the CLI.',
    '  The original process is killed first. *Cold*: the image\'s pages were dropped from the page cache just',
    '  before (`dd iflag=nocache count=0`, i.e. posix_fadvise DONTNEED, which needs no privileges);',
    '  *warm*: the image was read whole just before, so it is fully cached (a restart that maps the image in place',
    '  reads only the pages the program touches, and leaves the rest uncached). Cold and warm restarts alternate.',
    '  The disk is a virtual one, so a "cold" read may still be served from the host\'s cache.',
    '- **Runtime overhead**: programs/overhead.c times itself (so starting it does not count), natively and',
    '  under `stasis launch`, alternately, the first of each pair alternating too; each run takes the fastest',
    '  of 10 slices (the least disturbed by other work on the machine). CPU-bound: 20M integer hash steps per',
    '  slice. Syscall-heavy: 20000 open+close pairs of a file, then 20000 write()s of 64 bytes to a file.',
    '  Exec: fork, exec of the same program with `noop`, wait; its median round trip per run.',
    `- **Page cache, as measured with fincore**: ${cacheNote.join('; ')}.`,
    '- **CRIU**: the `criu` that `STASIS_BENCH_CRIU` names (for one built from source), else the one on',
    '  PATH, if `criu check` passes. Each workload\'s CRIU run follows its Stasis run: the same program in its',
    '  own session with stdout on a file, `criu dump --leave-running` (pause: the longest heartbeat gap in the',
    '  file around it), then `sync -f` of the images, as CRIU does not fsync; restores with `criu restore`.',
    '- One coordinator (`stasis coordinator --daemon --port 0`) serves the whole run; images and',
    `  dd copies go to a temporary folder on the same disk (${run.workDir}), removed at the end.`,
  ];
}

export function renderMarkdown(r: Report, run: RunInfo, chartFile: string): string {
  const m = run.machine;
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (src/bench/) on ${m.date}; rerun it to refresh this page and`,
    `[${chartFile}](${chartFile}). ${run.reps === 1 ? 'One run per figure (`--quick`).' : `Each figure is the median of ${run.reps} runs.`}` +
      ` The whole bench took ${Math.round(run.wallS)} s.`,
    '',
    ...targetsSection(r),
    '',
    ...featuresSection(r, run),
    '',
    '## Results',
    '',
    `![Targets, pauses, checkpoint, dd and restart times per workload](${chartFile})`,
    '',
    ...mdTable(MAIN_HEAD, r.rows.map(mainRow), ['---', ...MAIN_HEAD.slice(1).map(() => '---:')]),
    '',
    ...resultsNotes(r),
    ...(run.skipped.length ? ['', `Not run: ${run.skipped.join('; ')}.`] : []),
    '',
    ...incrementalSection(r),
    ...overheadSection(r),
    ...criuSection(r, run),
    '',
    ...peersSection(r),
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpus}`,
    `- Memory: ${m.memory}`,
    `- Kernel: ${m.kernel}; transparent huge pages: \`${m.thp}\``,
    `- Disk holding the checkpoints: ${m.disk}`,
    `- Node ${m.node}; Stasis ${m.stasis}`,
    `- Load average (1 min): ${run.loads.join(', ')}. Anything well above 0 before a workload is`,
    '  other work on the machine competing for its cores and disk, and makes that row noisier.',
    '',
    ...method(r, run),
    '',
    '## Every run',
    ...rawRuns(r.results),
    '',
    '## Reference: the issue\'s figures, quoted, not measured in this run',
    '',
    'Medians measured by the issue\'s authors on this machine class (2 cores, 24 GiB, virtio disk), each',
    'peer built from its own source; each cell *checkpoint / restart* in seconds. Those images went to the',
    'page cache without fsync.',
    '',
    ...mdTable(['Workload', 'DMTCP 5.0, default gzip', 'DMTCP 5.0, --no-gzip', 'CRIU 4.2'],
      PEERS.map((p) => [p.label, `${p.dmtcpGzip.ckptS} / ${p.dmtcpGzip.restartS}`, `${p.dmtcpNoGzip.ckptS} / ${p.dmtcpNoGzip.restartS}`, `${p.criu42.ckptS} / ${p.criu42.restartS}`])),
    '',
    'Physical limits, measured the same way:',
    '',
    ...PHYSICAL_LIMITS.map((l) => `- ${l}.`),
    '',
    'What DMTCP\'s wrappers cost:',
    '',
    ...DMTCP_WRAPPERS.map((l) => `- ${l}.`),
    '',
  ];
  // Sections that had nothing to say leave runs of blank lines: keep one.
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}
