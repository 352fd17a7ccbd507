/*
 * Hand-written argument parsing for the subcommands. Each command declares its options
 * once; the declaration drives parsing, `--help` text and the error for an unknown option.
 * Accepted forms: `--name value`, `--name=value`, `--flag`, `--` to end options. Commands
 * that run a program (`launch`) stop at the first positional so the program's own options
 * are left alone.
 */

import { StasisError } from '../errors';

export interface OptionSpec {
  name: string;
  /** Placeholder of the value (`N`, `DIR`); absent for flags. */
  value?: string;
  help: string;
  /** Not listed in --help (internal plumbing). */
  hidden?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage line after `stasis <name>`. */
  usage: string;
  /** Extra paragraphs for --help. */
  details?: string;
  options: OptionSpec[];
  /** Highest number of positionals; Infinity for a program and its arguments. */
  maxPositionals: number;
  stopAtFirstPositional?: boolean;
}

export interface ParsedArgs {
  options: Map<string, string | true>;
  positionals: string[];
}

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'coord-host', value: 'H', help: 'coordinator host (env STASIS_COORD_HOST, default 127.0.0.1)' },
  { name: 'coord-port', value: 'N', help: 'coordinator port (env STASIS_COORD_PORT, default 7780)' },
  { name: 'help', help: 'show this help' },
];

export function usageError(spec: CommandSpec, what: string): StasisError {
  return new StasisError('USAGE', `${what} — see \`stasis ${spec.name} --help\``);
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const known = new Map<string, OptionSpec>();
  for (const o of [...spec.options, ...GLOBAL_OPTIONS]) known.set(o.name, o);
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i += 1;
      break;
    }
    if (arg === '-h') {
      options.set('help', true);
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const opt = known.get(name);
      if (!opt) throw usageError(spec, `unknown option --${name} for \`stasis ${spec.name}\``);
      if (opt.value === undefined) {
        if (eq >= 0) throw usageError(spec, `--${name} takes no value`);
        options.set(name, true);
      } else if (eq >= 0) {
        options.set(name, arg.slice(eq + 1));
      } else {
        const v = argv[i + 1];
        if (v === undefined) throw usageError(spec, `--${name} needs a value (${opt.value})`);
        options.set(name, v);
        i += 1;
      }
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') throw usageError(spec, `unknown option ${arg} for \`stasis ${spec.name}\``);
    positionals.push(arg);
    if (spec.stopAtFirstPositional) {
      i += 1;
      break;
    }
  }
  positionals.push(...argv.slice(i));
  if (options.has('help')) return { options, positionals };
  if (positionals.length > spec.maxPositionals) {
    throw usageError(spec, `unexpected argument ${JSON.stringify(positionals[spec.maxPositionals])}`);
  }
  return { options, positionals };
}

export function helpText(spec: CommandSpec): string {
  const lines = [`usage: stasis ${spec.name} ${spec.usage}`.trimEnd(), '', spec.summary];
  if (spec.details) lines.push('', spec.details);
  const opts = [...spec.options, ...GLOBAL_OPTIONS].filter((o) => !o.hidden);
  const left = opts.map((o) => `--${o.name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length));
  lines.push('', 'options:');
  opts.forEach((o, k) => lines.push(`  ${left[k]!.padEnd(width)}  ${o.help}`));
  return lines.join('\n') + '\n';
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options.get(name) === true;
}

/** An integer option in [min, max]; `source` names it in errors (an option or env var). */
export function parseIntArg(spec: CommandSpec, raw: string, source: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw usageError(spec, `${source} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

export function intOption(spec: CommandSpec, args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const raw = stringOption(args, name);
  return raw === undefined ? undefined : parseIntArg(spec, raw, `--${name}`, min, max);
}
