/*
 * What the Stasis under test can do, found out the way a user would: from the options
 * `stasis launch --help` and `stasis checkpoint --help` list, and from what
 * `stasis checkpoint` prints. The speed features of issue 4 land one by one; the bench
 * uses each as soon as its option appears, without a change here, and says in the report
 * which ones it found.
 *
 * The parsers are lenient on purpose: the wording of a help line or of the pause message
 * is not a contract, so anything that reads as "paused 12 ms" / "pause: 0.012 s" counts.
 */

import { runCommand } from './proc';

export interface Features {
  /** Every `--option` that `stasis launch --help` mentions. */
  launchOptions: Set<string>;
  /** Every `--option` that `stasis checkpoint --help` mentions. */
  checkpointOptions: Set<string>;
}

/** Every `--long-option` named anywhere in a help text. */
export function parseHelpOptions(help: string): Set<string> {
  const out = new Set<string>();
  for (const m of help.matchAll(/(?:^|[\s[(,|])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)/gm)) out.add(m[1]!);
  return out;
}

export async function detectFeatures(bin: string): Promise<Features> {
  const help = async (cmd: string): Promise<Set<string>> => {
    const r = await runCommand(process.execPath, [bin, cmd, '--help'], 30000);
    return parseHelpOptions(`${r.stdout}\n${r.stderr}`);
  };
  return { launchOptions: await help('launch'), checkpointOptions: await help('checkpoint') };
}

/** The launch options the bench knows how to use, as they appear (or not) in this build. */
export function describeFeatures(f: Features): string[] {
  const has = (o: string): boolean => f.launchOptions.has(o);
  return [
    has('--no-fork')
      ? 'forked (copy-on-write) checkpointing: built (`stasis launch --no-fork` turns it off); the workloads run with the default'
      : 'forked (copy-on-write) checkpointing: not built (`stasis launch --help` lists no `--no-fork`); the application is paused for the whole write',
    has('--no-compress')
      ? 'compression: built and on by default (`stasis launch --no-compress` turns it off); the 4 GiB random workload also runs with `--no-compress`'
      : 'compression: not built (`stasis launch --help` lists no `--no-compress`); images are uncompressed',
  ];
}

const UNIT_S: Record<string, number> = { s: 1, sec: 1, secs: 1, second: 1, seconds: 1, ms: 1e-3, msec: 1e-3, millis: 1e-3, us: 1e-6, micros: 1e-6, nanos: 1e-9, 'µs': 1e-6, 'μs': 1e-6, ns: 1e-9 };

/**
 * The pause `stasis checkpoint` reports, in seconds, or null when it reports none: the
 * first "pause"/"paused"/"suspended" followed within a few words by a number and a unit.
 */
export function parsePause(text: string): number | null {
  const re = /\b(?:paus(?:e|ed|ing)|suspend(?:ed)?|stopped)\b[^\n\d]{0,30}?(\d+(?:\.\d+)?)\s*(ms|msec|µs|μs|us|ns|s|secs?|seconds?)\b/gi;
  for (const m of text.matchAll(re)) {
    const unit = UNIT_S[m[2]!.toLowerCase()];
    const v = Number(m[1]);
    if (unit !== undefined && Number.isFinite(v)) return v * unit;
  }
  return null;
}

/**
 * A pause figure in the coordinator's `lastCheckpoint` (stasis status --json), in
 * seconds, or null: a numeric field whose name says pause and ends in its unit (pauseMs,
 * pause_us, pausedSeconds); a bare "pause" or "paused" is taken as milliseconds.
 */
export function pauseFromStatus(last: Record<string, unknown> | null): number | null {
  if (!last) return null;
  for (const [k, v] of Object.entries(last)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || !/paus/i.test(k)) continue;
    if (/^paused?$/i.test(k)) return v * 1e-3;
    const unit = /[a-z]_?(ms|millis|us|micros|ns|nanos|s|sec|secs|seconds)$/i.exec(k)?.[1]?.toLowerCase();
    if (unit === undefined) continue;
    return v * UNIT_S[unit]!;
  }
  return null;
}
