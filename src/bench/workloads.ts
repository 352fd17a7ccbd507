/*
 * What the bench runs. Checkpoint workloads are programs in src/bench/programs/ that set
 * up their state, print "ready", then run the heartbeat loop of heartbeat.h (the Python
 * one has its own copy): a line "beat K ok ... gap_us G" every 10 ms that checks the
 * program's own state and carries the longest stall it saw. Two more entries measure the
 * cost of running under Stasis at all (`overhead`, `exec`) with programs/overhead.c.
 *
 * C sources are compiled with gcc into the bench's temporary folder on every run (they
 * are not part of the build); the Python script is copied there and run with the
 * python3 on PATH.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { StasisError } from '../errors';
import { packageRoot } from '../native/paths';
import { runChecked, runCommand } from './proc';

export type WorkloadKind = 'checkpoint' | 'overhead' | 'exec';

export interface Workload {
  /** For --only. */
  name: string;
  /** For tables and the chart. */
  label: string;
  kind: WorkloadKind;
  /** File in src/bench/programs/: a .c file, or a .py script. */
  source: string;
  gccFlags: string[];
  args: string[];
  /** Memory the program fills, or 0 when it is small. */
  touchedBytes: number;
  /** How long it may take to print "ready". */
  readyTimeoutMs: number;
  /**
   * After the full checkpoint of each run, SIGUSR1 makes the program dirty some of its
   * pages (it prints "dirtied ..."), and a second checkpoint is measured: the incremental one.
   */
  incremental?: boolean;
  /**
   * Extra runs of the same workload with these `stasis launch` options, each only when
   * `stasis launch --help` lists it (the default run always happens).
   */
  variants?: string[];
}

const GIB = 1024 ** 3;

function memtouch(gib: number): Workload {
  return {
    name: `${gib}gib`,
    label: `${gib} GiB random`,
    kind: 'checkpoint',
    source: 'memtouch.c',
    gccFlags: [],
    args: [String(gib * 1024)],
    touchedBytes: gib * GIB,
    readyTimeoutMs: 30000 + gib * 30000,
  };
}

export const WORKLOADS: Workload[] = [
  memtouch(1),
  // --no-compress: the restart target is for an uncompressed 4 GiB image.
  { ...memtouch(4), variants: ['--no-compress'] },
  {
    name: 'field4gib',
    label: '4 GiB smooth field',
    kind: 'checkpoint',
    source: 'field.c',
    gccFlags: ['-lm'],
    args: ['4096'],
    touchedBytes: 4 * GIB,
    readyTimeoutMs: 150000,
  },
  {
    ...memtouch(4),
    name: 'incr4gib',
    label: '4 GiB random, 5% dirtied',
    // One page in 20, spread evenly over the buffer.
    args: ['4096', '20'],
    incremental: true,
  },
  {
    name: 'python',
    label: 'Python holding 500 MB',
    kind: 'checkpoint',
    source: 'pyobjects.py',
    gccFlags: [],
    args: ['500'],
    touchedBytes: 500e6,
    readyTimeoutMs: 120000,
  },
  {
    name: 'threads8',
    label: '8 threads, small',
    kind: 'checkpoint',
    source: 'threads8.c',
    gccFlags: ['-pthread'],
    args: [],
    touchedBytes: 0,
    readyTimeoutMs: 30000,
  },
  {
    name: 'overhead',
    label: 'Runtime overhead',
    kind: 'overhead',
    source: 'overhead.c',
    gccFlags: [],
    args: [],
    touchedBytes: 0,
    readyTimeoutMs: 0,
  },
  {
    name: 'exec',
    label: 'Exec start-up',
    kind: 'exec',
    source: 'overhead.c',
    gccFlags: [],
    args: [],
    touchedBytes: 0,
    readyTimeoutMs: 0,
  },
];

/** Where the sources are: next to this file's TypeScript source, not in dist/. */
export function programsDir(): string {
  return path.join(packageRoot(), 'src', 'bench', 'programs');
}

export interface Program {
  /** What to execute... */
  file: string;
  /** ...with these arguments before the workload's own. */
  prefix: string[];
}

const compiled = new Map<string, Program>();

/** The python3 a user would get from PATH, resolved to the real interpreter (not a shim). */
async function python(): Promise<string> {
  const r = await runCommand('python3', ['-c', 'import sys; print(sys.executable)'], 30000).catch(() => null);
  const exe = r?.code === 0 ? r.stdout.trim() : '';
  if (!exe) throw new StasisError('EXEC', 'the Python workload needs python3 on PATH');
  return exe;
}

/**
 * Builds (once per source and folder) what runs the workload's source: a gcc build into
 * `dir`, or the script copied there with the Python interpreter. Compiled once, so a
 * program that a checkpoint maps is never rewritten under a later restart.
 */
export async function prepareProgram(w: Workload, dir: string): Promise<Program> {
  const key = `${dir}\0${w.source}`;
  const done = compiled.get(key);
  if (done) return done;
  let p: Program;
  if (w.source.endsWith('.py')) {
    const script = path.join(dir, w.source);
    fs.copyFileSync(path.join(programsDir(), w.source), script);
    p = { file: await python(), prefix: [script] };
  } else {
    const out = path.join(dir, path.basename(w.source, '.c'));
    await runChecked('gcc', ['-O2', '-Wall', '-Wextra', '-o', out, path.join(programsDir(), w.source), ...w.gccFlags], 120000);
    p = { file: out, prefix: [] };
  }
  compiled.set(key, p);
  return p;
}

/** The raw-storage helper (programs/rawfile.c), built into `dir`. */
export function prepareRawfile(dir: string): Promise<Program> {
  return prepareProgram({ ...WORKLOADS[0]!, source: 'rawfile.c', gccFlags: [] }, dir);
}
