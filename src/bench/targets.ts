/*
 * Issue 4's targets, judged on the figures of this run. A target whose workload was not
 * run (--only, too little memory) or whose peer is unavailable is "not measured", never
 * passed. Comparisons with DMTCP use the issue's quoted figures, as DMTCP is not run
 * here, and say so.
 */

import { peerFor } from './peers';
import { ExecSummary, OverheadSummary, shrinkNote, Summary } from './summary';
import { WORKLOADS } from './workloads';

export type Verdict = 'pass' | 'fail' | 'not measured';

export interface TargetResult {
  /** The target as the issue puts it. */
  target: string;
  /** A few words for the chart. */
  short: string;
  /** The figures behind the verdict, in full. */
  measured: string;
  /** The figure that decided it, short enough for the chart. */
  headline: string;
  verdict: Verdict;
}

export interface TargetInputs {
  rows: Summary[];
  overhead: OverheadSummary | null;
  exec: ExecSummary | null;
  /** Whether this build compresses images (so the uncompressed restart needs --no-compress). */
  compressionBuilt: boolean;
  /** Why there are no CRIU figures, or null when CRIU ran. */
  criuMissing: string | null;
}

function s3(s: number): string {
  return s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3);
}

function ms(s: number): string {
  return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
}

function x(r: number): string {
  return `${r.toFixed(r >= 10 ? 1 : 2)}×`;
}

function pctOf(f: number): string {
  return `${(f * 100).toFixed(f < 0.1 ? 2 : 1)}%`;
}

function verdict(ok: boolean): Verdict {
  return ok ? 'pass' : 'fail';
}

function notRun(target: string, short: string, what: string): TargetResult {
  return { target, short, measured: `not run (${what})`, headline: 'not run', verdict: 'not measured' };
}

function judged(target: string, short: string, ok: boolean, measured: string, headline: string): TargetResult {
  return { target, short, measured, headline, verdict: verdict(ok) };
}

/** The default row of a workload (no extra launch options). */
function row(rows: Summary[], name: string): Summary | undefined {
  return rows.find((r) => r.name === name && r.options.length === 0);
}

interface Check {
  /** The full figures. */
  text: string;
  /** The deciding figure, short. */
  brief: string;
  /** How many times better than the peer: at least 2 passes. */
  factor: number;
}

/** Checks judged together: pass only if each is at least 2×; the headline is the worst one. */
function atLeastTwice(target: string, short: string, checks: Check[], none: string): TargetResult {
  if (checks.length === 0) return { target, short, measured: none, headline: 'not measured', verdict: 'not measured' };
  const worst = checks.reduce((a, b) => (b.factor < a.factor ? b : a));
  const ok = checks.every((c) => c.factor >= 2);
  return judged(target, short, ok, checks.map((c) => c.text).join('; '), checks.length > 1 ? `worst: ${worst.brief}` : worst.brief);
}

function label(name: string): string {
  return WORKLOADS.find((w) => w.name === name)?.label ?? name;
}

