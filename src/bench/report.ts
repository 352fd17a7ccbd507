/*
 * The bench's outputs: the table printed to stdout and docs/benchmarks.md. The markdown is
 * generated whole on every run; what it says about method lives here, next to the code
 * that makes the numbers, so the two cannot drift apart.
 */

import { MachineInfo } from './machine';
import { WorkloadResult } from './measure';
import { Summary } from './summary';

export interface RunInfo {
  machine: MachineInfo;
  reps: number;
  /** Workloads left out by --only, or skipped for lack of memory, with why. */
  skipped: string[];
  /** 1-minute load averages sampled through the run, as "0.12 before 1gib". */
  loads: string[];
  criuLine: string;
  workDir: string;
  wallS: number;
}

/* Figures others measured on this machine class; reproduced as given, not measured here. */
const PEER_ROWS: [string, string, string, string][] = [
  ['1 GiB touched', '27.1 / 6.2', '1.65 / 0.71', '1.36 / 0.80'],
  ['4 GiB touched', '105.6 / 24.1', '3.97 / 4.05', '4.75 / 3.34'],
  ['Python, 500 MB', '12.7 / 2.6', '1.23 / 0.45', '0.24 / 0.29'],
  ['8 threads, small', '0.55 / 0.28', '0.40 / 0.22', '0.05 / 0.04'],
];

function gib(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return 'n/a';
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function sec(s: number): string {
  return Number.isFinite(s) ? s.toFixed(s >= 10 ? 1 : s >= 1 ? 2 : 3) : 'n/a';
}

function pct(f: number | null): string {
  return f === null ? 'unknown' : `${Math.round(f * 100)}%`;
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

const MAIN_HEAD = ['Workload', 'Resident', 'Image', 'Checkpoint (s)', 'Coordinator (s)', 'dd same bytes (s)', 'Checkpoint / dd (paired)', 'Restart, cold (s)', 'Restart, warm (s)'];

function mainRow(s: Summary): string[] {
  return [s.label, gib(s.residentBytes), gib(s.imageBytes), sec(s.ckptWallS), sec(s.ckptCoordS), sec(s.ddS), ratio(s.ratio), sec(s.restartColdS), sec(s.restartWarmS)];
}

/** The medians as an aligned plain-text table, for stdout. */
export function textTable(summaries: Summary[]): string {
  const head = MAIN_HEAD;
  const rows = summaries.map(mainRow);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const out = [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)];
  for (const s of summaries) {
    if (s.criu) out.push(`CRIU ${s.label}: dump ${sec(s.criu.dumpS)} s, dump + sync ${sec(s.criu.dumpSyncS)} s, restore ${sec(s.criu.restoreS)} s, images ${gib(s.criu.imageBytes)}`);
  }
  return out.join('\n') + '\n';
}

function criuSection(summaries: Summary[], run: RunInfo): string[] {
  const out = [`**CRIU:** ${run.criuLine}`];
  const measured = summaries.filter((s) => s.criu);
  if (measured.length === 0) return out;
  out.push('', ...mdTable(
    ['Workload', 'CRIU dump (s)', 'CRIU dump + sync (s)', 'Stasis checkpoint / CRIU dump + sync', 'CRIU restore (s)', 'Stasis restart (warm) / CRIU restore', 'CRIU images'],
    measured.map((s) => [
      s.label, sec(s.criu!.dumpS), sec(s.criu!.dumpSyncS), ratio(s.ckptWallS / s.criu!.dumpSyncS),
      sec(s.criu!.restoreS), ratio(s.restartWarmS / s.criu!.restoreS), gib(s.criu!.imageBytes),
    ]),
  ));
  return out;
}

function rawRuns(results: WorkloadResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    out.push('', `**${r.workload.label}**`, '');
    out.push(...mdTable(
      ['Run', 'Checkpoint (s)', 'Coordinator (s)', 'dd (s)', 'Ratio', 'Image bytes', 'dd source cached'],
      r.checkpoints.map((c, i) => [String(i + 1), sec(c.wallS), sec(c.coordS), sec(c.ddS), ratio(c.ratio), String(c.imageBytes), pct(c.ddSourceCached)]),
    ));
    out.push('');
    out.push(...mdTable(
      ['Restart', 'Cache', 'Image cached before', 'To first heartbeat (s)'],
      r.restarts.map((x, i) => [String(i + 1), x.cache, pct(x.cached), sec(x.seconds)]),
    ));
  }
  return out;
}

/** How far apart the runs were: this disk's speed varies a lot from one minute to the next. */
function spread(results: WorkloadResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.checkpoints.length < 2 || r.imageBytesOnDisk < 1024 ** 3) continue;
    const range = (xs: number[]): string => `${sec(Math.min(...xs))}–${sec(Math.max(...xs))} s (${(Math.max(...xs) / Math.min(...xs)).toFixed(1)}× apart)`;
    out.push(`- ${r.workload.label}, spread over the runs: checkpoint ${range(r.checkpoints.map((c) => c.wallS))}, ` +
      `dd ${range(r.checkpoints.map((c) => c.ddS))}, ratio ${range(r.checkpoints.map((c) => c.ratio)).replace(/ s \(/, ' (')}.`);
  }
  return out;
}

