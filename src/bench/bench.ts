/*
 * `npm run bench`: issue 4's measurements of Stasis. For each workload: the pause the
 * application sees, the time until the checkpoint is durable, the image size and the
 * restart time, each checkpoint paired with dd writing as many bytes to the same
 * directory (and CRIU running the same workload, interleaved, when a working one is
 * installed); a 5%-dirty incremental checkpoint; and the cost of running under Stasis
 * (a CPU-bound loop, a syscall-heavy loop, exec). Then the issue's targets, judged.
 * Progress goes to stderr, the medians and targets to stdout, and docs/benchmarks.md with
 * docs/benchmarks.svg are rewritten.
 *
 * A benchmark, not a test: it asserts only that the workloads survive (their heartbeats
 * check their own state); a missed target is reported, not an error.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { StasisError } from '../errors';
import { packageRoot } from '../native/paths';
import { renderChart } from './chart';
import { CriuResult, CriuStatus, detectCriu, killCriuWorkload, measureCriu } from './criu';
import { describeFeatures, detectFeatures, Features } from './features';
import { describeMachine, memAvailable } from './machine';
import { measureWorkload, WorkloadResult } from './measure';
import { ExecResult, measureExec, measureOverhead, OverheadResult } from './overhead';
import { killAll, runCommand } from './proc';
import { Report, renderMarkdown, textTable } from './report';
import { snapshotBuild, StasisDriver } from './stasis-driver';
import { summarize, summarizeExec, summarizeOverhead } from './summary';
import { evaluateTargets } from './targets';
import { prepareProgram, Workload, WORKLOADS } from './workloads';

const USAGE = `usage: npm run bench -- [--quick | --runs N] [--only NAME[,NAME...]] [--no-docs]

  --quick     one run of each measurement instead of three (two pairs for the overheads)
  --runs N    N runs of each measurement (1 to 20)

  STASIS_BENCH_CRIU=/path/to/criu uses that CRIU rather than the one on PATH.
  --only      run only these workloads: ${WORKLOADS.map((w) => w.name).join(', ')}
  --no-docs   print the table but leave docs/benchmarks.md and .svg alone
`;

interface Options {
  reps: number;
  only: Set<string> | null;
  writeDocs: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const o: Options = { reps: 3, only: null, writeDocs: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return null;
    else if (a === '--quick') o.reps = 1;
    else if (a === '--runs' || a.startsWith('--runs=')) {
      const v = a === '--runs' ? argv[++i] : a.slice('--runs='.length);
      if (!v || !/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > 20) throw new StasisError('USAGE', `--runs needs a whole number from 1 to 20, got ${JSON.stringify(v ?? '')}`);
      o.reps = Number(v);
    }
    else if (a === '--no-docs') o.writeDocs = false;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) throw new StasisError('USAGE', `--only needs a workload name: ${WORKLOADS.map((w) => w.name).join(', ')}`);
      o.only = new Set(v.split(','));
      for (const n of o.only) {
        if (!WORKLOADS.some((w) => w.name === n)) throw new StasisError('USAGE', `no workload ${JSON.stringify(n)}; there are ${WORKLOADS.map((w) => w.name).join(', ')}`);
      }
    } else throw new StasisError('USAGE', `unknown option ${JSON.stringify(a)} — see \`npm run bench -- --help\``);
  }
  return o;
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/**
 * Why `w` cannot run here now, or null. Two generations, a dd copy, a file of raw data and a
 * scratch file share the disk.
 */
function cannotRun(w: Workload, workDir: string): string | null {
  const needMem = w.touchedBytes + 1024 ** 3;
  if (memAvailable() < needMem) return `${w.label} (needs ${(needMem / 1024 ** 3).toFixed(1)} GiB of available memory)`;
  const st = fs.statfsSync(workDir);
  const needDisk = 5 * w.touchedBytes + 1024 ** 3;
  if (st.bavail * st.bsize < needDisk) return `${w.label} (needs ${(needDisk / 1024 ** 3).toFixed(1)} GiB free in ${workDir})`;
  return null;
}

/** The launch option sets to run `w` with: the default, then each variant this build has. */
function variantsOf(w: Workload, f: Features): string[][] {
  return [[], ...(w.variants ?? []).filter((v) => f.launchOptions.has(v)).map((v) => [v])];
}

