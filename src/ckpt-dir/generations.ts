/*
 * Generation folders inside a checkpoint directory: numbering, creation, the durable commit
 * (MANIFEST.json, then the `latest` link) and pruning.
 *
 * Durability order matters for crash safety: images are already fsynced and renamed by the
 * agents; the manifest is written to a temporary file, fsynced, renamed and the folder
 * fsynced; only then does `latest` move (a new link renamed over the old one, then the
 * checkpoint directory fsynced). A crash at any point leaves `latest` on a complete
 * generation; a folder without a manifest is garbage that the next commit removes.
 */

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode } from '../errors';
import { withDependencies } from './deps';
import { Manifest, MANIFEST_FILE, serializeManifest } from './manifest';

export const LATEST_LINK = 'latest';
const GENERATION_RE = /^gen-([0-9]{6,})$/;

export interface GenerationEntry {
  name: string;
  number: number;
  path: string;
  complete: boolean;
}

export function generationName(n: number): string {
  return `gen-${String(n).padStart(6, '0')}`;
}

export function parseGenerationName(name: string): number | null {
  const m = GENERATION_RE.exec(name);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Generation folders of a checkpoint directory, oldest first. A missing directory has none. */
export async function listGenerations(ckptDir: string): Promise<GenerationEntry[]> {
  let names: fs.Dirent[];
  try {
    names = await fsp.readdir(ckptDir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: GenerationEntry[] = [];
  for (const d of names) {
    const number = parseGenerationName(d.name);
    if (number === null || !d.isDirectory()) continue;
    const p = path.join(ckptDir, d.name);
    out.push({ name: d.name, number, path: p, complete: await exists(path.join(p, MANIFEST_FILE)) });
  }
  return out.sort((a, b) => a.number - b.number);
}

/** Creates the next generation folder (mode 0700), numbered after the highest existing one. */
export async function createGeneration(ckptDir: string): Promise<GenerationEntry> {
  await fsp.mkdir(ckptDir, { recursive: true, mode: 0o700 });
  const existing = await listGenerations(ckptDir);
  let number = existing.length > 0 ? existing[existing.length - 1]!.number + 1 : 1;
  for (;;) {
    const name = generationName(number);
    const p = path.join(ckptDir, name);
    try {
      await fsp.mkdir(p, { mode: 0o700 });
      return { name, number, path: p, complete: false };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      number += 1;
    }
  }
}

/** Writes the manifest durably, points `latest` at the generation, prunes old ones. */
export async function commitGeneration(gen: GenerationEntry, manifest: Manifest, keep: number): Promise<void> {
  await writeFileDurably(path.join(gen.path, MANIFEST_FILE), serializeManifest(manifest));
  const ckptDir = path.dirname(gen.path);
  await swapLatest(ckptDir, gen.name);
  await pruneGenerations(ckptDir, keep, gen.name);
}

/** Removes a generation folder that will not be committed. */
export async function discardGeneration(gen: GenerationEntry): Promise<void> {
  await fsp.rm(gen.path, { recursive: true, force: true });
}

/** Atomically replaces `<ckptDir>/latest` with a relative link to `target`. */
export async function swapLatest(ckptDir: string, target: string): Promise<void> {
  const tmp = path.join(ckptDir, `${LATEST_LINK}.tmp`);
  await fsp.rm(tmp, { force: true });
  await fsp.symlink(target, tmp);
  await fsp.rename(tmp, path.join(ckptDir, LATEST_LINK));
  await fsyncDir(ckptDir);
}

/** The folder name `latest` points to, or null. */
export async function readLatest(ckptDir: string): Promise<string | null> {
  try {
    return path.basename(await fsp.readlink(path.join(ckptDir, LATEST_LINK)));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'EINVAL') return null;
    throw err;
  }
}

/**
 * Removes incomplete generations and complete ones beyond the `keep` newest. Never removes
 * `current`, what `latest` points to, nor a generation one of those kept depends on (an
 * incremental generation's images refer to earlier ones: ckpt-dir/deps.ts).
 */
export async function pruneGenerations(ckptDir: string, keep: number, current: string): Promise<string[]> {
  const latest = await readLatest(ckptDir);
  const gens = await listGenerations(ckptDir);
  const complete = gens.filter((g) => g.complete).reverse();
  const keepNames = new Set(complete.slice(0, Math.max(1, keep)).map((g) => g.name));
  keepNames.add(current);
  if (latest !== null) keepNames.add(latest);
  const kept = await withDependencies(ckptDir, keepNames);
  const removed: string[] = [];
  for (const g of gens) {
    if (kept.has(g.name)) continue;
    await fsp.rm(g.path, { recursive: true, force: true });
    removed.push(g.name);
  }
  return removed;
}

export async function writeFileDurably(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
