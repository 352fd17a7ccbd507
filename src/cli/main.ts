/*
 * Entry point of the `stasis` command, and the one place that turns errors into what the
 * user sees: `stasis: <message>` on stderr, exit status 2 for usage errors and 1 for the
 * rest. Only an error that is not a StasisError (a bug) is printed with its stack.
 *
 * A command's module is loaded only when that command runs: what node loads and compiles
 * before `stasis restart` starts the restore is part of the restart time.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { StasisError } from '../errors';
import { packageRoot } from '../native/paths';
import { helpText, parseArgs } from './args';
import type { Command } from './common';

/** The commands in --help order, each loaded on demand. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  launch: async () => (await import('./launch')).launchCommand,
  checkpoint: async () => (await import('./checkpoint')).checkpointCommand,
  restart: async () => (await import('./restart')).restartCommand,
  status: async () => (await import('./status')).statusCommand,
  inspect: async () => (await import('./inspect')).inspectCommand,
  kill: async () => (await import('./kill')).killCommand,
  coordinator: async () => (await import('./coordinator')).coordinatorCommand,
  shutdown: async () => (await import('./shutdown')).shutdownCommand,
};

function find(name: string | undefined): (() => Promise<Command>) | undefined {
  return name !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
}

async function globalHelp(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  const width = Math.max(...commands.map((c) => c.spec.name.length));
  return [
    'usage: stasis COMMAND [OPTIONS]',
    '',
    'Transparent checkpoint/restart for unmodified Linux programs.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
    '',
    'Run `stasis COMMAND --help` for its options.',
    '',
  ].join('\n');
}

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? find(rest[0]) : undefined;
    process.stdout.write(topic ? helpText((await topic()).spec) : await globalHelp());
    return 0;
  }
  if (name === '--version') {
    process.stdout.write(`stasis ${version()}\n`);
    return 0;
  }
  const load = find(name);
  if (!load) throw new StasisError('USAGE', `unknown command ${JSON.stringify(name)} — see \`stasis --help\``);
  const cmd = await load();
  const args = parseArgs(cmd.spec, rest);
  if (args.options.get('help') === true) {
    process.stdout.write(helpText(cmd.spec));
    return 0;
  }
  return cmd.run(args);
}

/** Exit status for an error that reached the boundary; prints it. */
export function reportError(err: unknown): number {
  if (err instanceof StasisError) {
    process.stderr.write(`stasis: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    return err.code === 'USAGE' ? 2 : 1;
  }
  process.stderr.write(`stasis: internal error (please report it): ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  return 1;
}

/** Runs the CLI with process.argv and sets the exit status. */
export function run(): void {
  // `stasis status | head` closing the pipe early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  void main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(err);
    },
  );
}

if (require.main === module) run();