/** "yes", "no" or "unknown": whether this kernel has soft-dirty bits (programs/overhead.c). */
async function probeSoftDirty(workDir: string): Promise<string> {
  try {
    const p = await prepareProgram(WORKLOADS.find((w) => w.kind === 'overhead')!, workDir);
    const r = await runCommand(p.file, ['softdirty'], 10000);
    return /^softdirty (yes|no)$/m.exec(r.stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(opts: Options): Promise<number> {
  const t0 = performance.now();
  const root = packageRoot();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-bench-'));
  if (fs.statSync(workDir).dev !== fs.statSync(root).dev) {
    log(`note: ${workDir} is not on the filesystem that holds ${root}; the figures are for the former`);
  }
  let driver: StasisDriver | null = null;
  let stopping = false;
  const emergency = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping and cleaning up`);
    const done = (): never => {
      killAll();
      killCriuWorkload();
      fs.rmSync(workDir, { recursive: true, force: true });
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    };
    setTimeout(done, 10000).unref();
    void (driver ? driver.shutdown() : Promise.resolve()).finally(done);
  };
  process.on('SIGINT', emergency);
  process.on('SIGTERM', emergency);

  const results: WorkloadResult[] = [];
  const criuRuns = new Map<string, CriuResult>();
  let overhead: OverheadResult | null = null;
  let exec: ExecResult | null = null;
  const skipped: string[] = [];
  const loads = [`${os.loadavg()[0]!.toFixed(2)} at the start`];
  let criu: CriuStatus;
  try {
    const machine = await describeMachine(workDir);
    if (os.loadavg()[0]! > 0.5) log(`note: the machine is busy before the bench starts (load average ${os.loadavg()[0]!.toFixed(2)}); expect noisy figures`);
    criu = await detectCriu();
    log(criu.line);
    const bin = snapshotBuild(path.join(workDir, 'stasis'));
    const features = await detectFeatures(bin);
    const featureLines = describeFeatures(features);
    for (const l of featureLines) log(l);
    const softDirty = await probeSoftDirty(workDir);
    driver = await StasisDriver.start(bin, workDir);
    log(`coordinator on port ${driver.port}; work folder ${workDir}`);
    const pairs = opts.reps === 1 ? 2 : opts.reps + 2;

    for (const w of WORKLOADS) {
      if (opts.only && !opts.only.has(w.name)) {
        skipped.push(`${w.label} (left out by --only)`);
        continue;
      }
      const why = cannotRun(w, workDir);
      if (why) {
        log(`skipping ${why}`);
        skipped.push(why);
        continue;
      }
      loads.push(`${os.loadavg()[0]!.toFixed(2)} before ${w.name}`);
      const program = await prepareProgram(w, workDir);
      if (w.kind === 'overhead') {
        overhead = await measureOverhead(driver, program, workDir, pairs);
        continue;
      }
      if (w.kind === 'exec') {
        exec = await measureExec(driver, program, workDir, pairs, opts.reps === 1 ? 20 : 40);
        continue;
      }
      for (const options of variantsOf(w, features)) {
        results.push(await measureWorkload(driver, w, options, program, features, workDir, opts.reps));
      }
      if (criu.usable) {
        try {
          criuRuns.set(w.name, await measureCriu(criu, w, program, workDir, opts.reps));
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          log(`CRIU run of ${w.name} failed: ${msg}`);
          criu = { ...criu, line: `${criu.line} Its run of ${w.label} failed: ${msg}` };
        }
      }
    }
    for (const w of WORKLOADS) {
      for (const v of w.variants ?? []) {
        if (!features.launchOptions.has(v) && (!opts.only || opts.only.has(w.name))) skipped.push(`${w.label} with ${v} (this build's \`stasis launch\` has no ${v})`);
      }
    }
    await driver.shutdown();
    driver = null;

    const rows = results.map((r) => summarize(r, r.options.length === 0 ? criuRuns.get(r.workload.name) ?? null : null));
    const overheadSummary = overhead ? summarizeOverhead(overhead) : null;
    const execSummary = exec ? summarizeExec(exec) : null;
    const targets = evaluateTargets({
      rows, overhead: overheadSummary, exec: execSummary,
      compressionBuilt: features.launchOptions.has('--no-compress'),
      criuMissing: rows.some((r) => r.criu) ? null : criu.usable ? 'CRIU ran on no workload of this run' : criu.line.replace(/ No CRIU columns in this run\.$| so there are no CRIU columns in this run\.$/, ''),
    });
    const report: Report = { rows, results, overhead: overheadSummary, exec: execSummary, targets };
    process.stdout.write(textTable(report));
    if (opts.writeDocs && (rows.length || overhead || exec)) {
      const docs = path.join(root, 'docs');
      const subtitle = `${machine.date}, ${machine.cpus.split(' × ')[0]} cores, ${machine.memory}, ${machine.kernel}; images fsynced to ${machine.disk.split(' ')[0]}`;
      fs.writeFileSync(path.join(docs, 'benchmarks.svg'), renderChart(report, subtitle));
      loads.push(`${os.loadavg()[0]!.toFixed(2)} at the end`);
      const run = {
        machine, reps: opts.reps, skipped, loads, criuLine: criu.line, features: featureLines, softDirty,
        workDir: path.dirname(workDir), wallS: (performance.now() - t0) / 1000,
      };
      fs.writeFileSync(path.join(docs, 'benchmarks.md'), renderMarkdown(report, run, 'benchmarks.svg'));
      log(`wrote ${path.join(docs, 'benchmarks.md')} and benchmarks.svg`);
    }
    return 0;
  } finally {
    if (driver) {
      log(`coordinator log tail:\n${driver.logTail()}`);
      await driver.shutdown();
    }
    killAll();
    killCriuWorkload();
    fs.rmSync(workDir, { recursive: true, force: true });
    process.off('SIGINT', emergency);
    process.off('SIGTERM', emergency);
  }
}

function run(): void {
  let opts: Options | null;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (opts === null) {
    process.stdout.write(USAGE);
    return;
  }
  void main(opts).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const known = err instanceof StasisError;
      process.stderr.write(`bench: ${known ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

run();
