/*
 * docs/benchmarks.svg, to be read at a glance: first the issue's targets, each with a
 * pass/fail mark; then the application's pause per workload against the 50 ms target;
 * then one panel per workload with its checkpoint and restart times next to dd of the
 * same bytes, CRIU in this run (when it ran) and the peers' quoted figures (pale, dashed,
 * marked "quoted"); last, the overhead of running under Stasis against its targets.
 *
 * Each panel has its own axis (a 4 GiB checkpoint and an 8-thread one differ a
 * hundredfold), every value is written on its bar, a thin line across a bar spans the
 * fastest to the slowest run, and a red tick marks a target. Plain SVG 1.1, no scripts or
 * external fonts.
 */

import { peerFor } from './peers';
import { ExecSummary, OverheadSummary, Range, Summary } from './summary';
import { TargetResult } from './targets';

interface Bar {
  label: string;
  value: number;
  range?: Range | null;
  color: string;
  /** Drawn pale with a dashed outline: a figure not measured in this run. */
  quoted?: boolean;
  /** A target for this bar, in the panel's unit. */
  target?: number;
}

interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
  /** How to print a value of this panel. */
  fmt: (v: number) => string;
}

const WIDTH = 900;
const LEFT = 300;
const RIGHT = 90;
const BAR_H = 18;
const BAR_GAP = 6;
const PANEL_TOP = 30;
const AXIS_H = 38;
const PANEL_GAP = 22;

const C = {
  stasis: '#2b6cb0',
  stasisLight: '#63b3ed',
  dd: '#8a8f98',
  criu: '#2f855a',
  quoted: '#cbd5e0',
  restart: '#dd6b20',
  restartCold: '#f6ad55',
  pass: '#2f855a',
  fail: '#c53030',
  none: '#a0aec0',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick step from 1, 2 or 5 × 10^k giving about `target` intervals up to `max`. */
export function niceStep(max: number, target = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function finite(v: number | undefined): number {
  return v !== undefined && Number.isFinite(v) ? v : 0;
}

export function fmtSeconds(s: number): string {
  if (s >= 10) return `${s.toFixed(1)} s`;
  if (s >= 1) return `${s.toFixed(2)} s`;
  return `${s.toFixed(3)} s`;
}

function fmtMs(v: number): string {
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
}

function fmtPct(v: number): string {
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}%`;
}

function fmtTick(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(decimals);
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function drawPanel(p: Panel, y0: number, lines: string[]): number {
  const bs = p.bars.filter((b) => Number.isFinite(b.value));
  if (bs.length === 0) return 0;
  const plotW = WIDTH - LEFT - RIGHT;
  const max = Math.max(...bs.map((b) => Math.max(finite(b.value), finite(b.range?.[1]), finite(b.target))));
  const step = niceStep(max);
  const axisMax = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const x = (v: number): number => LEFT + (Math.max(0, v) / axisMax) * plotW;
  const plotH = bs.length * (BAR_H + BAR_GAP) - BAR_GAP;
  const top = y0 + PANEL_TOP;

  lines.push(`<text x="16" y="${y0 + 18}" class="title">${esc(p.title)}</text>`);
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    const gx = x(v).toFixed(1);
    lines.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + plotH + 4}" class="grid"/>`);
    lines.push(`<text x="${gx}" y="${top + plotH + 18}" class="tick">${fmtTick(v, step)}</text>`);
  }
  lines.push(`<text x="${LEFT + plotW / 2}" y="${top + plotH + 33}" class="axis">${esc(p.unit)}</text>`);
  bs.forEach((b, i) => {
    const by = top + i * (BAR_H + BAR_GAP);
    const w = Math.max(1, x(b.value) - LEFT);
    lines.push(`<text x="${LEFT - 8}" y="${by + BAR_H / 2 + 4}" class="label">${esc(b.label)}</text>`);
    lines.push(`<rect x="${LEFT}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.quoted ? C.quoted : b.color}"${b.quoted ? ' class="quoted"' : ''}/>`);
    let right = LEFT + w;
    const r = b.range;
    if (r && Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[1] > r[0]) {
      const cy = by + BAR_H / 2;
      lines.push(`<path d="M${x(r[0]).toFixed(1)} ${cy - 4}v8M${x(r[0]).toFixed(1)} ${cy}H${x(r[1]).toFixed(1)}M${x(r[1]).toFixed(1)} ${cy - 4}v8" class="range"/>`);
      right = Math.max(right, x(r[1]));
    }
    if (b.target !== undefined) {
      const tx = x(b.target).toFixed(1);
      lines.push(`<line x1="${tx}" y1="${by - 2}" x2="${tx}" y2="${by + BAR_H + 2}" class="target"/>`);
    }
    lines.push(`<text x="${(right + 6).toFixed(1)}" y="${by + BAR_H / 2 + 4}" class="value">${esc(p.fmt(b.value))}</text>`);
  });
  lines.push(`<line x1="${LEFT}" y1="${top - 4}" x2="${LEFT}" y2="${top + plotH + 4}" class="axisline"/>`);
  return PANEL_TOP + plotH + AXIS_H;
}

