/*
 * `stasis-restore --check` on every image of a generation, before anything starts (not even
 * a coordinator): the loader's own parser checks each image's records, every chunk's head
 * and the END record (an image cut short or spliced), then that the files the process had
 * mapped are unchanged and this kernel's vdso has the checkpointed layout. Chunk data is
 * not read: the loader maps it, and only `--verify` checks its CRCs (docs/architecture.md,
 * "Fast restart"). A few images at a time; the first image that fails is reported, with
 * the loader's one line.
 */

import { spawn } from 'node:child_process';
import { StasisError } from '../errors';

const PARALLEL = 4;

/** Resolves with null when the image may be restored here, else the loader's reason. */
function checkOne(loader: string, image: string): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(loader, ['--check', image], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.once('error', (e) => resolve(`cannot run ${loader}: ${e.message} — run npm ci`));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(null);
      const line = err.trim().split('\n')[0]?.replace(/^stasis restart: /, '') ?? '';
      resolve(line !== '' ? line : `${loader} --check ${image} failed (${signal ?? `status ${code}`})`);
    });
  });
}

export async function checkImages(loader: string, images: readonly string[]): Promise<void> {
  const why: (string | null)[] = new Array<string | null>(images.length).fill(null);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const i = next++;
      why[i] = await checkOne(loader, images[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, images.length) }, worker));
  const first = why.find((w) => w !== null);
  if (first) throw new StasisError('BAD_IMAGE', first);
}
