/*
 * Turns what the user names for `stasis restart` / `stasis inspect` — a checkpoint
 * directory (follow `latest`) or one generation folder — into a validated generation: its
 * manifest and the absolute paths of its images.
 */

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode, StasisError } from '../errors';
import { LATEST_LINK, parseGenerationName } from './generations';
import { Manifest, MANIFEST_FILE, ManifestProcess, parseManifest } from './manifest';

export interface GenerationImage {
  process: ManifestProcess;
  path: string;
}

export interface ResolvedGeneration {
  /** The checkpoint directory that holds the generation. */
  ckptDir: string;
  /** Absolute path of the generation folder. */
  path: string;
  name: string;
  manifest: Manifest;
  images: GenerationImage[];
}

/** True when `dir` itself looks like a generation folder rather than a checkpoint directory. */
export async function isGenerationFolder(dir: string): Promise<boolean> {
  if (parseGenerationName(path.basename(dir)) !== null) return true;
  return (await statOrNull(path.join(dir, MANIFEST_FILE))) !== null;
}

export async function resolveGeneration(target: string): Promise<ResolvedGeneration> {
  const abs = path.resolve(target);
  const st = await statOrNull(abs);
  if (st === null) {
    throw new StasisError('NO_CHECKPOINT', `no checkpoint directory at ${abs} — pass the directory given to \`stasis launch --ckpt-dir\``);
  }
  if (!st.isDirectory()) {
    throw new StasisError('NO_CHECKPOINT', `${abs} is not a directory — pass a checkpoint directory or one of its gen-NNNNNN folders`);
  }
  if (await isGenerationFolder(abs)) return loadGeneration(abs);

  const link = path.join(abs, LATEST_LINK);
  let target2: string;
  try {
    target2 = await fsp.readlink(link);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      throw new StasisError('NO_CHECKPOINT', `no checkpoint in ${abs} yet (no "latest" link) — take one with \`stasis checkpoint\``);
    }
    if (code === 'EINVAL') throw new StasisError('NO_CHECKPOINT', `${link} is not a symbolic link — point it at a gen-NNNNNN folder`);
    throw err;
  }
  const genPath = path.resolve(abs, target2);
  if ((await statOrNull(genPath)) === null) {
    throw new StasisError('NO_CHECKPOINT', `${link} points to ${target2}, which does not exist — pass an existing gen-NNNNNN folder`);
  }
  return loadGeneration(genPath);
}

async function loadGeneration(genPath: string): Promise<ResolvedGeneration> {
  const name = path.basename(genPath);
  const manifestPath = path.join(genPath, MANIFEST_FILE);
  let text: string;
  try {
    text = await fsp.readFile(manifestPath, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new StasisError('INCOMPLETE_GENERATION', `generation ${name} is incomplete (no ${MANIFEST_FILE}) — restart from an earlier one`);
    }
    throw new StasisError('IO', `cannot read ${manifestPath}: ${(err as Error).message}`);
  }
  const manifest = parseManifest(text, manifestPath);
  const number = parseGenerationName(name);
  if (number !== null && number !== manifest.generation) {
    throw new StasisError('BAD_MANIFEST', `${manifestPath} says generation ${manifest.generation} but the folder is ${name} — restart from an earlier generation`);
  }
  const images: GenerationImage[] = [];
  for (const p of manifest.processes) {
    const imagePath = path.join(genPath, p.image);
    const st = await statOrNull(imagePath);
    if (st === null || !st.isFile()) {
      throw new StasisError('BAD_MANIFEST', `image ${p.image} listed in ${manifestPath} is missing — restart from an earlier generation`);
    }
    images.push({ process: p, path: imagePath });
  }
  return { ckptDir: path.dirname(genPath), path: genPath, name, manifest, images };
}

async function statOrNull(p: string): Promise<import('node:fs').Stats | null> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}
