/*
 * docs/benchmarks.svg: one panel per workload, each with its own seconds axis (a 4 GiB
 * checkpoint and an 8-thread one differ a hundredfold, so a shared axis would hide the
 * small one), horizontal bars for checkpoint, dd of the same bytes and the restarts, and
 * every value written on its bar. Bars are medians; a thin line across each bar spans the
 * fastest to the slowest run, because on a noisy disk the spread is half the story.
 * Plain SVG 1.1, no scripts or external fonts.
 */

import { Range, Summary } from './summary';

interface Bar {
  label: string;
  seconds: number;
  range: Range;
  color: string;
}

const WIDTH = 820;
const LEFT = 250;
const RIGHT = 70;
const BAR_H = 22;
const BAR_GAP = 8;
const PANEL_TOP = 34;
const AXIS_H = 40;
const PANEL_GAP = 26;

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

function finite(v: number): number {
  return Number.isFinite(v) ? v : 0;
}

function fmtSeconds(s: number): string {
  if (s >= 10) return s.toFixed(1);
  if (s >= 1) return s.toFixed(2);
  return s.toFixed(3);
}

function fmtTick(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(decimals);
}

function bars(s: Summary): Bar[] {
  const r = s.ranges;
  const out: Bar[] = [
    { label: 'Stasis checkpoint (fsynced)', seconds: s.ckptWallS, range: r.ckptWall, color: '#2b6cb0' },
    { label: 'dd of the same bytes, fsync', seconds: s.ddS, range: r.dd, color: '#8a8f98' },
  ];
  if (s.criu) out.push({ label: 'CRIU dump + sync', seconds: s.criu.dumpSyncS, range: s.criu.ranges.dumpSync, color: '#2f855a' });
  out.push({ label: 'Stasis restart, image cached', seconds: s.restartWarmS, range: r.restartWarm, color: '#dd6b20' });
  out.push({ label: 'Stasis restart, image not cached', seconds: s.restartColdS, range: r.restartCold, color: '#f6ad55' });
  if (s.criu) out.push({ label: 'CRIU restore', seconds: s.criu.restoreS, range: s.criu.ranges.restore, color: '#68d391' });
  return out;
}

function panel(s: Summary, y0: number, lines: string[]): number {
  const bs = bars(s);
  const plotW = WIDTH - LEFT - RIGHT;
  const max = Math.max(...bs.map((b) => Math.max(finite(b.seconds), finite(b.range[1]))));
  const step = niceStep(max);
  const axisMax = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const x = (v: number): number => LEFT + (v / axisMax) * plotW;
  const plotH = bs.length * (BAR_H + BAR_GAP) - BAR_GAP;
  const top = y0 + PANEL_TOP;

  const size = s.imageBytes >= 1024 ** 3 ? `${(s.imageBytes / 1024 ** 3).toFixed(2)} GiB` : `${(s.imageBytes / 1024 ** 2).toFixed(1)} MiB`;
  const r = s.ratio.toFixed(s.ratio >= 10 ? 1 : 2);
  lines.push(`<text x="16" y="${y0 + 20}" class="title">${esc(s.label)} — image ${esc(size)}; checkpoint / dd, median of paired runs: ${r}×</text>`);
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    const gx = x(v).toFixed(1);
    lines.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + plotH + 4}" class="grid"/>`);
    lines.push(`<text x="${gx}" y="${top + plotH + 20}" class="tick">${fmtTick(v, step)}</text>`);
  }
  const what = s.runs === 1 ? 'one run' : `bars: median of ${s.runs} runs; lines: fastest to slowest run`;
  lines.push(`<text x="${LEFT + plotW / 2}" y="${top + plotH + 36}" class="axis">seconds (${what})</text>`);
  bs.forEach((b, i) => {
    const by = top + i * (BAR_H + BAR_GAP);
    const w = Number.isFinite(b.seconds) ? Math.max(1, x(b.seconds) - LEFT) : 0;
    lines.push(`<text x="${LEFT - 10}" y="${by + BAR_H / 2 + 5}" class="label">${esc(b.label)}</text>`);
    lines.push(`<rect x="${LEFT}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}"/>`);
    const [lo, hi] = b.range;
    const spread = Number.isFinite(lo) && Number.isFinite(hi) && hi > lo;
    if (spread) {
      const cy = by + BAR_H / 2;
      lines.push(`<path d="M${x(lo).toFixed(1)} ${cy - 5}v10M${x(lo).toFixed(1)} ${cy}H${x(hi).toFixed(1)}M${x(hi).toFixed(1)} ${cy - 5}v10" class="range"/>`);
    }
    const value = Number.isFinite(b.seconds) ? `${fmtSeconds(b.seconds)} s` : 'n/a';
    // Inside the bar when it fits left of the range line's start, else right of everything.
    const inside = w > 70 && (!spread || x(lo) - LEFT > 64);
    const outX = Math.max(LEFT + w, spread ? x(hi) : 0) + 6;
    lines.push(`<text x="${(inside ? LEFT + Math.min(w, spread ? x(lo) - LEFT - 4 : w) - 6 : outX).toFixed(1)}" y="${by + BAR_H / 2 + 5}" class="${inside ? 'value in' : 'value'}">${value}</text>`);
  });
  lines.push(`<line x1="${LEFT}" y1="${top - 4}" x2="${LEFT}" y2="${top + plotH + 4}" class="axisline"/>`);
  return PANEL_TOP + plotH + AXIS_H;
}

export function renderChart(summaries: Summary[], subtitle: string): string {
  const body: string[] = [];
  let y = 58;
  for (const s of summaries) y += panel(s, y, body) + PANEL_GAP;
  const height = y - PANEL_GAP + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    '<style>',
    '.head{font-size:18px;font-weight:bold;fill:#1a202c}.sub{font-size:12px;fill:#4a5568}',
    '.title{font-size:14px;font-weight:bold;fill:#1a202c}.label{font-size:12px;fill:#2d3748;text-anchor:end}',
    '.tick{font-size:11px;fill:#4a5568;text-anchor:middle}.axis{font-size:12px;fill:#4a5568;text-anchor:middle}',
    '.value{font-size:12px;fill:#1a202c}.value.in{fill:#ffffff;text-anchor:end;font-weight:bold}',
    '.grid{stroke:#e2e8f0;stroke-width:1}.axisline{stroke:#4a5568;stroke-width:1}',
    '.range{stroke:#1a202c;stroke-width:1.5;fill:none}',
    '</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" class="head">Stasis checkpoint and restart times, shorter is better</text>`,
    `<text x="16" y="44" class="sub">${esc(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