export function renderMarkdown(summaries: Summary[], results: WorkloadResult[], run: RunInfo, chartFile: string): string {
  const m = run.machine;
  const cacheNote = summaries.map((s) =>
    `${s.label}: dd source at least ${pct(s.ddSourceCachedMin)} cached; cold restarts found at most ${pct(s.coldCachedMax)} of the image cached, warm ones at least ${pct(s.warmCachedMin)}`);
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (src/bench/) on ${m.date}; rerun it to refresh this page and`,
    `[${chartFile}](${chartFile}). ${run.reps === 1 ? 'One run per figure (`--quick`).' : `Each figure is the median of ${run.reps} runs.`}` +
      ` The whole bench took ${Math.round(run.wallS)} s.`,
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
    '## Results',
    '',
    `![Checkpoint, dd and restart times per workload](${chartFile})`,
    '',
    ...mdTable(MAIN_HEAD, summaries.map(mainRow), ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    '',
    ...summaries.filter((s) => s.imageBytes >= 1024 ** 3).map((s) =>
      `- ${s.label}: checkpoint ${rate(s.imageBytes, s.ckptWallS)}, dd ${rate(s.imageBytes, s.ddS)}, restart ${rate(s.imageBytes, s.restartWarmS)} warm and ${rate(s.imageBytes, s.restartColdS)} cold.`),
    ...spread(results),
    ...results.filter((r) => r.workload.touchedBytes >= 1024 ** 3).map((r) =>
      `- ${r.workload.label}: launching and filling took ${sec(r.setupS)} s, about ` +
      `${((r.setupS / (r.workload.touchedBytes / 4096)) * 1e6).toFixed(2)} µs per 4 KiB page for computing the data and the first-touch page faults together; a restart has to populate as many pages.`),
    ...(run.skipped.length ? ['', `Not run: ${run.skipped.join('; ')}.`] : []),
    '',
    ...criuSection(summaries, run),
    '',
    '## How it was measured',
    '',
    '- **Workloads** (src/bench/programs/): `memtouch` fills 1 or 4 GiB of anonymous memory with',
    '  incompressible counter-hash data, 8 bytes at a time; `threads8` runs eight threads passing a',
    '  turn around a ring. Each prints a heartbeat line every ~10 ms that checks its own state;',
    `  all ${results.reduce((n, r) => n + r.heartbeatsChecked, 0)} heartbeats of this run, before and after every checkpoint and restart, said \`ok\`.`,
    '- **Checkpoint**: wall time of `stasis checkpoint`, from spawning the CLI until it exits, when',
    '  the generation is committed and every image fsynced. *Coordinator* is the coordinator\'s own',
    '  figure for the same checkpoint (suspend to commit); the difference is starting the CLI and',
    '  its round trips. The application is paused for the whole write.',
    '- **dd**: right after each checkpoint, `dd if=IMAGE of=CKPT_DIR/dd-copy bs=4M conv=fsync`',
    '  copies the new image into the same directory: the same bytes (random data, read from the',
    '  page cache), to the same disk, timed from spawn to exit. *Checkpoint / dd (paired)* is the',
    '  median of each pair\'s own ratio, which can differ from the ratio of the two medians.',
    '- **Equal footing**: on a VM a write into the page cache costs several times more when it',
    '  lands on memory the guest has not used lately (most likely the balloon has returned it to',
    '  the host, and each first touch faults in the host) than on memory freed moments ago. So',
    '  right before each timed checkpoint and each timed dd the bench deletes a cached, fsynced',
    '  file of about the image\'s size (an untimed scratch file, or the previous dd copy), and',
    '  both run on just-freed memory, as they would on a machine without a balloon.',
    '- **Restart**: from spawning `stasis restart` until the restored process\'s first heartbeat',
    '  line reaches the bench through the inherited stdout pipe. The original process is killed',
    '  first. *Cold*: the image\'s pages were dropped from the page cache just before',
    '  (`dd iflag=nocache count=0`, i.e. posix_fadvise DONTNEED, which needs no privileges);',
    '  *warm*: the image was fully cached. Cold and warm restarts alternate. The disk is a virtual',
    '  one, so a "cold" read may still be served from the host\'s cache.',
    `- **Page cache, as measured with fincore**: ${cacheNote.join('; ')}.`,
    '- One coordinator (`stasis coordinator --daemon --port 0`) serves the whole run; images and',
    `  dd copies go to a temporary folder on the same disk (${run.workDir}), removed at the end.`,
    '',
    '## Every run',
    ...rawRuns(results),
    '',
    '## Reference: figures measured by others, not in this run',
    '',
    'Medians measured by others on this machine class (2 cores, 24 GiB, virtio disk), each cell',
    '*checkpoint / restart* in seconds. Those images went to the page cache without fsync, while',
    'a Stasis checkpoint returns only once its images are on disk. The Python row has no Stasis',
    'counterpart yet.',
    '',
    ...mdTable(['Workload', 'DMTCP 5.0 (gzip, default)', 'DMTCP 5.0 --no-gzip', 'CRIU 4.2'], PEER_ROWS),
    '',
    'Physical limits on that machine class: dd of 2 GiB with fsync about 1.0 s (2.1 GB/s), to the',
    'page cache 0.72 s; cold read of 2 GiB about 0.8 s; memcpy about 12 GB/s.',
    '',
  ];
  return lines.join('\n');
}
