/*
 * MANIFEST.json of a generation folder (docs/image-format.md, "Generations"). The
 * coordinator writes it last to commit a generation; restart and inspect read it back and
 * validate every field before trusting a path from it.
 */

import { StasisError } from '../errors';

export const MANIFEST_FILE = 'MANIFEST.json';
export const MANIFEST_FORMAT = 'stasis-generation';
export const MANIFEST_VERSION = 1;

export interface ManifestProcess {
  procId: number;
  pid: number;
  name: string;
  /** File name of the image inside the generation folder. */
  image: string;
  bytes: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  generation: number;
  ckptId: number;
  created: string;
  processes: ManifestProcess[];
}

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 1) + '\n';
}

/** Parses and validates a manifest; `where` names the file in error messages. */
export function parseManifest(text: string, where: string): Manifest {
  const bad = (what: string): StasisError =>
    new StasisError('BAD_MANIFEST', `${where} is not a valid manifest: ${what} — restart from an earlier generation`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!isObject(raw)) throw bad('not a JSON object');
  if (raw.format !== MANIFEST_FORMAT) throw bad(`format is ${JSON.stringify(raw.format)}, expected "${MANIFEST_FORMAT}"`);
  if (raw.version !== MANIFEST_VERSION) throw bad(`version ${JSON.stringify(raw.version)} is not supported (this stasis reads version ${MANIFEST_VERSION})`);
  const generation = nonNegativeInt(raw.generation);
  if (generation === null || generation < 1) throw bad('"generation" must be a positive integer');
  const ckptId = nonNegativeInt(raw.ckptId);
  if (ckptId === null) throw bad('"ckptId" must be a non-negative integer');
  if (typeof raw.created !== 'string' || Number.isNaN(Date.parse(raw.created))) throw bad('"created" must be an ISO date');
  if (!Array.isArray(raw.processes)) throw bad('"processes" must be an array');
  const seen = new Set<string>();
  const processes = raw.processes.map((p: unknown, i: number): ManifestProcess => {
    if (!isObject(p)) throw bad(`processes[${i}] is not an object`);
    const procId = nonNegativeInt(p.procId);
    const pid = nonNegativeInt(p.pid);
    const bytes = nonNegativeInt(p.bytes);
    if (procId === null || procId < 1) throw bad(`processes[${i}].procId must be a positive integer`);
    if (pid === null || pid < 1) throw bad(`processes[${i}].pid must be a positive integer`);
    if (bytes === null) throw bad(`processes[${i}].bytes must be a non-negative integer`);
    if (typeof p.name !== 'string') throw bad(`processes[${i}].name must be a string`);
    if (typeof p.image !== 'string' || !isPlainFileName(p.image)) {
      throw bad(`processes[${i}].image must be a file name inside the generation folder`);
    }
    if (seen.has(p.image)) throw bad(`image ${p.image} is listed twice`);
    seen.add(p.image);
    return { procId, pid, name: p.name, image: p.image, bytes };
  });
  return { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, generation, ckptId, created: raw.created, processes };
}

/** A name that stays inside its folder: no separators, not `.` or `..`. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonNegativeInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}
