/*
 * `stasis restart [DIR]`: restore the processes of a generation. Everything that can be
 * checked here is checked before anything starts (the generation is complete, its manifest
 * valid and its process tree restorable, every image's header and records intact), then
 * stasis-init takes over in the foreground: it recreates the tree in a fresh PID namespace
 * and runs the freestanding loader native/build/stasis-restore in each process.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkDependencies } from '../ckpt-dir/deps';
import { resolveGeneration } from '../ckpt-dir/resolve';
import { formatAddress } from '../client/client';
import { ensureCoordinator, releaseCoordinator } from '../client/ensure-coordinator';
import { StasisError } from '../errors';
import { readImage } from '../image/reader';
import { requireNative } from '../native/paths';
import { planRestart } from '../restart/plan';
import { CommandSpec, ParsedArgs, stringOption } from './args';
import { runForeground } from './child';
import { ckptDirFrom, CKPT_DIR_OPTION, Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'restart',
  summary: 'Restart the processes saved in a checkpoint directory (its latest generation) or a generation folder.',
  usage: '[--ckpt-dir D] [DIR]',
  details:
    'DIR defaults to the checkpoint directory. The restarted process checkpoints into --ckpt-dir if given,\n' +
    'else into the directory that holds the generation. The exit status is the process\'s.',
  options: [CKPT_DIR_OPTION],
  maxPositionals: 1,
};

async function run(args: ParsedArgs): Promise<number> {
  const gen = await resolveGeneration(args.positionals[0] ?? ckptDirFrom(args));
  if (gen.images.length === 0) {
    throw new StasisError('BAD_MANIFEST', `generation ${gen.path} lists no processes — restart from an earlier one`);
  }
  const images = [];
  for (const image of gen.images) images.push(await readImage(image.path));
  await checkDependencies(gen, images);
  const plan = planRestart(gen, images);

  const restorer = requireNative('restorer');
  const init = requireNative('init');
  const addr = await coordAddressIPv4(spec, args);
  const ckptDir = stringOption(args, 'ckpt-dir') !== undefined ? ckptDirFrom(args) : gen.ckptDir;
  fs.mkdirSync(ckptDir, { recursive: true, mode: 0o700 });
  const ensured = await ensureCoordinator({ addr, logFile: path.join(ckptDir, 'coordinator.log') });
  const coord = formatAddress(addr);
  const env = { ...process.env, STASIS_COORD_ADDR: coord, STASIS_CKPT_DIR: ckptDir };
  let status: number;
  try {
    status = await runForeground(init, ['restart', '--coord', coord, '--ckpt-dir', ckptDir, '--loader', restorer], env, plan.text);
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