export function evaluateTargets(inp: TargetInputs): TargetResult[] {
  const out: TargetResult[] = [];
  const { rows } = inp;
  const big = row(rows, '4gib');

  {
    const t = 'Application pause ≤ 50 ms, 4 GiB';
    const short = 'Pause ≤ 50 ms, 4 GiB';
    const p = big?.full.pauseAppS ?? big?.full.pauseCliS ?? null;
    if (!big) out.push(notRun(t, short, 'the 4gib workload'));
    else if (p === null) out.push({ target: t, short, measured: 'no pause figure (no heartbeat carried a gap)', headline: 'no figure', verdict: 'not measured' });
    else {
      const cli = big.full.pauseCliS === null ? '; `stasis checkpoint` reports no pause' : `; \`stasis checkpoint\` reports ${ms(big.full.pauseCliS)}`;
      const stall = big.full.stallAppS === null ? '' : `; its longest stall while the image was written, waiting for a core: ${ms(big.full.stallAppS)}`;
      out.push(judged(t, short, p <= 0.05, `${ms(p)} as the application saw it${cli}${stall}`, `${ms(p)} as the application saw it`));
    }
  }

  for (const name of ['1gib', '4gib']) {
    const r = row(rows, name);
    const t = `Checkpoint durable ≤ 1.2× raw storage, incompressible (${label(name)})`;
    const short = `Durable ≤ 1.2× dd, ${label(name)}`;
    if (!r) out.push(notRun(t, short, `the ${name} workload`));
    else out.push(judged(t, short, r.full.ratio <= 1.2, `${s3(r.full.wallS)} s vs dd ${s3(r.full.ddS)} s: ${x(r.full.ratio)} (median of paired runs)`, `${x(r.full.ratio)} dd (${s3(r.full.wallS)} s vs ${s3(r.full.ddS)} s)`));
  }

  {
    const r = row(rows, 'field4gib');
    const t = 'Checkpoint durable faster than raw storage, compressible (4 GiB smooth field)';
    const short = 'Durable faster than dd, 4 GiB smooth field';
    if (!r) out.push(notRun(t, short, 'the field4gib workload'));
    else {
      const shrink = r.anonBytes ? `; ${shrinkNote(r.anonBytes, r.full.imageBytes)}` : '';
      out.push(judged(t, short, r.full.ratio < 1, `${s3(r.full.wallS)} s vs dd of ${gb(r.full.ddBytes)} ${s3(r.full.ddS)} s: ${x(r.full.ratio)}${shrink}`,
        `${x(r.full.ratio)} dd (${s3(r.full.wallS)} s vs ${s3(r.full.ddS)} s)`));
    }
  }

  {
    const t = '4 GiB uncompressed process running again ≤ 0.3 s after `stasis restart` starts';
    const short = 'Restart ≤ 0.3 s, 4 GiB uncompressed';
    const r = inp.compressionBuilt ? rows.find((s) => s.name === '4gib' && s.options.includes('--no-compress')) : big;
    if (!r) out.push(notRun(t, short, inp.compressionBuilt ? 'the 4gib workload with --no-compress' : 'the 4gib workload'));
    else {
      out.push(judged(t, short, r.restartWarmS <= 0.3, `${s3(r.restartWarmS)} s with the image in the page cache, ${s3(r.restartColdS)} s from disk (${r.label})`,
        `${s3(r.restartWarmS)} s cached, ${s3(r.restartColdS)} s from disk`));
    }
  }

  const criuTargets: [string, string][] = [
    ['Pause ≥ 2× shorter than CRIU\'s', 'Pause ≥ 2× shorter than CRIU'],
    ['Checkpoint ≥ 2× faster than CRIU (dump + sync)', 'Checkpoint ≥ 2× faster than CRIU'],
    ['Restart ≥ 2× faster than CRIU\'s (image in the page cache)', 'Restart ≥ 2× faster than CRIU'],
  ];
  if (inp.criuMissing !== null) {
    for (const [t, short] of criuTargets) out.push({ target: t, short, measured: inp.criuMissing, headline: 'CRIU unavailable', verdict: 'not measured' });
  } else {
    const withCriu = rows.filter((r) => r.criu && r.options.length === 0);
    const pauses = withCriu.filter((r) => r.criu!.pauseS !== null && r.full.pauseAppS !== null);
    out.push(atLeastTwice(...criuTargets[0]!, pauses.map((r) => {
      const f = r.criu!.pauseS! / r.full.pauseAppS!;
      return { text: `${r.label}: ${ms(r.full.pauseAppS!)} vs ${ms(r.criu!.pauseS!)}, ${x(f)}`, brief: `${x(f)}, ${r.label}`, factor: f };
    }), 'no workload with both pause figures'));
    out.push(atLeastTwice(...criuTargets[1]!, withCriu.map((r) => {
      const f = r.criu!.dumpSyncS / r.full.wallS;
      return { text: `${r.label}: ${s3(r.full.wallS)} s vs ${s3(r.criu!.dumpSyncS)} s, ${x(f)}`, brief: `${x(f)}, ${r.label}`, factor: f };
    }), 'no workload ran under CRIU'));
    out.push(atLeastTwice(...criuTargets[2]!, withCriu.map((r) => {
      const f = r.criu!.restoreWarmS / r.restartWarmS;
      return { text: `${r.label}: ${s3(r.restartWarmS)} s vs ${s3(r.criu!.restoreWarmS)} s, ${x(f)}`, brief: `${x(f)}, ${r.label}`, factor: f };
    }), 'no workload ran under CRIU'));
  }

  {
    const checks: Check[] = [];
    for (const r of rows.filter((s) => s.options.length === 0)) {
      const peer = peerFor(r.name);
      if (!peer) continue;
      const c = peer.dmtcpNoGzip.ckptS / r.full.wallS;
      const rs = peer.dmtcpNoGzip.restartS / r.restartWarmS;
      checks.push({
        text: `${r.label}: checkpoint ${x(c)}, restart ${x(rs)}`,
        brief: `${x(Math.min(c, rs))}, ${r.label} ${c <= rs ? 'checkpoint' : 'restart'}`,
        factor: Math.min(c, rs),
      });
    }
    out.push(atLeastTwice('Far ahead of DMTCP: ≥ 2× DMTCP --no-gzip (the issue\'s quoted figures, not this run)', '≥ 2× DMTCP --no-gzip (quoted figures)', checks, 'no workload with a quoted DMTCP figure ran'));
  }

  {
    const r = rows.find((s) => s.incremental !== null);
    for (const [what, key] of [['time', 'timeVsFull'], ['size', 'sizeVsFull']] as const) {
      const t = `5%-dirty incremental checkpoint ≤ 10% of a full one in ${what}`;
      const short = `5%-dirty incremental ≤ 10% of full, ${what}`;
      if (!r) out.push(notRun(t, short, 'the incr4gib workload'));
      else {
        const i = r.incremental!;
        const detail = what === 'time' ? `${s3(i.wallS)} s vs ${s3(r.full.wallS)} s` : `${gb(i.imageBytes)} vs ${gb(r.full.imageBytes)} added on disk`;
        out.push(judged(t, short, i[key] <= 0.1, `${pctOf(i[key])} (${detail})`, `${pctOf(i[key])} (${detail})`));
      }
    }
  }

  {
    const o = inp.overhead;
    const t1 = 'Runtime overhead ≤ 1%, CPU-bound';
    const t2 = 'Runtime overhead ≤ 3%, syscall-heavy (open/close and write)';
    if (!o) {
      out.push(notRun(t1, 'Overhead ≤ 1%, CPU-bound', 'the overhead workload'));
      out.push(notRun(t2, 'Overhead ≤ 3%, syscall-heavy', 'the overhead workload'));
    } else {
      const c = o.onCpu;
      out.push(judged(t1, 'Overhead ≤ 1%, CPU-bound', c.cpu <= 0.01,
        `${signedPct(c.cpu)} in CPU time, median of ${o.pairs} paired runs (wall clock ${signedPct(o.wall.cpu)})`, `${signedPct(c.cpu)} CPU time`));
      out.push(judged(t2, 'Overhead ≤ 3%, syscall-heavy', c.syscall <= 0.03,
        `${signedPct(c.syscall)} in CPU time: open/close ${signedPct(c.openclose)}, write ${signedPct(c.write)} (wall clock ${signedPct(o.wall.syscall)})`,
        `${signedPct(c.syscall)} (open/close ${signedPct(c.openclose)}, write ${signedPct(c.write)})`));
    }
  }

  {
    const e = inp.exec;
    const t = 'A program exec\'d inside the computation starts ≤ 5 ms slower than natively';
    const short = 'Exec start-up ≤ 5 ms slower';
    if (!e) out.push(notRun(t, short, 'the exec workload'));
    else {
      const extra = `${e.extraS >= 0 ? '+' : '−'}${ms(Math.abs(e.extraS))}`;
      out.push(judged(t, short, e.extraS <= 0.005, `${extra} (${ms(e.stasisS)} vs ${ms(e.nativeS)} per fork + exec + exit)`, `${extra} (${ms(e.stasisS)} vs ${ms(e.nativeS)})`));
    }
  }
  return out;
}

function signedPct(f: number): string {
  return `${f >= 0 ? '+' : '−'}${Math.abs(f * 100).toFixed(1)}%`;
}

function gb(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
