/* `stasis coordinator`: run the coordinator in the foreground, or detached with --daemon. */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDetachedCoordinator } from '../client/ensure-coordinator';
import { StasisError } from '../errors';
import { stderrLogger } from '../coordinator/log';
import { startCoordinatorServer } from '../coordinator/net-server';
import { CommandSpec, flag, intOption, ParsedArgs, stringOption } from './args';
import { Command, coordTarget } from './common';

const spec: CommandSpec = {
  name: 'coordinator',
  summary: 'Run the coordinator that agents and the stasis CLI connect to.',
  usage: '[--port N] [--daemon] [--interval S] [--keep N] [--no-incremental] [--full-every N]',
  details:
    'In the foreground it logs to stderr until SIGINT/SIGTERM or `stasis shutdown`. With --daemon it\n' +
    'starts itself in the background, prints the port it listens on and exits.',
  options: [
    { name: 'port', value: 'N', help: 'port to listen on (default: --coord-port; 0 picks a free one)' },
    { name: 'host', value: 'H', help: 'address to listen on (default: --coord-host)' },
    { name: 'daemon', help: 'run in the background; print the port and exit' },
    { name: 'interval', value: 'S', help: 'also checkpoint every S seconds' },
    { name: 'keep', value: 'N', help: 'complete generations to keep per checkpoint directory, with those they depend on (default 2)' },
    { name: 'no-incremental', help: 'write full images only: no write tracking, no references to earlier generations' },
    { name: 'full-every', value: 'N', help: 'a full generation at least every N (default 8; 1: always full)' },
    { name: 'log', value: 'FILE', help: 'with --daemon: append the log to FILE (default /dev/null)' },
    { name: 'exit-when-idle', help: 'exit once the last process has disconnected' },
    { name: 'ready-fd', value: 'FD', help: 'write "listening <port>" to FD when ready', hidden: true },
  ],
  maxPositionals: 0,
};

async function run(args: ParsedArgs): Promise<number> {
  const target = coordTarget(spec, args);
  const host = stringOption(args, 'host') ?? target.host;
  const port = intOption(spec, args, 'port', 0, 65535) ?? target.port;
  const intervalSec = intOption(spec, args, 'interval', 1, 365 * 24 * 3600);
  const keep = intOption(spec, args, 'keep', 1, 100000);
  const exitWhenIdle = flag(args, 'exit-when-idle');
  const noIncremental = flag(args, 'no-incremental');
  const fullEvery = intOption(spec, args, 'full-every', 1, 100000);
  const readyFd = intOption(spec, args, 'ready-fd', 3, 65535);

  if (flag(args, 'daemon')) {
    const log = stringOption(args, 'log');
    const d = await startDetachedCoordinator({
      host, port, exitWhenIdle, intervalSec, keep, noIncremental, fullEvery, logFile: log === undefined ? null : path.resolve(log),
    });
    process.stdout.write(`${d.port}\n`);
    return 0;
  }

  let server;
  try {
    server = await startCoordinatorServer({
      host, port, intervalSec, keep, exitWhenIdle, incremental: !noIncremental, fullEvery, log: stderrLogger(),
    });
  } catch (err) {
    if (readyFd !== undefined && err instanceof StasisError) tellParent(readyFd, `error ${err.code} ${err.message}`);
    throw err;
  }
  if (readyFd !== undefined) tellParent(readyFd, `listening ${server.port}`);
  const stop = (): void => void server.close();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A detached coordinator outlives the terminal that started it.
  process.on('SIGHUP', () => undefined);
  await server.closed;
  return 0;
}

function tellParent(fd: number, line: string): void {
  try {
    fs.writeSync(fd, `${line.replace(/\n/g, ' ')}\n`);
    fs.closeSync(fd);
  } catch {
    // the parent gave up waiting; nothing to tell
  }
}

export const coordinatorCommand: Command = { spec, run };