function drawTargets(targets: TargetResult[], y0: number, lines: string[]): number {
  lines.push(`<text x="16" y="${y0 + 18}" class="title">Issue 4's targets, judged on this run</text>`);
  const rowH = 20;
  targets.forEach((t, i) => {
    const y = y0 + 30 + i * rowH;
    const [color, word] = t.verdict === 'pass' ? [C.pass, 'PASS'] : t.verdict === 'fail' ? [C.fail, 'FAIL'] : [C.none, 'N/A'];
    lines.push(`<rect x="16" y="${y}" width="44" height="15" rx="3" fill="${color}"/>`);
    lines.push(`<text x="38" y="${y + 11.5}" class="pill">${word}</text>`);
    lines.push(`<text x="68" y="${y + 12}" class="tgt">${esc(clip(t.short, 48))}</text>`);
    lines.push(`<text x="410" y="${y + 12}" class="meas">${esc(clip(t.headline, 76))}</text>`);
  });
  return 30 + targets.length * rowH + 8;
}

function pausePanel(rows: Summary[]): Panel {
  const bars: Bar[] = [];
  for (const s of rows) {
    if (s.full.pauseAppS === null) continue;
    const r = s.full.ranges.pauseApp;
    bars.push({ label: `Stasis, ${s.label}`, value: s.full.pauseAppS * 1000, range: r ? [r[0] * 1000, r[1] * 1000] : null, color: C.stasis, target: 50 });
    if (s.criu?.pauseS != null) bars.push({ label: `CRIU, ${s.label}`, value: s.criu.pauseS * 1000, color: C.criu });
  }
  return { title: 'Application pause during a checkpoint, as the application saw it (target: 50 ms)', unit: 'milliseconds, shorter is better', bars, fmt: fmtMs };
}

/** The row the restart target is judged on: 4 GiB with --no-compress when it ran, else the default 4 GiB. */
function restartTargetRow(rows: Summary[]): Summary | undefined {
  const big = rows.filter((r) => r.name === '4gib');
  return big.find((r) => r.options.includes('--no-compress')) ?? big.find((r) => r.options.length === 0);
}

function workloadPanel(s: Summary, restartTarget: boolean): Panel {
  const f = s.full;
  const peer = s.options.length === 0 ? peerFor(s.name) : null;
  const bars: Bar[] = [{ label: 'Stasis checkpoint (fsynced)', value: f.wallS, range: f.ranges.wall, color: C.stasis }];
  if (s.incremental) bars.push({ label: 'Stasis checkpoint after dirtying 5%', value: s.incremental.wallS, range: s.incremental.ranges.wall, color: C.stasisLight, target: f.wallS * 0.1 });
  bars.push({ label: `dd of the same ${f.ddFrom === 'raw' ? 'amount of memory' : 'bytes'}, fsync`, value: f.ddS, range: f.ranges.dd, color: C.dd });
  if (s.name === '1gib' || s.name === '4gib') bars[0]!.target = f.ddS * 1.2;
  if (s.name === 'field4gib') bars[0]!.target = f.ddS;
  if (s.criu) bars.push({ label: 'CRIU dump + sync (this run)', value: s.criu.dumpSyncS, range: s.criu.ranges.dumpSync, color: C.criu });
  if (peer) {
    bars.push({ label: 'DMTCP --no-gzip checkpoint (quoted)', value: peer.dmtcpNoGzip.ckptS, color: C.quoted, quoted: true });
    bars.push({ label: 'CRIU 4.2 checkpoint (quoted)', value: peer.criu42.ckptS, color: C.quoted, quoted: true });
  }
  bars.push({ label: 'Stasis restart, image cached', value: s.restartWarmS, range: s.ranges.restartWarm, color: C.restart, target: restartTarget ? 0.3 : undefined });
  bars.push({ label: 'Stasis restart, image not cached', value: s.restartColdS, range: s.ranges.restartCold, color: C.restartCold });
  if (f.coldReadS !== null) bars.push({ label: 'cold read of the image (dd)', value: f.coldReadS, color: C.dd });
  if (s.criu) bars.push({ label: 'CRIU restore, cached (this run)', value: s.criu.restoreWarmS, range: s.criu.ranges.restoreWarm, color: C.criu });
  if (peer) {
    bars.push({ label: 'DMTCP --no-gzip restart (quoted)', value: peer.dmtcpNoGzip.restartS, color: C.quoted, quoted: true });
    bars.push({ label: 'CRIU 4.2 restart (quoted)', value: peer.criu42.restartS, color: C.quoted, quoted: true });
  }
  const size = f.imageBytes >= 1024 ** 3 ? `${(f.imageBytes / 1024 ** 3).toFixed(2)} GiB` : `${(f.imageBytes / 1024 ** 2).toFixed(1)} MiB`;
  const pause = f.pauseAppS === null ? '' : `, pause ${fmtMs(f.pauseAppS * 1000)}`;
  const what = s.runs === 1 ? 'one run' : `median of ${s.runs} runs; lines: fastest to slowest`;
  return { title: `${s.label} — image ${size}${pause}`, unit: `seconds (${what}), shorter is better`, bars, fmt: fmtSeconds };
}

