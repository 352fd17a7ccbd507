/*
 * The pure parts of `npm run bench`: reading what `stasis` and CRIU print, the heartbeat
 * gaps, the summaries and the judging of the targets. The bench itself is not a test.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from '../src/bench/chart';
import { criuCheckReason } from '../src/bench/criu';
import { parseHelpOptions, parsePause, pauseFromStatus } from '../src/bench/features';
import { beatGap, beatTime, CheckpointSample, gapAcross, longestGap, WorkloadResult } from '../src/bench/measure';
import { parseSlices } from '../src/bench/overhead';
import { parseNotForked, pauseWindow } from '../src/bench/stasis-driver';
import { median, summarize, summarizeExec, summarizeOverhead, Summary } from '../src/bench/summary';
import { evaluateTargets } from '../src/bench/targets';
import { WORKLOADS } from '../src/bench/workloads';

test('help options: every --option named in a help text', () => {
  const help = [
    'usage: stasis launch [--ckpt-dir D] [--interval S] [--no-fork] -- PROGRAM [ARGS...]',
    'options:',
    '  --ckpt-dir DIR  checkpoint directory (env STASIS_CKPT_DIR, default ./stasis-ckpt)',
    '  --no-compress   store pages uncompressed',
    '  --coord-port N  coordinator port',
  ].join('\n');
  const o = parseHelpOptions(help);
  for (const name of ['--ckpt-dir', '--interval', '--no-fork', '--no-compress', '--coord-port']) assert.ok(o.has(name), name);
  assert.ok(!o.has('--'));
  assert.ok(!parseHelpOptions('  --ckpt-dir DIR').has('--no-compress'));
});

function near(actual: number | null, expected: number): void {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);
}

test('pause printed by stasis checkpoint: lenient about the wording, strict about the unit', () => {
  near(parsePause('/tmp/c/gen-000003\npaused 12 ms\n'), 0.012);
  near(parsePause('stasis: application paused for 0.5 s while forking'), 0.5);
  near(parsePause('Pause: 850 µs'), 850e-6);
  near(parsePause('pause 3.25ms, written in 2.1 s'), 0.00325);
  near(parsePause('suspended 40 us'), 40e-6);
  assert.equal(parsePause('/tmp/c/gen-000003\n'), null);
  assert.equal(parsePause('wrote 12 MiB in 3 s'), null);
});

test('not forked lines: the reasons', () => {
  const err = 'stasis: paused 3 ms; complete in 842 ms: 2 processes, 10 bytes\nstasis: not forked: process app (pid 7): memory pressure\n';
  assert.deepEqual(parseNotForked(err), ['process app (pid 7): memory pressure']);
  assert.deepEqual(parseNotForked('stasis: paused 3 ms\n'), []);
});

test('pause in the coordinator status: the unit from the field name', () => {
  near(pauseFromStatus({ durationMs: 900, pauseMs: 12 }), 0.012);
  near(pauseFromStatus({ pause_us: 1500 }), 0.0015);
  near(pauseFromStatus({ pausedSeconds: 0.25 }), 0.25);
  near(pauseFromStatus({ pause: 7 }), 0.007);
  assert.equal(pauseFromStatus({ durationMs: 900, bytes: 4096 }), null);
  assert.equal(pauseFromStatus({ pauseCount: 3 }), null);
  assert.equal(pauseFromStatus(null), null);
});

test('criu check: the first error that says something', () => {
  const debian317 = [
    'Error (criu/util.c:642): exited, status=1',
    'Error (criu/util.c:642): exited, status=1',
    'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds',
    'Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable',
    'Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.',
  ].join('\n');
  assert.equal(criuCheckReason(debian317, 1), 'vdso: Unexpected rt vDSO area bounds');
  assert.equal(criuCheckReason('Looks bad\nsomething odd\n', 1), 'something odd');
  assert.equal(criuCheckReason('', 2), 'status 2');
});

test('heartbeat gaps: read from the line, longest in the window', () => {
  near(beatGap('beat 12 ok gap_us 1234'), 0.001234);
  near(beatGap('beat 3 ok rounds 9 gap_us 15000'), 0.015);
  assert.equal(beatGap('beat 3 ok'), null);
  const beats = [
    { at: 100, gapS: 0.9, atUs: null }, // before the window: the scratch write, not the checkpoint
    { at: 205, gapS: 0.0011, atUs: null },
    { at: 900, gapS: 0.65, atUs: null },
    { at: 910, gapS: null, atUs: null },
    { at: 1500, gapS: 0.7, atUs: null }, // after the window
  ];
  assert.equal(longestGap(beats, 200, 1000), 0.65);
  assert.equal(longestGap(beats, 1600, 2000), null);
});

test('heartbeat gaps: the pause is the gap of the beats that overlap the pause window', () => {
  assert.equal(beatTime('beat 12 ok gap_us 1234 at_us 987654321'), 987654321);
  assert.equal(beatTime('beat 12 ok gap_us 1234'), null);
  // Beats every ~10 ms; the pause window is [50000, 62000] µs. The beat at 70000 carries
  // the stop (its stretch 45000-70000 overlaps the window); those around it carry waits for
  // a core while the writer ran (longer, but not the pause).
  const beat = (atUs: number | null, gapUs: number | null) => ({ at: 0, atUs, gapS: gapUs === null ? null : gapUs / 1e6 });
  const beats = [beat(25000, 1100), beat(35000, 30000), beat(45000, 1200), beat(70000, 14000), beat(80000, 40000), beat(90000, 2000)];
  assert.equal(gapAcross(beats, [50000, 62000]), 0.014);
  // A window that touches two beats' stretches takes the longer gap of the two.
  assert.equal(gapAcross(beats, [44000, 62000]), 0.014);
  assert.equal(gapAcross(beats, [40000, 62000]), 0.014);
  assert.equal(gapAcross(beats, [30000, 62000]), 0.03);
  // No timestamps, or a window outside every beat: nothing is known.
  assert.equal(gapAcross(beats.map((b) => ({ ...b, atUs: null })), [50000, 62000]), null);
  assert.equal(gapAcross(beats, [100000, 120000]), null);
  assert.deepEqual(pauseWindow([5, 9]), [5, 9]);
  assert.equal(pauseWindow([9, 5]), null);
  assert.equal(pauseWindow(undefined), null);
  assert.equal(pauseWindow([1, 'x']), null);
});

test('overhead.c output: slices by kind', () => {
  const m = parseSlices('cpu 3 1 2\ncpu-oncpu 5 4\nopenclose 10\nnoise line\nwrite\n');
  assert.deepEqual(m.get('cpu'), [3, 1, 2]);
  assert.deepEqual(m.get('cpu-oncpu'), [5, 4]);
  assert.deepEqual(m.get('openclose'), [10]);
  assert.equal(m.has('write'), false);
  assert.equal(m.has('noise'), false);
});

function sample(wallS: number, ddS: number, extra: Partial<CheckpointSample> = {}): CheckpointSample {
  return {
    wallS, coordS: wallS - 0.1, pauseAppS: wallS - 0.1, stallAppS: wallS - 0.1, pauseCliS: null, imageBytes: 4 * 1024 ** 3, ddBytes: 4 * 1024 ** 3,
    ddFrom: 'images', ddS, ratio: wallS / ddS, ddSourceCached: 1, coldReadS: 1.5, notForked: [], ...extra,
  };
}

function result(name: string, options: string[], runs: [number, number][], restartS = 0.2, incr = false): WorkloadResult {
  const w = WORKLOADS.find((x) => x.name === name)!;
  return {
    workload: w, options, label: w.label,
    runs: runs.map(([c, d]) => ({
      setupS: 5, residentBytes: 4 * 1024 ** 3, anonBytes: 4 * 1024 ** 3, full: sample(c, d),
      incremental: incr ? { ...sample(c / 20, d / 20, { imageBytes: 0.05 * 4 * 1024 ** 3 }), dirtied: '52429 of 1048576 pages in 30 ms' } : null,
    })),
    restarts: [{ cache: 'cold', seconds: restartS * 2, cached: 0 }, { cache: 'warm', seconds: restartS, cached: 1 }],
    heartbeatsChecked: 100,
  };
}

test('summaries: medians and paired ratios', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const s = summarize(result('4gib', [], [[2, 2], [3, 2], [10, 1]]), null);
  assert.equal(s.full.wallS, 3);
  assert.equal(s.full.ddS, 2);
  assert.equal(s.full.ratio, 1.5); // median of 1, 1.5, 10: not 3 / 2
  assert.deepEqual(s.full.ranges.wall, [2, 10]);
  assert.equal(s.restartWarmS, 0.2);
  const i = summarize(result('incr4gib', [], [[2, 2]], 0.2, true), null).incremental!;
  assert.ok(Math.abs(i.timeVsFull - 0.05) < 1e-9);
  assert.ok(Math.abs(i.sizeVsFull - 0.05) < 1e-9);
});

test('overhead and exec summaries: each pair its own ratio', () => {
  const t = (cpu: number, oc: number, wr: number): { onCpu: { cpu: number; openclose: number; write: number }; wall: { cpu: number; openclose: number; write: number } } =>
    ({ onCpu: { cpu, openclose: oc, write: wr }, wall: { cpu: cpu * 2, openclose: oc * 2, write: wr * 2 } });
  const o = summarizeOverhead({ slices: 10, pairs: [{ native: t(100, 50, 50), stasis: t(101, 50, 60) }, { native: t(200, 50, 50), stasis: t(200, 50, 50) }] });
  assert.ok(Math.abs(o.onCpu.cpu - 0.005) < 1e-9);
  assert.ok(Math.abs(o.onCpu.syscall - 0.05) < 1e-9);
  assert.ok(Math.abs(o.onCpu.write - 0.1) < 1e-9);
  const e = summarizeExec({ count: 20, pairs: [{ nativeS: 0.001, stasisS: 0.004 }, { nativeS: 0.002, stasisS: 0.009 }, { nativeS: 0.001, stasisS: 0.003 }] });
  assert.ok(Math.abs(e.extraS - 0.003) < 1e-9);
});

test('targets: pass, fail, and never a pass for what did not run', () => {
  const rows: Summary[] = [
    summarize(result('4gib', [], [[2.6, 2]]), null),
    summarize(result('1gib', [], [[1, 1]]), null),
    summarize(result('incr4gib', [], [[2, 2]], 0.2, true), null),
  ];
  const t = evaluateTargets({ rows, overhead: null, exec: null, compressionBuilt: false, criuMissing: 'CRIU unavailable: not installed' });
  const by = (prefix: string): string => t.find((x) => x.target.startsWith(prefix))!.verdict;
  assert.equal(by('Application pause'), 'fail');
  assert.equal(t.find((x) => x.target.includes('incompressible (1 GiB'))!.verdict, 'pass');
  assert.equal(t.find((x) => x.target.includes('incompressible (4 GiB'))!.verdict, 'fail');
  assert.equal(by('Checkpoint durable faster'), 'not measured');
  assert.equal(by('4 GiB uncompressed'), 'pass');
  assert.equal(by('Pause ≥ 2×'), 'not measured');
  assert.equal(by('5%-dirty incremental checkpoint ≤ 10% of a full one in size'), 'pass');
  assert.equal(by('Runtime overhead ≤ 1%'), 'not measured');
  // With compression built, the restart target needs the --no-compress row.
  const c = evaluateTargets({ rows, overhead: null, exec: null, compressionBuilt: true, criuMissing: 'x' });
  assert.equal(c.find((x) => x.target.startsWith('4 GiB uncompressed'))!.verdict, 'not measured');
  const svg = renderChart({ rows, overhead: null, exec: null, targets: t }, 'test');
  assert.match(svg, /^<svg [^>]*viewBox="0 0 900 \d+"/);
  assert.match(svg, />FAIL</);
  assert.match(svg, />PASS</);
  assert.ok(!/NaN|undefined/.test(svg));
});
