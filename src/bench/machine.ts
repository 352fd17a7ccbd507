/*
 * What the bench needs to know about, and do to, the machine itself: a description for the
 * report, the raw-storage baseline (dd with fsync into the checkpoint directory), and page
 * cache control without privileges. Dropping the whole cache needs root; dropping one
 * file's clean pages does not (`dd iflag=nocache count=0` is posix_fadvise DONTNEED), and
 * `fincore` says how much of a file is cached, so "cold" and "warm" are measured, not assumed.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../native/paths';
import { runChecked, runCommand } from './proc';

export interface MachineInfo {
  date: string;
  cpus: string;
  memory: string;
  kernel: string;
  disk: string;
  thp: string;
  node: string;
  stasis: string;
}

async function tryRun(file: string, args: string[]): Promise<string | null> {
  try {
    const r = await runCommand(file, args, 15000);
    return r.code === 0 ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}

export async function describeMachine(workDir: string): Promise<MachineInfo> {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown';
  const df = await tryRun('df', ['-hT', workDir]);
  const dfLine = df?.split('\n')[1]?.trim().split(/\s+/);
  const disk = dfLine
    ? `${dfLine[0]} (${dfLine[1]}, ${dfLine[2]}, ${dfLine[4]} free, mounted on ${dfLine[6]})${/^\/dev\/vd/.test(dfLine[0]!) ? ', a virtio disk' : ''}`
    : 'unknown (df failed)';
  let thp = 'unknown';
  try {
    thp = fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').trim();
  } catch {
    // no THP on this kernel
  }
  const root = packageRoot();
  const commit = await tryRun('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  // The bench's own outputs do not make the build under test a modified one.
  const dirty = await tryRun('git', ['-C', root, 'status', '--porcelain', '--', '.', ':!docs/benchmarks.md', ':!docs/benchmarks.svg']);
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // reported as unknown
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: `${cpus.length} × ${model}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `Linux ${os.release()}`,
    disk,
    thp,
    node: process.version,
    stasis: `${version}${commit ? ` at ${commit}` : ''}${dirty ? ' with uncommitted changes' : ''}`,
  };
}

/** MemAvailable from /proc/meminfo, in bytes. */
export function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : os.freemem();
}

/** A "kB" field of /proc/PID/status (VmRSS, RssAnon, ...) in bytes, or null when it cannot be read. */
function statusBytes(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Resident set of a host pid, in bytes, or null when it cannot be read. */
export function residentBytes(pid: number): number | null {
  return statusBytes(pid, 'VmRSS');
}

/** Resident anonymous memory of a host pid: what any checkpointer must save. */
export function anonBytes(pid: number): number | null {
  return statusBytes(pid, 'RssAnon');
}

export interface DdResult {
  seconds: number;
  bytes: number;
  /** The copies, left for the caller to delete. */
  outputs: string[];
}

/**
 * Copies each source file into `dir` as `<name>-<k>` with `dd bs=4M conv=fsync` (a copy is
 * durable when dd exits, as a checkpoint image is when `stasis checkpoint` exits), one after
 * another; returns the summed wall time.
 */
export async function ddCopies(sources: string[], dir: string, name: string, timeoutMs: number): Promise<DdResult> {
  const out: DdResult = { seconds: 0, bytes: 0, outputs: [] };
  for (const [k, src] of sources.entries()) {
    const dst = path.join(dir, `${name}-${k}`);
    out.outputs.push(dst);
    const r = await runChecked('dd', [`if=${src}`, `of=${dst}`, 'bs=4M', 'conv=fsync', 'status=none'], timeoutMs);
    out.seconds += r.seconds;
    out.bytes += fs.statSync(dst).size;
  }
  return out;
}

/** Total size of the regular files under `dir` (what a generation folder holds on disk). */
export function folderBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += folderBytes(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

/** Time to read the files from disk: their cached pages dropped first, then dd to /dev/null. */
export async function coldRead(files: string[], timeoutMs: number): Promise<number> {
  await dropFromCache(files);
  let seconds = 0;
  for (const f of files) seconds += (await runChecked('dd', [`if=${f}`, 'of=/dev/null', 'bs=4M', 'status=none'], timeoutMs)).seconds;
  return seconds;
}

/** Writes `bytes` (rounded up to 4 MiB) of zeros to `file` and fsyncs it; untimed ballast. */
export async function writeScratch(file: string, bytes: number, timeoutMs: number): Promise<string> {
  const count = Math.max(1, Math.ceil(bytes / (4 * 1024 * 1024)));
  await runChecked('dd', ['if=/dev/zero', `of=${file}`, 'bs=4M', `count=${count}`, 'conv=fsync', 'status=none'], timeoutMs);
  return file;
}

export function removeAll(files: string[]): void {
  for (const f of files) fs.rmSync(f, { force: true });
}

/** Drops the clean cached pages of each file (posix_fadvise DONTNEED through dd). */
export async function dropFromCache(files: string[]): Promise<void> {
  for (const f of files) await runChecked('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none'], 30000);
}

/**
 * Reads each file whole, untimed, so that it is in the page cache. A restart that maps
 * its image in place reads only the pages the program touches, so after a cold restart
 * the image is only partly cached: a "warm" restart must make sure of it first.
 */
export async function loadIntoCache(files: string[], timeoutMs: number): Promise<void> {
  for (const f of files) await runChecked('dd', [`if=${f}`, 'of=/dev/null', 'bs=4M', 'status=none'], timeoutMs);
}

/** Fraction (0..1) of the files' bytes in the page cache, or null without fincore. */
export async function cachedFraction(files: string[]): Promise<number | null> {
  let res = 0;
  let size = 0;
  for (const f of files) {
    const out = await tryRun('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES,SIZE', f]);
    const m = out ? /^(\d+)\s+(\d+)$/.exec(out) : null;
    if (!m) return null;
    res += Number(m[1]);
    size += Number(m[2]);
  }
  return size === 0 ? 1 : Math.min(1, res / size);
}
