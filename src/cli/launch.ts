/*
 * `stasis launch -- PROGRAM [ARGS...]`: run a program under the agent. Makes sure a
 * coordinator answers (starting an auto-exiting one if none does), then runs the program
 * through stasis-init — in its own PID namespace, whose PID 1 lists the computation's
 * processes for checkpoints — with libstasis.so preloaded and the coordinator address and
 * checkpoint directory in its environment.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatAddress } from '../client/client';
import { ensureCoordinator, releaseCoordinator } from '../client/ensure-coordinator';
import { requireNative } from '../native/paths';
import { CommandSpec, flag, intOption, ParsedArgs, usageError } from './args';
import { runForeground } from './child';
import { ckptDirFrom, CKPT_DIR_OPTION, Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'launch',
  summary: 'Run PROGRAM so that it can be checkpointed with `stasis checkpoint`.',
  usage: '[--ckpt-dir D] [--interval S] [--keep N] [--no-compress] [--no-fork] [--no-thp] [--no-incremental] [--full-every N] -- PROGRAM [ARGS...]',
  details:
    'If no coordinator answers at the coordinator address, one is started in the background; it\n' +
    'exits when the last launched process does. The exit status is PROGRAM\'s (128+N if signal N\n' +
    'killed it). Memory is saved compressed with zstd where that saves a quarter of it; with\n' +
    '--no-compress (or STASIS_COMPRESS=0 in the environment) it is saved raw. Checkpoints are\n' +
    'forked where it is safe: each process is paused only while its state is captured, and a\n' +
    'copy-on-write child writes its memory while it runs on; --no-fork (or STASIS_NO_FORK=1)\n' +
    'writes it while the process is paused. Large private memory gets transparent huge pages, which\n' +
    'keep the pause short: MADV_HUGEPAGE on anonymous mmaps of 64 MiB or more, and memory whose\n' +
    'pages are all present collapsed after each checkpoint; --no-thp (or STASIS_NO_THP=1) leaves\n' +
    'memory as the program maps it.',
  options: [
    CKPT_DIR_OPTION,
    { name: 'interval', value: 'S', help: 'checkpoint every S seconds (for a coordinator that launch starts)' },
    { name: 'keep', value: 'N', help: 'generations to keep (for a coordinator that launch starts; default 2)' },
    { name: 'no-compress', help: 'save memory raw, without zstd: larger images, which a restart can map in place' },
    { name: 'no-fork', help: 'write every image while the program is paused (STASIS_NO_FORK=1)' },
    { name: 'no-thp', help: 'no transparent huge pages for large memory (STASIS_NO_THP=1)' },
    { name: 'no-incremental', help: 'only full checkpoints (for a coordinator that launch starts)' },
    { name: 'full-every', value: 'N', help: 'a full checkpoint at least every N (for a coordinator that launch starts; default 8)' },
  ],
  maxPositionals: Infinity,
  stopAtFirstPositional: true,
};

function preloadList(base: NodeJS.ProcessEnv, agent: string): string {
  return base.LD_PRELOAD ? `${agent}:${base.LD_PRELOAD}` : agent;
}

/**
 * Prepends the agent to LD_PRELOAD, keeping what the user preloads already. noCompress sets
 * STASIS_COMPRESS=0 (the agent then writes raw chunks), noFork STASIS_NO_FORK=1 (every
 * image is written while the process is paused) and noThp STASIS_NO_THP=1 (no huge-page
 * advice or collapsing); otherwise the user's values, if any, are kept.
 */
export function agentEnvironment(base: NodeJS.ProcessEnv, agent: string, coordAddr: string, ckptDir: string, noCompress = false, noFork = false, noThp = false): NodeJS.ProcessEnv {
  const existing = base.LD_PRELOAD;
  return {
    ...base,
    LD_PRELOAD: existing ? `${agent}:${existing}` : agent,
    STASIS_COORD_ADDR: coordAddr,
    STASIS_CKPT_DIR: ckptDir,
    ...(noCompress ? { STASIS_COMPRESS: '0' } : {}),
    ...(noFork ? { STASIS_NO_FORK: '1' } : {}),
    ...(noThp ? { STASIS_NO_THP: '1' } : {}),
  };
}

async function run(args: ParsedArgs): Promise<number> {
  const [program, ...programArgs] = args.positionals;
  if (program === undefined || program === '') throw usageError(spec, 'no program to launch: `stasis launch -- PROGRAM [ARGS...]`');
  const intervalSec = intOption(spec, args, 'interval', 1, 365 * 24 * 3600);
  const keep = intOption(spec, args, 'keep', 1, 100000);
  const noIncremental = flag(args, 'no-incremental');
  const fullEvery = intOption(spec, args, 'full-every', 1, 100000);
  const agent = requireNative('agent');
  const init = requireNative('init');
  const addr = await coordAddressIPv4(spec, args);
  const ckptDir = ckptDirFrom(args);
  fs.mkdirSync(ckptDir, { recursive: true, mode: 0o700 });

  const ensured = await ensureCoordinator({ addr, logFile: path.join(ckptDir, 'coordinator.log'), intervalSec, keep, noIncremental, fullEvery });
  if (!ensured.started && (intervalSec !== undefined || keep !== undefined || noIncremental || fullEvery !== undefined)) {
    process.stderr.write(`stasis: note: using the running coordinator at ${formatAddress(addr)}; --interval, --keep, --no-incremental and --full-every apply only to one that launch starts\n`);
  }
  try {
    const coord = formatAddress(addr);
    // stasis-init itself must not load the agent: it adds it for the program.
    const { LD_PRELOAD: _, ...env } = agentEnvironment(process.env, agent, coord, ckptDir, flag(args, 'no-compress'), flag(args, 'no-fork'), flag(args, 'no-thp'));
    return await runForeground(init, ['launch', '--coord', coord, '--ckpt-dir', ckptDir, '--preload', preloadList(process.env, agent), '--', program, ...programArgs], env);
  } catch (err) {
    if (ensured.started) await releaseCoordinator(addr);
    throw err;
  }
}

export const launchCommand: Command = { spec, run };
