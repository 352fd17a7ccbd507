/*
 * `npm run bench`: checkpoint time, restart time and image size of Stasis for a few
 * workloads, each checkpoint paired with dd writing the same bytes to the same directory
 * (and with CRIU when a working one is installed). Progress goes to stderr, the table of
 * medians to stdout, and docs/benchmarks.md with docs/benchmarks.svg are rewritten.
 *
 * A benchmark, not a test: it asserts only that the workloads survive (their heartbeats
 * check their own state), never that a figure is under some limit.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { StasisError } from '../errors';
import { packageRoot } from '../native/paths';
import { renderChart } from './chart';
import { CriuResult, CriuStatus, detectCriu, killCriuWorkload, measureCriu } from './criu';
import { describeMachine, memAvailable } from './machine';
import { measureWorkload, WorkloadResult } from './measure';
import { killAll } from './proc';
import { renderMarkdown, textTable } from './report';
import { snapshotBuild, StasisDriver } from './stasis-driver';
import { summarize } from './summary';
import { compileWorkload, Workload, WORKLOADS } from './workloads';

const USAGE = `usage: npm run bench -- [--quick | --runs N] [--only NAME[,NAME...]] [--no-docs]

  --quick     one run of each measurement instead of three
  --runs N    N runs of each measurement (1 to 20)
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

/** Why `w` cannot run here now, or null. Two generations, a dd copy and a scratch file share the disk. */
function cannotRun(w: Workload, workDir: string): string | null {
  const needMem = w.touchedBytes + 1024 ** 3;
  if (memAvailable() < needMem) return `${w.label} (needs ${(needMem / 1024 ** 3).toFixed(1)} GiB of available memory)`;
  const st = fs.statfsSync(workDir);
  const needDisk = 4 * w.touchedBytes + 1024 ** 3;
  if (st.bavail * st.bsize < needDisk) return `${w.label} (needs ${(needDisk / 1024 ** 3).toFixed(1)} GiB free in ${workDir})`;
  return null;
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
  const skipped: string[] = [];
  const loads = [`${os.loadavg()[0]!.toFixed(2)} at the start`];
  let criu: CriuStatus;
  try {
    const machine = await describeMachine(workDir);
    if (os.loadavg()[0]! > 0.5) log(`note: the machine is busy before the bench starts (load average ${os.loadavg()[0]!.toFixed(2)}); expect noisy figures`);
    criu = await detectCriu();
    log(criu.line);
    driver = await StasisDriver.start(snapshotBuild(path.join(workDir, 'stasis')), workDir);
    log(`coordinator on port ${driver.port}; work folder ${workDir}`);

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
      const program = await compileWorkload(w, workDir);
      results.push(await measureWorkload(driver, w, program, workDir, opts.reps));
      if (criu.usable) {
        try {
          criuRuns.set(w.name, await measureCriu(criu.binary!, w, program, workDir, opts.reps));
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          log(`CRIU run of ${w.name} failed: ${msg}`);
          criu = { ...criu, line: `${criu.line} Its run of ${w.label} failed: ${msg}` };
        }
      }
    }
    await driver.shutdown();
    driver = null;

    const summaries = results.map((r) => summarize(r, criuRuns.get(r.workload.name) ?? null));
    process.stdout.write(textTable(summaries));
    if (opts.writeDocs && summaries.length) {
      const docs = path.join(root, 'docs');
      const subtitle = `${machine.date}, ${machine.cpus.split(' × ')[0]} cores, ${machine.memory}, ${machine.kernel}; images fsynced to ${machine.disk.split(' ')[0]}`;
      fs.writeFileSync(path.join(docs, 'benchmarks.svg'), renderChart(summaries, subtitle));
      loads.push(`${os.loadavg()[0]!.toFixed(2)} at the end`);
      const run = { machine, reps: opts.reps, skipped, loads, criuLine: criu.line, workDir: path.dirname(workDir), wallS: (performance.now() - t0) / 1000 };
      fs.writeFileSync(path.join(docs, 'benchmarks.md'), renderMarkdown(summaries, results, run, 'benchmarks.svg'));
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
