/*
 * `stasis restart [DIR]`: restore the processes of a generation. Everything that can be
 * checked is checked before anything starts: the generation is complete, its manifest
 * valid and its process tree restorable, every image's records before its chunks intact
 * (with --verify, every chunk's data CRC too, of the earlier images an incremental one
 * refers to as well: that reads the whole images), and
 * `stasis-restore --check` passes on every image (src/restart/check.ts: each chunk's head
 * and END too, the mapped files, the vdso). Then stasis-init takes over in the foreground:
 * it recreates the tree in a fresh PID namespace and runs the freestanding loader
 * native/build/stasis-restore in each process, which maps the images' memory into place
 * (docs/architecture.md, "Fast restart"; --no-map copies it).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkDependencies } from '../ckpt-dir/deps';
import { resolveGeneration } from '../ckpt-dir/resolve';
import { formatAddress } from '../client/client';
import { ensureCoordinator, releaseCoordinator } from '../client/ensure-coordinator';
import { StasisError } from '../errors';
import { ImageMetadata } from '../image/format';
import { readImage, readImageMetadata } from '../image/reader';
import { requireNative } from '../native/paths';
import { checkImages } from '../restart/check';
import { planRestart } from '../restart/plan';
import { CommandSpec, flag, ParsedArgs, stringOption } from './args';
import { runForeground } from './child';
import { ckptDirFrom, CKPT_DIR_OPTION, Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'restart',
  summary: 'Restart the processes saved in a checkpoint directory (its latest generation) or a generation folder.',
  usage: '[--ckpt-dir D] [--verify] [--no-map] [DIR]',
  details:
    'DIR defaults to the checkpoint directory. The restarted process checkpoints into --ckpt-dir if given,\n' +
    'else into the directory that holds the generation. The exit status is the process\'s.\n' +
    'Memory is mapped from the images and read as the process touches it, so a process keeps its\n' +
    'image\'s disk space as long as it runs, even once retention has removed that generation.\n' +
    'Every image\'s structure is checked before anything starts; --verify also checks the checksums\n' +
    'of the memory data, which mapping does not read (it reads every image first, and the earlier\n' +
    'images an incremental generation refers to).',
  options: [
    CKPT_DIR_OPTION,
    { name: 'verify', help: 'check every memory chunk\'s checksum before anything starts (reads the whole images)' },
    { name: 'no-map', help: 'copy the memory instead of mapping the images (slower; the images are not kept open)' },
  ],
  maxPositionals: 1,
};

async function run(args: ParsedArgs): Promise<number> {
  const gen = await resolveGeneration(args.positionals[0] ?? ckptDirFrom(args));
  if (gen.images.length === 0) {
    throw new StasisError('BAD_MANIFEST', `generation ${gen.path} lists no processes — restart from an earlier one`);
  }
  const verify = flag(args, 'verify');
  const images: ImageMetadata[] = [];
  for (const image of gen.images) images.push(verify ? await readImage(image.path, { verify }) : await readImageMetadata(image.path));
  await checkDependencies(gen, images);
  if (verify) {
    // The earlier images the references name are read too, and may be mapped in place
    // unread (native/loader/refs-map.c): --verify checks their chunks as well.
    const parents = new Set(images.flatMap((i) => (i.incremental?.parents ?? []).map((p) => path.join(gen.ckptDir, p.path))));
    for (const p of parents) await readImage(p, { verify });
  }
  const plan = planRestart(gen, images);

  const restorer = requireNative('restorer');
  const init = requireNative('init');
  await checkImages(restorer, gen.images.map((i) => i.path));
  const addr = await coordAddressIPv4(spec, args);
  const ckptDir = stringOption(args, 'ckpt-dir') !== undefined ? ckptDirFrom(args) : gen.ckptDir;
  fs.mkdirSync(ckptDir, { recursive: true, mode: 0o700 });
  const ensured = await ensureCoordinator({ addr, logFile: path.join(ckptDir, 'coordinator.log') });
  const coord = formatAddress(addr);
  const env = { ...process.env, STASIS_COORD_ADDR: coord, STASIS_CKPT_DIR: ckptDir };
  let status: number;
  try {
    const initArgs = ['restart', '--coord', coord, '--ckpt-dir', ckptDir, '--loader', restorer];
    if (flag(args, 'no-map')) initArgs.push('--no-map');
    status = await runForeground(init, initArgs, env, plan.text);
  } catch (err) {
    if (ensured.started) await releaseCoordinator(addr);
    throw err;
  }
  // A coordinator started for a restore that failed before the process joined would wait a
  // minute for it; one the process did join has exited with it, or serves others now.
  if (ensured.started && status !== 0) await releaseCoordinator(addr);
  return status;
}

export const restartCommand: Command = { spec, run };
