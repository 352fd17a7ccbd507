/*
 * The programs the bench checkpoints. Their C sources live in src/bench/programs/ and are
 * compiled with gcc into the bench's temporary folder on every run (they are not part of
 * the build). Each prints "ready" once set up, then "beat K ok ..." about every 10 ms; a
 * heartbeat that says anything but "ok" means the program found its state damaged.
 */

import * as path from 'node:path';
import { packageRoot } from '../native/paths';
import { runChecked } from './proc';

export interface Workload {
  /** For --only. */
  name: string;
  /** For tables and the chart. */
  label: string;
  source: string;
  gccFlags: string[];
  args: string[];
  /** Memory the program fills, or 0 when it is small. */
  touchedBytes: number;
  /** How long it may take to print "ready". */
  readyTimeoutMs: number;
}

const GIB = 1024 ** 3;

function memtouch(gib: number): Workload {
  return {
    name: `${gib}gib`,
    label: `${gib} GiB touched`,
    source: 'memtouch.c',
    gccFlags: [],
    args: [String(gib * 1024)],
    touchedBytes: gib * GIB,
    readyTimeoutMs: 30000 + gib * 30000,
  };
}

export const WORKLOADS: Workload[] = [
  memtouch(1),
  memtouch(4),
  {
    name: 'threads8',
    label: '8 threads, small',
    source: 'threads8.c',
    gccFlags: ['-pthread'],
    args: [],
    touchedBytes: 0,
    readyTimeoutMs: 30000,
  },
];

/** Where the C sources are: next to this file's TypeScript source, not in dist/. */
export function programsDir(): string {
  return path.join(packageRoot(), 'src', 'bench', 'programs');
}

/** Compiles the workload into `dir`; returns the executable's path. */
export async function compileWorkload(w: Workload, dir: string): Promise<string> {
  const out = path.join(dir, path.basename(w.source, '.c'));
  await runChecked('gcc', ['-O2', '-Wall', '-Wextra', ...w.gccFlags, '-o', out, path.join(programsDir(), w.source)], 120000);
  return out;
}
