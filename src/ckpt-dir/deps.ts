/*
 * Generations that depend on earlier ones (incremental checkpoints, docs/architecture.md).
 *
 * An incremental image refers to images of earlier generations of its checkpoint directory
 * (its PARENT records: `gen-NNNNNN/NAME`). References are flat — a PARENT is the image that
 * holds the bytes — so a generation's dependencies are exactly the generations its images'
 * PARENTs name; the manifest lists them (`dependsOn`). From that:
 *   - retention keeps every generation a kept one depends on;
 *   - a restart checks every dependency is there and complete before anything starts;
 *   - the coordinator decides whether the next checkpoint may be incremental (the policy).
 */

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode, StasisError } from '../errors';
import { ImageMetadata, ImageParent } from '../image/format';
import { parentGeneration, readImageParents } from '../image/incr';
import { WRITE_FULL, WRITE_TRACK } from '../protocol/messages';
import { generationName, listGenerations, readLatest } from './generations';
import { Manifest, MANIFEST_FILE, parseManifest } from './manifest';
import type { ResolvedGeneration } from './resolve';

/** What the images of a generation just written need: read from their PARENT records. */
export interface GenerationDeps {
  /** Generation numbers, ascending, without the generation itself. */
  dependsOn: number[];
  /** Per image file name: bytes of memory it takes from earlier generations. */
  refBytes: Map<string, number>;
}

export async function generationDeps(genPath: string, generation: number, images: string[]): Promise<GenerationDeps> {
  const gens = new Set<number>();
  const refBytes = new Map<string, number>();
  for (const image of images) {
    const parents = await readImageParents(path.join(genPath, image));
    let bytes = 0n;
    for (const p of parents) {
      const g = parentGeneration(p.path);
      if (g >= generation) {
        throw new StasisError('BAD_IMAGE', `${image} in ${genPath} refers to ${p.path}, which is not an earlier generation`);
      }
      gens.add(g);
      bytes += p.refBytes;
    }
    refBytes.set(image, Number(bytes));
  }
  return { dependsOn: [...gens].sort((a, b) => a - b), refBytes };
}

async function readManifestOf(ckptDir: string, name: string): Promise<Manifest | null> {
  const file = path.join(ckptDir, name, MANIFEST_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
    throw err;
  }
  return parseManifest(text, file);
}

/**
 * The generation folder names in `keep`, every generation they depend on, and so on: so
 * that every generation kept can still be restarted. A kept generation whose manifest
 * cannot be read keeps nothing more (it is kept itself).
 */
export async function withDependencies(ckptDir: string, keep: Iterable<string>): Promise<Set<string>> {
  const out = new Set<string>(keep);
  const todo = [...out];
  while (todo.length > 0) {
    const name = todo.pop()!;
    let m: Manifest | null;
    try {
      m = await readManifestOf(ckptDir, name);
    } catch {
      m = null;
    }
    for (const g of m?.dependsOn ?? []) {
      const dep = generationName(g);
      if (!out.has(dep)) {
        out.add(dep);
        todo.push(dep);
      }
    }
  }
  return out;
}

/**
 * Before a restart: every image an image of the generation refers to is there, in a
 * complete generation, as large as the reference says. The loader checks each one again
 * (and that it is the same image) before it touches anything.
 */
export async function checkDependencies(gen: ResolvedGeneration, images: ImageMetadata[]): Promise<void> {
  const missing = (p: ImageParent, image: string, why: string): StasisError =>
    new StasisError('INCOMPLETE_GENERATION',
      `generation ${gen.name} cannot be restarted: ${image} needs ${p.path} from generation ${p.path.slice(0, p.path.indexOf('/'))}, which ${why} — restart from a generation whose dependencies are all there (\`stasis inspect ${gen.ckptDir}\` lists them)`);
  for (const img of images) {
    const name = path.basename(img.path);
    for (const p of img.incremental?.parents ?? []) {
      const depGen = p.path.slice(0, p.path.indexOf('/'));
      const manifest = await readManifestOf(gen.ckptDir, depGen).catch(() => null);
      if (manifest === null) throw missing(p, name, 'is missing or incomplete');
      let size: number;
      try {
        size = (await fsp.stat(path.join(gen.ckptDir, p.path))).size;
      } catch {
        throw missing(p, name, 'does not hold that image any more');
      }
      if (BigInt(size) !== p.fileSize) throw missing(p, name, 'holds another image of that name now');
    }
  }
}

/** When the coordinator lets agents write incremental images. */
export interface IncrementalPolicy {
  /** Off: agents write full images and track nothing (`--no-incremental`). */
  enabled: boolean;
  /** A full generation at least every N generations (a chain is never longer). */
  fullEvery: number;
}

export const DEFAULT_FULL_EVERY = 8;

export interface WriteMode {
  /** WRITE.flags */
  flags: number;
  /** Why a full image is asked for, when it is. */
  why: string;
}

/**
 * The WRITE flags for a generation of `ckptDir` (docs/protocol.md). An agent writes an
 * incremental image only when asked to and when it holds the table of its last committed
 * image; otherwise it writes a full one, so these flags are a ceiling, not a promise. Full:
 * when asked (`stasis checkpoint --full`), when the latest generation already depends on
 * fullEvery-1 others, and when the generations it depends on hold more than twice what it
 * still uses of them (most of their bytes are dead: a full image lets retention drop them).
 */
export async function writeModeFor(ckptDir: string, policy: IncrementalPolicy, forceFull: boolean): Promise<WriteMode> {
  if (!policy.enabled) return { flags: 0, why: 'incremental checkpoints are off' };
  const full = (why: string): WriteMode => ({ flags: WRITE_TRACK | WRITE_FULL, why });
  if (forceFull) return full('a full checkpoint was asked for');
  const latestName = await readLatest(ckptDir).catch(() => null);
  const latest = latestName === null ? null : await readManifestOf(ckptDir, latestName).catch(() => null);
  if (latest === null) return full('no earlier generation');
  const latestDeps = latest.dependsOn ?? [];
  if (latestDeps.length + 1 >= policy.fullEvery) return full(`every ${policy.fullEvery} generations`);
  if (latestDeps.length > 0) {
    const gens = await listGenerations(ckptDir);
    let depBytes = 0;
    for (const g of latestDeps) {
      const m = gens.some((e) => e.number === g && e.complete) ? await readManifestOf(ckptDir, generationName(g)).catch(() => null) : null;
      if (m === null) return full(`generation ${generationName(g)} it depends on is gone`);
      depBytes += m.processes.reduce((s, p) => s + p.bytes, 0);
    }
    const used = latest.processes.reduce((s, p) => s + (p.refBytes ?? 0), 0);
    if (depBytes > 2 * used) return full('the earlier generations hold mostly pages rewritten since');
  }
  return { flags: WRITE_TRACK, why: '' };
}