function overheadPanels(o: OverheadSummary | null, e: ExecSummary | null): Panel[] {
  const out: Panel[] = [];
  if (o) {
    out.push({
      title: 'Running under Stasis rather than natively (targets: 1% CPU-bound, 3% syscall-heavy)',
      unit: `extra CPU time, % (median of ${o.pairs} paired runs; below zero is noise)`,
      fmt: fmtPct,
      bars: [
        { label: 'CPU-bound loop', value: o.onCpu.cpu * 100, color: C.stasis, target: 1 },
        { label: 'syscall-heavy: open/close + write', value: o.onCpu.syscall * 100, color: C.stasis, target: 3 },
        { label: 'open + close alone', value: o.onCpu.openclose * 100, color: C.stasisLight },
        { label: 'write() alone', value: o.onCpu.write * 100, color: C.stasisLight },
      ],
    });
  }
  if (e) {
    out.push({
      title: 'Starting a program (fork + exec + exit) inside the computation (target: ≤ 5 ms slower)',
      unit: 'milliseconds per program, shorter is better',
      fmt: fmtMs,
      bars: [
        { label: 'natively', value: e.nativeS * 1000, color: C.dd },
        { label: 'under Stasis', value: e.stasisS * 1000, color: C.stasis, target: (e.nativeS + 0.005) * 1000 },
        { label: 'under DMTCP (quoted)', value: 24, color: C.quoted, quoted: true },
      ],
    });
  }
  return out;
}

export interface ChartInput {
  rows: Summary[];
  overhead: OverheadSummary | null;
  exec: ExecSummary | null;
  targets: TargetResult[];
}

export function renderChart(inp: ChartInput, subtitle: string): string {
  const body: string[] = [];
  let y = 58;
  if (inp.targets.length) y += drawTargets(inp.targets, y, body) + PANEL_GAP;
  const restartRow = restartTargetRow(inp.rows);
  const panels = [pausePanel(inp.rows), ...inp.rows.map((r) => workloadPanel(r, r === restartRow)), ...overheadPanels(inp.overhead, inp.exec)];
  for (const p of panels) {
    const h = drawPanel(p, y, body);
    if (h) y += h + PANEL_GAP;
  }
  const legendY = y;
  body.push(`<rect x="16" y="${legendY}" width="14" height="10" fill="${C.quoted}" class="quoted"/>`,
    `<text x="36" y="${legendY + 9}" class="sub">quoted: the issue's figures for the peers on this machine class, not measured in this run (images not fsynced)</text>`,
    `<line x1="21" y1="${legendY + 16}" x2="21" y2="${legendY + 28}" class="target"/>`,
    `<text x="36" y="${legendY + 26}" class="sub">red tick: the target for that bar</text>`);
  const height = legendY + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    '<style>',
    '.head{font-size:18px;font-weight:bold;fill:#1a202c}.sub{font-size:12px;fill:#4a5568}',
    '.title{font-size:14px;font-weight:bold;fill:#1a202c}.label{font-size:12px;fill:#2d3748;text-anchor:end}',
    '.tick{font-size:11px;fill:#4a5568;text-anchor:middle}.axis{font-size:12px;fill:#4a5568;text-anchor:middle}',
    '.value{font-size:12px;fill:#1a202c}.pill{font-size:10px;font-weight:bold;fill:#ffffff;text-anchor:middle}',
    '.tgt{font-size:12px;fill:#1a202c}.meas{font-size:12px;fill:#4a5568}',
    '.grid{stroke:#e2e8f0;stroke-width:1}.axisline{stroke:#4a5568;stroke-width:1}',
    '.range{stroke:#1a202c;stroke-width:1.5;fill:none}.target{stroke:#c53030;stroke-width:3}',
    '.quoted{stroke:#718096;stroke-width:1;stroke-dasharray:4 2}',
    '</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" class="head">Stasis checkpoint, restart and overhead against issue 4's targets</text>`,
    `<text x="16" y="44" class="sub">${esc(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
